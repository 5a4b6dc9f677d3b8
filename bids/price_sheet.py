"""An invitation's price schedule as XLSX: downloaded by the firm, filled in column F, uploaded back.

The sheet holds only the invitation's own package, firm and prices. Each data row carries the line's id in
"Réf.", so the upload is read by that reference (rows may be reordered, totals and blank rows added) and the
price column is found by its heading. Reading goes through the schedule importer's safety checks (size,
zip bomb, DOCTYPE, sheet extent) before python-calamine opens the workbook.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import ParseError

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

from partners.exports import XLSX, safe_cell

from .importers.base import ImportFailed
from .importers.spreadsheet import HEADER_SCAN_ROWS, check_extent, normalise, open_zip, sheet_parts
from .models import Invitation, InvitationPrice, InvitationStatus, Line
from .prices import PricedLine, PriceEntry

SHEET_NAME = "Prix"
MAX_CELL_CHARS = 32_767  # what an Excel cell holds
MONEY_FORMAT = "#,##0.00"
WHOLE_FORMAT = "#,##0"
FRACTION_FORMAT = "#,##0.0###"
WIDTHS = {"A": 22, "B": 14, "C": 60, "D": 10, "E": 12, "F": 18, "G": 18}
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
INPUT_FILL = PatternFill("solid", fgColor="FFF4C2")
# Named styles: a cell takes one by name, far cheaper than setting a fill or an alignment cell by cell.
INPUT_STYLE = "Guichet – prix à saisir"
LONG_TEXT_STYLE = "Guichet – texte long"


class PriceSheetError(Exception):
    """The upload cannot be read as a price sheet; str() is the message for the user, naming the file."""


# --- Writing -----------------------------------------------------------------------------------------------


def render_price_sheet(invitation: Invitation) -> tuple[str, str, bytes]:
    """(filename, content type, bytes): the package's lines, with this invitation's prices once accepted."""
    package = invitation.package
    prices: dict[int, Decimal] = {}
    if invitation.status == InvitationStatus.ACCEPTED:
        prices = dict(InvitationPrice.objects.filter(invitation=invitation).values_list("line_id", "unit_price"))
    lines = (
        Line.objects.filter(work_package_id=package.pk)
        .order_by("lot_id", "position")
        .values_list("pk", "code", "designation", "unit", "quantity")
    )
    workbook = Workbook(write_only=True)
    workbook.add_named_style(NamedStyle(INPUT_STYLE, number_format=MONEY_FORMAT, fill=INPUT_FILL))
    workbook.add_named_style(NamedStyle(LONG_TEXT_STYLE, alignment=Alignment(wrap_text=True, vertical="top")))
    sheet = workbook.create_sheet(SHEET_NAME)
    for column, width in WIDTHS.items():
        sheet.column_dimensions[column].width = width
    titles = _titles(invitation)
    first = len(titles) + 4  # below the sheet's title, the titles, a blank row and the header row
    sheet.freeze_panes = f"A{first}"  # before the first row: a write-only sheet writes its view with it
    sheet.append([_text_cell(sheet, _("Grille de prix"), TITLE)])
    for label, value in titles:
        sheet.append([_text_cell(sheet, label, BOLD), _text_cell(sheet, value)])
    sheet.append([])
    headers = [_("Réf."), _("Code"), _("Désignation"), _("Unité"), _("Quantité"), _("Prix unitaire HT")]
    header_cells = [_text_cell(sheet, text, BOLD) for text in [*headers, _("Montant HT")]]
    for cell in header_cells:
        cell.fill = HEADER_FILL
    sheet.append(header_cells)
    number = first - 1
    for number, (pk, code, designation, unit, quantity) in enumerate(lines.iterator(chunk_size=2000), start=first):
        price = _number_cell(sheet, prices.get(pk))
        price.style = INPUT_STYLE
        amount = WriteOnlyCell(sheet, value=f"=E{number}*F{number}" if quantity is not None else f"=F{number}")
        amount.number_format = MONEY_FORMAT
        sheet.append(
            [
                pk,
                _text_cell(sheet, code),
                _text_cell(sheet, designation, style=LONG_TEXT_STYLE),
                _text_cell(sheet, unit),
                _quantity_cell(sheet, quantity),
                price,
                amount,
            ]
        )
    if number >= first:
        sheet.append([])
        total = WriteOnlyCell(sheet, value=f"=SUM(G{first}:G{number})")
        total.number_format = MONEY_FORMAT
        total.font = BOLD
        sheet.append([None, None, _text_cell(sheet, _("Total HT"), BOLD), None, None, None, total])
    buffer = io.BytesIO()
    workbook.save(buffer)
    slug = slugify(package.name)[:50].strip("-") or "lot"
    return f"prix-{slug}-{invitation.pk}.xlsx", XLSX, buffer.getvalue()


def _titles(invitation: Invitation) -> list[tuple[str, str]]:
    """What the firm answers for, and how."""
    package, tender = invitation.package, invitation.tender
    deadline = formats.date_format(timezone.localtime(invitation.deadline), "DATETIME_FORMAT")
    return [
        (_("Appel d'offres"), tender.title),
        (_("Lot"), f"{package.lot.source_id} {package.lot.title}".strip()),
        (_("Lot de travaux"), package.name),
        (_("Entreprise"), invitation.firm.name),
        (_("Date limite de réponse"), f"{deadline} ({timezone.get_current_timezone_name()})"),
        (_("Devise"), invitation.currency),
        (
            _("Instructions"),
            _(
                "Saisissez vos prix unitaires HT dans la colonne F, sans modifier les colonnes A à E. "
                "La colonne « Réf. » identifie chaque ligne : ne la changez pas. "
                "Déposez ensuite ce fichier sur la page de l'invitation."
            ),
        ),
    ]


def _text_cell(sheet: WriteOnlyWorksheet, value: str, font: Font | None = None, *, style: str = "") -> Any:
    """User text as a string cell, never a formula; characters a workbook cannot hold are dropped."""
    text = ILLEGAL_CHARACTERS_RE.sub("", value or "")[:MAX_CELL_CHARS]
    if not text:
        return None
    cell = safe_cell(sheet, text)
    if style:
        quoted = cell.quotePrefix
        cell.style = style  # replaces the whole style: keep the quote prefix safe_cell set
        cell.quotePrefix = quoted
    if font is not None:
        cell.font = font
    return cell


def _number_cell(sheet: WriteOnlyWorksheet, value: Decimal | None) -> Any:
    return WriteOnlyCell(sheet, value=value)  # type: ignore[arg-type]  # openpyxl writes Decimal as a number


def _quantity_cell(sheet: WriteOnlyWorksheet, quantity: Decimal | None) -> Any:
    cell = _number_cell(sheet, quantity)
    if quantity is not None:
        cell.number_format = WHOLE_FORMAT if quantity == quantity.to_integral_value() else FRACTION_FORMAT
    return cell


# --- Reading -----------------------------------------------------------------------------------------------


def read_price_sheet(data: bytes, lines: Sequence[PricedLine], *, name: str) -> list[PriceEntry]:
    """One entry per row with a Réf. below the header row; the prices themselves are checked by check_prices."""
    name = name or _("sans nom")
    workbook, sheets = _open_workbook(data, name)
    for sheet_name, xml_part in sheets:
        found = _read_sheet(workbook, sheet_name, xml_part, name)
        if found is None:
            continue
        if not found:
            raise PriceSheetError(
                _("Le fichier « %(name)s » n'a aucune ligne de prix sous l'en-tête de la feuille « %(sheet)s ».")
                % {"name": name, "sheet": sheet_name}
            )
        known = {line.line_id for line in lines}
        if known and known.isdisjoint(entry.line_id for entry in found):
            raise PriceSheetError(
                _(
                    "Aucune référence du fichier « %(name)s » ne correspond aux lignes de ce lot de travaux : "
                    "téléchargez la grille de prix de cette invitation et remplissez-la."
                )
                % {"name": name}
            )
        return found
    raise PriceSheetError(
        _(
            "Le fichier « %(name)s » n'a pas de ligne d'en-tête avec les colonnes « Réf. » et « Prix unitaire HT » "
            "dans ses %(rows)s premières lignes : téléchargez la grille de prix de cette invitation et remplissez-la."
        )
        % {"name": name, "rows": HEADER_SCAN_ROWS}
    )


def _open_workbook(data: bytes, name: str) -> tuple[CalamineWorkbook, list[tuple[str, bytes | None]]]:
    """The workbook after the importer's checks, and its worksheets (the "Prix" sheet first) with their XML."""
    limit = int(settings.IMPORT_MAX_BYTES)
    if len(data) > limit:
        raise PriceSheetError(
            _("Le fichier « %(name)s » fait %(size)s octets : au plus %(limit)s octets.")
            % {"name": name, "size": f"{len(data):,}", "limit": f"{limit:,}"}
        )
    if not data.strip():
        raise PriceSheetError(_("Le fichier « %(name)s » est vide.") % {"name": name})
    not_xlsx = _(
        "Le fichier « %(name)s » n'est pas un classeur XLSX : déposez la grille de prix téléchargée, "
        "remplie et enregistrée au format XLSX."
    ) % {"name": name}
    if not data.startswith(b"PK\x03\x04"):
        raise PriceSheetError(not_xlsx)
    try:
        archive = open_zip(data, name)
        parts = sheet_parts(archive, name)
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = [meta.name for meta in workbook.sheets_metadata if meta.typ == SheetTypeEnum.WorkSheet]
        names.sort(key=lambda sheet: normalise(sheet) != normalise(SHEET_NAME))
        present = set(archive.namelist())
        sheets = [(sheet, archive.read(parts[sheet]) if parts.get(sheet) in present else None) for sheet in names]
    except ImportFailed as exc:
        raise PriceSheetError(_refused(name, exc)) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, ParseError, KeyError, CalamineError):
        raise PriceSheetError(not_xlsx) from None
    return workbook, sheets


def _refused(name: str, error: ImportFailed) -> str:
    return _("Le fichier « %(name)s » est refusé : ce n'est pas un classeur XLSX lisible (%(reason)s).") % {
        "name": name,
        "reason": error.problems[0].message,
    }


def _read_sheet(workbook: CalamineWorkbook, sheet: str, xml: bytes | None, name: str) -> list[PriceEntry] | None:
    """The sheet's entries, or None when it has no header row."""
    try:
        if xml is not None:
            check_extent(xml, sheet)  # calamine holds the sheet as a dense grid: refuse a huge one first
        grid = workbook.get_sheet_by_name(sheet)
        start = grid.start
        rows: Iterator[list[Any]] = iter(grid.iter_rows())  # from row 1; columns from `start`
    except ImportFailed as exc:
        raise PriceSheetError(_refused(name, exc)) from None
    except CalamineError:
        raise PriceSheetError(
            _("La feuille « %(sheet)s » du fichier « %(name)s » est illisible.") % {"sheet": sheet, "name": name}
        ) from None
    if start is None:
        return None
    headings = _headings()
    for number, row in enumerate(rows, start=1):
        if number > HEADER_SCAN_ROWS:
            return None
        columns = _header_columns(row, headings)
        if columns is not None:
            return _entries(rows, number, columns, sheet, name)
    return None


def _header_columns(row: list[Any], headings: tuple[set[str], set[str]]) -> tuple[int, int] | None:
    """(Réf. column, price column) when `row` is the header row."""
    ref_headings, price_headings = headings
    ref = price = None
    for index, value in enumerate(row):
        if type(value) is not str or len(value) > 80:
            continue
        text = normalise(value)
        if ref is None and text in ref_headings:
            ref = index
        elif price is None and (text.startswith("prix unitaire") or text in price_headings):
            price = index
    return (ref, price) if ref is not None and price is not None else None


def _headings() -> tuple[set[str], set[str]]:
    """The Réf. and price headings, normalised, in every language of the site: a sheet downloaded in English
    may come back while the page is in French."""
    refs, prices = {"ref", "reference", "ref ligne"}, {"pu ht", "prix ht"}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            refs.add(normalise(_("Réf.")))
            prices.add(normalise(_("Prix unitaire HT")))
    return refs, prices


def _entries(
    rows: Iterator[list[Any]], header: int, columns: tuple[int, int], sheet: str, name: str
) -> list[PriceEntry]:
    ref_column, price_column = columns
    entries = []
    row_of_sheet = _("ligne %(row)s de la feuille « %(sheet)s »")
    for number, row in enumerate(rows, start=header + 1):
        ref = row[ref_column] if ref_column < len(row) else None
        if ref is None or (type(ref) is str and not ref.strip()):
            continue  # blank rows, totals, notes: only rows with a reference are prices
        where = row_of_sheet % {"row": number, "sheet": sheet}
        line_id = _line_id(ref)
        if line_id is None:
            raise PriceSheetError(
                _(
                    "Fichier « %(name)s », %(where)s : la référence « %(value)s » n'est pas un numéro de ligne. "
                    "Ne modifiez pas les colonnes A à E de la grille."
                )
                % {"name": name, "where": where, "value": str(ref)[:40]}
            )
        raw = row[price_column] if price_column < len(row) else None
        entries.append(PriceEntry(line_id=line_id, raw=_price(raw), where=where))
    return entries


def _line_id(value: Any) -> int | None:
    if type(value) is float and value.is_integer() and 0 < value < 2**63:
        return int(value)
    if type(value) is int and value > 0:
        return value
    if type(value) is str and value.strip().isdigit() and len(value.strip()) < 19:
        return int(value.strip())
    return None


def _price(value: Any) -> Any:
    """The price cell for parse_unit_price: floats at Excel's own precision (15 digits), so a price computed
    as =0.1+0.2 reads as 0.3, the way the partner saw it; texts and other values as they are."""
    if type(value) is float:
        return Decimal(format(value, ".15g"))
    if value == "":
        return None
    return value
