"""A partner network file (CSV or XLSX) as numbered rows of raw cell values, read safely.

CSV: UTF-8 with or without BOM (else Windows-1252), delimiter `;`, `,` or tab, sniffed.
XLSX: the first visible worksheet, read with calamine after the checks a hostile file needs: a size
limit, zip entry count, declared sizes and compression ratio, no DOCTYPE in any XML part, and each
sheet's extent read from its cell references before calamine builds the grid in memory.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

MAX_ROWS = 20_000
MAX_COLUMNS = 200
MAX_ZIP_ENTRIES = 1_000
MAX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_RATIO = 100
RATIO_CHECK_FROM = 1024 * 1024
PROLOG_BYTES = 64 * 1024
_CELL_REF = re.compile(rb'\br="([A-Z]{0,3})(\d+)"')
_ROOT_START = re.compile(rb"<[A-Za-z_]")  # the root element: a DOCTYPE can only come before it


class PartnerFileError(Exception):
    """The file cannot be read at all (format, size, encoding); the message is for the user, in French."""


@dataclass(frozen=True)
class FileRow:
    number: int  # 1-based, as a spreadsheet or a text editor shows it
    cells: Sequence[Any]

    def is_empty(self) -> bool:
        return all(cell is None or str(cell).strip() == "" for cell in self.cells)


def read_rows(data: bytes, *, filename: str) -> list[FileRow]:
    """Every row of the file, numbered; empty rows included (callers skip them) so numbers stay true."""
    limit = int(settings.IMPORT_MAX_BYTES)
    if len(data) > limit:
        raise PartnerFileError(
            _("Le fichier %(name)s fait %(size)d octets : au plus %(limit)d octets.")
            % {"name": filename, "size": len(data), "limit": limit}
        )
    if not data.strip():
        raise PartnerFileError(_("Le fichier %(name)s est vide.") % {"name": filename})
    kind = file_kind(data, filename)
    rows = _xlsx_rows(data, filename) if kind == "xlsx" else _csv_rows(data, filename)
    if len(rows) > MAX_ROWS:
        raise PartnerFileError(
            _("Le fichier %(name)s a %(count)d lignes : au plus %(limit)d.")
            % {"name": filename, "count": len(rows), "limit": MAX_ROWS}
        )
    return rows


def file_kind(data: bytes, filename: str) -> str:
    """'xlsx' or 'csv', from the content first (a zip is a workbook), then the extension."""
    lowered = filename.lower()
    if data[:4] == b"PK\x03\x04":
        if lowered.endswith((".ods", ".xls")):
            raise PartnerFileError(_("Format non pris en charge : enregistrez le fichier en XLSX ou en CSV."))
        return "xlsx"
    if lowered.endswith((".xlsx", ".xlsm")):
        raise PartnerFileError(_("Le fichier %(name)s n'est pas un classeur XLSX valide.") % {"name": filename})
    if lowered.endswith((".xls", ".ods")) or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise PartnerFileError(_("Format non pris en charge : enregistrez le fichier en XLSX ou en CSV."))
    return "csv"


# ----------------------------------------------------------------------------------------------- CSV


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _csv_rows(data: bytes, filename: str) -> list[FileRow]:
    text = _decode(data)
    if "\x00" in text:
        raise PartnerFileError(_("Le fichier %(name)s n'est pas un fichier CSV (texte).") % {"name": filename})
    sample = text[:65536]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=";,\t").delimiter
    except csv.Error:
        delimiter = max(";,\t", key=sample.count)
    rows: list[FileRow] = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            if len(cells) > MAX_COLUMNS:
                raise PartnerFileError(
                    _("Ligne %(row)d : %(count)d colonnes (au plus %(limit)d).")
                    % {"row": number, "count": len(cells), "limit": MAX_COLUMNS}
                )
            rows.append(FileRow(number, cells))
            if number > MAX_ROWS:
                break
    except csv.Error as exc:
        raise PartnerFileError(
            _("Le fichier %(name)s n'est pas un CSV valide (%(error)s).") % {"name": filename, "error": exc}
        ) from None
    return rows


# ---------------------------------------------------------------------------------------------- XLSX


def _xlsx_rows(data: bytes, filename: str) -> list[FileRow]:
    invalid = _("Le fichier %(name)s n'est pas un classeur XLSX valide.") % {"name": filename}
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
        _check_archive(archive, entries, filename)
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        name = next(
            (
                meta.name
                for meta in workbook.sheets_metadata
                if meta.typ == SheetTypeEnum.WorkSheet and meta.visible == SheetVisibleEnum.Visible
            ),
            None,
        )
        if name is None:
            raise PartnerFileError(_("Le classeur %(name)s n'a aucune feuille visible.") % {"name": filename})
        sheet = workbook.get_sheet_by_name(name)
        if sheet.start is None:
            return []
        first_column = sheet.start[1]
        return [
            FileRow(number, [""] * first_column + list(cells))
            for number, cells in enumerate(sheet.iter_rows(), start=1)
        ]
    except PartnerFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, CalamineError):
        raise PartnerFileError(invalid) from None


def _check_archive(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], filename: str) -> None:
    too_big = _("Le fichier %(name)s se décompresse en trop de données (archive piégée ?).") % {"name": filename}
    if len(entries) > MAX_ZIP_ENTRIES or sum(entry.file_size for entry in entries) > MAX_UNCOMPRESSED:
        raise PartnerFileError(too_big)
    for entry in entries:
        if entry.file_size > RATIO_CHECK_FROM and entry.file_size / max(entry.compress_size, 1) > MAX_RATIO:
            raise PartnerFileError(too_big)
        if not entry.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        with archive.open(entry) as stream:
            head = stream.read(PROLOG_BYTES)
        root = _ROOT_START.search(head)
        prolog = head[: root.start()] if root else head
        if root is None or b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
            raise PartnerFileError(
                _("Le fichier %(name)s contient du XML avec une déclaration DOCTYPE : refusé.") % {"name": filename}
            )
        if entry.filename.startswith("xl/worksheets/") and entry.filename.lower().endswith(".xml"):
            _check_extent(archive.read(entry), filename)


def _check_extent(xml: bytes, filename: str) -> None:
    """Refuse a sheet whose cells reach beyond MAX_ROWS x MAX_COLUMNS (calamine would allocate them all)."""
    last_row = last_column = 0
    for letters, digits in _CELL_REF.findall(xml):
        last_row = max(last_row, int(digits))
        column = 0
        for letter in letters.decode():
            column = column * 26 + ord(letter) - 64
        last_column = max(last_column, column)
    if last_row > MAX_ROWS + 1 or last_column > MAX_COLUMNS:
        raise PartnerFileError(
            _("La feuille du fichier %(name)s est trop grande (au plus %(rows)d lignes et %(columns)d colonnes).")
            % {"name": filename, "rows": MAX_ROWS, "columns": MAX_COLUMNS}
        )
