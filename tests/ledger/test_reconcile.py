"""`manage.py reconcile`: silent and 0 on a clean ledger; a breach planted in the database is named and
the command exits non-zero; it never fixes anything."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from pricing import ledger
from pricing.ledger_models import Entry, EntryKind, Posting
from pricing.models import Invoice, PartnerBankAccount, Payment, PaymentKind
from pricing.selectors.contracts import invoice_position
from pricing.services.contracts import issue_credit_note, issue_invoice
from pricing.services.payments import PaymentInput, record_payment, reverse_payment
from pricing.services.payouts import run_payout_batch
from tests.ledger.conftest import SIGNED_ON, LedgerContract

REFERENCE = "2026-AC-001"  # the contract of tests/ledger/conftest.py


def reconcile_output(*args: str) -> tuple[str, int]:
    """What the command prints and its exit status (CommandError carries the status)."""
    out = io.StringIO()
    try:
        call_command("reconcile", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error.returncode
    return out.getvalue(), 0


def reconcile_json() -> tuple[dict[str, Any], int]:
    output, status = reconcile_output("--json")
    lines = output.strip().splitlines()
    assert len(lines) == 1, output  # one JSON object, nothing else
    return json.loads(lines[0]), status


def breaches_of(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((breach["check"], breach["where"]) for breach in report["breaches"])


def database_counts() -> tuple[int, ...]:
    return Entry.objects.count(), Posting.objects.count(), Payment.objects.count(), Invoice.objects.count()


@pytest.fixture
def busy_ledger(ledger_contract: LedgerContract) -> LedgerContract:
    """Two invoices, one credited; partial, full and reversed payments; a payout to firm A."""
    finance = ledger_contract.finance
    order = ledger_contract.order(quantity=Decimal(2))
    halves = [(line.pk, Decimal(1)) for line in order.lines.order_by("pk")]
    first = issue_invoice(actor=finance, order=order, number="F-1", issued_on=SIGNED_ON, lines=halves)
    second = issue_invoice(actor=finance, order=order, number="F-2", issued_on=SIGNED_ON, lines=halves)
    later = SIGNED_ON + dt.timedelta(days=45)
    record_payment(actor=finance, payment=PaymentInput(first.pk, later, first.total_ttc_cents // 3, "VIR-1"))
    mistake = record_payment(actor=finance, payment=PaymentInput(first.pk, later, 1_00, "VIR-2"))
    reverse_payment(actor=finance, payment=mistake, reason="virement rejeté")
    issue_credit_note(
        actor=finance, invoice=second, number="AV-1", issued_on=later, amount_ht_cents=123_45, reason="remise"
    )
    second_left = invoice_position(second).outstanding_cents
    record_payment(actor=finance, payment=PaymentInput(second.pk, later, second_left, "VIR-3"))
    firm_a = ledger_contract.market.firm_a
    PartnerBankAccount.objects.create(firm=firm_a, holder="Firm A", iban="FR1420041010050500013M02606")
    run_payout_batch(actor=finance, key="2026-03", execution_date=later)
    return ledger_contract


def test_a_clean_ledger_reconciles_with_exit_zero(busy_ledger: LedgerContract) -> None:
    output, status = reconcile_output()
    assert status == 0
    assert "No breach." in output
    assert "BREACH" not in output
    entries = Entry.objects.count()
    assert output.splitlines()[0] == f"Checked {entries} entries, 1 contracts, 2 partners."


def test_the_json_report_is_one_object(busy_ledger: LedgerContract) -> None:
    report, status = reconcile_json()
    assert status == 0
    assert report == {
        "ok": True,
        "checked": {"entries": Entry.objects.count(), "contracts": 1, "partners": 2},
        "breaches": [],
    }


def test_a_wrong_but_balanced_entry_breaks_a_partner_statement(busy_ledger: LedgerContract) -> None:
    firm_a = busy_ledger.market.firm_a
    planted = ledger.EntryDraft(kind=EntryKind.PAYOUT, key="planted:bank-to-a", posted_on=SIGNED_ON)
    planted.add(ledger.partner(firm_a.pk), 12_34)
    planted.add(ledger.BANK, -12_34)
    ledger.post_entries([planted])  # balanced: the ledger takes it; only the statement disagrees

    output, status = reconcile_output()

    assert status == 1
    owed = -ledger.balance([ledger.partner(firm_a.pk)])
    statement = owed + 12_34
    assert (
        f"BREACH statement_ledger: firm Firm A (#{firm_a.pk}): statement balance {statement} != ledger balance {owed}"
        in output
    )
    assert output.count("BREACH") == 1
    assert "No breach." not in output


def test_a_payment_without_its_entries_breaks_both_contract_checks(busy_ledger: LedgerContract) -> None:
    invoice = Invoice.objects.get(number="F-1")
    Payment.objects.bulk_create(
        [
            Payment(
                contract=busy_ledger.contract, invoice=invoice, kind=PaymentKind.CASH, received_on=SIGNED_ON,
                amount_cents=50_00, bank_reference="planted",
            )
        ]
    )  # fmt: skip

    report, status = reconcile_json()

    assert status == 1
    assert report["ok"] is False
    assert breaches_of(report) == [
        ("invoiced_received_outstanding", f"contract {REFERENCE}"),
        ("received_redistributed", f"contract {REFERENCE}"),
    ]
    details = {breach["check"]: breach["detail"] for breach in report["breaches"]}
    assert details["invoiced_received_outstanding"].endswith("(difference -5000)")
    assert details["received_redistributed"].startswith("received ")


def test_an_unbalanced_entry_planted_on_sqlite_is_named(busy_ledger: LedgerContract) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL refuses an unbalanced entry at COMMIT (test_ledger_rules.py): none can be planted")
    bank = ledger.account_ids([ledger.BANK])[ledger.BANK]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO pricing_entry (kind, key, posted_on, memo, created_at) VALUES (%s, %s, %s, '', %s)",
            ["payment", "planted:unbalanced", SIGNED_ON, timezone.now()],
        )
        entry_id = cursor.lastrowid
        cursor.execute(
            "INSERT INTO pricing_posting (entry_id, account_id, amount_cents) VALUES (%s, %s, 500)", [entry_id, bank]
        )

    output, status = reconcile_output()

    assert status == 1
    assert f"BREACH entry_balance: entry {entry_id} (planted:unbalanced): 1 postings summing to 500 cents" in output
    assert output.count("BREACH") == 1


def test_the_json_names_each_breach_and_nothing_is_fixed(busy_ledger: LedgerContract) -> None:
    firm_a, firm_b = busy_ledger.market.firm_a, busy_ledger.market.firm_b
    planted = ledger.EntryDraft(kind=EntryKind.PAYOUT, key="planted:two-firms", posted_on=SIGNED_ON)
    planted.add(ledger.partner(firm_a.pk), 1)
    planted.add(ledger.partner(firm_b.pk), 2)
    planted.add(ledger.BANK, -3)
    ledger.post_entries([planted])
    before = database_counts()

    report, status = reconcile_json()
    again, status_again = reconcile_json()

    assert status == status_again == 1
    assert report == again
    assert set(report) == {"ok", "checked", "breaches"}
    assert all(set(breach) == {"check", "where", "detail"} for breach in report["breaches"])
    assert breaches_of(report) == sorted(
        [
            ("statement_ledger", f"firm Firm A (#{firm_a.pk})"),
            ("statement_ledger", f"firm Firm B (#{firm_b.pk})"),
        ]
    )
    assert database_counts() == before


def test_a_breach_raises_command_error_with_exit_status_1(busy_ledger: LedgerContract) -> None:
    Payment.objects.bulk_create(
        [Payment(contract=busy_ledger.contract, kind=PaymentKind.CASH, received_on=SIGNED_ON, amount_cents=1)]
    )
    with pytest.raises(CommandError, match=r"2 breach\(es\) found") as raised:
        call_command("reconcile", stdout=io.StringIO())
    assert raised.value.returncode == 1
