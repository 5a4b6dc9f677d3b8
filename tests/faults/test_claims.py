"""Claims, attempts and the poison bound, for imports, match runs and document renderings (both databases).

The clock is frozen (time-machine): a job is alive or stalled because the test moves time, never by sleeping.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connections

from bids.models import JobStatus
from bids.offer_models import OfferVersion
from bids.services import jobs
from bids.services.imports import create_import_job, run_import_job
from bids.services.matching import run_match_job
from bids.services.offers import render_documents
from consortium.models import AuditEvent
from tests.conftest import SAMPLES
from tests.faults.conftest import KIND_BY_NAME, KIND_NAMES, NOW, make_job, state

pytestmark = pytest.mark.django_db

STALL = dt.timedelta(seconds=120)
RUNNERS = {
    "import": lambda pk: run_import_job(job_id=pk),
    "match": lambda pk: run_match_job(run_id=pk),
    "render": lambda pk: render_documents(version_id=pk),
}


@pytest.fixture(params=KIND_NAMES)
def kind(request: pytest.FixtureRequest) -> jobs.JobKind:
    return KIND_BY_NAME[request.param]


def test_a_queued_job_is_claimed_once_and_counts_an_attempt(kind: jobs.JobKind, frozen_clock: Any) -> None:
    job = make_job(kind)
    assert jobs.claim(kind, job.pk) == 1
    assert jobs.claim(kind, job.pk) is None  # the duplicate message: the job is alive
    after = state(kind, job)
    assert (after["status"], after["attempts"]) == (JobStatus.RUNNING, 1)
    assert after["heartbeat_at"] == NOW


def test_a_running_job_is_taken_over_only_once_its_heartbeat_is_stale(kind: jobs.JobKind, frozen_clock: Any) -> None:
    job = make_job(kind)
    assert jobs.claim(kind, job.pk) == 1
    frozen_clock.shift(STALL - dt.timedelta(seconds=1))
    assert jobs.claim(kind, job.pk) is None
    frozen_clock.shift(dt.timedelta(seconds=2))
    assert jobs.claim(kind, job.pk) == 2
    assert state(kind, job)["attempts"] == 2


def test_a_running_job_without_heartbeat_is_free(kind: jobs.JobKind) -> None:
    """A job left running by a worker from before heartbeats existed: nobody beats for it."""
    job = make_job(kind, status=JobStatus.RUNNING, attempts=1)
    assert jobs.claim(kind, job.pk) == 2


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED])
def test_a_finished_job_is_never_claimed(kind: jobs.JobKind, status: str, frozen_clock: Any) -> None:
    job = make_job(kind, status=status, attempts=1)
    frozen_clock.shift(dt.timedelta(days=30))
    assert jobs.claim(kind, job.pk) is None
    assert state(kind, job)["status"] == status


def test_the_stall_limit_is_a_setting(kind: jobs.JobKind, frozen_clock: Any, settings: Any) -> None:
    settings.JOB_STALL_SECONDS = 10
    job = make_job(kind)
    jobs.claim(kind, job.pk)
    frozen_clock.shift(dt.timedelta(seconds=11))
    assert jobs.claim(kind, job.pk) == 2


def test_a_worker_taken_over_can_no_longer_write(kind: jobs.JobKind, frozen_clock: Any) -> None:
    job = make_job(kind)
    first = jobs.claim(kind, job.pk)
    assert first == 1
    frozen_clock.shift(STALL * 2)
    assert jobs.claim(kind, job.pk) == 2
    with pytest.raises(jobs.Superseded):
        jobs.still_owned(kind, job.pk, first, **{kind.column("stage"): "late"})
    jobs.still_owned(kind, job.pk, 2, **{kind.column("stage"): "saving"})
    assert state(kind, job)["stage"] == "saving"


def test_the_claim_past_three_attempts_fails_the_job_with_a_message_naming_it(
    kind: jobs.JobKind, frozen_clock: Any
) -> None:
    """The poison bound, through each kind's own runner: a job killed three times is not run a fourth."""
    job = make_job(kind, status=JobStatus.RUNNING, attempts=jobs.MAX_ATTEMPTS)
    RUNNERS[kind.name](job.pk)
    after = state(kind, job)
    assert after["status"] == JobStatus.FAILED
    assert after["attempts"] == jobs.MAX_ATTEMPTS + 1
    [error] = after["errors"]
    name = kind.where(kind.rows().get(pk=job.pk))
    assert error["where"] == name
    assert error["message"].endswith(
        f"« {name} » abandonné après 3 tentatives : le traitement s'est interrompu à chaque essai."
    )
    event = AuditEvent.objects.get(action=kind.failed_action, object_id=str(job.pk))
    assert event.details == {"reason": "attempts", "attempts": 3}
    assert RUNNERS[kind.name](job.pk) is not None
    assert state(kind, job)["attempts"] == jobs.MAX_ATTEMPTS + 1  # failed for good: never claimed again


def test_the_import_message_names_the_file(frozen_clock: Any) -> None:
    job = make_job(jobs.IMPORTS, status=JobStatus.RUNNING, attempts=3)
    run_import_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.errors == [
        {
            "where": "bpu-2026.csv",
            "message": "Import de « bpu-2026.csv » abandonné après 3 tentatives : "
            "le traitement s'est interrompu à chaque essai.",
        }
    ]
    assert job.finished_at is not None


def test_a_failed_rendering_may_run_again_only_while_it_has_attempts_left() -> None:
    """build_offer re-renders a failed version; a version failed three times waits for a person's retry."""
    version = make_job(jobs.RENDERS, status=JobStatus.FAILED, attempts=1)
    assert render_documents(version_id=version.pk).render_attempts == 2
    spent = make_job(jobs.RENDERS, status=JobStatus.FAILED, attempts=3)
    assert render_documents(version_id=spent.pk).render_attempts == 3
    assert OfferVersion.objects.get(pk=spent.pk).render_status == JobStatus.FAILED


def test_a_live_import_is_not_run_twice_by_a_duplicate_message(
    django_capture_on_commit_callbacks: Any, frozen_clock: Any
) -> None:
    job = create_import_job(actor=None, name="n.xml", data=(SAMPLES / "eforms/cn_24_FRA_comments.xml").read_bytes())
    assert jobs.claim(jobs.IMPORTS, job.pk) == 1  # another worker has it and is alive
    assert run_import_job(job_id=job.pk) is not None
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
    assert not job.tenders.exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_get_it_once(kind: jobs.JobKind) -> None:
    job = make_job(kind)
    barrier = threading.Barrier(4)
    got: list[int | None] = []

    def worker() -> None:
        try:
            barrier.wait()
            got.append(jobs.claim(kind, job.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(got, key=lambda x: x or 0) == [None, None, None, 1]
    assert state(kind, job)["attempts"] == 1
