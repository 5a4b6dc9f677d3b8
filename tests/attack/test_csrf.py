"""CSRF on every URL of the product, Django's and the admin's: a write without the token is refused, with it the
request reaches the view.

Every pattern of the URL resolver gets a concrete path (tests/attack/world.py) and a persona its permission
matrix lets in. For each of POST, PUT, PATCH and DELETE: without the token, 403 with the CSRF reason; with it
(the control, so this test can fail), anything but a CSRF refusal. A URL answering 405 to a method with a valid
token does not take that method; the figures count the others (some read-only pages answer any method as a GET).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.test import Client
from django.urls import resolve

from tests.attack.conftest import FIGURES
from tests.attack.world import World, build_world, url_patterns

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

METHODS = ("post", "put", "patch", "delete")
SECRET = "attackattackattackattackattack42"  # a CSRF cookie secret: 32 letters and digits


@pytest.fixture
def world(personas: dict[str, Any], django_capture_on_commit_callbacks: Any) -> World:
    return build_world(personas, django_capture_on_commit_callbacks)


def client(world: World, persona: str, *, token: bool) -> Client:
    browser = Client(enforce_csrf_checks=True)
    user = world.users.get(persona)
    if user is not None:
        browser.force_login(user)
    if token:
        browser.cookies["csrftoken"] = SECRET
    return browser


def send(browser: Client, method: str, path: str, *, token: bool) -> Any:
    headers = {"HTTP_X_CSRFTOKEN": SECRET} if token else {}
    if method == "post":
        return browser.post(path, {}, **headers)
    return getattr(browser, method)(path, "", content_type="application/json", **headers)


def csrf_refusal(response: Any) -> bool:
    return response.status_code == 403 and b"CSRF" in response.content


def test_every_write_needs_the_csrf_token(world: World) -> None:
    patterns = url_patterns()
    assert len(patterns) > 200
    refused_without: list[str] = []
    refused_with: list[str] = []
    accepting: Counter[str] = Counter()
    for pattern in patterns:
        path = world.path(pattern)
        assert resolve(path.split("?")[0]).func == pattern.pattern.callback, (pattern.name, path)
        persona = world.persona_for(pattern.name)
        for method in METHODS:
            # a fresh session each time: a write that went through (a logout, a password change) changes nothing else
            bare = send(client(world, persona, token=False), method, path, token=False)
            if not csrf_refusal(bare):
                refused_without.append(f"{method.upper()} {path} as {persona}: {bare.status_code}")
            control = send(client(world, persona, token=True), method, path, token=True)
            if csrf_refusal(control):
                refused_with.append(f"{method.upper()} {path} as {persona}")
            if control.status_code != 405:
                accepting[pattern.name] += 1
    assert not refused_without, f"writes accepted without the CSRF token: {refused_without}"
    assert not refused_with, f"writes refused even with a valid token (the check proves nothing): {refused_with}"
    product = [name for name in accepting if not name.startswith(("admin:", "<"))]
    assert len(product) > 40
    FIGURES["csrf: URL patterns walked (pages, API, auth, admin)"] = len(patterns)
    FIGURES["csrf: unsafe requests without the token, all refused 403"] = len(patterns) * len(METHODS)
    FIGURES["csrf: unsafe requests with the token that reached the view (not 405)"] = sum(accepting.values())
    FIGURES["csrf: URL patterns reached by some unsafe method"] = len(accepting)
    FIGURES["csrf: of which the product's own (not the admin)"] = len(product)
