"""Celery tasks of the pricing app: ids in, a service call, retries owned here."""

from __future__ import annotations

import datetime as dt

from celery import Task, shared_task
from django.contrib.auth import get_user_model

from .services.commitment_reminders import send_commitment_reminders
from .services.payouts import run_payout_batch


@shared_task(bind=True, autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True, max_retries=5)
def run_payouts(self: Task, key: str, execution_date: str, actor_id: int | None) -> dict[str, object]:
    """Post a payout batch; a retry (or a second delivery of the message) finds the key and posts nothing.

    The result carries no amounts per firm: task results are readable by whoever reads the broker.
    """
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    run = run_payout_batch(actor=actor, key=key, execution_date=dt.date.fromisoformat(execution_date))
    return {"batch": run.batch.pk, "created": run.created, "items": run.batch.items.count()}


@shared_task(ignore_result=True)
def remind_commitments() -> int:
    """Run daily by Celery beat: reminders of contribution commitments, each sent once."""
    return send_commitment_reminders()
