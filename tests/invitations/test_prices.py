"""The one price check behind the form, the sheet and the API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bids.prices import PricedLine, PriceEntry, check_prices, parse_unit_price, total_of

pytestmark = pytest.mark.django_db(databases=[])

PRICES = st.decimals(min_value=0, max_value=Decimal("999999999.99"), places=2, allow_nan=False, allow_infinity=False)
QUANTITIES = st.one_of(st.none(), st.decimals(min_value=0, max_value=100000, places=4, allow_nan=False))


@given(PRICES)
def test_any_two_decimal_price_reads_back_exactly_in_every_spelling(price: Decimal) -> None:
    whole, cents = f"{price:.2f}".split(".")
    french = f"{int(whole):,}".replace(",", "\u202f") + f",{cents}"
    for text in (f"{price:.2f}", french, f"{whole},{cents} €", f" {price} "):
        assert parse_unit_price(text) == price


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("-3", "négatif"),
        ("abc", "n'est pas un nombre"),
        ("12.345", "deux décimales"),
        ("", "manquant"),
        (None, "manquant"),
        ("NaN", "n'est pas un nombre"),
        ("1e30", "trop grand"),
        (True, "manquant"),
    ],
)
def test_bad_prices_say_why(raw: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_unit_price(raw)


def test_negative_zero_is_zero() -> None:
    assert str(parse_unit_price("-0")) == "0.00"


def test_float_cells_keep_their_decimal_value() -> None:
    assert parse_unit_price(12.3) == Decimal("12.30")


@given(st.lists(st.tuples(QUANTITIES, PRICES), min_size=1, max_size=30))
def test_total_is_the_exact_sum_rounded_once(rows: list[tuple[Decimal | None, Decimal]]) -> None:
    lines = [PricedLine(line_id=i, label=f"l{i}", quantity=q) for i, (q, _) in enumerate(rows)]
    prices = {i: p for i, (_, p) in enumerate(rows)}
    exact = sum(((q if q is not None else Decimal(1)) * p for q, p in rows), Decimal(0))
    total = total_of(lines, prices)
    assert abs(total - exact) <= Decimal("0.005")
    assert total == total.quantize(Decimal("0.01"))


def test_every_error_names_its_line_and_all_come_at_once() -> None:
    lines = [PricedLine(1, "Support PostgreSQL", Decimal(2)), PricedLine(2, "Astreinte", None)]
    check = check_prices(
        lines,
        [
            PriceEntry(1, "-5", "ligne 1"),
            PriceEntry(1, "5", "ligne 3"),
            PriceEntry(9, "5", "ligne 4"),
        ],
    )
    assert check.errors == [
        "ligne 1, « Support PostgreSQL » : prix négatif (-5)",
        "ligne 3 : « Support PostgreSQL » est déjà chiffrée (ligne 1)",
        "ligne 4 : cette ligne n'appartient pas au lot de travaux",
        "« Astreinte » : prix manquant",
    ]
