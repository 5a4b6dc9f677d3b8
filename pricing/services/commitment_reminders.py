"""Writes: reminders of contribution commitments, before and after their due dates, each sent once.

Run daily by the periodic task `pricing.tasks.remind_commitments` (or `manage.py remind_commitments`).
A reminder row is claimed in the transaction (unique per due date and stage, so two runs at once send
one); the mails go after commit, one message per address. A firm's mail names only that firm.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from bids.notifications import firm_recipients
from consortium.roles import Role
from consortium.services import record_event

from ..commitment_rules import WARNING_DAYS, CommitmentStatus, reminders_due
from ..models import Commitment, CommitmentDue, CommitmentReminder, ReminderStage
from ..selectors.commitments import CommitmentProgress, commitments_progress

log = logging.getLogger(__name__)


def send_commitment_reminders(*, today: dt.date | None = None) -> int:
    """Claim and send the reminders the status rules call for today; returns how many were claimed."""
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=WARNING_DAYS)
    open_ids = (
        CommitmentDue.objects.filter(due_on__lte=horizon)
        .exclude(reminders__stage=ReminderStage.AFTER)
        .values_list("commitment_id", flat=True)
        .distinct()
    )
    commitments = list(
        Commitment.objects.filter(pk__in=list(open_ids)).select_related(
            "project", "firm", "contract__version__offer__created_by"
        )
    )
    progress = commitments_progress(commitments, today=today)
    claimed = 0
    for commitment in commitments:
        state = progress[commitment.pk]
        if state.status == CommitmentStatus.FULFILLED:
            continue
        for due_on, stage in reminders_due(today=today, delivered=state.delivered, dues=state.dues):
            if _claim_and_send(commitment, state, due_on, stage):
                claimed += 1
    return claimed


@transaction.atomic
def _claim_and_send(commitment: Commitment, state: CommitmentProgress, due_on: dt.date, stage: str) -> bool:
    due = CommitmentDue.objects.get(commitment=commitment, due_on=due_on)
    recipients = _recipients(commitment)
    try:
        with transaction.atomic():
            reminder = CommitmentReminder.objects.create(due=due, stage=stage, recipients=len(recipients))
    except IntegrityError:  # sent before, or claimed by a concurrent run
        return False
    expected = next(check.expected for check in state.dues if check.due_on == due_on)
    record_event(actor=None, action=f"commitment.reminder_{stage}", obj=commitment, due_on=str(due_on))
    transaction.on_commit(lambda: _mail(commitment, state, due_on, stage, expected, recipients, reminder.pk))
    return True


def _recipients(commitment: Commitment) -> list[str]:
    addresses = set(_bid_managers(commitment))
    if commitment.firm_id is not None:
        addresses |= set(firm_recipients(commitment.firm_id))
    else:
        finance = get_user_model().objects.filter(role=Role.FINANCE, is_active=True).exclude(email="")
        addresses |= set(finance.values_list("email", flat=True))
    return sorted(address.strip().lower() for address in addresses if address.strip())


def _bid_managers(commitment: Commitment) -> list[str]:
    """The bid manager who built the contract's offer, or every active bid manager."""
    contract = commitment.contract
    sender = contract.version.offer.created_by if contract is not None else None
    if sender is not None and sender.is_active and sender.email:
        return [sender.email]
    managers = get_user_model().objects.filter(role=Role.BID_MANAGER, is_active=True).exclude(email="")
    return list(managers.values_list("email", flat=True))


def _mail(
    commitment: Commitment,
    state: CommitmentProgress,
    due_on: dt.date,
    stage: str,
    expected: Any,
    recipients: list[str],
    reminder_id: int,
) -> None:
    if not recipients:
        return
    context = {
        "commitment": commitment,
        "party": commitment.firm.name if commitment.firm else None,
        "due_on": due_on,
        "stage": stage,
        "in_days": state.in_days,
        "expected": expected,
        "delivered": state.delivered,
        "link": settings.GUICHET_BASE_URL.rstrip("/")
        + reverse("contributions:commitment_detail", args=[commitment.pk]),
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string("pricing/email/commitment_reminder_subject.txt", context).strip()
        body = render_to_string("pricing/email/commitment_reminder.txt", context)
    try:
        send_mass_mail([(subject.replace("\n", " "), body, settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients])
    except OSError:  # the row stays claimed: a reminder is never sent twice, a lost one is logged
        log.exception("commitment reminder %s not sent", reminder_id)
