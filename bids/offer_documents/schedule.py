"""The offer's price schedule as XLSX: the buyer's own workbook filled in, or a clean BPU/DQE per lot.

When the buyer's workbook was imported, its copy gets the offered unit prices (and the amounts where
the amount cell is a plain value, not a formula) in the cells the importer read each line from, found
with the importer's own detection (`schedule_layouts`); sheets, styles, formulas, merged cells and
widths stay as the buyer made them. If a single line cannot be placed, the whole schedule falls back to
the clean workbook, whose first sheet says why: a half-filled buyer schedule would be worse than none.

The clean workbook is written with openpyxl's write-only mode at close to its bare speed: money cells
share a few cell objects per workbook (openpyxl writes each row as it is appended), and only text that
a spreadsheet would read as a formula becomes a cell of its own (`partners.exports.safe_cell`).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import ParseError

from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.dimensions import ColumnDimension

from consortium.offer_pricing import Totals
from partners.exports import FORMULA_STARTS, XLSX, safe_cell

from ..importers.base import ImportFailed
from ..importers.spreadsheet import SheetLayout, normalise, schedule_layouts
from ..offer_snapshot import OfferSnapshot, ScheduleSource, SnapshotLine, SnapshotLot
from . import Rendered

logger = logging.getLogger(__name__)

MONEY_FORMAT = "#,##0.00"
MAX_CELL_CHARS = 32_767  # what an Excel cell holds
MAX_SHEET_TITLE = 31
SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Named styles: created once per workbook, a cell takes one by name.
MONEY = "Guichet – montant"
MONEY_TOTAL = "Guichet – total"
HEADER = "Guichet – en-tête"
STRONG = "Guichet – gras"
TITLE = "Guichet – titre"
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
# (first column, last column, width): a run of columns shares one definition; each costs time on 1,000 sheets.
LOT_WIDTHS = [(1, 1, 14), (2, 2, 70), (5, 6, 18)]
SUMMARY_WIDTHS = [(1, 1, 14), (2, 2, 60), (3, 5, 18)]
PARTNER_WIDTHS = [(1, 2, 14), (3, 3, 60), (6, 9, 18)]


class _Unfillable(Exception):
    """The buyer's workbook can't take the offer's prices; str() says why, for the bid manager."""


# --- The buyer's workbook ---------------------------------------------------------------------------------


def render_schedule(snapshot: OfferSnapshot) -> Rendered:
    """The buyer's workbook with the offered prices when it was imported, else a clean BPU/DQE workbook."""
    with translation.override("fr"):  # the buyer's language, whoever asks for the rendering
        return _render_schedule(snapshot)


def _render_schedule(snapshot: OfferSnapshot) -> Rendered:
    filename = f"bordereau-prix-{_slug(snapshot)}.xlsx"
    source = snapshot.schedule_source
    if source is None:
        return filename, XLSX, _clean_workbook(snapshot)
    try:
        return filename, XLSX, _filled_workbook(snapshot, source)
    except _Unfillable as exc:
        logger.warning(
            "offer version %s: buyer's schedule %r not filled: %s", snapshot.version_id, source.filename, exc
        )
        note = _(
            "Le bordereau de l'acheteur « %(name)s » n'a pas pu être rempli : %(reason)s "
            "Ce classeur reprend les prix de l'offre dans un bordereau par lot ; reportez-les dans le "
            "bordereau de l'acheteur si la consultation l'exige."
        ) % {"name": source.filename, "reason": str(exc)}
        return filename, XLSX, _clean_workbook(snapshot, note=note)


def _filled_workbook(snapshot: OfferSnapshot, source: ScheduleSource) -> bytes:
    """A copy of the buyer's workbook with the offered prices in the cells the import read."""
    if source.content[:4] != b"PK\x03\x04":
        raise _Unfillable(_("ce n'est pas un classeur XLSX."))
    try:
        layouts = schedule_layouts(
            source.content,
            source.filename,
            sheet=source.sheet,
            header_row=source.header_row,
            mapping=dict(source.mapping) or None,
        )
    except ImportFailed as exc:
        raise _Unfillable(_("le classeur ne se lit plus comme à l'import (%(reason)s).") % {"reason": exc}) from None
    try:
        workbook = load_workbook(io.BytesIO(source.content))  # formulas kept: not data_only
    except (InvalidFileException, zipfile.BadZipFile, zlib.error, KeyError, OSError, ValueError, TypeError, ParseError):
        raise _Unfillable(_("openpyxl ne sait pas ouvrir ce classeur.")) from None
    writes = [write for line in snapshot.lines for write in _cell_writes(workbook, layouts, line)]
    for cell, value in writes:
        cell.value = value  # the cell keeps its style, so its number format
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cell_writes(workbook: Workbook, layouts: dict[str, SheetLayout], line: SnapshotLine) -> Iterator[tuple[Any, Any]]:
    """(cell, value) for the line's unit price and, unless it is a formula, its amount."""
    where = _("la ligne « %(line)s »") % {"line": _line_label(line)}
    name = line.source_sheet or (next(iter(layouts)) if len(layouts) == 1 else "")
    layout = layouts.get(name)
    if layout is None or line.source_row is None or line.source_row <= layout.header_row:
        raise _Unfillable(_("%(where)s ne vient pas d'une feuille lue à l'import.") % {"where": where})
    price_column = layout.columns.get("unit_price")
    if price_column is None:
        raise _Unfillable(_("la feuille « %(sheet)s » n'a pas de colonne de prix unitaire.") % {"sheet": name})
    sheet = workbook[name]
    row = line.source_row
    designation = sheet[f"{layout.columns['designation']}{row}"]
    if designation.data_type != "f" and normalise(str(designation.value or "")) != normalise(line.designation):
        raise _Unfillable(
            _("%(where)s n'est plus à la ligne %(row)s de la feuille « %(sheet)s ».")
            % {"where": where, "row": row, "sheet": name}
        )
    price = sheet[f"{price_column}{row}"]
    if isinstance(price, MergedCell) or price.data_type == "f":
        raise _Unfillable(
            _("la cellule %(cell)s de la feuille « %(sheet)s » (prix de %(where)s) est une formule ou une fusion.")
            % {"cell": f"{price_column}{row}", "sheet": name, "where": where}
        )
    yield price, line.unit_price
    amount_column = layout.columns.get("amount")
    if amount_column and line.quantity is not None:
        amount = sheet[f"{amount_column}{row}"]
        if not isinstance(amount, MergedCell) and amount.data_type != "f":
            yield amount, line.amount


def _line_label(line: SnapshotLine) -> str:
    label = f"{line.code} {line.designation}".strip()
    return label if len(label) <= 60 else label[:59] + "…"


# --- The clean BPU / DQE workbook -------------------------------------------------------------------------


def _clean_workbook(snapshot: OfferSnapshot, *, note: str = "") -> bytes:
    """A summary sheet, then one sheet per lot: its lines, its total excl. VAT, VAT and total incl. VAT."""
    workbook = _workbook()
    cells = _MoneyCells(workbook)
    if note:
        sheet = workbook.create_sheet(_("Lisez-moi"))
        sheet.column_dimensions["A"].width = 120
        sheet.append([_text_cell(sheet, _("Bordereau de prix"), TITLE)])
        cell = _text_cell(sheet, note)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.append([cell])
    titles = _SheetTitles({_("Lisez-moi"), _("Récapitulatif")})
    lot_titles = [titles.unique(f"{lot.source_id} {lot.title}".strip() or str(lot.id)) for lot in snapshot.lots]
    _summary_sheet(workbook, snapshot, cells, lot_titles)
    lines_of = _lines_by_lot(snapshot.lines)
    vat_label = _("TVA %(rate)s %%") % {"rate": _rate(snapshot.policy.vat_rate)}
    for lot, title in zip(snapshot.lots, lot_titles, strict=True):
        sheet = workbook.create_sheet(title)
        _lot_sheet(sheet, snapshot, lot, lines_of.get(lot.id, ()), cells, vat_label)
        sheet.close()  # one open temporary file at a time, even for 1,000 lots
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _summary_sheet(workbook: Workbook, snapshot: OfferSnapshot, cells: _MoneyCells, titles: list[str]) -> None:
    sheet = workbook.create_sheet(_("Récapitulatif"))
    _widths(sheet, SUMMARY_WIDTHS)
    heading = _heading(sheet, snapshot, _("Récapitulatif de l'offre"))
    sheet.freeze_panes = f"A{len(heading) + 2}"
    for row in heading:
        sheet.append(row)
    sheet.append(_header_row(sheet, [_("Lot"), _("Intitulé"), _("Montant HT"), _("TVA"), _("Montant TTC")]))
    for lot, title in zip(snapshot.lots, titles, strict=True):
        sheet.append([_text(sheet, lot.source_id), _text(sheet, lot.title or title), *cells.totals(lot.totals)])
    sheet.append([])
    sheet.append([_text_cell(sheet, _("Total de l'offre"), STRONG), None, *cells.totals(snapshot.total, total=True)])
    sheet.close()


def _lot_sheet(
    sheet: WriteOnlyWorksheet,
    snapshot: OfferSnapshot,
    lot: SnapshotLot,
    lines: Iterable[SnapshotLine],
    cells: _MoneyCells,
    vat_label: str,
) -> None:
    _widths(sheet, LOT_WIDTHS)
    heading = _heading(sheet, snapshot, f"{lot.source_id} {lot.title}".strip(), full=False)
    sheet.freeze_panes = f"A{len(heading) + 2}"
    for row in heading:
        sheet.append(row)
    headers = [_("Code"), _("Désignation"), _("Unité"), _("Quantité"), _("Prix unitaire HT"), _("Montant HT")]
    sheet.append(_header_row(sheet, headers))
    section = ""
    append, text, money = sheet.append, _text, cells.money
    for line in lines:
        if line.section != section:
            section = line.section
            append([None, _text_cell(sheet, section, STRONG)])
        append(
            [
                text(sheet, line.code),
                text(sheet, line.designation),
                text(sheet, line.unit),
                line.quantity,
                money(0, line.unit_price),
                money(1, line.amount) if line.quantity is not None else None,
            ]
        )
    sheet.append([])
    totals = lot.totals
    for label, value in (
        (_("Total HT"), totals.amount),
        (vat_label, totals.vat),
        (_("Total TTC"), totals.amount_with_vat),
    ):
        sheet.append([None, _text_cell(sheet, label, STRONG), None, None, None, cells.money(2, value, total=True)])


# --- A partner's own prices -------------------------------------------------------------------------------


def render_partner_schedule(snapshot: OfferSnapshot) -> Rendered:
    """The firm's own lines (the snapshot is already cut to it): its price, the offered price, its totals per lot."""
    with translation.override("fr"):
        return _render_partner_schedule(snapshot)


def _render_partner_schedule(snapshot: OfferSnapshot) -> Rendered:
    firm = snapshot.firms[0]
    workbook = _workbook()
    cells = _MoneyCells(workbook)
    sheet = workbook.create_sheet(_("Prix"))
    _widths(sheet, PARTNER_WIDTHS)
    heading = _heading(sheet, snapshot, _("Prix de %(firm)s") % {"firm": firm.name})
    sheet.freeze_panes = f"A{len(heading) + 2}"
    for row in heading:
        sheet.append(row)
    headers = [
        _("Lot"),
        _("Code"),
        _("Désignation"),
        _("Unité"),
        _("Quantité"),
        _("Prix unitaire entreprise HT"),
        _("Prix unitaire offert HT"),
        _("Montant entreprise HT"),
        _("Montant offert HT"),
    ]
    sheet.append(_header_row(sheet, headers))
    lines_of = _lines_by_lot(snapshot.lines)
    text, money = _text, cells.money
    for lot in snapshot.lots:
        lot_id = text(sheet, lot.source_id)
        for line in lines_of.get(lot.id, ()):
            priced = line.quantity is not None
            sheet.append(
                [
                    lot_id,
                    text(sheet, line.code),
                    text(sheet, line.designation),
                    text(sheet, line.unit),
                    line.quantity,
                    money(0, line.firm_unit_price),
                    money(1, line.unit_price),
                    money(2, line.firm_amount) if priced else None,
                    money(3, line.amount) if priced else None,
                ]
            )
        label = _("Total %(lot)s") % {"lot": f"{lot.source_id} {lot.title}".strip()}
        sheet.append(_partner_total(sheet, cells, label, lot.totals))
        sheet.append([])
    sheet.append(_partner_total(sheet, cells, _("Total de l'entreprise"), snapshot.total))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return f"prix-{_slug_of(firm.name, f'entreprise-{firm.id}')}-{_slug(snapshot)}.xlsx", XLSX, buffer.getvalue()


def _partner_total(sheet: WriteOnlyWorksheet, cells: _MoneyCells, label: str, totals: Totals) -> list[Any]:
    firm_amount = cells.money(4, totals.firm_amount, total=True)
    amount = cells.money(5, totals.amount, total=True)
    return [None, None, _text_cell(sheet, label, STRONG), None, None, None, None, firm_amount, amount]


# --- Cells and sheets -------------------------------------------------------------------------------------


class _MoneyCells:
    """Money cells styled once and reused: openpyxl's write-only sheets write each row as it is appended,
    so a cell object can carry the next row's value. Each column of a row needs its own slot."""

    def __init__(self, workbook: Workbook) -> None:
        sheet = workbook.create_sheet("tmp")  # cells need a parent; the sheet itself is never written
        workbook.remove(sheet)
        self._plain: list[Cell] = []
        self._total: list[Cell] = []
        self._sheet = sheet
        self._workbook = workbook

    def money(self, slot: int, value: Decimal, *, total: bool = False) -> Any:
        cells = self._total if total else self._plain
        while len(cells) <= slot:
            cell = WriteOnlyCell(self._sheet)
            cell.style = MONEY_TOTAL if total else MONEY
            cells.append(cell)
        cell = cells[slot]
        cell.value = value  # openpyxl writes a Decimal as a number
        return cell

    def totals(self, totals: Totals, *, total: bool = False) -> list[Any]:
        return [
            self.money(10, totals.amount, total=total),
            self.money(11, totals.vat, total=total),
            self.money(12, totals.amount_with_vat, total=total),
        ]


def _workbook() -> Workbook:
    workbook = Workbook(write_only=True)
    workbook.add_named_style(NamedStyle(MONEY, number_format=MONEY_FORMAT))
    workbook.add_named_style(NamedStyle(MONEY_TOTAL, number_format=MONEY_FORMAT, font=BOLD))
    workbook.add_named_style(NamedStyle(HEADER, font=BOLD, fill=HEADER_FILL))
    workbook.add_named_style(NamedStyle(STRONG, font=BOLD))
    workbook.add_named_style(NamedStyle(TITLE, font=Font(bold=True, size=13)))
    return workbook


def _heading(sheet: WriteOnlyWorksheet, snapshot: OfferSnapshot, title: str, *, full: bool = True) -> list[list[Any]]:
    """The sheet's title, what the offer answers (only the tender on a lot's sheet), and a blank row."""
    rows: list[list[Any]] = [[_text_cell(sheet, title, TITLE)]]
    about = [(_("Consultation"), snapshot.tender_title)]
    if full:
        about += [
            (_("Référence"), snapshot.procedure_id),
            (_("Acheteur"), ", ".join(snapshot.buyers)),
            (_("Mandataire"), snapshot.mandataire_name),
            (_("Devise"), snapshot.currency),
        ]
    for label, value in about:
        if value:
            rows.append([_text_cell(sheet, label, STRONG), _text(sheet, value)])
    rows.append([])
    return rows


def _header_row(sheet: WriteOnlyWorksheet, texts: list[str]) -> list[Any]:
    cells = []
    for text in texts:
        cell = WriteOnlyCell(sheet, value=text)
        cell.style = HEADER
        cells.append(cell)
    return cells


def _text(sheet: WriteOnlyWorksheet, value: str) -> Any:
    """User text: a plain string, or a string cell when a spreadsheet would read it as a formula."""
    if not value:
        return None
    if ILLEGAL_CHARACTERS_RE.search(value):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if len(value) > MAX_CELL_CHARS:
        value = value[:MAX_CELL_CHARS]
    if value.startswith(FORMULA_STARTS):
        return safe_cell(sheet, value)
    return value


def _text_cell(sheet: WriteOnlyWorksheet, value: str, style: str = "") -> Any:
    text = _text(sheet, value)
    cell = text if isinstance(text, Cell) else WriteOnlyCell(sheet, value=text)
    if style:
        quoted = cell.quotePrefix
        cell.style = style  # replaces the whole style: keep the quote prefix safe_cell set
        cell.quotePrefix = quoted
    return cell


def _widths(sheet: Any, widths: list[tuple[int, int, int]]) -> None:  # the stubs miss a write-only sheet's columns
    for first, last, width in widths:
        letter = get_column_letter(first)
        sheet.column_dimensions[letter] = ColumnDimension(sheet, index=letter, width=width, min=first, max=last)


class _SheetTitles:
    """Sheet titles a workbook accepts: at most 31 characters, none of []:*?/\\, unique whatever the case."""

    def __init__(self, taken: Iterable[str]) -> None:
        self._taken = {title.casefold() for title in taken}

    def unique(self, wanted: str) -> str:
        base = " ".join(SHEET_TITLE_FORBIDDEN.sub(" ", ILLEGAL_CHARACTERS_RE.sub("", wanted)).split()).strip("'")
        base = base or "Lot"
        title, number = base[:MAX_SHEET_TITLE].rstrip().rstrip("'"), 1
        while title.casefold() in self._taken or title.casefold() == "history":
            number += 1
            suffix = f" ({number})"
            title = base[: MAX_SHEET_TITLE - len(suffix)].rstrip() + suffix
        self._taken.add(title.casefold())
        return title


def _lines_by_lot(lines: Iterable[SnapshotLine]) -> dict[int, list[SnapshotLine]]:
    by_lot: dict[int, list[SnapshotLine]] = {}
    for line in lines:
        by_lot.setdefault(line.lot_id, []).append(line)
    return by_lot


def _rate(rate: Decimal) -> str:
    text = format(rate.normalize(), "f")
    return text.replace(".", ",")


def _slug(snapshot: OfferSnapshot) -> str:
    return _slug_of(snapshot.procedure_id or snapshot.tender_title, f"offre-{snapshot.tender_id}")


def _slug_of(text: str, fallback: str) -> str:
    return slugify(text)[:50].strip("-") or fallback
