"""Properties of the splitting functions of `pricing.redistribution`, checked against exact fractions, and
the same promise kept through the payment service: partial payments add up to the split of the whole."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from django.db import transaction
from hypothesis import example, given, settings
from hypothesis import strategies as st

from consortium.money import round_money
from pricing import ledger
from pricing.contract_models import Invoice, InvoiceShare, InvoiceStatus, ShareKind
from pricing.redistribution import (
    LineSplit,
    advance_recovered,
    cumulative_split,
    invoice_shares,
    settlement_parts,
    vat_cents,
)
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payments, release_guarantee
from tests.ledger.conftest import SIGNED_ON, LedgerContract, build_ledger_contract

weights_st = st.lists(st.integers(0, 10**9), min_size=1, max_size=12)
positive_weights_st = weights_st.filter(lambda weights: sum(weights) > 0)


@st.composite
def weights_and_settled(draw: st.DrawFn) -> tuple[list[int], int]:
    weights = draw(positive_weights_st)
    return weights, draw(st.integers(0, sum(weights)))


@st.composite
def partial_amounts(draw: st.DrawFn, total: int, max_parts: int = 12) -> list[int]:
    """Positive amounts adding up to `total` (> 0): the payments of one invoice, in order."""
    if total == 1:
        return [1]
    cuts = draw(st.lists(st.integers(1, total - 1), unique=True, max_size=max_parts - 1))
    bounds = [0, *sorted(cuts), total]
    return [after - before for before, after in itertools.pairwise(bounds)]


@st.composite
def weights_and_payments(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    weights = draw(st.lists(st.integers(0, 10**7), min_size=1, max_size=9).filter(lambda w: sum(w) > 0))
    return weights, draw(partial_amounts(sum(weights)))


def exact_share(settled: int, weight: int, whole: int) -> Fraction:
    return Fraction(settled * weight, whole)


# cumulative_split -------------------------------------------------------------------------------------


@given(weights_and_settled())
@example(([1, 1, 1], 1))
@example(([0, 5, 0, 5], 7))
@example(([10**9, 1], 10**9))
def test_cumulative_split_adds_up_and_stays_within_a_cent(case: tuple[list[int], int]) -> None:
    weights, settled = case
    parts = cumulative_split(weights, settled)
    whole = sum(weights)
    assert len(parts) == len(weights)
    assert sum(parts) == settled
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - exact_share(settled, weight, whole)) < 1
        if weight == 0:
            assert part == 0


@given(weights_and_settled())
def test_cumulative_split_is_deterministic(case: tuple[list[int], int]) -> None:
    weights, settled = case
    assert cumulative_split(list(weights), settled) == cumulative_split(list(weights), settled)


@given(positive_weights_st)
def test_the_split_of_the_whole_is_the_weights_and_of_nothing_is_zero(weights: list[int]) -> None:
    assert cumulative_split(weights, sum(weights)) == weights
    assert cumulative_split(weights, 0) == [0] * len(weights)


@given(st.integers(0, 12))
def test_all_zero_weights_split_nothing(count: int) -> None:
    assert cumulative_split([0] * count, 0) == [0] * count


@pytest.mark.parametrize(("weights", "settled"), [([1, 2], 4), ([1, 2], -1), ([0, 0], 1)])
def test_cumulative_split_refuses_a_settlement_outside_the_whole(weights: list[int], settled: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        cumulative_split(weights, settled)


# settlement_parts and sequences of partial payments ---------------------------------------------------


@given(weights_and_settled(), st.data())
def test_settlement_parts_add_up_to_the_settlement(case: tuple[list[int], int], data: st.DataObject) -> None:
    weights, before = case
    amount = data.draw(st.integers(0, sum(weights) - before))
    parts = settlement_parts(weights, settled_before=before, amount=amount)
    assert sum(parts) == amount
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert part >= -1  # documented: largest remainder is not monotone, by one cent at most
        assert abs(part - exact_share(amount, weight, whole)) < 2
        if weight == 0:
            assert part == 0
    assert parts == settlement_parts(weights, settled_before=before, amount=amount)


@given(weights_and_payments())
@example(([1, 1, 1], [1, 1, 1]))
@example(([333, 333, 334], [1, 998, 1]))
@example(([7, 0, 3], [3, 3, 3, 1]))
def test_partial_payments_add_up_to_the_split_of_the_whole(case: tuple[list[int], list[int]]) -> None:
    weights, payments = case
    received = [0] * len(weights)
    settled = 0
    for amount in payments:
        parts = settlement_parts(weights, settled_before=settled, amount=amount)
        assert sum(parts) == amount
        received = [r + p for r, p in zip(received, parts, strict=True)]
        settled += amount
        # after each payment every share holds exactly the split of what was settled so far
        assert received == cumulative_split(weights, settled)
    assert settled == sum(weights)
    assert received == cumulative_split(weights, sum(weights)) == weights


@given(st.data())
def test_partial_payments_of_part_of_the_invoice_add_up_to_the_split_of_that_part(data: st.DataObject) -> None:
    weights = data.draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=8).filter(lambda w: sum(w) > 0))
    paid = data.draw(st.integers(1, sum(weights)))
    payments = data.draw(partial_amounts(paid))
    received = [0] * len(weights)
    settled = 0
    for amount in payments:
        parts = settlement_parts(weights, settled_before=settled, amount=amount)
        received = [r + p for r, p in zip(received, parts, strict=True)]
        settled += amount
    assert received == cumulative_split(weights, paid)


# invoice_shares ---------------------------------------------------------------------------------------


@st.composite
def invoice_lines(draw: st.DrawFn) -> tuple[list[LineSplit], dict[int, list[int]]]:
    packages = draw(st.lists(st.integers(1, 50), min_size=1, max_size=4, unique=True))
    projects = {package: draw(st.lists(st.integers(1, 9), max_size=3, unique=True).map(sorted)) for package in packages}
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        firm_cents, fee_cents, levy_cents = (draw(st.integers(0, 10**8)) for _ in range(3))
        lines.append(
            LineSplit(
                package_id=draw(st.sampled_from(packages)),
                firm_id=draw(st.integers(1, 4)),
                amount_cents=firm_cents + fee_cents + levy_cents,
                firm_cents=firm_cents,
                fee_cents=fee_cents,
                levy_cents=levy_cents,
            )
        )
    return lines, projects


vat_rates = st.one_of(
    st.sampled_from([Decimal(0), Decimal("5.5"), Decimal(10), Decimal(20), Decimal("8.5")]),
    st.decimals(min_value=0, max_value=30, places=2),
)


@given(invoice_lines(), vat_rates)
def test_invoice_shares_add_up_to_the_invoice_and_follow_the_ht_split(
    case: tuple[list[LineSplit], dict[int, list[int]]], vat_rate: Decimal
) -> None:
    lines, projects = case
    shares, total_ht, vat = invoice_shares(lines, projects_of_package=projects, vat_rate=vat_rate)
    assert total_ht == sum(line.amount_cents for line in lines)
    assert vat == vat_cents(total_ht, vat_rate)
    assert abs(vat - Fraction(total_ht) * Fraction(vat_rate) / 100) <= Fraction(1, 2)
    total_ttc = total_ht + vat
    assert sum(share.ht_cents for share in shares) == total_ht
    assert sum(share.ttc_cents for share in shares) == total_ttc
    for share in shares:
        assert share.ht_cents > 0  # a beneficiary with nothing gets no share
        assert abs(share.ttc_cents - exact_share(total_ttc, share.ht_cents, total_ht)) < 1
    by_beneficiary = {share.beneficiary: share.ht_cents for share in shares}
    assert len(by_beneficiary) == len(shares)
    for firm in {line.firm_id for line in lines}:
        assert by_beneficiary.get((ShareKind.FIRM, firm), 0) == sum(
            line.firm_cents for line in lines if line.firm_id == firm
        )
    assert by_beneficiary.get((ShareKind.FEE, None), 0) == sum(line.fee_cents for line in lines)
    levies = {owner: cents for (kind, owner), cents in by_beneficiary.items() if kind == ShareKind.LEVY}
    assert sum(levies.values()) == sum(line.levy_cents for line in lines)
    named = {project for line in lines for project in projects[line.package_id]}
    assert set(levies) <= named | {None}
    unnamed_levy = sum(line.levy_cents for line in lines if not projects[line.package_id])
    assert levies.get(None, 0) == unnamed_levy  # no project named: the network fund takes the levy


@given(invoice_lines(), vat_rates, st.randoms(use_true_random=False))
def test_invoice_shares_are_deterministic_and_ignore_the_order_of_lines(
    case: tuple[list[LineSplit], dict[int, list[int]]], vat_rate: Decimal, shuffler: random.Random
) -> None:
    lines, projects = case
    first = invoice_shares(lines, projects_of_package=projects, vat_rate=vat_rate)
    assert first == invoice_shares(list(lines), projects_of_package=dict(projects), vat_rate=vat_rate)
    shuffled = list(lines)
    shuffler.shuffle(shuffled)
    assert first == invoice_shares(shuffled, projects_of_package=projects, vat_rate=vat_rate)


@given(st.integers(0, 10**6), st.lists(st.integers(1, 9), min_size=1, max_size=5, unique=True))
def test_a_line_levy_is_shared_equally_between_its_projects(levy: int, projects: list[int]) -> None:
    line = LineSplit(package_id=1, firm_id=1, amount_cents=levy, firm_cents=0, fee_cents=0, levy_cents=levy)
    shares, _ht, _vat = invoice_shares([line], projects_of_package={1: sorted(projects)}, vat_rate=Decimal(0))
    parts = [share.ht_cents for share in shares]
    assert sum(parts) == levy
    assert all(abs(part - Fraction(levy, len(projects))) < 1 for part in parts)


def test_invoice_shares_refuses_a_line_whose_split_does_not_add_up() -> None:
    line = LineSplit(package_id=1, firm_id=1, amount_cents=100, firm_cents=90, fee_cents=5, levy_cents=4)
    with pytest.raises(ValueError, match="does not add up"):
        invoice_shares([line], projects_of_package={}, vat_rate=Decimal(20))


def test_an_invoice_of_nothing_has_no_share() -> None:
    line = LineSplit(package_id=1, firm_id=1, amount_cents=0, firm_cents=0, fee_cents=0, levy_cents=0)
    assert invoice_shares([line], projects_of_package={}, vat_rate=Decimal(20)) == ([], 0, 0)


# advance_recovered ------------------------------------------------------------------------------------

CENT_PERCENT = Decimal("0.01")


@dataclass(frozen=True)
class Schedule:
    advance_cents: int
    base_cents: int
    start: Decimal
    end: Decimal

    def repaid(self, before: int, after: int) -> int:
        """What an invoice taking the execution from `before` to `after` cents repays of the advance."""
        return advance_recovered(
            advance_cents=self.advance_cents, base_cents=self.base_cents, start=self.start, end=self.end,
            executed_before=before, executed_after=after,
        )  # fmt: skip

    def recovered_at(self, executed: int) -> int:
        return self.repaid(0, executed)

    def progress(self, executed: int) -> Fraction:
        """The execution in percent of the base, exactly."""
        return Fraction(executed * 100, self.base_cents)

    def repaid_over(self, invoices: list[int]) -> list[int]:
        executed = 0
        repaid = []
        for amount in invoices:
            repaid.append(self.repaid(executed, executed + amount))
            executed += amount
        return repaid


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    # start < end: with start == end the execution of exactly that percentage recovers nothing (reported)
    start = draw(st.decimals(min_value=0, max_value=100 - CENT_PERCENT, places=2))
    end = draw(st.decimals(min_value=start + CENT_PERCENT, max_value=100, places=2))
    return Schedule(draw(st.integers(0, 10**9)), draw(st.integers(1, 10**10)), start, end)


@given(schedules(), st.data())
def test_nothing_is_recovered_up_to_the_start(schedule: Schedule, data: st.DataObject) -> None:
    start = Fraction(schedule.start)
    limit = int(start * schedule.base_cents / 100)
    before = data.draw(st.integers(0, limit))
    after = data.draw(st.integers(before, limit))
    assert schedule.progress(after) <= start
    assert schedule.repaid(before, after) == 0


@given(schedules(), st.data())
def test_everything_is_recovered_by_the_end(schedule: Schedule, data: st.DataObject) -> None:
    end = Fraction(schedule.end)
    first = math.ceil(end * schedule.base_cents / 100)  # the smallest execution reaching the end
    executed = data.draw(st.integers(first, 3 * schedule.base_cents))
    assert schedule.progress(executed) >= end
    assert schedule.recovered_at(executed) == schedule.advance_cents


@given(schedules(), st.data())
def test_recovery_is_monotone_bounded_and_proportional_between(schedule: Schedule, data: st.DataObject) -> None:
    low = data.draw(st.integers(0, 2 * schedule.base_cents))
    high = data.draw(st.integers(low, 2 * schedule.base_cents))
    recovered_low, recovered_high = schedule.recovered_at(low), schedule.recovered_at(high)
    assert 0 <= recovered_low <= recovered_high <= schedule.advance_cents
    assert schedule.repaid(low, high) == recovered_high - recovered_low
    start, end = Fraction(schedule.start), Fraction(schedule.end)
    if start < schedule.progress(high) < end:
        exact = schedule.advance_cents * (schedule.progress(high) - start) / (end - start)
        assert abs(recovered_high - exact) <= Fraction(1, 2) + Fraction(1, 10**6)


@given(schedules(), st.data())
def test_invoices_reaching_the_end_repay_exactly_the_advance(schedule: Schedule, data: st.DataObject) -> None:
    base = schedule.base_cents
    invoices = data.draw(st.lists(st.integers(1, base), min_size=1, max_size=10))
    if sum(invoices) < base:
        invoices.append(base - sum(invoices))  # the last invoice brings the execution to 100 %
    repaid = schedule.repaid_over(invoices)
    assert all(part >= 0 for part in repaid)
    assert sum(repaid) == schedule.advance_cents


def test_the_legal_default_schedule_on_four_equal_invoices() -> None:
    schedule = Schedule(advance_cents=1_000_000, base_cents=10_000_000, start=Decimal(65), end=Decimal(80))
    # 25 %, 50 %: nothing; 75 %: two thirds of the way from 65 % to 80 %; 100 %: the rest
    assert schedule.repaid_over([2_500_000] * 4) == [0, 0, 666_667, 333_333]


@pytest.mark.parametrize(("advance", "base"), [(0, 1000), (1000, 0), (-5, 1000)])
def test_no_advance_or_no_base_recovers_nothing(advance: int, base: int) -> None:
    assert (
        advance_recovered(
            advance_cents=advance,
            base_cents=base,
            start=Decimal(65),
            end=Decimal(80),
            executed_before=0,
            executed_after=10**6,
        )
        == 0
    )


# through the payment service --------------------------------------------------------------------------


def share_account(share: InvoiceShare) -> ledger.AccountRef:
    if share.kind == ShareKind.FIRM:
        assert share.firm_id is not None
        return ledger.partner(share.firm_id)
    return ledger.FEE if share.kind == ShareKind.FEE else ledger.fund(share.project_id)


def received_by_share(shares: list[InvoiceShare]) -> list[int]:
    return [-ledger.balance([share_account(share)]) for share in shares]


def issued_invoice(contract: LedgerContract) -> Invoice:
    order = contract.order()
    return issue_invoice(actor=contract.finance, order=order, number="F-1", issued_on=SIGNED_ON + dt.timedelta(days=40))


def pay_in_batches(contract: LedgerContract, invoice: Invoice, batches: list[list[int]]) -> None:
    """Each batch is one `record_payments` call; after each, every share holds the split of what was settled."""
    shares = list(invoice.shares.order_by("pk"))
    weights = [share.ttc_cents for share in shares]
    settled = 0
    number = 0
    for batch in batches:
        inputs = []
        for amount in batch:
            number += 1
            inputs.append(PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=50 + number), amount, f"VIR-{number}"))
        record_payments(actor=contract.finance, payments=inputs)
        settled += sum(batch)
        assert received_by_share(shares) == cumulative_split(weights, settled)


@st.composite
def payment_batches(draw: st.DrawFn, total: int) -> list[list[int]]:
    amounts = draw(partial_amounts(total, max_parts=8))
    batches: list[list[int]] = []
    while amounts:
        size = draw(st.integers(1, len(amounts)))
        batches.append(amounts[:size])
        amounts = amounts[size:]
    return batches


def test_partial_payments_through_record_payments_leave_each_share_its_ttc(ledger_contract: LedgerContract) -> None:
    invoice = issued_invoice(ledger_contract)
    shares = list(invoice.shares.order_by("pk"))
    assert len(shares) >= 4  # two firms, the fee and at least one fund
    total = invoice.total_ttc_cents

    @settings(max_examples=12, deadline=None)
    @given(payment_batches(total))
    @example([[1], [total - 1]])
    @example([[1, 1, 1], [total - 3]])
    @example([[total // 3, total // 3, total - 2 * (total // 3)]])
    def pay_and_check(batches: list[list[int]]) -> None:
        with transaction.atomic():
            pay_in_batches(ledger_contract, invoice, batches)
            assert received_by_share(shares) == [share.ttc_cents for share in shares]
            assert ledger.balance([ledger.receivable(invoice.contract_id)]) == 0
            assert ledger.balance([ledger.to_redistribute(invoice.contract_id)]) == 0
            assert ledger.balance([ledger.BANK]) == total
            assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
            transaction.set_rollback(True)  # the next example starts from the unpaid invoice

    pay_and_check()


def test_a_withheld_guarantee_reaches_the_shares_when_released(
    bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any
) -> None:
    contract = build_ledger_contract(
        bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance, guarantee_rate=Decimal(5)
    )
    invoice = issued_invoice(contract)
    shares = list(invoice.shares.order_by("pk"))
    withheld = int(round_money(Decimal(invoice.total_ttc_cents) * 5 / 100))
    cash = invoice.total_ttc_cents - withheld
    record_payments(
        actor=finance,
        payments=[
            PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=50), cash // 3, "VIR-1"),
            PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=51), cash - cash // 3, "VIR-2"),
        ],
    )
    weights = [share.ttc_cents for share in shares]
    assert received_by_share(shares) == cumulative_split(weights, cash)
    assert ledger.balance([ledger.guarantee(contract.contract.pk)]) == withheld
    release_guarantee(actor=finance, contract=contract.contract, received_on=SIGNED_ON + dt.timedelta(days=400))
    assert received_by_share(shares) == weights
    assert ledger.balance([ledger.guarantee(contract.contract.pk)]) == 0
    assert ledger.balance([ledger.BANK]) == invoice.total_ttc_cents
