"""Background jobs that outlive their workers: claims with an attempt count, heartbeats, and the sweeper.

Three kinds share one life cycle (queued, running, then succeeded or failed): imports, match runs and the
rendering of an offer version's documents. Their tasks are acknowledged late, so a worker killed in the
middle leaves the message to be delivered again; and the sweeper (Celery beat, or `manage.py sweep_jobs`)
takes back what nobody is working on any more. Either way the job is claimed by a conditional UPDATE:

- a QUEUED job, or a RUNNING one whose heartbeat is older than the stall limit (its worker is gone);
  a duplicate message for a job that is alive therefore finds nothing to do;
- each claim counts an attempt, and the claim past MAX_ATTEMPTS fails the job for good with a message
  naming it: a file that kills its worker every time (the poison file) is tried three times, not forever.

While a job runs, a small thread refreshes its heartbeat every few seconds on its own database connection,
because the work itself may sit in one long transaction whose writes nobody else sees before it commits.
The claim's attempt number is the fence: a worker that was given up on and comes back can neither refresh
the heartbeat nor finish the job (see `still_owned`).

For a QUEUED job, the heartbeat field holds when the sweeper last sent it: a job waiting behind a long
one is sent again at most once per stall limit, and the duplicate message finds nothing to claim.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from consortium.services import record_event

from ..models import ImportJob, JobStatus, MatchRun
from ..offer_models import OfferVersion

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
UNREACHABLE = "queue unreachable"  # the stage of a queued job whose message could not be sent


@dataclass(frozen=True)
class JobKind:
    """Where one kind of job keeps its state, and how it is sent to the queue."""

    name: str
    model: type[models.Model]
    enqueue: str  # dotted path of `f(pk) -> bool`: send the task now; False (and the stage says so) if it failed
    what: str  # "Import de « %(name)s »", marked for translation: the subject of the give-up message
    where: Callable[[Any], str]  # names the job in its error list (the file, the tender, the version)
    failed_action: str  # the audit action of a job that failed
    queued_since: Coalesce  # when the job was put in the queue last
    prefix: str = ""  # "render_" on the offer version
    finished: str | None = "finished_at"

    def rows(self) -> models.QuerySet[Any]:
        return self.model._default_manager.all()

    def column(self, name: str) -> str:
        """The model field holding `name` (status, stage, attempts, heartbeat_at, errors) for this kind."""
        return f"{self.prefix}{name}"


IMPORTS = JobKind(
    name="import",
    model=ImportJob,
    enqueue="bids.services.imports.enqueue_import",
    what=gettext_noop("Import de « %(name)s »"),
    where=lambda job: job.original_name,
    failed_action="import.failed",
    queued_since=Coalesce("heartbeat_at", "created_at"),
)
MATCHES = JobKind(
    name="match",
    model=MatchRun,
    enqueue="bids.services.matching.enqueue_match",
    what=gettext_noop("Rapprochement de « %(name)s »"),
    where=lambda run: str(run.tender),
    failed_action="match.failed",
    queued_since=Coalesce("heartbeat_at", "created_at"),
)
RENDERS = JobKind(
    name="render",
    model=OfferVersion,
    enqueue="bids.services.offers.enqueue_rendering",
    what=gettext_noop("Rendu des documents de « %(name)s »"),
    where=lambda version: str(version),
    failed_action="offer.render_failed",
    queued_since=Coalesce("render_heartbeat_at", "frozen_at", "created_at"),
    prefix="render_",
    finished=None,
)
KINDS = (IMPORTS, MATCHES, RENDERS)


def stall_limit() -> timedelta:
    """How long a running job may stay silent before it is taken as dead (JOB_STALL_SECONDS)."""
    return timedelta(seconds=settings.JOB_STALL_SECONDS)


def _stale(kind: JobKind, before: datetime) -> Q:
    heartbeat = kind.column("heartbeat_at")
    # No heartbeat at all while running: a job from before heartbeats existed, so nobody is beating for it.
    return Q(**{kind.column("status"): JobStatus.RUNNING}) & (
        Q(**{f"{heartbeat}__lt": before}) | Q(**{f"{heartbeat}__isnull": True})
    )


def claim(kind: JobKind, pk: int, *, now: datetime | None = None, also: Q | None = None, **changes: Any) -> int | None:
    """Take the job for this worker; its attempt number, or None when it is not free (finished, or alive).

    `also` widens what may be taken (a failed rendering may be run again); `changes` are written with the claim.
    """
    now = now or timezone.now()
    free = Q(**{kind.column("status"): JobStatus.QUEUED}) | _stale(kind, now - stall_limit())
    if also is not None:
        free |= also
    attempts = kind.column("attempts")
    with transaction.atomic():  # the attempt read back is the one this UPDATE wrote (the row stays locked)
        taken = (
            kind.rows()
            .filter(pk=pk)
            .filter(free)
            .update(
                **{
                    kind.column("status"): JobStatus.RUNNING,
                    attempts: F(attempts) + 1,
                    kind.column("heartbeat_at"): now,
                    kind.column("stage"): "",
                    **changes,
                }
            )
        )
        if not taken:
            return None
        attempt: int = kind.rows().filter(pk=pk).values_list(attempts, flat=True).get()
    return attempt


def owned(kind: JobKind, pk: int, attempt: int) -> models.QuerySet[Any]:
    """The job, if this worker (its claim's attempt) still holds it: update through this to finish it."""
    return kind.rows().filter(pk=pk, **{kind.column("status"): JobStatus.RUNNING, kind.column("attempts"): attempt})


class Superseded(Exception):
    """The job was taken back by the sweeper or another worker while this one ran: drop this run's work."""


def still_owned(kind: JobKind, pk: int, attempt: int, **changes: Any) -> None:
    """Write `changes` to the job if this worker still holds it, else raise Superseded (inside a transaction,
    that rolls back the run's work with it)."""
    if not owned(kind, pk, attempt).update(**changes):
        raise Superseded(f"{kind.name} #{pk}, attempt {attempt}")


def give_up_message(kind: JobKind, obj: Any, attempts: int) -> dict[str, str]:
    subject = _(kind.what) % {"name": kind.where(obj)}
    return {
        "where": kind.where(obj),
        "message": _("%(subject)s abandonné après %(n)s tentatives : le traitement s'est interrompu à chaque essai.")
        % {"subject": subject, "n": attempts},
    }


def give_up(kind: JobKind, obj: Any, *, attempt: int | None = None, now: datetime | None = None) -> bool:
    """Fail a job out of attempts, with a message naming it. With `attempt`, only if this claim still holds it;
    without, only if it is still running. False when someone else changed it meanwhile."""
    rows = owned(kind, obj.pk, attempt) if attempt is not None else kind.rows().filter(pk=obj.pk)
    changes: dict[str, Any] = {
        kind.column("status"): JobStatus.FAILED,
        kind.column("stage"): "",
        kind.column("errors"): [give_up_message(kind, obj, min(attempt or MAX_ATTEMPTS, MAX_ATTEMPTS))],
    }
    if kind.finished:
        changes[kind.finished] = now or timezone.now()
    if not rows.filter(**{kind.column("status"): JobStatus.RUNNING}).update(**changes):
        return False
    record_event(actor=None, action=kind.failed_action, obj=obj, reason="attempts", attempts=MAX_ATTEMPTS)
    return True


@contextmanager
def heartbeat(kind: JobKind, pk: int, *, attempt: int, every: float | None = None) -> Iterator[None]:
    """Refresh the job's heartbeat every `every` seconds (JOB_HEARTBEAT_SECONDS) while the block runs."""
    every = settings.JOB_HEARTBEAT_SECONDS if every is None else every
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    alive = owned(kind, pk, attempt).update(**{kind.column("heartbeat_at"): timezone.now()})
                except DatabaseError:  # SQLite while the job holds the write lock, a dropped connection...
                    logger.warning("heartbeat of %s #%s missed", kind.name, pk, exc_info=True)
                    connection.close()  # the next beat opens a fresh one
                    continue
                if not alive:  # finished, or taken back: nothing to keep alive
                    return
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{kind.name}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # A beat blocked on a lock ends on its own (it sees `stop` next); the job does not wait for it.
        thread.join(timeout=2)


# --- The sweeper -------------------------------------------------------------------------------------------


def _per_kind() -> dict[str, int]:
    return dict.fromkeys((kind.name for kind in KINDS), 0)


@dataclass
class SweepReport:
    """Per kind of job: put back in the queue, failed for good, sent to the queue, left unsent (broker down).

    The messages leave after the sweep's commit: `resent` and `unsent` are counted as they go.
    """

    requeued: dict[str, int] = field(default_factory=_per_kind)
    failed: dict[str, int] = field(default_factory=_per_kind)
    resent: dict[str, int] = field(default_factory=_per_kind)
    unsent: dict[str, int] = field(default_factory=_per_kind)

    def as_dict(self) -> dict[str, dict[str, int]]:
        counts = {"requeued": self.requeued, "failed": self.failed, "resent": self.resent, "unsent": self.unsent}
        return {kind.name: {key: value[kind.name] for key, value in counts.items()} for kind in KINDS}

    def __str__(self) -> str:
        return "\n".join(
            f"{name}: {c['requeued']} requeued, {c['failed']} failed, {c['resent']} re-sent, "
            f"{c['unsent']} not sent (queue unreachable)"
            for name, c in self.as_dict().items()
        )


def sweep_stuck_jobs(*, stalled_after: timedelta | None = None, now: datetime | None = None) -> SweepReport:
    """Take back the jobs nobody is working on: a running job silent for `stalled_after` (JOB_STALL_SECONDS)
    goes back to the queue, or fails when out of attempts; a queued job never picked up is sent again.

    The messages leave after commit; the first one the broker refuses stops the sending, and the jobs left
    keep the stage "queue unreachable" for the next sweep.
    """
    now = now or timezone.now()
    before = now - (stalled_after if stalled_after is not None else stall_limit())
    report = SweepReport()
    for kind in KINDS:
        with transaction.atomic():
            to_send = _take_back(kind, before, now, report) + _not_picked_up(kind, before, now)
            if to_send:
                transaction.on_commit(partial(_send, kind, to_send, report))
    return report


def _take_back(kind: JobKind, before: datetime, now: datetime, report: SweepReport) -> list[int]:
    status, attempts, heartbeat = kind.column("status"), kind.column("attempts"), kind.column("heartbeat_at")
    requeued = []
    stuck = kind.rows().filter(_stale(kind, before)).order_by("pk").select_for_update(skip_locked=True)
    for obj in stuck:
        tried = getattr(obj, attempts)
        if tried >= MAX_ATTEMPTS:
            if give_up(kind, obj, attempt=tried, now=now):
                report.failed[kind.name] += 1
            continue
        last_beat = getattr(obj, heartbeat)
        # Fenced on what was read: a worker that claimed it meanwhile changed the attempt and the heartbeat.
        same = kind.rows().filter(pk=obj.pk, **{status: JobStatus.RUNNING, attempts: tried, heartbeat: last_beat})
        if same.update(**{status: JobStatus.QUEUED, kind.column("stage"): "", heartbeat: now}):
            record_event(
                actor=None,
                action=f"{kind.name}.requeued",
                obj=obj,
                attempts=tried,
                last_heartbeat=last_beat.isoformat() if last_beat else None,
            )
            report.requeued[kind.name] += 1
            requeued.append(obj.pk)
    return requeued


def _not_picked_up(kind: JobKind, before: datetime, now: datetime) -> list[int]:
    queued = {kind.column("status"): JobStatus.QUEUED}
    waiting = (
        kind.rows()
        .annotate(queued_since=kind.queued_since)
        .filter(Q(**{kind.column("stage"): UNREACHABLE}) | Q(queued_since__lt=before), **queued)
    )
    pks = list(waiting.order_by("pk").values_list("pk", flat=True))
    kind.rows().filter(pk__in=pks, **queued).update(**{kind.column("heartbeat_at"): now})
    return pks


def _send(kind: JobKind, pks: list[int], report: SweepReport) -> None:
    enqueue: Callable[[int], bool] = import_string(kind.enqueue)
    queued = {kind.column("status"): JobStatus.QUEUED}
    sent = 0
    for pk in pks:
        if not enqueue(pk):  # the broker is down: one wait is enough, the rest keep for the next sweep
            break
        sent += 1
    kind.rows().filter(pk__in=pks[:sent], **queued, **{kind.column("stage"): UNREACHABLE}).update(
        **{kind.column("stage"): ""}
    )
    kind.rows().filter(pk__in=pks[sent:], **queued).update(**{kind.column("stage"): UNREACHABLE})
    report.resent[kind.name] += sent
    report.unsent[kind.name] += len(pks) - sent
