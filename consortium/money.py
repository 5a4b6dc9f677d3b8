"""Money: Decimal only, rounded once at the edge, half-up to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_money(value: Decimal) -> Decimal:
    """The one rounding helper: half-up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
