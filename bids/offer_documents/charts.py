"""Charts for the offer's PDFs, as inline SVG: no image file, nothing for the PDF to fetch."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from consortium.templatetags.guichet import money

TOP_ROWS = 12
LABEL_CHARS = 42
WIDTH = 640
LABEL_WIDTH = 230
AMOUNT_WIDTH = 110
ROW_HEIGHT = 20
BAR_HEIGHT = 13
TITLE_HEIGHT = 26
BAR = "#2a6f97"
OTHERS_BAR = "#a9c4d8"


def euros(amount: Decimal) -> str:
    """'12 345,67 €', whatever language the request was in: the documents are French."""
    with translation.override("fr"):
        return money(amount, "€")


def capped(rows: Sequence[tuple[str, Decimal]], top: int = TOP_ROWS) -> list[tuple[str, Decimal]]:
    """The `top` largest rows, largest first, and the rest summed into one "autres" row."""
    ranked = sorted(rows, key=lambda row: row[1], reverse=True)
    if len(ranked) <= top:
        return ranked
    rest = ranked[top - 1 :]
    others = sum((amount for _label, amount in rest), Decimal("0.00"))
    return [*ranked[: top - 1], (_("autres (%(count)d)") % {"count": len(rest)}, others)]


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def bar_chart_svg(rows: Sequence[tuple[str, Decimal]], *, title: str) -> str:
    """A horizontal bar chart of amounts, as SVG markup safe to insert (every text escaped).

    The bars are scaled to the largest row shown by name: the "autres" row, often bigger than
    all of them together, is drawn lighter and cut at the chart's width.
    """
    shown = capped(rows)
    named = shown[:-1] if len(rows) > TOP_ROWS else shown
    largest = max((amount for _label, amount in named or shown), default=Decimal(0))
    bar_room = WIDTH - LABEL_WIDTH - AMOUNT_WIDTH
    height = TITLE_HEIGHT + ROW_HEIGHT * max(len(shown), 1) + 6
    bars = []
    for index, (label, amount) in enumerate(shown):
        top = TITLE_HEIGHT + index * ROW_HEIGHT
        length = max(min(int(bar_room * amount / largest), bar_room), 1) if largest > 0 else 1
        bars.append(
            (
                LABEL_WIDTH - 6,
                top + 13,
                _short(label),
                LABEL_WIDTH,
                top + 3,
                length,
                BAR_HEIGHT,
                BAR if index < len(named) else OTHERS_BAR,
                LABEL_WIDTH + length + 5,
                top + 13,
                euros(amount),
            )
        )
    body = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="end">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
        '<text x="{}" y="{}">{}</text>',
        bars,
    )
    empty = format_html('<text x="0" y="{}">{}</text>', TITLE_HEIGHT + 13, _("aucun montant")) if not shown else ""
    chart: SafeString = format_html(
        '<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'font-family="DejaVu Sans, sans-serif" font-size="10" role="img" aria-label="{t}">'
        '<text x="0" y="15" font-size="12" font-weight="bold" fill="#1d3557">{t}</text>{body}{empty}</svg>',
        w=WIDTH,
        h=height,
        t=title,
        body=body,
        empty=empty,
    )
    return chart
