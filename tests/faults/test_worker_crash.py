"""Real workers killed with SIGKILL in the middle of a large import (PostgreSQL + Redis).

The workers beat every second (the `workers` fixture) and the test sweeps with a 3-second stall limit
(production: 5 s and 120 s, a sweep a minute); the recovery time measured is from the kill to the job's success.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from bids.models import ImportJob, JobStatus, Line, Lot, Tender
from bids.schedule_samples import write_support_schedule_csv
from bids.services.imports import create_import_job
from bids.services.jobs import sweep_stuck_jobs
from consortium.models import AuditEvent
from tests.faults.conftest import (
    a_backend_waits_on_a_lock,
    held_by_another_transaction,
    kill,
    pending_messages,
    record_figure,
    wait_until,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

LINES = 60_000
LOTS = [(str(n), f"Lot {n}") for n in range(1, 11)]
STALL = dt.timedelta(seconds=3)


@pytest.fixture(scope="module")
def large_schedule(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("schedules") / f"bpu-{LINES}.csv"
    write_support_schedule_csv(path, lines=LINES, lots=LOTS, seed=9)
    return path.read_bytes()


def job_state(pk: int) -> ImportJob:
    return ImportJob.objects.get(pk=pk)


def running_with(pk: int, attempt: int, stage: str) -> bool:
    job = job_state(pk)
    assert not job.is_finished, (job.status, job.errors)
    if stage == "reading":
        return job.status == JobStatus.RUNNING and job.attempts == attempt and job.progress_done > 0
    return job.status == JobStatus.RUNNING and job.attempts == attempt and job.stage == stage


def swept(key: str) -> int:
    """Sweep until the silent job is taken back (its last heartbeat must first grow older than STALL)."""
    return int(
        wait_until(
            lambda: sweep_stuck_jobs(stalled_after=STALL).as_dict()["import"][key], timeout=30, what=f"{key} by sweep"
        )
    )


def test_a_worker_killed_in_the_middle_of_a_large_import_is_recovered(large_schedule: bytes, workers: Any) -> None:
    first = workers("doomed")
    job = create_import_job(actor=None, name=f"bpu-{LINES}.csv", data=large_schedule)
    wait_until(lambda: running_with(job.pk, 1, "reading"), timeout=120, every=0.02, what="reading with progress")
    killed_at = kill(first)
    progress = job_state(job.pk).progress_done
    time.sleep(2 * STALL.total_seconds())  # long after the kill: nothing moves, the job is stuck "running"
    stuck = job_state(job.pk)
    assert (stuck.status, stuck.progress_done) == (JobStatus.RUNNING, progress)
    assert Tender.objects.count() == 0

    assert swept("requeued") == 1
    requeued_at = time.monotonic()
    # The new worker also gets the killed worker's own message back (unacknowledged, visibility 2 s):
    # a duplicate, which finds the job alive or finished and does nothing.
    workers("rescuer", CELERY_VISIBILITY_TIMEOUT="2")
    wait_until(lambda: job_state(job.pk).is_finished, timeout=300, every=0.2, what="the import to finish")
    succeeded_at = time.monotonic()
    done = job_state(job.pk)
    assert done.status == JobStatus.SUCCEEDED, done.errors
    assert done.attempts == 2
    assert Tender.objects.count() == 1 and Lot.objects.count() == len(LOTS)
    assert Line.objects.count() == LINES == done.counts["lines"]
    wait_until(lambda: pending_messages() == 0, timeout=60, what="the duplicate message to be handled")
    assert Tender.objects.count() == 1 and job_state(job.pk).attempts == 2
    assert AuditEvent.objects.filter(action="import.requeued", object_id=str(job.pk)).count() == 1
    record_figure(
        "import_recovery_after_sigkill_s",
        round(succeeded_at - killed_at, 1),
        lines=LINES,
        killed_at_line=progress,
        heartbeat_s=1,
        stall_s=STALL.total_seconds(),
        kill_to_requeue_s=round(requeued_at - killed_at, 1),  # includes the 6 s the test watches it stuck
        requeue_to_success_s=round(succeeded_at - requeued_at, 1),  # a new worker starts, then runs it all
    )


def test_a_file_that_kills_its_worker_every_time_fails_after_three_attempts(
    large_schedule: bytes, workers: Any
) -> None:
    """The poison file: each attempt dies inside the save's transaction, three times; the sweeper then fails the
    job with its message, and nothing of the three half-written tenders remains."""
    job = create_import_job(actor=None, name="poison.csv", data=large_schedule)
    for attempt in (1, 2, 3):
        with held_by_another_transaction("LOCK TABLE bids_line IN SHARE MODE"):
            worker = workers(f"victim-{attempt}", ping=False)
            wait_until(a_backend_waits_on_a_lock, timeout=120, what="the save to reach the lines")
            assert running_with(job.pk, attempt, "saving")
            kill(worker)
        assert Tender.objects.count() == 0
        assert swept("requeued" if attempt < 3 else "failed") == 1

    failed = job_state(job.pk)
    assert failed.status == JobStatus.FAILED
    assert failed.errors == [
        {
            "where": "poison.csv",
            "message": "Import de « poison.csv » abandonné après 3 tentatives : "
            "le traitement s'est interrompu à chaque essai.",
        }
    ]
    assert (Tender.objects.count(), Lot.objects.count(), Line.objects.count()) == (0, 0, 0)
    assert AuditEvent.objects.filter(action="import.requeued", object_id=str(job.pk)).count() == 2

    # The three messages the killed workers never acknowledged come back: none runs the job a fourth time.
    assert pending_messages() == 3
    workers("late", CELERY_VISIBILITY_TIMEOUT="1")
    wait_until(lambda: pending_messages() == 0, timeout=60, what="the three late messages to be handled")
    assert job_state(job.pk).attempts == 3 and job_state(job.pk).status == JobStatus.FAILED
    assert Tender.objects.count() == 0
