from __future__ import annotations

from celery import shared_task

from . import notifications
from .services.imports import run_import_job
from .services.invitations import sweep_invitations
from .services.jobs import sweep_stuck_jobs
from .services.matching import run_match_job
from .services.offers import render_documents


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_import(job_id: int) -> None:
    run_import_job(job_id=job_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_match(run_id: int) -> None:
    run_match_job(run_id=run_id)


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def mail_firm(invitation_id: int, kind: str) -> None:
    """An invitation, reminder or closing e-mail to the firm's own people; retried while the mail server is down."""
    notifications.mail_firm(invitation_id, kind)


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def mail_bid_manager(invitation_id: int, event: str, successor_id: int | None = None) -> None:
    notifications.mail_bid_manager(invitation_id, event, successor_id)


@shared_task(ignore_result=True)
def sweep(ignored: object = None) -> dict[str, int]:
    """Run every few minutes by Celery beat: expire overdue invitations, invite the next firm, send reminders."""
    return sweep_invitations()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def render_offer(version_id: int) -> None:
    """Render and store the documents of a frozen offer version; progress is kept on the version."""
    render_documents(version_id=version_id)


@shared_task(ignore_result=True)
def sweep_jobs(ignored: object = None) -> dict[str, dict[str, int]]:
    """Run every minute by Celery beat: jobs whose worker died go back to the queue (or fail when out of
    attempts), jobs the broker never got are sent again."""
    return sweep_stuck_jobs().as_dict()
