"""A firm's unit prices for the lines of a work package: one check for the form, the XLSX upload and the API.

Each entry says where it came from (`where`: "ligne 4", "feuille Prix, ligne 12"...) so every error names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from consortium.money import round_money

MAX_UNIT_PRICE = Decimal("999999999999.99")  # what the column holds (14 digits, 2 decimals)


@dataclass(frozen=True)
class PriceEntry:
    line_id: int
    raw: object
    where: str


@dataclass(frozen=True)
class PricedLine:
    """A line as the firm prices it: the quantity the buyer gives (1 when the schedule gives none)."""

    line_id: int
    label: str
    quantity: Decimal | None


@dataclass
class PriceCheck:
    prices: dict[int, Decimal] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_unit_price(raw: object) -> Decimal:
    """A unit price from what a person typed or a cell held: '1 234,50', '1234.5', 12, Decimal('3').

    Raises ValueError with the reason, in the reader's language.
    """
    if isinstance(raw, bool) or raw is None:
        raise ValueError(_("prix manquant"))
    # repr of a float is the shortest text that reads back as the cell's number: 10.1, not 10.0999...
    text = repr(raw) if isinstance(raw, float) else str(raw)
    text = text.strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace("€", "")
    if not text:
        raise ValueError(_("prix manquant"))
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("« %(value)s » n'est pas un nombre") % {"value": str(raw)[:40]}) from None
    if not value.is_finite():
        raise ValueError(_("« %(value)s » n'est pas un nombre") % {"value": str(raw)[:40]})
    if value < 0:
        raise ValueError(_("prix négatif (%(value)s)") % {"value": text})
    if value > MAX_UNIT_PRICE:
        raise ValueError(_("prix trop grand (%(value)s)") % {"value": text})
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(_("plus de deux décimales (%(value)s)") % {"value": text})
    return abs(value.quantize(Decimal("0.01")))  # abs: "-0" is zero, not a negative zero


def check_prices(lines: Sequence[PricedLine], entries: Iterable[PriceEntry]) -> PriceCheck:
    """Every line of the package priced once, nothing else; all errors at once, each naming its line."""
    result = PriceCheck()
    by_id = {line.line_id: line for line in lines}
    seen: dict[int, str] = {}
    for entry in entries:
        line = by_id.get(entry.line_id)
        if line is None:
            result.errors.append(
                _("%(where)s : cette ligne n'appartient pas au lot de travaux") % {"where": entry.where}
            )
            continue
        if entry.line_id in seen:
            result.errors.append(
                _("%(where)s : « %(line)s » est déjà chiffrée (%(first)s)")
                % {"where": entry.where, "line": line.label, "first": seen[entry.line_id]}
            )
            continue
        seen[entry.line_id] = entry.where
        try:
            result.prices[entry.line_id] = parse_unit_price(entry.raw)
        except ValueError as error:
            result.errors.append(
                _("%(where)s, « %(line)s » : %(error)s") % {"where": entry.where, "line": line.label, "error": error}
            )
    for line in lines:
        if line.line_id not in seen:
            result.errors.append(_("« %(line)s » : prix manquant") % {"line": line.label})
    return result


def line_amount(quantity: Decimal | None, unit_price: Decimal) -> Decimal:
    """Unrounded: amounts are summed first and rounded once, at the total."""
    return (quantity if quantity is not None else Decimal(1)) * unit_price


def total_of(lines: Sequence[PricedLine], prices: dict[int, Decimal]) -> Decimal:
    return round_money(sum((line_amount(line.quantity, prices[line.line_id]) for line in lines), Decimal(0)))
