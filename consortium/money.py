"""Money: Decimal only, rounded once at the edge, half-up to the cent."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_money(value: Decimal) -> Decimal:
    """The one rounding helper: half-up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def split_largest_remainder(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """`total` (whole cents) split in the ratio of `weights`, in whole cents that add up to `total` exactly.

    Each part gets the floor of its exact share; the cents left over go to the largest remainders (the
    earlier part on a tie), so every part is within one cent of its exact share. All-zero weights can
    only split a zero total.
    """
    if not total.is_finite() or total != round_money(total):
        raise ValueError(f"not a whole number of cents: {total}")
    cents = int(total * 100)
    whole_weights = integer_weights(weights)
    whole = sum(whole_weights)
    if whole == 0:
        if cents:
            raise ValueError("cannot split a non-zero total with all-zero weights")
        return [Decimal("0.00")] * len(whole_weights)
    parts = split_cents(abs(cents), whole_weights, whole)
    return [from_cents(-part if cents < 0 else part) for part in parts]


def integer_weights(weights: Sequence[Decimal]) -> list[int]:
    """The same ratio as whole numbers (8.5 : 2 -> 17 : 4), exactly."""
    ratios = []
    for weight in weights:
        if not weight.is_finite() or weight < 0:
            raise ValueError(f"a weight must be a finite number >= 0: {weight}")
        ratios.append(weight.as_integer_ratio())
    common = math.lcm(*(denominator for _numerator, denominator in ratios)) if ratios else 1
    return [numerator * (common // denominator) for numerator, denominator in ratios]


def split_cents(cents: int, weights: Sequence[int], whole: int) -> list[int]:
    """`cents` >= 0 split by largest remainder; `whole` is sum(weights) > 0."""
    parts = []
    remainders = []
    left = cents
    for weight in weights:  # a plain loop: this runs for every line of an offer
        part, remainder = divmod(cents * weight, whole)
        parts.append(part)
        remainders.append(remainder)
        left -= part
    if left:  # fewer than the number of non-zero remainders, so a zero weight never gets a cent
        # sorted() is stable even in reverse: on a tie the earlier part comes first.
        for index in sorted(range(len(parts)), key=remainders.__getitem__, reverse=True)[:left]:
            parts[index] += 1
    return parts


def from_cents(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def percent_shares(amounts: Sequence[Decimal]) -> list[Decimal]:
    """Each amount's share of their sum, in percent to 0.01, adding up to exactly 100.00; all zero
    when the sum is zero."""
    if sum(amounts, Decimal(0)) <= 0:
        return [Decimal("0.00")] * len(amounts)
    return split_largest_remainder(Decimal("100.00"), amounts)
