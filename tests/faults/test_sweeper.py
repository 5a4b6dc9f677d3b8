"""The sweeper: stalled jobs back to the queue or failed for good, jobs the broker never got sent again.

Both databases; the clock is frozen and moved by the test. What is published is recorded (or refused, for a
broker that is down) at the task's `delay`, which the sweeper reaches through each kind's enqueue function.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from kombu.exceptions import OperationalError

from bids import tasks
from bids.models import JobStatus, MatchRun, Tender
from bids.services import jobs
from bids.services.imports import create_import_job
from bids.services.jobs import sweep_stuck_jobs
from consortium.models import AuditEvent
from tests.conftest import SAMPLES
from tests.faults.conftest import KIND_BY_NAME, KIND_NAMES, NOW, make_job, state

pytestmark = pytest.mark.django_db

TASKS = {"import": "run_import", "match": "run_match", "render": "render_offer"}
STALL = dt.timedelta(seconds=120)


@dataclass
class Broker:
    """What the tasks' `delay` received, per kind; `down` makes every publish fail as kombu does."""

    sent: dict[str, list[int]] = field(default_factory=lambda: {name: [] for name in KIND_NAMES})
    tries: int = 0
    down: bool = False


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    recorded = Broker()
    for name, task_name in TASKS.items():

        def delay(pk: int, name: str = name) -> None:
            recorded.tries += 1
            if recorded.down:
                raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            recorded.sent[name].append(pk)

        monkeypatch.setattr(getattr(tasks, task_name), "delay", delay)
    return recorded


@pytest.fixture(params=KIND_NAMES)
def kind(request: pytest.FixtureRequest) -> jobs.JobKind:
    return KIND_BY_NAME[request.param]


def sweep(capture: Any, **options: Any) -> jobs.SweepReport:
    with capture(execute=True):
        report = sweep_stuck_jobs(**options)
    return report


def stalled(kind: jobs.JobKind, attempts: int, frozen_clock: Any) -> Any:
    """A job whose worker claimed it (attempt `attempts`) and then went silent past the stall limit."""
    job = make_job(kind, status=JobStatus.QUEUED, attempts=attempts - 1)
    assert jobs.claim(kind, job.pk) == attempts
    frozen_clock.shift(STALL + dt.timedelta(seconds=1))
    return job


def test_a_stalled_job_goes_back_to_the_queue_and_is_sent_again(
    kind: jobs.JobKind, broker: Broker, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = stalled(kind, 1, frozen_clock)
    report = sweep(django_capture_on_commit_callbacks)
    after = state(kind, job)
    assert (after["status"], after["attempts"], after["stage"]) == (JobStatus.QUEUED, 1, "")
    assert broker.sent[kind.name] == [job.pk]
    assert report.as_dict()[kind.name] == {"requeued": 1, "failed": 0, "resent": 1, "unsent": 0}
    event = AuditEvent.objects.get(action=f"{kind.name}.requeued")
    assert event.object_id == str(job.pk) and event.actor is None
    assert event.details == {"attempts": 1, "last_heartbeat": NOW.isoformat()}
    assert jobs.claim(kind, job.pk) == 2  # the next worker's claim counts the second attempt


def test_a_job_alive_is_left_alone(
    kind: jobs.JobKind, broker: Broker, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = make_job(kind)
    jobs.claim(kind, job.pk)
    frozen_clock.shift(STALL - dt.timedelta(seconds=1))
    before = state(kind, job)
    report = sweep(django_capture_on_commit_callbacks)
    assert state(kind, job) == before
    assert broker.tries == 0
    assert report.as_dict()[kind.name] == {"requeued": 0, "failed": 0, "resent": 0, "unsent": 0}


def test_a_stalled_job_out_of_attempts_fails_with_its_message(
    kind: jobs.JobKind, broker: Broker, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = stalled(kind, jobs.MAX_ATTEMPTS, frozen_clock)
    report = sweep(django_capture_on_commit_callbacks)
    after = state(kind, job)
    assert after["status"] == JobStatus.FAILED
    message = after["errors"][0]["message"]
    assert "abandonné après 3 tentatives : le traitement s'est interrompu à chaque essai" in message
    assert broker.tries == 0
    assert report.failed[kind.name] == 1 and report.requeued[kind.name] == 0
    assert AuditEvent.objects.filter(action=kind.failed_action, object_id=str(job.pk)).count() == 1
    assert sweep(django_capture_on_commit_callbacks).failed[kind.name] == 0  # failed once, not at every sweep


def test_a_queued_job_the_broker_never_got_is_sent_by_the_next_sweep(
    kind: jobs.JobKind, broker: Broker, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = make_job(kind, stage=jobs.UNREACHABLE)
    report = sweep(django_capture_on_commit_callbacks)  # at once: no need to wait for the stall limit
    assert broker.sent[kind.name] == [job.pk]
    assert report.resent[kind.name] == 1 and report.requeued[kind.name] == 0
    after = state(kind, job)
    assert (after["status"], after["stage"]) == (JobStatus.QUEUED, "")  # the page no longer says unreachable


def test_a_queued_job_is_sent_again_once_per_stall_limit(
    kind: jobs.JobKind, broker: Broker, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A message lost on the way, or a job waiting behind a long one: a duplicate now and then, not a flood."""
    job = make_job(kind)
    sweep(django_capture_on_commit_callbacks)
    assert broker.sent[kind.name] == []  # just queued
    frozen_clock.shift(STALL + dt.timedelta(seconds=1))
    sweep(django_capture_on_commit_callbacks)
    assert broker.sent[kind.name] == [job.pk]
    frozen_clock.shift(dt.timedelta(seconds=60))
    sweep(django_capture_on_commit_callbacks)
    assert broker.sent[kind.name] == [job.pk]
    frozen_clock.shift(STALL)
    sweep(django_capture_on_commit_callbacks)
    assert broker.sent[kind.name] == [job.pk, job.pk]


def test_with_the_broker_down_the_sweep_tries_once_and_keeps_every_job(
    kind: jobs.JobKind, broker: Broker, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    waiting = [make_job(kind, stage=jobs.UNREACHABLE) for _ in range(3)]
    dead = stalled(kind, 1, frozen_clock)
    broker.down = True
    report = sweep(django_capture_on_commit_callbacks)
    assert broker.tries == 1  # each refused publish costs a timeout: the first one is enough
    assert report.as_dict()[kind.name] == {"requeued": 1, "failed": 0, "resent": 0, "unsent": 4}
    for job in [*waiting, dead]:
        assert (state(kind, job)["status"], state(kind, job)["stage"]) == (JobStatus.QUEUED, jobs.UNREACHABLE)
    broker.down = False
    report = sweep(django_capture_on_commit_callbacks)
    assert sorted(broker.sent[kind.name]) == sorted(job.pk for job in [*waiting, dead])
    assert report.resent[kind.name] == 4 and report.unsent[kind.name] == 0


def test_stalled_after_overrides_the_setting(
    kind: jobs.JobKind, broker: Broker, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = make_job(kind)
    jobs.claim(kind, job.pk)
    frozen_clock.shift(dt.timedelta(seconds=11))
    assert sweep(django_capture_on_commit_callbacks).requeued[kind.name] == 0
    assert sweep(django_capture_on_commit_callbacks, stalled_after=dt.timedelta(seconds=10)).requeued[kind.name] == 1


def test_a_sweep_at_a_given_time(kind: jobs.JobKind, broker: Broker, django_capture_on_commit_callbacks: Any) -> None:
    """`now` lets the load scripts and the tests sweep as if later, without a clock of their own."""
    job = make_job(kind)
    jobs.claim(kind, job.pk)
    report = sweep(django_capture_on_commit_callbacks, now=NOW.replace(year=2099))
    assert report.requeued[kind.name] == 1
    assert state(kind, job)["heartbeat_at"] == NOW.replace(year=2099)


def test_the_three_kinds_in_one_sweep(
    broker: Broker, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    running = {kind.name: stalled(kind, 1, frozen_clock) for kind in jobs.KINDS}
    spent = {kind.name: stalled(kind, 3, frozen_clock) for kind in jobs.KINDS}
    report = sweep(django_capture_on_commit_callbacks)
    for name in KIND_NAMES:
        assert report.as_dict()[name] == {"requeued": 1, "failed": 1, "resent": 1, "unsent": 0}
        assert broker.sent[name] == [running[name].pk]
        assert state(KIND_BY_NAME[name], spent[name])["status"] == JobStatus.FAILED


# --- The command ------------------------------------------------------------------------------------------


def test_the_command_prints_the_report(broker: Broker, frozen_clock: Any) -> None:
    stalled(jobs.IMPORTS, 1, frozen_clock)
    out = io.StringIO()
    call_command("sweep_jobs", stdout=out)
    assert out.getvalue().splitlines() == [
        "import: 1 requeued, 0 failed, 0 re-sent, 0 not sent (queue unreachable)",
        "match: 0 requeued, 0 failed, 0 re-sent, 0 not sent (queue unreachable)",
        "render: 0 requeued, 0 failed, 0 re-sent, 0 not sent (queue unreachable)",
    ]  # the test's transaction never commits: the message would leave at commit


def test_the_command_takes_a_stall_limit_and_prints_json(broker: Broker, frozen_clock: Any) -> None:
    job = make_job(jobs.MATCHES)
    jobs.claim(jobs.MATCHES, job.pk)
    frozen_clock.shift(dt.timedelta(seconds=30))
    out = io.StringIO()
    call_command("sweep_jobs", "--stalled-after", "29.5", "--json", stdout=out)
    assert '"match": {"requeued": 1, "failed": 0' in out.getvalue()


@pytest.mark.parametrize("value", ["-1", "nan", "1e12"])
def test_the_command_refuses_a_stall_limit_that_cannot_be(value: str) -> None:
    with pytest.raises(CommandError, match="--stalled-after takes a number of seconds from 0 to 10\\^8, not"):
        call_command("sweep_jobs", "--stalled-after", value)


def test_the_beat_schedule_runs_the_sweeper_every_minute(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-jobs"]
    assert entry == {"task": "bids.tasks.sweep_jobs", "schedule": 60}
    assert tasks.sweep_jobs.name == entry["task"]


# --- End to end, with the tasks run in-process ------------------------------------------------------------


def test_an_import_whose_worker_died_is_finished_by_the_next_worker(
    frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = create_import_job(actor=None, name="n.xml", data=(SAMPLES / "eforms/cn_24_FRA_comments.xml").read_bytes())
    assert jobs.claim(jobs.IMPORTS, job.pk) == 1  # the worker that then died
    frozen_clock.shift(STALL * 2)
    report = sweep(django_capture_on_commit_callbacks)  # the task runs eagerly when sent
    assert report.requeued["import"] == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert Tender.objects.count() == 1 and job.tenders.count() == 1


def test_a_match_whose_worker_died_is_finished_by_the_next_worker(
    bid_manager: Any, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.matching.conftest import Network, make_tender

    network = Network(*make_tender())
    network.firm("Experts", skills={"PostgreSQL": 3}, days_per_month=10)
    network.package("Support PostgreSQL", skills={"PostgreSQL": 8}, days="5")
    run = MatchRun.objects.create(tender=network.tender, created_by=bid_manager)
    assert jobs.claim(jobs.MATCHES, run.pk) == 1
    frozen_clock.shift(STALL * 2)
    assert sweep(django_capture_on_commit_callbacks).requeued["match"] == 1
    run.refresh_from_db()
    assert (run.status, run.attempts, run.counts["assigned"]) == (JobStatus.SUCCEEDED, 2, 1)


def test_a_rendering_whose_worker_died_is_finished_by_the_next_worker(
    bid_manager: Any, partner_a: Any, partner_b: Any, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.offers.conftest import build_offer_market, freeze

    version = freeze(build_offer_market(bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b))
    assert jobs.claim(jobs.RENDERS, version.pk) == 1
    frozen_clock.shift(STALL * 2)
    assert sweep(django_capture_on_commit_callbacks).requeued["render"] == 1
    version.refresh_from_db()
    assert (version.render_status, version.render_attempts) == (JobStatus.SUCCEEDED, 2)
    assert version.documents.count() == 7 and len(version.content_hash) == 64


def test_the_sweeper_task_returns_the_report(broker: Broker, frozen_clock: Any) -> None:
    stalled(jobs.RENDERS, 2, frozen_clock)
    assert tasks.sweep_jobs.apply().get()["render"]["requeued"] == 1
