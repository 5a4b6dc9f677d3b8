"""PostgreSQL drops every connection (what a restart or a failover does to the clients): no request fails
afterwards and nothing committed is lost.

Every backend of the test database but the killer's own is ended with pg_terminate_backend: the web
server's (gunicorn, two processes, persistent connections), the worker's, and this test's. Django's
per-request check (CONN_HEALTH_CHECKS with CONN_MAX_AGE) replaces a dead connection before using it.
"""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import close_old_connections, connection
from django.test import Client

from bids.models import ImportJob, JobStatus, Line, Tender
from bids.services.imports import import_file
from tests.conftest import SAMPLES, client_for
from tests.faults.conftest import record_figure, wait_until
from tests.workers import ROOT, database_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAGES = ["/tenders/", "/imports/", "/tenders/{tender}/", "/api/firms/", "/api/skills/", "/api/invitations/"]


def terminate_every_other_backend() -> int:
    with psycopg.connect(database_url(), autocommit=True) as killer:
        rows = killer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return sum(1 for (ended,) in rows if ended)


def committed() -> tuple[int, int, int]:
    return Tender.objects.count(), Line.objects.count(), ImportJob.objects.filter(status=JobStatus.SUCCEEDED).count()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """gunicorn with two worker processes on the test database, as deployed (docs/DEPLOY.md)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,  # the sessions made by this test are valid there
        "GUICHET_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_SETTINGS_MODULE": "consortium.settings",
    }
    command = [sys.executable, "-m", "gunicorn", "consortium.wsgi:application", "-b", f"127.0.0.1:{port}"]
    command += ["--workers", "2", "--timeout", "60"]
    with (tmp_path / "gunicorn.log").open("a") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/accounts/login/", timeout=10).status_code == 200
        except requests.RequestException:  # not listening yet, or still loading
            return False

    try:
        wait_until(up, timeout=60, every=0.3, what="gunicorn to answer")
        yield base
    finally:
        server.terminate()
        server.wait(20)


def browser(base: str, user: Any) -> requests.Session:
    """A session logged in as `user` (its Django session made here, its cookie sent there)."""
    session = requests.Session()
    session.cookies.set("sessionid", client_for(user).cookies["sessionid"].value, domain="127.0.0.1")
    return session


def upload(session: requests.Session, base: str, name: str, data: bytes) -> requests.Response:
    form = session.get(f"{base}/imports/new/", timeout=30)
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token is not None
    return session.post(
        f"{base}/imports/new/",
        data={"csrfmiddlewaretoken": token.group(1), "format": "auto"},
        files={"file": (name, data)},
        headers={"Referer": f"{base}/imports/new/"},
        allow_redirects=False,
        timeout=30,
    )


def job_from(response: requests.Response) -> ImportJob:
    assert response.status_code == 302, response.text[:500]
    match = re.fullmatch(r"/imports/(\d+)/", response.headers["Location"])
    assert match is not None
    return ImportJob.objects.get(pk=int(match.group(1)))


def finished(job: ImportJob) -> ImportJob:
    wait_until(lambda: ImportJob.objects.get(pk=job.pk).is_finished, timeout=120, every=0.2, what="the import")
    done = ImportJob.objects.get(pk=job.pk)
    assert done.status == JobStatus.SUCCEEDED, done.errors
    return done


@pytest.mark.redis
def test_after_every_connection_is_cut_the_server_and_the_worker_carry_on(
    bid_manager: Any, web_server: str, celery_worker_process: Any
) -> None:
    session = browser(web_server, bid_manager)
    notice = (SAMPLES / "eforms-ted-published/665175-2023.xml").read_bytes()
    first = finished(job_from(upload(session, web_server, "665175-2023.xml", notice)))
    tender = first.tenders.get()
    pages = [page.format(tender=tender.pk) for page in PAGES]
    for page in pages * 2:  # both gunicorn processes hold a connection now
        assert session.get(f"{web_server}{page}", timeout=30).status_code == 200, page
    before = committed()

    ended = terminate_every_other_backend()
    connection.close()  # this test's own connection was one of them
    assert ended >= 3  # this test's, the worker's, and the web processes' (one or two, as requests fell)

    statuses = [session.get(f"{web_server}{page}", timeout=30).status_code for page in pages * 3]
    assert statuses == [200] * len(statuses)
    assert committed() == before
    detail = session.get(f"{web_server}/tenders/{tender.pk}/", timeout=30).text
    assert tender.title[:40] in html.unescape(detail)

    other = (SAMPLES / "eforms/cn_24_FRA_comments.xml").read_bytes()
    second = finished(job_from(upload(session, web_server, "cn_24_FRA_comments.xml", other)))
    assert second.tenders.count() == 1
    assert committed() == (before[0] + 1, before[1], before[2] + 1)
    record_figure("backends_terminated_then_requests_ok", len(statuses), backends_ended=ended)


class RequestCycleClient(Client):
    """Django's test client skips the connection check the WSGI handler makes at each request (to keep a test's
    transaction); a transactional test can make it, as production does."""

    def request(self, **request: Any) -> Any:
        close_old_connections()
        return super().request(**request)


def test_the_test_client_and_the_api_answer_after_every_connection_is_cut(
    bid_manager: Any, partner_a: Any, finance: Any
) -> None:
    result = import_file(actor=bid_manager, data=(SAMPLES / "ocds/test_data.json").read_bytes(), source="o.json")
    tender = result.saved[0].tender
    clients = {user.username: RequestCycleClient() for user in (bid_manager, partner_a, finance)}
    for user in (bid_manager, partner_a, finance):
        clients[user.username].force_login(user)
    urls = {
        "bid-manager": [f"/tenders/{tender.pk}/", "/api/firms/", "/imports/"],
        "partner-a": ["/api/invitations/", "/statements/"],
        "finance": ["/finance/", "/api/contracts/", "/api/payments/"],
    }
    for name, paths in urls.items():
        for path in paths:
            assert clients[name].get(path).status_code == 200, (name, path)
    before = (Tender.objects.count(), Line.objects.count())

    assert terminate_every_other_backend() >= 1

    for name, paths in urls.items():
        for path in paths:
            assert clients[name].get(path).status_code == 200, (name, path)
    assert (Tender.objects.count(), Line.objects.count()) == before == (1, 16)
