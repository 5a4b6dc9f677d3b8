"""The heartbeat thread: its own connection, visible while the job's work sits in an open transaction, stopped
(and its connection closed) when the job ends or is taken over."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from bids.models import ImportJob, Tender
from bids.services import jobs
from tests.faults.conftest import make_job, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def beating(pk: int) -> bool:
    return any(thread.name == f"heartbeat-import-{pk}" for thread in threading.enumerate())


def heartbeat_of(pk: int) -> Any:
    return ImportJob.objects.values_list("heartbeat_at", flat=True).get(pk=pk)


def backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def test_the_heartbeat_moves_while_the_job_runs_and_stops_with_it() -> None:
    job = make_job(jobs.IMPORTS)
    attempt = jobs.claim(jobs.IMPORTS, job.pk)
    assert attempt == 1
    claimed_at = heartbeat_of(job.pk)
    with jobs.heartbeat(jobs.IMPORTS, job.pk, attempt=attempt, every=0.05):
        wait_until(lambda: heartbeat_of(job.pk) > claimed_at, timeout=10, what="a heartbeat")
        assert beating(job.pk)
    assert not beating(job.pk)
    assert heartbeat_of(job.pk) <= timezone.now()


def test_a_job_taken_over_stops_its_old_heartbeat() -> None:
    job = make_job(jobs.IMPORTS)
    attempt = jobs.claim(jobs.IMPORTS, job.pk)
    assert attempt is not None
    with jobs.heartbeat(jobs.IMPORTS, job.pk, attempt=attempt, every=0.05):
        ImportJob.objects.filter(pk=job.pk).update(attempts=attempt + 1)  # another worker's claim
        # Its next beat finds the job no longer its own and ends the thread, while the old work goes on.
        wait_until(lambda: not beating(job.pk), timeout=10, what="the old heartbeat to stop")


@pytest.mark.postgres
def test_the_heartbeat_goes_on_beside_a_long_write_transaction() -> None:
    job = make_job(jobs.IMPORTS)
    attempt = jobs.claim(jobs.IMPORTS, job.pk)
    assert attempt is not None
    idle = backends()
    with jobs.heartbeat(jobs.IMPORTS, job.pk, attempt=attempt, every=0.05), transaction.atomic():
        Tender.objects.create(title="en cours d'écriture", source_format="csv")
        before = heartbeat_of(job.pk)
        # Read committed: each statement sees what the heartbeat's own connection committed meanwhile.
        wait_until(lambda: heartbeat_of(job.pk) > before, timeout=10, what="a heartbeat during the transaction")
        assert backends() == idle + 1  # the heartbeat's own connection
        transaction.set_rollback(True)
    wait_until(lambda: backends() <= idle, timeout=10, what="the heartbeat's connection to close")
