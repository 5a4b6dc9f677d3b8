"""An import is one transaction: a crash in the middle of the save leaves no half tender, and the job is
finished by the next attempt (both databases; the crash is raised where the lines are already written)."""

from __future__ import annotations

import datetime as dt
import io
import threading
from typing import Any

import pytest
from django.db import OperationalError, connections

from bids.models import JobStatus, Line, Lot, Tender
from bids.schedule_samples import write_support_schedule_csv
from bids.services import jobs
from bids.services.imports import create_import_job, run_import_job
from bids.services.jobs import sweep_stuck_jobs

LINES = 500
LOTS = [("1", "Lot 1"), ("2", "Lot 2")]


def schedule_csv(lines: int = LINES) -> bytes:
    buffer = io.BytesIO()
    write_support_schedule_csv(buffer, lines=lines, lots=LOTS, seed=3)
    return buffer.getvalue()


def counts() -> tuple[int, int, int]:
    return Tender.objects.count(), Lot.objects.count(), Line.objects.count()


@pytest.fixture
def crash_after_the_lines(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Raise the given error inside save_tenders' transaction, once the tender, lots and lines are written."""
    errors: list[BaseException] = []

    def record_event(**kwargs: Any) -> None:
        assert Line.objects.count() > 0  # the lines are there, uncommitted
        if errors:
            raise errors.pop()

    monkeypatch.setattr("bids.services.tenders.record_event", record_event)
    return errors


@pytest.mark.django_db
def test_a_database_drop_in_the_middle_of_the_save_leaves_nothing_and_the_sweeper_finishes_the_job(
    crash_after_the_lines: list[BaseException], frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = create_import_job(actor=None, name="bpu.csv", data=schedule_csv())
    crash_after_the_lines.append(OperationalError("server closed the connection unexpectedly"))
    with pytest.raises(OperationalError):
        run_import_job(job_id=job.pk)  # the worker's task fails: nothing to say on the job, the database is gone
    assert counts() == (0, 0, 0)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)

    frozen_clock.shift(jobs.stall_limit() + dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        report = sweep_stuck_jobs()
    assert report.requeued["import"] == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert counts() == (1, 2, LINES)
    assert job.counts == {"tenders": 1, "created": 1, "lots": 2, "lines": LINES}


@pytest.mark.django_db
def test_a_bug_in_the_middle_of_the_save_fails_the_job_with_its_message_and_saves_nothing(
    crash_after_the_lines: list[BaseException],
) -> None:
    job = create_import_job(actor=None, name="bpu.csv", data=schedule_csv())
    crash_after_the_lines.append(KeyError("unit"))
    run_import_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.errors == [{"where": "bpu.csv", "message": "erreur inattendue pendant l'import : 'unit'"}]
    assert counts() == (0, 0, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_taken_over_during_its_save_commits_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The old worker fell silent past the stall limit (a long pause) and the sweeper took its job back. When
    the old worker reaches its commit, its claim no longer holds: its tender is rolled back."""
    sent: list[int] = []
    monkeypatch.setattr("bids.services.imports.enqueue_import", sent.append)
    job = create_import_job(actor=None, name="bpu.csv", data=schedule_csv())
    assert sent == [job.pk]

    def swept_meanwhile(**kwargs: Any) -> None:
        def sweeper() -> None:  # its own connection, committed at once, while the save is open
            try:
                sweep_stuck_jobs(stalled_after=dt.timedelta(0))
            finally:
                connections.close_all()

        thread = threading.Thread(target=sweeper)
        thread.start()
        thread.join(30)

    monkeypatch.setattr("bids.services.tenders.record_event", swept_meanwhile)
    run_import_job(job_id=job.pk)
    assert counts() == (0, 0, 0)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.tenders.count()) == (JobStatus.QUEUED, 1, 0)
    assert sent == [job.pk, job.pk]  # sent again by the sweeper, for the next worker
