"""Payouts: a batch posts once whatever the number of runs (service, task, retried task); firms without bank
details wait; the bank's pain.001 file is valid against its schema."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from lxml import etree

from pricing import ledger
from pricing.ledger_models import Entry, EntryKind, PayoutBatch, PayoutItem
from pricing.models import Invoice, PartnerBankAccount
from pricing.payout_file import payout_file
from pricing.services.contracts import ContractRefused, issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from pricing.services.payouts import owed_to_firms, run_payout_batch
from pricing.tasks import run_payouts
from tests.ledger.conftest import SIGNED_ON, LedgerContract

EXECUTION = dt.date(2026, 4, 1)
IBAN_A = "FR1420041010050500013M02606"
IBAN_B = "DE89370400440532013000"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


def paid_invoice(ledger_contract: LedgerContract) -> Invoice:
    invoice = issue_invoice(
        actor=ledger_contract.finance, order=ledger_contract.order(), number="F-1", issued_on=SIGNED_ON
    )
    record_payment(
        actor=ledger_contract.finance,
        payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=30), invoice.total_ttc_cents, "VIR-1"),
    )
    return invoice


def bank_accounts(ledger_contract: LedgerContract, *which: str) -> None:
    market = ledger_contract.market
    if "A" in which:
        PartnerBankAccount.objects.create(firm=market.firm_a, holder="Société Ä & Fils « Étude »", iban=IBAN_A)
    if "B" in which:
        PartnerBankAccount.objects.create(firm=market.firm_b, holder="Firm B", iban=IBAN_B, bic="COBADEFFXXX")


def payout_entries() -> int:
    return Entry.objects.filter(kind=EntryKind.PAYOUT).count()


@pytest.fixture
def owed(ledger_contract: LedgerContract) -> dict[int, int]:
    """Both firms are owed their share of a paid invoice; what each is owed, by firm id."""
    paid_invoice(ledger_contract)
    owed = owed_to_firms()
    market = ledger_contract.market
    assert owed[market.firm_a.pk] > 0
    assert owed[market.firm_b.pk] > 0
    return owed


def test_the_same_batch_key_run_twice_posts_once(ledger_contract: LedgerContract, owed: dict[int, int]) -> None:
    bank_accounts(ledger_contract, "A", "B")
    first = run_payout_batch(actor=ledger_contract.finance, key="2026-04", execution_date=EXECUTION)
    assert first.created
    assert first.skipped == []
    assert payout_entries() == 2
    assert first.batch.total_cents == sum(owed.values())
    assert sorted(first.batch.items.values_list("firm_id", "amount_cents")) == sorted(owed.items())
    bank_before = ledger.balance([ledger.BANK])

    again = run_payout_batch(actor=ledger_contract.finance, key=" 2026-04 ", execution_date=EXECUTION)

    assert not again.created
    assert again.batch.pk == first.batch.pk
    assert payout_entries() == 2
    assert PayoutBatch.objects.count() == 1
    assert PayoutItem.objects.count() == 2
    assert ledger.balance([ledger.BANK]) == bank_before
    assert owed_to_firms() == dict.fromkeys(owed, 0)


def test_a_new_key_with_nothing_owed_posts_nothing(ledger_contract: LedgerContract, owed: dict[int, int]) -> None:
    bank_accounts(ledger_contract, "A", "B")
    run_payout_batch(actor=ledger_contract.finance, key="2026-04", execution_date=EXECUTION)
    later = run_payout_batch(actor=ledger_contract.finance, key="2026-05", execution_date=EXECUTION)
    assert later.created
    assert later.batch.total_cents == 0
    assert not later.batch.items.exists()
    assert payout_entries() == 2


def test_a_batch_needs_a_key(ledger_contract: LedgerContract, owed: dict[int, int]) -> None:
    with pytest.raises(ContractRefused, match="clé"):
        run_payout_batch(actor=ledger_contract.finance, key="  ", execution_date=EXECUTION)
    assert not PayoutBatch.objects.exists()


def test_the_task_applied_twice_and_delayed_posts_once(ledger_contract: LedgerContract, owed: dict[int, int]) -> None:
    bank_accounts(ledger_contract, "A", "B")
    args = ("2026-04", EXECUTION.isoformat(), ledger_contract.finance.pk)
    first = run_payouts.apply(args=args).get()
    second = run_payouts.apply(args=args).get()
    delayed = run_payouts.delay(*args).get()  # the suite runs tasks eagerly (tests/conftest.py)
    assert first == {"batch": first["batch"], "created": True, "items": 2}
    assert second == delayed == {"batch": first["batch"], "created": False, "items": 2}
    assert payout_entries() == 2
    assert PayoutBatch.objects.get().created_by == ledger_contract.finance


def test_a_retried_task_posts_once(ledger_contract: LedgerContract, owed: dict[int, int]) -> None:
    """The batch is posted, then the worker loses its connection before reporting: the task is retried."""
    bank_accounts(ledger_contract, "A", "B")
    calls: list[bool] = []

    def flaky(**kwargs: Any) -> Any:
        run = run_payout_batch(**kwargs)
        calls.append(run.created)
        if len(calls) == 1:
            raise ConnectionError("connection to the broker lost")
        return run

    with mock.patch("pricing.tasks.run_payout_batch", side_effect=flaky):
        # throw=False: the eager run then re-runs the task on Retry, as a worker would redeliver it
        result = run_payouts.apply(args=("2026-04", EXECUTION.isoformat(), None), throw=False).get()
    assert calls == [True, False]
    assert result["created"] is False
    assert result["items"] == 2
    assert payout_entries() == 2
    assert PayoutBatch.objects.count() == 1


def test_firms_without_bank_details_are_listed_as_skipped(
    ledger_contract: LedgerContract, owed: dict[int, int]
) -> None:
    bank_accounts(ledger_contract, "A")
    market = ledger_contract.market
    run = run_payout_batch(actor=ledger_contract.finance, key="2026-04", execution_date=EXECUTION)
    assert run.skipped == ["Firm B : pas de coordonnées bancaires."]
    assert list(run.batch.items.values_list("firm_id", "amount_cents")) == [(market.firm_a.pk, owed[market.firm_a.pk])]
    assert payout_entries() == 1
    assert owed_to_firms() == {market.firm_a.pk: 0, market.firm_b.pk: owed[market.firm_b.pk]}

    bank_accounts(ledger_contract, "B")
    later = run_payout_batch(actor=ledger_contract.finance, key="2026-05", execution_date=EXECUTION)
    assert later.skipped == []
    assert list(later.batch.items.values_list("firm_id", "amount_cents")) == [
        (market.firm_b.pk, owed[market.firm_b.pk])
    ]
    assert owed_to_firms() == {market.firm_a.pk: 0, market.firm_b.pk: 0}


def test_the_pain001_file_of_a_batch_is_valid_against_its_schema(
    ledger_contract: LedgerContract, owed: dict[int, int]
) -> None:
    from pricing.sepa import pain001_problems

    bank_accounts(ledger_contract, "A", "B")
    run = run_payout_batch(actor=ledger_contract.finance, key="2026-04", execution_date=EXECUTION)
    filename, content_type, content = payout_file(run.batch)
    assert filename == "virements-2026-04.xml"
    assert content_type == "application/xml"
    assert pain001_problems(content) == []

    document = etree.fromstring(content)
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    total = sum(owed.values())
    assert (
        document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == f"{total // 100}.{total % 100:02d}"
    )
    assert document.findtext(".//p:ReqdExctnDt/p:Dt", namespaces=NS) == "2026-04-01"
    transfers = {
        node.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS): node.findtext("p:Amt/p:InstdAmt", namespaces=NS)
        for node in document.iterfind(".//p:CdtTrfTxInf", namespaces=NS)
    }
    market = ledger_contract.market
    expected = {IBAN_A: owed[market.firm_a.pk], IBAN_B: owed[market.firm_b.pk]}
    assert transfers == {iban: f"{cents // 100}.{cents % 100:02d}" for iban, cents in expected.items()}
    names = [node.text for node in document.iterfind(".//p:Cdtr/p:Nm", namespaces=NS)]
    assert names == ["Societe A + Fils Etude", "Firm B"]  # the SEPA character set only


def test_the_schema_check_finds_a_broken_file(ledger_contract: LedgerContract, owed: dict[int, int]) -> None:
    from pricing.sepa import pain001_problems

    bank_accounts(ledger_contract, "A", "B")
    run = run_payout_batch(actor=ledger_contract.finance, key="2026-04", execution_date=EXECUTION)
    _name, _type, content = payout_file(run.batch)
    broken = content.replace(b"<NbOfTxs>2</NbOfTxs>", b"<NbOfTxs>two</NbOfTxs>", 1)
    assert broken != content
    assert pain001_problems(broken)
    assert pain001_problems(b"<not-closed>")
