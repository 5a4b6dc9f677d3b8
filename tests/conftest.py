"""Shared fixtures: the five personas of the permission matrix, samples, and service markers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

SAMPLES = Path(__file__).parent / "data" / "samples"
PASSWORD = "correct-horse-battery-9"


def _using_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def _using_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://... (run by .ci/run)")
    skip_redis = pytest.mark.skip(
        reason="needs Redis and a Celery worker: set CELERY_BROKER_URL=redis://... (run by .ci/run)"
    )
    for item in items:
        if "postgres" in item.keywords and not _using_postgres():
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not _using_redis():
            item.add_marker(skip_redis)


def pytest_report_header(config: pytest.Config) -> list[str]:
    database = "PostgreSQL" if _using_postgres() else "SQLite (embedded)"
    broker = settings.CELERY_BROKER_URL.split("@")[-1] if _using_redis() else "embedded (tasks run eagerly in tests)"
    return [f"guichet: database {database}; task broker {broker}"]


@pytest.fixture(autouse=True)
def _isolated_files(settings: Any, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Uploaded files go to a per-test folder; tasks run in-process unless a real worker is tested."""
    from consortium.celery import app

    settings.MEDIA_ROOT = tmp_path / "media"
    eager = "redis" not in request.keywords
    app.conf.task_always_eager = eager
    app.conf.task_eager_propagates = eager


@pytest.fixture(autouse=True)
def _french_by_default() -> Iterator[None]:
    """Each test starts in the product's default language, whatever an earlier test activated."""
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        yield


@pytest.fixture
def samples() -> Path:
    return SAMPLES


def make_user(username: str, role: str = "", *, firm: str = "") -> Any:
    from django.contrib.auth import get_user_model

    from partners.models import PartnerFirm
    from partners.services.access import add_member

    user = get_user_model().objects.create_user(username=username, password=PASSWORD, role=role)
    if firm:
        add_member(actor=None, user=user, firm=PartnerFirm.objects.get_or_create(name=firm)[0])
    return user


@pytest.fixture
def bid_manager(db: None) -> Any:
    return make_user("bid-manager", "bid_manager")


@pytest.fixture
def partner_a(db: None) -> Any:
    return make_user("partner-a", "partner", firm="Firm A")


@pytest.fixture
def partner_b(db: None) -> Any:
    return make_user("partner-b", "partner", firm="Firm B")


@pytest.fixture
def finance(db: None) -> Any:
    return make_user("finance", "finance")


@pytest.fixture
def outsider(db: None) -> Any:
    return make_user("outsider")


@pytest.fixture
def personas(bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any, outsider: Any) -> dict[str, Any]:
    return {
        "bid_manager": bid_manager,
        "partner_a": partner_a,
        "partner_b": partner_b,
        "finance": finance,
        "outsider": outsider,
        "anonymous": None,
    }


def client_for(user: Any) -> Any:
    from django.test import Client

    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def make_xlsx(rows: list[list[Any]]) -> bytes:
    """A one-sheet workbook holding `rows`, as bytes."""
    import io

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def celery_worker_process(tmp_path: Path, settings: Any) -> Iterator[Any]:
    """A real `celery worker` process on the test database and the Redis broker."""
    from tests.workers import running_worker

    settings.MEDIA_ROOT = tmp_path / "media"
    with running_worker(tmp_path / "worker.log") as worker:
        yield worker
