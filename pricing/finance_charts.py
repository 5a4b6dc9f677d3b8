"""The dashboard's charts, as inline SVG (every text escaped): columns per month, bars per firm or fund.

The horizontal bars are the offer documents' chart (bids.offer_documents.charts); the columns are drawn here,
in the same palette, with the amounts in the page's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from bids.offer_documents.charts import BAR, bar_chart_svg
from consortium.money import from_cents

from .selectors.finance import Amount

WIDTH = 720
HEIGHT = 220
TOP = 28
BOTTOM = 34
LEFT = 8


def bars_svg(rows: Sequence[Amount], *, title: str) -> str:
    """Horizontal bars, largest first (the twelfth and beyond summed as "autres")."""
    return bar_chart_svg([(row.label, from_cents(row.cents)) for row in rows], title=title)


def _short_money(cents: int) -> str:
    """'12 k€' from 10,000 €, whole euros below: a column's label has little room."""
    euros = Decimal(cents) / 100
    if abs(euros) >= 10_000:
        return f"{_whole(euros / 1000)} k€"
    return f"{_whole(euros)} €"


def _whole(amount: Decimal) -> str:
    whole = amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return number_format(whole, decimal_pos=0, use_l10n=True, force_grouping=True)


def columns_svg(rows: Sequence[Amount], *, title: str) -> SafeString:
    """One column per row (a month), scaled to the largest; negative months drawn as empty."""
    count = max(len(rows), 1)
    slot = (WIDTH - LEFT) / count
    room = HEIGHT - TOP - BOTTOM
    largest = max((row.cents for row in rows), default=0)
    columns = []
    for index, row in enumerate(rows):
        height = int(room * row.cents / largest) if largest > 0 and row.cents > 0 else 0
        x = LEFT + index * slot
        middle = round(x + slot / 2, 1)
        columns.append(
            (
                round(x + slot * 0.15, 1),
                TOP + room - height,
                round(slot * 0.7, 1),
                max(height, 1),
                BAR if row.cents > 0 else "#dde2ea",
                middle,
                TOP + room - height - 4,
                _short_money(row.cents) if row.cents else "",
                middle,
                HEIGHT - BOTTOM + 16,
                row.label,
            )
        )
    body = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
        '<text x="{}" y="{}" text-anchor="middle" font-size="9">{}</text>'
        '<text x="{}" y="{}" text-anchor="middle">{}</text>',
        columns,
    )
    chart: SafeString = format_html(
        '<svg class="fin-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'font-family="DejaVu Sans, sans-serif" font-size="10" role="img" aria-label="{t}">'
        '<text x="0" y="15" font-size="12" font-weight="bold" fill="#1d3557">{t}</text>'
        '<line x1="{l}" y1="{base}" x2="{w}" y2="{base}" stroke="#c4ccd8"/>{body}</svg>',
        w=WIDTH,
        h=HEIGHT,
        t=title,
        l=LEFT,
        base=HEIGHT - BOTTOM,
        body=body,
    )
    return chart
