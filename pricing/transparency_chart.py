"""The transparency page's charts: grouped columns per year, as inline SVG (every text escaped)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 560
HEIGHT = 240
TOP = 44
BOTTOM = 30
LEFT = 8
EMPTY = "#dde2ea"


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    values: Sequence[Decimal]
    text: Callable[[Decimal], str]  # a column's label


def columns_svg(categories: Sequence[str], series: Sequence[Series], *, title: str) -> SafeString:
    """One group of columns per category (a year), one column per series, all on the same scale."""
    count = max(len(categories), 1)
    slot = (WIDTH - LEFT) / count
    room = HEIGHT - TOP - BOTTOM
    largest = max((value for s in series for value in s.values), default=Decimal(0))
    width = slot * 0.8 / max(len(series), 1)
    shapes = []
    for index, category in enumerate(categories):
        x = LEFT + index * slot + slot * 0.1
        for position, one in enumerate(series):
            value = one.values[index]
            height = int(room * value / largest) if largest > 0 and value > 0 else 0
            left = x + position * width
            shapes.append(
                (
                    round(left + width * 0.1, 1), TOP + room - max(height, 1), round(width * 0.8, 1), max(height, 1),
                    one.color if value > 0 else EMPTY, f"{one.label} {category} : {one.text(value)}",
                    round(left + width / 2, 1), TOP + room - height - 4, one.text(value) if value else "",
                )
            )  # fmt: skip
    columns = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>'
        '<text x="{}" y="{}" text-anchor="middle" font-size="9">{}</text>',
        shapes,
    )
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle">{}</text>',
        ((round(LEFT + (i + 0.5) * slot, 1), HEIGHT - BOTTOM + 16, c) for i, c in enumerate(categories)),
    )
    legend = format_html_join(
        "",
        '<rect x="{}" y="24" width="10" height="10" fill="{}"/><text x="{}" y="33">{}</text>',
        ((LEFT + i * 190, s.color, LEFT + i * 190 + 14, s.label) for i, s in enumerate(series)),
    )
    chart: SafeString = format_html(
        '<svg class="fin-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'font-family="DejaVu Sans, sans-serif" font-size="10" role="img" aria-label="{t}">'
        '<text x="0" y="15" font-size="12" font-weight="bold" fill="#1d3557">{t}</text>{legend}'
        '<line x1="{l}" y1="{base}" x2="{w}" y2="{base}" stroke="#c4ccd8"/>{columns}{labels}</svg>',
        w=WIDTH,
        h=HEIGHT,
        t=title,
        l=LEFT,
        base=HEIGHT - BOTTOM,
        legend=legend,
        columns=columns,
        labels=labels,
    )
    return chart


def short_euros(euros: Decimal) -> str:
    """'12 k€' from 12,000 €, whole euros below: a column's label has little room."""
    if abs(euros) >= 10_000:
        return f"{_number(euros / 1000, 0)} k€"
    return f"{_number(euros, 0)} €"


def short_days(days: Decimal) -> str:
    """'2,25 j', '3 j': days as delivered, without storage zeros."""
    exact = days.normalize() if days != days.to_integral_value() else days.quantize(Decimal(1))
    return f"{_number(exact, max(0, -int(exact.as_tuple().exponent)))} j"


def _number(value: Decimal, places: int) -> str:
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return number_format(rounded, decimal_pos=places, use_l10n=True, force_grouping=True)
