"""Levy commitments accrue from the ledger, to the cent: what the redistribution entries credited to each
project's fund, within the commitment's contract (any contract when it is network-wide) and period."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bids.offer_models import OfferStatus, OfferVersion
from bids.services.offers import new_version
from pricing import ledger
from pricing.ledger_models import AccountKind, Entry, EntryKind, Posting
from pricing.models import Commitment, CommitmentKind, Contract, Invoice, InvoiceShare, Payment, ShareKind
from pricing.selectors.commitments import LevyAccrual, commitments_progress, levy_invoiced
from pricing.services.commitments import CommitmentInput, CommitmentRefused, create_commitment
from pricing.services.contracts import ContractTerms, create_contract, issue_credit_note, issue_invoice
from pricing.services.payments import PaymentInput, record_payment, reverse_payment
from tests.ledger.conftest import SIGNED_ON, LedgerContract
from tests.ledger.test_redistribution_properties import partial_amounts
from tests.offers.conftest import freeze

pytestmark = pytest.mark.django_db

PERIOD_START = SIGNED_ON
PERIOD_END = SIGNED_ON + dt.timedelta(days=365)
INVOICED_ON = SIGNED_ON + dt.timedelta(days=20)
TODAY = PERIOD_END + dt.timedelta(days=1)


def day(n: int) -> dt.date:
    return SIGNED_ON + dt.timedelta(days=n)


def invoice_of(contract: LedgerContract, number: str = "F-1", order: str = "BC-1") -> Invoice:
    return issue_invoice(actor=contract.finance, order=contract.order(order), number=number, issued_on=INVOICED_ON)


def levy_projects(invoice: Invoice) -> list[int]:
    projects = sorted(
        {pid for pid in invoice.shares.filter(kind=ShareKind.LEVY).values_list("project_id", flat=True) if pid}
    )
    assert len(projects) == 2  # PostgreSQL's and nginx's
    return projects


def levy_commitment(
    finance: Any,
    project_id: int,
    contract_id: int | None,
    *,
    starts_on: dt.date = PERIOD_START,
    ends_on: dt.date = PERIOD_END,
) -> Commitment:
    return create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=project_id,
            kind=CommitmentKind.LEVY,
            title=f"Contribution amont {project_id} {starts_on}",
            starts_on=starts_on,
            ends_on=ends_on,
            dues=[(ends_on + dt.timedelta(days=30), None)],
            contract_id=contract_id,
        ),
    )


def fund_credits(*, contract_id: int | None = None, project_id: int | None = None) -> int:
    """What the redistribution entries (and their reversals) credited to project funds, read from the postings."""
    postings = Posting.objects.filter(account__kind=AccountKind.FUND, account__project_id__isnull=False).filter(
        entry__kind__in=[EntryKind.REDISTRIBUTION, EntryKind.REVERSAL]
    )
    postings = postings.exclude(entry__kind=EntryKind.REVERSAL, entry__reverses__kind=EntryKind.CONTRIBUTION)
    if contract_id is not None:
        postings = postings.filter(entry__contract_id=contract_id)
    if project_id is not None:
        postings = postings.filter(account__project_id=project_id)
    return -int(postings.aggregate(total=Sum("amount_cents"))["total"] or 0)


def accrued(commitments: list[Commitment], today: dt.date = TODAY) -> dict[int, int]:
    return {pk: int(p.accrued) for pk, p in commitments_progress(commitments, today=today).items()}


@pytest.fixture
def invoiced(ledger_contract: LedgerContract) -> tuple[Invoice, list[Commitment]]:
    invoice = invoice_of(ledger_contract)
    commitments = [
        levy_commitment(ledger_contract.finance, project, ledger_contract.contract.pk)
        for project in levy_projects(invoice)
    ]
    return invoice, commitments


def test_partial_payments_accrue_exactly_the_levies_of_the_ledger(
    ledger_contract: LedgerContract, invoiced: tuple[Invoice, list[Commitment]]
) -> None:
    invoice, commitments = invoiced
    total = invoice.total_ttc_cents
    levies = dict(invoice.shares.filter(kind=ShareKind.LEVY).values_list("project_id", "ttc_cents"))
    contract_id = ledger_contract.contract.pk
    assert fund_credits(contract_id=contract_id) == 0
    assert sum(accrued(commitments).values()) == 0

    @settings(max_examples=15, deadline=None)
    @given(st.data())
    @example(None)  # None: one cent, then the rest
    def pay_and_check(data: Any) -> None:
        paid = total if data is None else data.draw(st.integers(1, total))
        amounts = [1, total - 1] if data is None else data.draw(partial_amounts(paid, max_parts=6))
        with transaction.atomic():
            for number, amount in enumerate(amounts, start=1):
                record_payment(
                    actor=ledger_contract.finance, payment=PaymentInput(invoice.pk, day(30 + number), amount)
                )
                now = accrued(commitments)
                assert sum(now.values()) == fund_credits(contract_id=contract_id)
                for commitment in commitments:
                    assert now[commitment.pk] == fund_credits(project_id=commitment.project_id)
                    assert now[commitment.pk] == -ledger.balance([ledger.fund(commitment.project_id)])
                    assert now[commitment.pk] <= levies[commitment.project_id]
            progress = commitments_progress(commitments, today=TODAY)
            for commitment in commitments:
                # promised is the levy invoiced, never below what was collected
                assert (
                    progress[commitment.pk].promised == levies[commitment.project_id] >= progress[commitment.pk].accrued
                )
            if sum(amounts) == total:
                assert now == {c.pk: levies[c.project_id] for c in commitments}
            transaction.set_rollback(True)  # the next example starts from the unpaid invoice

    pay_and_check()


def test_a_payment_reversal_lowers_the_accrual_exactly(
    ledger_contract: LedgerContract, invoiced: tuple[Invoice, list[Commitment]]
) -> None:
    invoice, commitments = invoiced
    finance = ledger_contract.finance
    payments = [
        record_payment(actor=finance, payment=PaymentInput(invoice.pk, day(30 + n), amount, f"VIR-{n}"))
        for n, amount in enumerate([100_001, 33_333, 77_777], start=1)
    ]
    before = accrued(commitments)
    last = payments[-1]
    redistributed = dict(
        Posting.objects.filter(
            entry__payment=last, entry__kind=EntryKind.REDISTRIBUTION, account__kind=AccountKind.FUND
        )
        .values_list("account__project_id")
        .annotate(total=Sum("amount_cents"))
    )
    assert all(cents < 0 for cents in redistributed.values())
    reverse_payment(actor=finance, payment=last, reason="saisie en double", posted_on=day(60))
    after = accrued(commitments)
    for commitment in commitments:
        assert after[commitment.pk] == before[commitment.pk] + redistributed[commitment.project_id]
        assert after[commitment.pk] == fund_credits(project_id=commitment.project_id)
    assert sum(after.values()) == fund_credits(contract_id=ledger_contract.contract.pk)
    assert Payment.objects.get(pk=last.pk).reversed_at is not None


def second_contract(contract: LedgerContract) -> LedgerContract:
    """Another contract on a new version of the same offer: the same firms, packages and projects."""
    OfferVersion.objects.filter(pk=contract.version.pk).update(status=OfferStatus.FROZEN)
    version = freeze(
        contract.market, new_version(actor=contract.market.bid_manager, offer_id=contract.version.offer_id)
    )
    OfferVersion.objects.filter(pk__in=[contract.version.pk, version.pk]).update(status=OfferStatus.WON)
    version.refresh_from_db()
    terms = ContractTerms(
        reference="2026-AC-002",
        title="Support, deuxième marché",
        kind="framework",
        signed_on=SIGNED_ON,
        starts_on=SIGNED_ON,
        ends_on=SIGNED_ON + dt.timedelta(days=2 * 365),
        maximum_cents=50_000_000,
    )
    made = create_contract(actor=contract.finance, version=version, terms=terms)
    return LedgerContract(market=contract.market, version=version, contract=made, finance=contract.finance)


def test_a_network_wide_commitment_accrues_across_contracts(ledger_contract: LedgerContract) -> None:
    finance = ledger_contract.finance
    other = second_contract(ledger_contract)
    first_invoice = invoice_of(ledger_contract)
    second_invoice = invoice_of(other, number="F-2", order="BC-2")
    project, other_project = levy_projects(first_invoice)
    network = levy_commitment(finance, project, None)
    only_second = levy_commitment(finance, other_project, other.contract.pk)
    record_payment(actor=finance, payment=PaymentInput(first_invoice.pk, day(40), 250_000, "VIR-A"))
    record_payment(actor=finance, payment=PaymentInput(second_invoice.pk, day(41), 123_457, "VIR-B"))
    record_payment(actor=finance, payment=PaymentInput(second_invoice.pk, day(42), 99_999, "VIR-C"))
    per_contract = [
        fund_credits(contract_id=c.pk, project_id=project) for c in (ledger_contract.contract, other.contract)
    ]
    assert all(cents > 0 for cents in per_contract)
    now = accrued([network, only_second])
    assert now[network.pk] == sum(per_contract) == fund_credits(project_id=project)
    assert now[only_second.pk] == fund_credits(contract_id=other.contract.pk, project_id=other_project)
    assert now[only_second.pk] < fund_credits(project_id=other_project)  # the first contract's is not its own
    invoiced = levy_invoiced([network, only_second])
    levy = InvoiceShare.objects.filter(kind=ShareKind.LEVY, project_id=project).aggregate(t=Sum("ttc_cents"))["t"]
    assert invoiced[network.pk] == levy >= now[network.pk]
    # a contract commitment over the same project and period would count the same levy twice: refused
    with pytest.raises(CommitmentRefused, match="deux fois"):
        levy_commitment(finance, project, ledger_contract.contract.pk)
    assert Contract.objects.count() == 2


def test_postings_outside_the_period_are_not_counted(
    ledger_contract: LedgerContract, invoiced: tuple[Invoice, list[Commitment]]
) -> None:
    invoice, _commitments = invoiced
    finance = ledger_contract.finance
    project = levy_projects(invoice)[0]
    Commitment.objects.all().delete()  # the fixture's whole-year commitments, replaced by three short ones
    on = day(50)
    before = levy_commitment(finance, project, ledger_contract.contract.pk, ends_on=on - dt.timedelta(days=1))
    same_day = levy_commitment(finance, project, ledger_contract.contract.pk, starts_on=on, ends_on=on)
    after = levy_commitment(finance, project, ledger_contract.contract.pk, starts_on=on + dt.timedelta(days=1))
    record_payment(actor=finance, payment=PaymentInput(invoice.pk, on, 200_000, "VIR-1"))
    first = fund_credits(project_id=project)
    assert accrued([before, same_day, after]) == {before.pk: 0, same_day.pk: first, after.pk: 0}
    record_payment(actor=finance, payment=PaymentInput(invoice.pk, on + dt.timedelta(days=1), 100_000, "VIR-2"))
    second = fund_credits(project_id=project) - first
    assert second > 0
    assert accrued([before, same_day, after]) == {before.pk: 0, same_day.pk: first, after.pk: second}
    # a due date asks for what was collected up to 30 days before it
    accrual = LevyAccrual.load([after])
    assert accrual.of(after, until=on) == 0
    assert accrual.of(after, until=on + dt.timedelta(days=1)) == second
    assert accrual.of(after, until=PERIOD_END + dt.timedelta(days=400)) == second
    # the invoice was issued before the `after` period: nothing invoiced in it, so the promise is what accrued
    progress = commitments_progress([before, same_day, after], today=TODAY)
    assert levy_invoiced([after])[after.pk] == 0
    assert progress[after.pk].promised == progress[after.pk].accrued == second
    assert levy_invoiced([before])[before.pk] == invoice.shares.get(project_id=project).ttc_cents
    assert progress[before.pk].promised > progress[before.pk].accrued == 0


def test_a_credit_note_lowers_the_levy_invoiced(
    ledger_contract: LedgerContract, invoiced: tuple[Invoice, list[Commitment]]
) -> None:
    invoice, commitments = invoiced
    finance = ledger_contract.finance
    before = levy_invoiced(commitments)
    credit = issue_credit_note(
        actor=finance, invoice=invoice, number="AV-1", issued_on=day(25), amount_ht_cents=100_000, reason="remise"
    )
    after = levy_invoiced(commitments)
    credited = dict(credit.shares.filter(kind=ShareKind.LEVY).values_list("project_id", "ttc_cents"))
    for commitment in commitments:
        assert credited[commitment.project_id] <= 0
        assert after[commitment.pk] == before[commitment.pk] + credited[commitment.project_id]
    record_payment(
        actor=finance, payment=PaymentInput(invoice.pk, day(40), invoice.total_ttc_cents - credit.total_ttc_cents)
    )
    progress = commitments_progress(commitments, today=TODAY)
    for commitment in commitments:
        # everything still invoiced is paid: promised and accrued meet, to the cent
        assert progress[commitment.pk].promised == progress[commitment.pk].accrued == after[commitment.pk]
    assert Entry.objects.filter(kind=EntryKind.CREDIT_NOTE).count() == 1
