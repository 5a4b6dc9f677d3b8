"""Reads about background jobs that the views need right after queuing one."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from ..models import JobStatus
from ..services.jobs import IMPORTS, MATCHES, RENDERS, UNREACHABLE, JobKind

QUEUE_DOWN = gettext_lazy(
    "La file de tâches est injoignable : le travail est enregistré et démarrera automatiquement à son retour."
)


def waits_for_queue(kind: JobKind, pk: int) -> bool:
    """True when the job is saved but its message could not reach the task queue (sent again by the sweeper)."""
    return (
        kind.rows()
        .filter(pk=pk, **{kind.column("status"): JobStatus.QUEUED, kind.column("stage"): UNREACHABLE})
        .exists()
    )


def import_waits(job_id: int) -> bool:
    return waits_for_queue(IMPORTS, job_id)


def match_waits(run_id: int) -> bool:
    return waits_for_queue(MATCHES, run_id)


def rendering_waits(version_id: int) -> bool:
    return waits_for_queue(RENDERS, version_id)
