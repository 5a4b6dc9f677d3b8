"""Display filters of the finance pages: integer cents shown as money. Formatting only."""

from __future__ import annotations

from django import template

from consortium.money import from_cents
from consortium.templatetags.guichet import money

register = template.Library()


@register.filter
def cents(value: int | None, currency: str = "EUR") -> str:
    """123456 -> '1 234,56 EUR' (in French); '—' when there is no amount."""
    if value is None or value == "":
        return "—"
    return money(from_cents(int(value)), currency)


@register.filter
def cents_abs(value: int | None, currency: str = "EUR") -> str:
    """The amount without its sign: a credit shown in its own column."""
    if value is None or value == "":
        return "—"
    return cents(abs(int(value)), currency)
