"""Fixtures for the real-browser tests: Debian's Chromium driven by Playwright's sync API against `live_server`."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
TIMEOUT_MS = 10_000

Shot = Callable[[str], Path]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module.

    Playwright's sync API keeps an asyncio loop in the main thread, and Django refuses ORM calls made
    where a loop runs (the tests' own queries, the transactional_db flush). DJANGO_ALLOW_ASYNC_UNSAFE
    lifts that check, and only while the loop lives: module scope ends the loop before the rest of the
    suite runs, and the variable is restored, so other tests keep Django's async-safety check.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium) to run e2e tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Any, live_server: Any, transactional_db: None) -> Iterator[Any]:
    """A fresh French-speaking browser context per test (Chromium would otherwise send Accept-Language: en)."""
    context = browser.new_context(base_url=live_server.url, locale="fr-FR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def shot(page: Any, request: pytest.FixtureRequest) -> Shot:
    """`shot("step")` saves a full-page screenshot to test-artifacts/e2e/<test>-<step>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^\w.-]+", "_", request.node.name)

    def take(step: str) -> Path:
        path = ARTIFACTS / f"{test_name}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page: Any, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
