"""Accounts: argon2, login and logout, password change, throttling, production settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from consortium.env import database_from_url
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def test_passwords_are_hashed_with_argon2(bid_manager: Any) -> None:
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    assert bid_manager.password.startswith("argon2")


def test_login_rotates_the_session_and_logout_ends_it(bid_manager: Any) -> None:
    client = Client()
    client.get("/accounts/login/")
    client.cookies["sessionid"] = "fixated-session-id"
    response = client.post("/accounts/login/", {"username": "bid-manager", "password": PASSWORD})
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != "fixated-session-id"
    assert client.get("/tenders/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/tenders/").status_code == 302


def test_wrong_password_shows_an_error_not_a_500(bid_manager: Any) -> None:
    response = Client().post("/accounts/login/", {"username": "bid-manager", "password": "nope"})
    assert response.status_code == 200
    assert "incorrect" in response.content.decode()


def test_password_change_cuts_other_sessions(bid_manager: Any) -> None:
    other = Client()
    other.force_login(bid_manager)
    client = Client()
    client.force_login(bid_manager)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-longer-secret-42",
            "new_password2": "a-much-longer-secret-42",
        },
    )
    assert response.status_code == 302
    assert client.get("/tenders/").status_code == 200
    assert other.get("/tenders/").status_code == 302


def test_login_is_throttled_per_user_and_address_and_a_forged_header_does_not_reset_it(db: None) -> None:
    make_user("target", "bid_manager")
    make_user("colleague", "bid_manager")
    client = Client(REMOTE_ADDR="10.0.0.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "target", "password": "wrong"})
    blocked = client.post(
        "/accounts/login/", {"username": "target", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="192.0.2.99"
    )
    assert blocked.status_code == 429
    colleague = Client(REMOTE_ADDR="10.0.0.7").post("/accounts/login/", {"username": "colleague", "password": PASSWORD})
    assert colleague.status_code == 302


def test_csrf_is_enforced_on_uploads(bid_manager: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(bid_manager)
    assert client.post("/imports/new/", {"format": "auto"}).status_code == 403


def test_database_url_parsing() -> None:
    pg = database_from_url("postgres://u:p%40ss@db.example:5433/guichet", base_dir=ROOT)
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "django.db.backends.postgresql",
        "guichet",
        "u",
        "p@ss",
        "db.example",
        "5433",
    )
    sqlite = database_from_url("sqlite:///var/x.sqlite3", base_dir=ROOT)
    assert sqlite["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in sqlite["OPTIONS"]["init_command"]
    with pytest.raises(Exception, match="not supported"):
        database_from_url("mysql://x/y", base_dir=ROOT)


def _deploy_check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "consortium.production",
            "ALLOWED_HOSTS": "guichet.example.org",
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_profile_passes_the_deploy_check() -> None:
    done = _deploy_check(SECRET_KEY="k" * 20 + "-a-long-random-production-secret-0123456789abcdef")
    assert done.returncode == 0, done.stderr


def test_production_profile_refuses_a_missing_secret() -> None:
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "consortium.production"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr
