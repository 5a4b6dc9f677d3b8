"""Display filters only: formatting, never business logic."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def money(value: Decimal | None, currency: str = "") -> str:
    """'1 234 567,89 EUR' in French, '1,234,567.89 EUR' in English; '—' when there is no amount."""
    if value is None or value == "":
        return "—"
    if not isinstance(value, Decimal):
        raise TypeError(f"money expects a Decimal, got {type(value).__name__}")
    places = 2 if value == value.quantize(Decimal("0.01")) else 4
    text = number_format(value, decimal_pos=places, use_l10n=True, force_grouping=True)
    return f"{text} {currency}".strip()


@register.filter
def quantity(value: Decimal | None) -> str:
    """A quantity without its storage zeros: 1200.0000 -> '1 200', 2.5000 -> '2,5'.

    Nothing (None, or the empty string a template gives for a missing attribute) shows as nothing.
    """
    if value is None or value == "":
        return ""
    value = Decimal(value)
    exact = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    places = max(0, -int(exact.as_tuple().exponent))
    return number_format(exact, decimal_pos=places, use_l10n=True, force_grouping=True)


@register.filter
def get(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, "") if isinstance(mapping, dict) else ""
