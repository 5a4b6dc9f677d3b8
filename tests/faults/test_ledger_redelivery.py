"""A task retried after a crash posts nothing twice in the ledger (PostgreSQL + Redis, real workers).

tests/ledger already runs the payout service and task twice in-process (test_payouts.py); here the
message is really redelivered: a worker is killed inside the payout's transaction and the broker hands the
unacknowledged message to the next worker; the same message reaches two workers at once; and the
redistribution of a payment is posted again, one after the other and from two connections at once.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from django.db import connections

from pricing import ledger
from pricing.ledger import LedgerRefused
from pricing.ledger_models import Account, AccountKind, Entry, EntryKind, PayoutBatch, PayoutItem
from pricing.models import Payment
from pricing.services.payments import post_payments
from pricing.tasks import run_payouts
from tests.faults.conftest import (
    a_backend_waits_on_a_lock,
    held_by_another_transaction,
    kill,
    pending_messages,
    record_figure,
    wait_until,
)
from tests.ledger.conftest import LedgerContract, build_ledger_contract
from tests.ledger.test_payouts import EXECUTION, bank_accounts, paid_invoice, payout_entries

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owed_contract(bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any) -> LedgerContract:
    """Both firms are owed their share of a paid invoice and have bank details: a payout posts two entries."""
    contract = build_ledger_contract(bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance)
    paid_invoice(contract)
    bank_accounts(contract, "A", "B")
    return contract


def ledger_rows() -> tuple[int, int, int]:
    return Entry.objects.count(), PayoutBatch.objects.count(), PayoutItem.objects.count()


@pytest.mark.slow
@pytest.mark.redis
def test_a_payout_killed_inside_its_transaction_and_redelivered_posts_once(
    owed_contract: LedgerContract, workers: Any
) -> None:
    entries_before = Entry.objects.count()
    first = workers("payer")
    partner_accounts = f"SELECT id FROM {Account._meta.db_table} WHERE kind = %s FOR UPDATE"
    with held_by_another_transaction(partner_accounts, AccountKind.PARTNER):
        run_payouts.delay("2026-04", EXECUTION.isoformat(), owed_contract.finance.pk)
        # The task created its batch row and now waits for the partner accounts, inside its transaction.
        wait_until(a_backend_waits_on_a_lock, timeout=60, what="the payout to wait on the accounts")
        killed_at = kill(first)
    assert ledger_rows() == (entries_before, 0, 0)  # the batch row died with the worker's transaction
    assert pending_messages() == 1  # never acknowledged

    workers("second-payer", CELERY_VISIBILITY_TIMEOUT="1")  # the broker gives the message back after 1 s
    wait_until(lambda: PayoutBatch.objects.exists() and pending_messages() == 0, timeout=90, what="redelivery")
    assert payout_entries() == 2
    assert ledger_rows() == (entries_before + 2, 1, 2)
    assert ledger.balance([ledger.partner(owed_contract.market.firm_a.pk)]) == 0
    record_figure("payout_redelivered_after_sigkill_s", round(time.monotonic() - killed_at, 1), visibility_s=1)


@pytest.mark.slow
@pytest.mark.redis
def test_the_same_payout_message_delivered_to_two_workers_at_once_posts_once(
    owed_contract: LedgerContract, workers: Any
) -> None:
    """What a crash between the commit and the acknowledgement leaves: the message runs again, here four times
    over two workers racing each other."""
    workers("left")
    workers("right")
    task_id = str(uuid.uuid4())
    for _ in range(4):
        run_payouts.apply_async(args=("2026-05", EXECUTION.isoformat(), None), task_id=task_id)
    wait_until(lambda: PayoutBatch.objects.exists() and pending_messages() == 0, timeout=90, what="4 deliveries")
    assert payout_entries() == 2
    assert PayoutBatch.objects.get().items.count() == 2


def test_a_redistribution_posted_again_writes_nothing(owed_contract: LedgerContract) -> None:
    payments = list(Payment.objects.all())
    assert payments
    before = Entry.objects.filter(kind=EntryKind.REDISTRIBUTION).count()
    with pytest.raises(LedgerRefused, match="même clé"):
        post_payments(payments, actor=None)
    assert Entry.objects.filter(kind=EntryKind.REDISTRIBUTION).count() == before


def test_a_redistribution_retried_from_two_connections_at_once_is_posted_once(
    bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payment saved, its posting not yet done (the worker died in between), then posted by two runs at once
    (the retried one beside the original): the unique key lets one through, the other is refused whole."""
    contract = build_ledger_contract(bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance)
    with monkeypatch.context() as patch:
        patch.setattr("pricing.services.payments.post_payments", lambda payments, actor: 0)
        paid_invoice(contract)
    payment = Payment.objects.get()
    keys = [f"payment:{payment.pk}", f"redistribution:{payment.pk}"]
    assert not Entry.objects.filter(key__in=keys).exists()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def post() -> None:
        try:
            barrier.wait()
            post_payments([payment], actor=None)
            outcomes.append("posted")
        except LedgerRefused:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["posted", "refused"]
    assert sorted(Entry.objects.filter(key__in=keys).values_list("key", flat=True)) == sorted(keys)
    assert ledger.balance([ledger.to_redistribute(contract.contract.pk)]) == 0
