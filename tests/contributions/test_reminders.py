"""Reminders of contribution commitments: before a due date within the warning window, after it once
overdue; each sent once, to the committed firm's people and the bid manager, naming no other firm."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command

from pricing.commitment_rules import WARNING_DAYS
from pricing.models import CommitmentKind, CommitmentReminder, UpstreamProject
from pricing.services.commitment_reminders import send_commitment_reminders
from pricing.services.commitments import CommitmentInput, create_commitment, record_work
from tests.ledger.conftest import LedgerContract

pytestmark = pytest.mark.django_db

DUE = dt.date(2026, 6, 30)


@pytest.fixture
def people(bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any) -> dict[str, Any]:
    for user, address in (
        (bid_manager, "manager@guichet.test"),
        (partner_a, "a@firm-a.test"),
        (partner_b, "b@firm-b.test"),
        (finance, "finance@guichet.test"),
    ):
        user.email = address
        user.save(update_fields=["email"])
    return {"bid_manager": bid_manager, "partner_a": partner_a, "finance": finance}


def _commitment(ledger_contract: LedgerContract, *, firm: Any, kind: str = CommitmentKind.DAYS) -> Any:
    project = UpstreamProject.objects.create(name="PostgreSQL", slug="postgresql")
    return create_commitment(
        actor=ledger_contract.finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=kind,
            title="Deux jours sur l'outillage de sauvegarde",
            starts_on=dt.date(2026, 1, 1),
            ends_on=dt.date(2026, 12, 31),
            dues=[(DUE, Decimal(2) if kind == CommitmentKind.DAYS else 50_000)],
            contract_id=ledger_contract.contract.pk,
            firm_id=firm.pk if firm else None,
            days=Decimal(2) if kind == CommitmentKind.DAYS else None,
            amount_cents=50_000 if kind == CommitmentKind.AMOUNT else None,
        ),
    )


@pytest.fixture
def remind(django_capture_on_commit_callbacks: Any) -> Any:
    """Run the reminders for a day; the mails go after commit, so run those callbacks as it ends."""

    def run(today: dt.date) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return send_commitment_reminders(today=today)

    return run


def _recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def test_before_then_after_each_sent_once(ledger_contract: LedgerContract, people: dict[str, Any], remind: Any) -> None:
    commitment = _commitment(ledger_contract, firm=ledger_contract.market.firm_a)
    assert remind(DUE - dt.timedelta(days=WARNING_DAYS + 1)) == 0
    assert mail.outbox == []

    assert remind(DUE - dt.timedelta(days=WARNING_DAYS)) == 1
    assert _recipients() == ["a@firm-a.test", "manager@guichet.test"]
    assert "PostgreSQL" in mail.outbox[0].subject
    assert f"/contributions/{commitment.pk}/" in mail.outbox[0].body
    assert remind(DUE - dt.timedelta(days=3)) == 0
    assert remind(DUE) == 0
    assert len(mail.outbox) == 2

    mail.outbox.clear()
    assert remind(DUE + dt.timedelta(days=1)) == 1
    assert "retard" in mail.outbox[0].subject
    assert remind(DUE + dt.timedelta(days=40)) == 0
    assert len(mail.outbox) == 2
    assert CommitmentReminder.objects.count() == 2
    for message in mail.outbox:
        assert "Firm B" not in message.body and "b@firm-b.test" not in message.to


def test_no_reminder_once_the_due_part_is_delivered(
    ledger_contract: LedgerContract, people: dict[str, Any], remind: Any
) -> None:
    commitment = _commitment(ledger_contract, firm=ledger_contract.market.firm_a)
    record_work(
        actor=people["partner_a"],
        commitment=commitment,
        days=Decimal(2),
        delivered_on=dt.date(2026, 3, 1),
        description="Sauvegardes incrémentales",
        links=["https://github.com/postgres/postgres/pull/1"],
    )
    assert remind(DUE - dt.timedelta(days=2)) == 0
    assert remind(DUE + dt.timedelta(days=2)) == 0
    assert mail.outbox == []


def test_the_guichets_commitment_goes_to_bid_manager_and_finance(
    ledger_contract: LedgerContract, people: dict[str, Any], remind: Any
) -> None:
    _commitment(ledger_contract, firm=None, kind=CommitmentKind.AMOUNT)
    assert remind(DUE + dt.timedelta(days=1)) == 1
    assert _recipients() == ["finance@guichet.test", "manager@guichet.test"]
    assert "a@firm-a.test" not in _recipients()


def test_the_command_and_the_task_send_once(
    ledger_contract: LedgerContract, people: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    from pricing.tasks import remind_commitments

    _commitment(ledger_contract, firm=ledger_contract.market.firm_a)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("remind_commitments", "--date", (DUE + dt.timedelta(days=1)).isoformat())
        call_command("remind_commitments", "--date", (DUE + dt.timedelta(days=2)).isoformat())
    assert len(mail.outbox) == 2  # one "after" reminder, one message per address
    assert CommitmentReminder.objects.count() == 1
    assert remind_commitments.apply().get() == 0  # today is after DUE: nothing left to send
