"""Uncaught errors: 503 with Retry-After while the database is unreachable, the plain 500 page otherwise."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client


def _client(user: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), InterfaceError("closed")])
def test_a_page_while_the_database_is_down_is_a_503_that_says_so(bid_manager: Any, error: Exception) -> None:
    client = _client(bid_manager)
    with mock.patch("django.contrib.sessions.backends.db.SessionStore.load", side_effect=error):
        response = client.get("/tenders/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "La base de données ne répond pas" in response.content.decode()


def test_the_api_while_the_database_is_down_answers_json(bid_manager: Any) -> None:
    client = _client(bid_manager)
    with mock.patch("django.contrib.sessions.backends.db.SessionStore.load", side_effect=OperationalError("down")):
        response = client.get("/api/tenders/")
    assert response.status_code == 503
    assert "momentanément indisponible" in response.json()["detail"]


def test_any_other_error_stays_a_500(bid_manager: Any) -> None:
    client = _client(bid_manager)
    with mock.patch("django.contrib.sessions.backends.db.SessionStore.load", side_effect=RuntimeError("bug")):
        response = client.get("/tenders/")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert "Erreur interne" in response.content.decode()
