"""A partner firm's statement as a PDF and as an XLSX workbook, each rendered as (filename, content_type, bytes).

Pure functions of a `pricing.selectors.statements.Statement`: amounts arrive as integer cents and leave
as Decimal euros (`from_cents`), in French whoever asks. The page shows the same figures through
`statement_context`, so the three never disagree.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import astuple, dataclass
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.dimensions import ColumnDimension

from bids.offer_documents import Rendered
from bids.offer_documents.charts import bar_chart_svg
from consortium.money import from_cents
from consortium.pdf import inline_stylesheet, render_pdf
from partners.exports import XLSX, safe_cell

from .selectors.statements import Statement

PDF = "application/pdf"
CURRENCY = "EUR"  # every contract is made in euros (create_contract), so every statement is
EURO_FORMAT = '#,##0.00 "€"'
DATE_FORMAT = "DD/MM/YYYY"
MAX_CELL_CHARS = 32_767
MONEY, MONEY_TOTAL, DATE = "Relevé – montant", "Relevé – total", "Relevé – date"
HEADER, STRONG, TITLE = "Relevé – en-tête", "Relevé – gras", "Relevé – titre"
INVOICE_HEADERS = (
    gettext_lazy("Marché"),
    gettext_lazy("Facture"),
    gettext_lazy("Date"),
    gettext_lazy("Échéance"),
    gettext_lazy("Facturé"),
    gettext_lazy("Reçu"),
    gettext_lazy("Retenu"),
    gettext_lazy("En attente"),
)


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    amount: Decimal


@dataclass(frozen=True)
class InvoiceRow:  # the fields in the order of the workbook's columns (INVOICE_HEADERS)
    contract: str
    number: str
    issued_on: dt.date
    due_on: dt.date
    invoiced: Decimal
    received: Decimal
    withheld: Decimal
    pending: Decimal


@dataclass(frozen=True)
class MoveRow:
    on: dt.date
    label: str
    amount: Decimal


@dataclass(frozen=True)
class StatementFigures:
    """The statement in euros, ready to show: summary figures, then each table with its total."""

    firm_name: str
    on: dt.date
    figures: list[Figure]
    invoices: list[InvoiceRow]
    payouts: list[MoveRow]
    collected: list[MoveRow]
    contributions: list[MoveRow]

    @property
    def amounts(self) -> dict[str, Decimal]:
        return {figure.key: figure.amount for figure in self.figures}

    def figure(self, key: str) -> Decimal:
        return self.amounts[key]

    @property
    def invoice_totals(self) -> list[Decimal]:
        return [self.figure(key) for key in ("invoiced", "received", "withheld", "pending")]


def statement_figures(statement: Statement, *, on: dt.date | None = None) -> StatementFigures:
    figures = [
        ("invoiced", _("Facturé (part de l'entreprise)"), statement.invoiced_cents),
        ("received", _("Reçu de l'acheteur"), statement.received_cents),
        ("withheld", _("Retenue de garantie"), statement.withheld_cents),
        ("pending", _("En attente de paiement"), statement.pending_cents),
        ("paid_out", _("Versé par le guichet"), statement.paid_out_cents),
        ("collected", _("Encaissé directement"), statement.collected_cents),
        ("contributed", _("Versé pour vous à des projets amont"), statement.contributed_cents),
        ("balance", _("Solde dû par le guichet"), statement.balance_cents),
    ]
    return StatementFigures(
        firm_name=statement.firm.name,
        on=on or timezone.localdate(),
        figures=[Figure(key, label, from_cents(cents)) for key, label, cents in figures],
        invoices=[
            InvoiceRow(
                contract=row.contract,
                number=row.number,
                issued_on=row.issued_on,
                due_on=row.due_on,
                invoiced=from_cents(row.invoiced_cents),
                received=from_cents(row.received_cents),
                withheld=from_cents(row.withheld_cents),
                pending=from_cents(row.pending_cents),
            )
            for row in statement.invoices
        ],
        payouts=[MoveRow(move.on, move.label, from_cents(move.amount_cents)) for move in statement.payouts],
        collected=[MoveRow(move.on, move.label, from_cents(move.amount_cents)) for move in statement.collected],
        contributions=[MoveRow(m.on, m.label, from_cents(m.amount_cents)) for m in statement.contributions],
    )


def statement_chart(figures: StatementFigures) -> str:
    """Invoiced, received and paid out as bars: inline SVG, every text escaped."""
    rows = [
        (_("Facturé"), figures.figure("invoiced")),
        (_("Reçu"), figures.figure("received")),
        (_("Versé"), figures.figure("paid_out")),
    ]
    return bar_chart_svg(rows, title=_("Facturé, reçu de l'acheteur, versé par le guichet"))


def statement_context(statement: Statement, *, on: dt.date | None = None) -> dict[str, Any]:
    figures = statement_figures(statement, on=on)
    return {"s": figures, "firm": statement.firm, "currency": "EUR", "chart": statement_chart(figures)}


def statement_slug(statement: Statement, on: dt.date) -> str:
    name = slugify(statement.firm.name)[:50].strip("-") or f"entreprise-{statement.firm.pk}"
    return f"releve-{name}-{on:%Y-%m-%d}"


# --- PDF ---------------------------------------------------------------------------------------------------


def statement_html(statement: Statement, *, on: dt.date | None = None) -> str:
    with translation.override("fr"):
        context = {**statement_context(statement, on=on), "css": inline_stylesheet("pdf/offer.css")}
        return render_to_string("pricing/statement_pdf.html", context)


def statement_pdf(statement: Statement, *, on: dt.date | None = None) -> Rendered:
    on = on or timezone.localdate()
    return f"{statement_slug(statement, on)}.pdf", PDF, render_pdf(statement_html(statement, on=on))


# --- XLSX --------------------------------------------------------------------------------------------------


def statement_xlsx(statement: Statement, *, on: dt.date | None = None) -> Rendered:
    """A summary sheet, then one sheet per table (invoices, payouts, direct collections), each with its total."""
    on = on or timezone.localdate()
    with translation.override("fr"):
        figures = statement_figures(statement, on=on)
        workbook = _workbook()
        _summary_sheet(workbook, figures)
        _table_sheet(
            workbook,
            _("Factures"),
            [str(header) for header in INVOICE_HEADERS],
            [list(astuple(row)) for row in figures.invoices],
            totals=figures.invoice_totals,
            widths=[(1, 2, 22), (3, 4, 12), (5, 8, 16)],
        )
        for title, label, moves in (
            (_("Versements"), _("Lot de virements"), figures.payouts),
            (_("Encaissements directs"), _("Facture"), figures.collected),
            (_("Contributions amont"), _("Projet et référence"), figures.contributions),
        ):
            _table_sheet(
                workbook,
                title,
                [_("Date"), label, _("Montant")],
                [[move.on, move.label, move.amount] for move in moves],
                totals=[sum((move.amount for move in moves), Decimal("0.00"))],
                widths=[(1, 1, 12), (2, 2, 30), (3, 3, 16)],
            )
        buffer = io.BytesIO()
        workbook.save(buffer)
    return f"{statement_slug(statement, on)}.xlsx", XLSX, buffer.getvalue()


def _workbook() -> Workbook:
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    workbook.add_named_style(NamedStyle(MONEY, number_format=EURO_FORMAT))
    workbook.add_named_style(NamedStyle(MONEY_TOTAL, number_format=EURO_FORMAT, font=bold))
    workbook.add_named_style(NamedStyle(DATE, number_format=DATE_FORMAT))
    workbook.add_named_style(NamedStyle(HEADER, font=bold, fill=PatternFill("solid", fgColor="DDE4EE")))
    workbook.add_named_style(NamedStyle(STRONG, font=bold))
    workbook.add_named_style(NamedStyle(TITLE, font=Font(bold=True, size=13)))
    return workbook


def _summary_sheet(workbook: Workbook, figures: StatementFigures) -> None:
    sheet = workbook.create_sheet(_("Relevé"))
    _widths(sheet, [(1, 1, 32), (2, 2, 24)])
    sheet.append([_text(sheet, _("Relevé de compte de %(firm)s") % {"firm": figures.firm_name}, TITLE)])
    sheet.append([_text(sheet, _("Entreprise"), STRONG), _text(sheet, figures.firm_name)])
    sheet.append([_text(sheet, _("Date du relevé"), STRONG), _cell(sheet, figures.on)])
    sheet.append([_text(sheet, _("Devise"), STRONG), _text(sheet, CURRENCY)])
    sheet.append([])
    for figure in figures.figures:
        strong = figure.key == "balance"
        sheet.append([_text(sheet, figure.label, STRONG if strong else ""), _cell(sheet, figure.amount, total=strong)])
    sheet.close()


def _table_sheet(
    workbook: Workbook,
    title: str,
    headers: list[str],
    rows: list[list[Any]],
    *,
    totals: list[Decimal],
    widths: list[tuple[int, int, int]],
) -> None:
    sheet = workbook.create_sheet(title)
    _widths(sheet, widths)
    sheet.freeze_panes = "A2"
    sheet.append([_text(sheet, header, HEADER) for header in headers])
    for row in rows:
        sheet.append([_cell(sheet, value) for value in row])
    total_row: list[Any] = [_text(sheet, _("Total"), STRONG)]
    total_row += [None] * (len(headers) - len(totals) - 1)
    total_row += [_cell(sheet, amount, total=True) for amount in totals]
    sheet.append(total_row)
    sheet.close()


def _cell(sheet: WriteOnlyWorksheet, value: Any, *, total: bool = False) -> Any:
    """A money amount as a number in euros, a date as a date, anything else as text."""
    if isinstance(value, (Decimal, dt.date)):
        cell = WriteOnlyCell(sheet)
        cell.value = value  # openpyxl writes a Decimal as a number
        cell.style = DATE if isinstance(value, dt.date) else MONEY_TOTAL if total else MONEY
        return cell
    return _text(sheet, str(value))


def _text(sheet: WriteOnlyWorksheet, value: str, style: str = "") -> Any:
    """Text that stays text: a cell a spreadsheet would read as a formula is written as a string."""
    value = ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_CELL_CHARS]
    cell = safe_cell(sheet, value)
    if style:
        quoted = cell.quotePrefix
        cell.style = style  # replaces the whole style: keep the quote prefix safe_cell set
        cell.quotePrefix = quoted
    return cell


def _widths(sheet: Any, widths: list[tuple[int, int, int]]) -> None:  # the stubs miss a write-only sheet's columns
    for first, last, width in widths:
        letter = get_column_letter(first)
        sheet.column_dimensions[letter] = ColumnDimension(sheet, index=letter, width=width, min=first, max=last)
