"""Hypothesis: the split of every line and every total holds, whatever the prices, quantities and rates.

The oracle works with exact fractions, independently of the Decimal code under test.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.money import split_largest_remainder
from consortium.offer_pricing import LineToPrice, Policy, PricedOffer
from pricing.arithmetic import price_offer

CENT = Fraction(1, 100)

rates = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2) | st.decimals(
    min_value=0, max_value=5, places=2
)
quantities = (
    st.none()
    | st.decimals(min_value=0, max_value=Decimal("99999999999999.9999"), places=4)
    | st.decimals(min_value=0, max_value=10, places=4)
)
policies = st.builds(Policy, fee_rate=rates, levy_rate=rates, vat_rate=rates)
lines = st.lists(
    st.builds(LineToPrice, key=st.integers(), group=st.integers(0, 4), firm_unit_price=prices, quantity=quantities),
    max_size=30,
)


def half_up_to_cent(value: Fraction) -> Fraction:
    return Fraction(math.floor(value / CENT + Fraction(1, 2))) * CENT


@settings(max_examples=300)
@given(policies, lines)
def test_every_line_splits_exactly_between_firm_fee_and_levy(policy: Policy, to_price: list[LineToPrice]) -> None:
    offer = price_offer(policy, to_price)
    assert len(offer.lines) == len(to_price)
    fee, levy = Fraction(policy.fee_rate), Fraction(policy.levy_rate)
    for asked, priced in zip(to_price, offer.lines, strict=True):
        assert (priced.key, priced.group, priced.quantity) == (asked.key, asked.group, asked.quantity)
        assert priced.firm_amount + priced.fee_amount + priced.levy_amount == priced.amount
        assert priced.unit_price >= priced.firm_unit_price
        assert priced.fee_amount >= 0
        assert priced.levy_amount >= 0
        for value in (priced.unit_price, priced.amount, priced.firm_amount, priced.fee_amount, priced.levy_amount):
            assert value.as_tuple().exponent == -2
        unit = half_up_to_cent(Fraction(asked.firm_unit_price) * (1 + (fee + levy) / 100))
        assert Fraction(priced.unit_price) == unit
        if asked.quantity is None:
            assert priced.amount == 0
            continue
        assert Fraction(priced.amount) == half_up_to_cent(Fraction(asked.quantity) * unit)
        margin = Fraction(priced.amount - priced.firm_amount)
        if fee + levy:
            assert abs(Fraction(priced.fee_amount) - margin * fee / (fee + levy)) < CENT
            assert abs(Fraction(priced.levy_amount) - margin * levy / (fee + levy)) < CENT
        else:
            assert margin == 0


@settings(max_examples=200)
@given(policies, lines)
def test_tender_totals_are_the_sums_of_lots_and_lines(policy: Policy, to_price: list[LineToPrice]) -> None:
    offer = price_offer(policy, to_price)
    with localcontext() as context:
        context.prec = 60  # the test's own sums exact too: amounts here reach 10^27
        _check_totals(policy, to_price, offer)


def _check_totals(policy: Policy, to_price: list[LineToPrice], offer: PricedOffer) -> None:
    zero = Decimal("0.00")
    assert offer.total.amount == sum((p.amount for p in offer.lines), zero)
    assert offer.total.firm_amount == sum((p.firm_amount for p in offer.lines), zero)
    assert offer.total.fee_amount == sum((p.fee_amount for p in offer.lines), zero)
    assert offer.total.levy_amount == sum((p.levy_amount for p in offer.lines), zero)
    assert offer.total.vat == sum((t.vat for t in offer.groups.values()), zero)
    assert set(offer.groups) == {line.group for line in to_price}
    for group, totals in offer.groups.items():
        assert totals.amount == sum((p.amount for p in offer.lines if p.group == group), zero)
        assert Fraction(totals.vat) == half_up_to_cent(Fraction(totals.amount) * Fraction(policy.vat_rate) / 100)
        assert totals.amount_with_vat == totals.amount + totals.vat
        assert totals.firm_amount + totals.fee_amount + totals.levy_amount == totals.amount
    assert offer.total.amount_with_vat == offer.total.amount + offer.total.vat
    assert offer.total.firm_amount + offer.total.fee_amount + offer.total.levy_amount == offer.total.amount


weights = st.lists(st.decimals(min_value=0, max_value=1000, places=4), min_size=1, max_size=8).filter(any)


@settings(max_examples=500)
@given(st.integers(min_value=-(10**15), max_value=10**15), weights)
def test_split_parts_add_up_and_stay_within_a_cent(cents: int, parts_weights: list[Decimal]) -> None:
    total = Decimal(cents).scaleb(-2)
    parts = split_largest_remainder(total, parts_weights)
    assert len(parts) == len(parts_weights)
    assert sum(parts, Decimal("0.00")) == total
    whole = sum(Fraction(w) for w in parts_weights)
    for part, weight in zip(parts, parts_weights, strict=True):
        assert part.as_tuple().exponent == -2
        assert abs(Fraction(part) - Fraction(total) * Fraction(weight) / whole) < CENT
        if weight == 0:
            assert part == 0
