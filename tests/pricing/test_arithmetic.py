"""Offer prices to the cent on awkward cases: exact amounts, worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consortium.money import split_largest_remainder
from consortium.offer_pricing import LineToPrice, Policy, PricingRefused
from pricing.arithmetic import check_policy, price_offer

D = Decimal


def policy(fee: str = "8", levy: str = "2", vat: str = "20") -> Policy:
    return Policy(fee_rate=D(fee), levy_rate=D(levy), vat_rate=D(vat))


def line(key: int, price: str, quantity: str | None = "1", group: int = 1) -> LineToPrice:
    return LineToPrice(
        key=key, group=group, firm_unit_price=D(price), quantity=None if quantity is None else D(quantity)
    )


def test_one_line_with_the_default_rates() -> None:
    # 123.45 x 1.10 = 135.795 -> 135.80 (half-up); x 3 = 407.40; firm 370.35; margin 37.05 split 8:2.
    offer = price_offer(policy(), [line(1, "123.45", "3")])
    (priced,) = offer.lines
    assert priced.unit_price == D("135.80")
    assert priced.amount == D("407.40")
    assert priced.firm_amount == D("370.35")
    assert (priced.fee_amount, priced.levy_amount) == (D("29.64"), D("7.41"))
    assert offer.total.vat == D("81.48")
    assert offer.total.amount_with_vat == D("488.88")


def test_the_offered_unit_price_is_rounded_once_half_up() -> None:
    # 0.15 x 1.10 = 0.165 exactly: half-up gives 0.17 (half-even would give 0.16).
    offer = price_offer(policy("8.3333", "1.6667"), [line(1, "0.15")])
    assert offer.lines[0].unit_price == D("0.17")
    # The margin of 0.02 goes by largest remainder: 1.66666 and 0.33334 cents -> fee 2 cents, levy 0.
    assert (offer.lines[0].fee_amount, offer.lines[0].levy_amount) == (D("0.02"), D("0.00"))


def test_ten_thousand_lines_at_one_cent() -> None:
    # 0.01 x 1.10 = 0.011 -> 0.01: at one cent there is no room for a fee; the totals are the firm's.
    offer = price_offer(policy("8.3333", "1.6667"), [line(i, "0.01") for i in range(10_000)])
    assert {(p.unit_price, p.amount, p.fee_amount, p.levy_amount) for p in offer.lines} == {
        (D("0.01"), D("0.01"), D("0.00"), D("0.00"))
    }
    assert offer.total.amount == D("100.00")
    assert offer.total.firm_amount == D("100.00")
    assert offer.total.fee_amount == D("0.00")
    assert offer.total.vat == D("20.00")
    assert offer.total.amount_with_vat == D("120.00")


def test_ten_thousand_lines_at_five_cents_round_each_line_once() -> None:
    # 0.05 x 1.10 = 0.055 -> 0.06 per line: 10,000 lines give 600.00, not round(500.00 x 1.10) = 550.00.
    offer = price_offer(policy("8.3333", "1.6667"), [line(i, "0.05") for i in range(10_000)])
    assert offer.total.amount == D("600.00")
    assert offer.total.firm_amount == D("500.00")
    # Each line's cent of margin goes to the larger remainder, the fee's (0.83333 against 0.16667).
    assert offer.total.fee_amount == D("100.00")
    assert offer.total.levy_amount == D("0.00")
    assert offer.total.vat == D("120.00")


def test_large_quantity_times_large_price() -> None:
    # 99999.99 x 1.091234 = 109123.38908766 -> 109123.39;
    # 999999.9999 x 109123.39 = 109123389989.087661 -> 109123389989.09;
    # 999999.9999 x 99999.99 = 99999989990.000001 -> 99999989990.00; margin 9123399999.09,
    # split 7.1234 : 2 -> exact fee share 7123399999.2894... cents floor, levy 1999999999.80, one cent left
    # to the larger remainder (the fee's: 3329/3509 against 180/3509).
    offer = price_offer(policy("7.1234", "2"), [line(1, "99999.99", "999999.9999")])
    (priced,) = offer.lines
    assert priced.unit_price == D("109123.39")
    assert priced.amount == D("109123389989.09")
    assert priced.firm_amount == D("99999989990.00")
    assert priced.fee_amount == D("7123399999.29")
    assert priced.levy_amount == D("1999999999.80")
    assert offer.total.vat == D("21824677997.82")
    assert offer.total.amount_with_vat == D("130948067986.91")


def test_fee_rate_with_four_decimals() -> None:
    # 1000.00 x 1.091234 = 1091.234 -> 1091.23; x 7 = 7638.61; firm 7000.00; margin 638.61 split
    # 71234 : 20000 -> 498.6168... and 139.9931... cents: floors 498.61 and 139.99, one cent to the fee.
    offer = price_offer(policy("7.1234", "2"), [line(1, "1000.00", "7")])
    (priced,) = offer.lines
    assert priced.unit_price == D("1091.23")
    assert priced.amount == D("7638.61")
    assert (priced.fee_amount, priced.levy_amount) == (D("498.62"), D("139.99"))


def test_a_line_without_quantity_has_a_unit_price_and_no_amount() -> None:
    offer = price_offer(policy(), [line(1, "10.00", None), line(2, "10.00", "2")])
    bpu, dqe = offer.lines
    assert bpu.unit_price == D("11.00")
    assert bpu.quantity is None
    assert (bpu.amount, bpu.firm_amount, bpu.fee_amount, bpu.levy_amount) == (D("0.00"),) * 4
    assert offer.total.amount == dqe.amount == D("22.00")


def test_zero_rates_leave_the_firm_price() -> None:
    offer = price_offer(policy("0", "0", "0"), [line(1, "12.34", "2.5")])
    (priced,) = offer.lines
    assert priced.unit_price == D("12.34")
    assert priced.amount == priced.firm_amount == D("30.85")
    assert (priced.fee_amount, priced.levy_amount) == (D("0.00"), D("0.00"))
    assert offer.total.vat == D("0.00")


def test_a_fee_without_levy_takes_the_whole_margin() -> None:
    offer = price_offer(policy("5", "0"), [line(1, "19.99", "3")])
    (priced,) = offer.lines
    # 19.99 x 1.05 = 20.9895 -> 20.99; x 3 = 62.97; firm 59.97.
    assert (priced.amount, priced.fee_amount, priced.levy_amount) == (D("62.97"), D("3.00"), D("0.00"))


def test_vat_is_rounded_per_lot_and_the_tender_adds_the_lots() -> None:
    # Each lot: 0.03 of amount, VAT 0.006 -> 0.01; the tender's VAT is 0.02 (the sum of its lots),
    # not round(0.06 x 20 %) = 0.01.
    offer = price_offer(policy("0", "0", "20"), [line(1, "0.03", group=10), line(2, "0.03", group=20)])
    assert offer.groups[10].vat == offer.groups[20].vat == D("0.01")
    assert offer.total.amount == D("0.06")
    assert offer.total.vat == D("0.02")
    assert offer.total.amount_with_vat == D("0.08")


def test_lot_totals_add_their_lines_and_the_tender_adds_the_lots() -> None:
    lines = [line(i, f"{i}.{i % 100:02d}", f"{i % 7}.5", group=i % 3) for i in range(1, 301)]
    offer = price_offer(policy("8.3333", "1.6667", "5.5"), lines)
    assert list(offer.groups) == [1, 2, 0]  # in the order the lots first appear
    for group, totals in offer.groups.items():
        mine = [p for p in offer.lines if p.group == group]
        assert totals.amount == sum((p.amount for p in mine), D("0.00"))
        assert totals.firm_amount + totals.fee_amount + totals.levy_amount == totals.amount
    for field in ("amount", "vat", "amount_with_vat", "firm_amount", "fee_amount", "levy_amount"):
        assert getattr(offer.total, field) == sum((getattr(t, field) for t in offer.groups.values()), D("0.00"))
    assert offer.total.amount == sum((p.amount for p in offer.lines), D("0.00"))


def test_no_lines_give_zero_totals() -> None:
    offer = price_offer(policy(), [])
    assert offer.lines == []
    assert offer.groups == {}
    assert offer.total.amount == offer.total.amount_with_vat == D("0.00")


def test_lines_keep_their_order_and_keys() -> None:
    offer = price_offer(policy(), [line(7, "1.00", group=2), line(3, "2.00", group=1), line(5, "3.00", group=2)])
    assert [(p.key, p.group) for p in offer.lines] == [(7, 2), (3, 1), (5, 2)]


@pytest.mark.parametrize(
    ("price", "quantity", "message"),
    [
        ("-1.00", "1", "prix unitaire -1.00"),
        ("1.005", "1", "prix unitaire 1.005"),
        ("NaN", "1", "prix unitaire NaN"),
        ("1.00", "-2", "quantité -2"),
        ("1.00", "Infinity", "quantité Infinity"),
    ],
)
def test_lines_the_rule_does_not_cover_are_refused(price: str, quantity: str, message: str) -> None:
    with pytest.raises(PricingRefused, match=f"Ligne 42 : {message}"):
        price_offer(policy(), [line(1, "1.00"), line(42, price, quantity)])


def test_a_negative_zero_price_is_zero() -> None:
    offer = price_offer(policy(), [line(1, "-0.00")])
    assert not offer.lines[0].unit_price.is_signed()
    assert offer.lines[0].firm_unit_price == D("0.00")


@pytest.mark.parametrize(
    ("fee", "levy", "vat", "field"),
    [
        ("-0.0001", "2", "20", "frais de coordination"),
        ("100.0001", "2", "20", "frais de coordination"),
        ("8", "1.23456", "20", "contribution amont"),
        ("8", "NaN", "20", "contribution amont"),
        ("8", "2", "120", "TVA"),
        ("8", "2", "-5", "TVA"),
    ],
)
def test_bad_rates_are_refused_naming_the_field(fee: str, levy: str, vat: str, field: str) -> None:
    with pytest.raises(PricingRefused, match=f"Taux « {field} »"):
        check_policy(policy(fee, levy, vat))
    with pytest.raises(PricingRefused, match=f"Taux « {field} »"):
        price_offer(policy(fee, levy, vat), [line(1, "1.00")])


def test_rates_at_the_bounds_are_accepted() -> None:
    assert check_policy(policy("0", "100", "100.0000")) == policy("0", "100", "100.0000")
    offer = price_offer(policy("100", "100", "100"), [line(1, "0.01", "1")])
    assert offer.lines[0].unit_price == D("0.03")
    assert (offer.lines[0].fee_amount, offer.lines[0].levy_amount) == (D("0.01"), D("0.01"))


def test_a_float_rate_is_refused() -> None:
    with pytest.raises(PricingRefused, match="un nombre est attendu"):
        check_policy(Policy(fee_rate=8.5, levy_rate=D("2"), vat_rate=D("20")))  # type: ignore[arg-type]


# --- split_largest_remainder --------------------------------------------------------------------------------


def test_split_gives_the_left_over_cents_to_the_largest_remainders() -> None:
    # 1.00 in three equal parts: 33 cents each and one left, to the first on a tie.
    assert split_largest_remainder(D("1.00"), [D(1), D(1), D(1)]) == [D("0.34"), D("0.33"), D("0.33")]
    # 0.10 as 1 : 2 : 7 is exact.
    assert split_largest_remainder(D("0.10"), [D(1), D(2), D(7)]) == [D("0.01"), D("0.02"), D("0.07")]
    # 0.05 as 8.3333 : 1.6667 -> 4.16665 and 0.83335 cents: the cent left goes to the levy (0.83335 > 0.16665).
    assert split_largest_remainder(D("0.05"), [D("8.3333"), D("1.6667")]) == [D("0.04"), D("0.01")]


def test_split_of_a_negative_total_mirrors_the_positive_one() -> None:
    assert split_largest_remainder(D("-1.00"), [D(1), D(1), D(1)]) == [D("-0.34"), D("-0.33"), D("-0.33")]


def test_split_with_zero_weights() -> None:
    assert split_largest_remainder(D("0.00"), [D(0), D(0)]) == [D("0.00"), D("0.00")]
    assert split_largest_remainder(D("0.07"), [D(0), D(3)]) == [D("0.00"), D("0.07")]
    with pytest.raises(ValueError, match="all-zero weights"):
        split_largest_remainder(D("0.01"), [D(0), D(0)])


def test_split_refuses_fractions_of_a_cent_and_negative_weights() -> None:
    with pytest.raises(ValueError, match="cents"):
        split_largest_remainder(D("0.001"), [D(1)])
    with pytest.raises(ValueError, match="weight"):
        split_largest_remainder(D("1.00"), [D(1), D(-1)])


def test_a_negative_zero_quantity_is_zero() -> None:
    offer = price_offer(policy(), [line(1, "5.00", "-0.000")])
    assert offer.lines[0].quantity == D("0")
    assert not offer.lines[0].amount.is_signed()
    assert offer.total.amount == D("0.00")


def test_a_hundred_thousand_lines_in_a_thousand_lots_add_up() -> None:
    lines = [line(i, f"{i % 9973}.{i % 100:02d}", f"{i % 37}.{i % 10000:04d}", group=i % 1000) for i in range(100_000)]
    offer = price_offer(policy("8.3333", "1.6667", "20"), lines)
    assert len(offer.lines) == 100_000
    assert len(offer.groups) == 1000
    assert offer.total.amount == sum((p.amount for p in offer.lines), D("0.00"))
    assert offer.total.vat == sum((group.vat for group in offer.groups.values()), D("0.00"))
