"""Reading a table of records from an XLSX or CSV upload: every problem named by file, sheet, row and column.

The file goes through the tender import's guards (bids): the size limit, the zip-bomb and DOCTYPE checks
before the workbook is opened, the sheet extent, CSV encoding and delimiter sniffing. The header row is
found in the first rows by French or English column names (`Column.keywords`); every sheet holding one is
read, empty and totals rows skipped, merged cells filled down. Used by the finance import
(`pricing.imports`) and the community signals import (`pricing.signal_imports`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.utils.translation import gettext as _

from bids.importers.base import ImportFailed
from bids.importers.common import clean_text
from bids.importers.spreadsheet import (
    HEADER_SCAN_ROWS,
    normalise,
    open_grids,  # the tender import's guarded reader
)
from bids.services.imports import check_size

MAX_PROBLEMS = 100
_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y")
_TOTALS_RE = re.compile(r"(sous )?tota(l|ux)( [a-z].*)?$")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls and other old Office files
T = TypeVar("T")


@dataclass(frozen=True)
class ImportProblem:
    where: str  # "fichier.xlsx, feuille X, ligne 12, colonne Montant"
    message: str

    def __str__(self) -> str:
        return f"{self.where} : {self.message}" if self.where else self.message


@dataclass(frozen=True)
class Column:
    field: str
    label: str  # shown when the column is missing
    keywords: tuple[str, ...]  # normalised header texts; a header may also start with one
    required: bool = True


class BadCell(Exception):
    """A cell that cannot be used; the message goes with the cell's position."""


class Problems(list[ImportProblem]):
    def add(self, where: str, message: str) -> None:
        if len(self) < MAX_PROBLEMS:
            self.append(ImportProblem(where, message))
        elif len(self) == MAX_PROBLEMS:
            self.append(
                ImportProblem("", _("plus de %(n)s problèmes : corrigez ceux-ci d'abord") % {"n": MAX_PROBLEMS})
            )


@dataclass
class Sheet:
    where: str  # "fichier.xlsx, feuille Paiements" or "fichier.csv"
    header_row: int  # 1-based
    columns: dict[str, int]  # field -> 0-based column
    headers: dict[str, str]  # field -> the header text in the file


@dataclass
class Row:
    sheet: Sheet
    number: int  # 1-based
    cells: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.sheet.where}, " + _("ligne %(n)s") % {"n": self.number}

    def at(self, name: str) -> str:
        header = self.sheet.headers.get(name)
        return (f"{self.where}, " + _("colonne %(name)s") % {"name": header}) if header else self.where


def read_rows(filename: str, data: bytes, columns: Sequence[Column], problems: Problems) -> list[Row]:
    """Every data row of every sheet with a header row; problems of the file itself end the reading."""
    rows: list[Row] = []
    refused: list[ImportProblem] = []
    sheets = 0
    try:
        check_size(len(data), source=filename)
        for grid in open_grids(data, source=filename, fmt=_format(data, filename), sheet=None):
            where = (f"{filename}, " + _("feuille %(name)s") % {"name": grid.name}) if grid.name else filename
            found = _layout(grid, where, columns)
            if isinstance(found, Sheet):
                sheets += 1
                rows.extend(_sheet_rows(grid, found, problems))
            elif found is not None:
                refused.append(found)
    except ImportFailed as failure:
        for found_problem in failure.problems:
            problems.add(found_problem.where, found_problem.message)
        return []
    if not sheets:
        for problem in refused or [ImportProblem(filename, _("le fichier est vide"))]:
            problems.add(problem.where, problem.message)
    elif not rows and not problems:
        problems.add(filename, _("aucune ligne à importer sous l'en-tête"))
    return rows


def _format(data: bytes, filename: str) -> str:
    """Which reader the file goes to, "xlsx" or "csv"; anything else is refused before any parsing."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:8] == _OLE_MAGIC:
        raise ImportFailed(_("ancien format Excel (.xls) : enregistrez le fichier au format XLSX"), where=filename)
    if not data.strip():
        raise ImportFailed(_("le fichier est vide"), where=filename)
    head = data[:65536]
    if b"\x00" in head or head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[", b"<", b"%"):
        raise ImportFailed(_("ce n'est pas un tableur : enregistrez-le au format XLSX ou CSV (UTF-8)"), where=filename)
    return "csv"


def _layout(grid: Any, where: str, columns: Sequence[Column]) -> Sheet | ImportProblem | None:
    """The sheet's header row and columns; None for an empty sheet, a problem when no row has the columns."""
    head: list[Sequence[Any]] = grid.read_head()
    if not any(filled(value) for row in head for value in row):
        return None
    best: tuple[int, dict[str, tuple[int, str]]] | None = None
    for number, row in enumerate(head, start=1):
        found = _header_fields(row, grid.first_column, columns)
        if all(column.field in found for column in columns if column.required):
            return Sheet(
                where,
                number,
                {name: column for name, (column, _header) in found.items()},
                {name: text for name, (_column, text) in found.items()},
            )
        if len(found) >= 2 and (best is None or len(found) > len(best[1])):
            best = (number, found)
    expected = ", ".join(column.label for column in columns if column.required)
    if best is None:
        return ImportProblem(
            where,
            _("aucune ligne d'en-tête dans les %(n)s premières lignes (colonnes attendues : %(expected)s)")
            % {"n": HEADER_SCAN_ROWS, "expected": expected},
        )
    number, found = best
    missing = ", ".join(column.label for column in columns if column.required and column.field not in found)
    return ImportProblem(
        f"{where}, " + _("ligne %(n)s") % {"n": number},
        _("colonne(s) manquante(s) : %(missing)s (colonnes attendues : %(expected)s)")
        % {"missing": missing, "expected": expected},
    )


def _header_fields(row: Sequence[Any], first_column: int, columns: Sequence[Column]) -> dict[str, tuple[int, str]]:
    """Field -> (0-based column, header text); a header equal to a keyword wins over one starting with it."""
    exact: dict[str, tuple[int, str]] = {}
    prefixed: dict[str, tuple[int, str]] = {}
    for index, value in enumerate(row):
        if not isinstance(value, str) or not value.strip() or len(value) > 80:
            continue
        normal = normalise(value)
        name = next((c.field for c in columns if normal in c.keywords), None)
        if name is not None:
            exact.setdefault(name, (first_column + index, value.strip()))
            continue
        name = next((c.field for c in columns if any(normal.startswith(k + " ") for k in c.keywords)), None)
        if name is not None:
            prefixed.setdefault(name, (first_column + index, value.strip()))
    for name, found in prefixed.items():
        exact.setdefault(name, found)
    return exact


def _sheet_rows(grid: Any, sheet: Sheet, problems: Problems) -> Iterator[Row]:
    """The data rows below the header: empty rows and totals rows skipped, merged cells filled down."""
    first = grid.first_column
    fill = _MergedFill(grid.merged)
    for number, values in enumerate(grid.rows, start=1):
        values = fill.apply(number, values, first)
        if number <= sheet.header_row:
            continue
        cells = {name: _cell(values, column - first) for name, column in sheet.columns.items()}
        if not any(filled(value) for value in cells.values()):
            continue
        if _is_totals(values):
            continue
        row = Row(sheet, number, cells)
        gaps = [name for name, column in sheet.columns.items() if (number, column) in grid.formula_gaps]
        for name in gaps:
            problems.add(
                row.at(name), _("formule sans valeur calculée : ouvrez et enregistrez le fichier dans un tableur")
            )
        if not gaps:
            yield row


class _MergedFill:
    """Vertically merged cells (an order number spanning its lines) give every row the top cell's value."""

    def __init__(self, merged: Iterable[tuple[tuple[int, int], tuple[int, int]]]) -> None:
        self.tops: dict[int, list[int]] = {}
        self.covered: dict[int, list[tuple[int, int]]] = {}
        self.values: dict[tuple[int, int], Any] = {}
        for (top, left), (bottom, _right) in merged:
            if bottom > top:
                self.tops.setdefault(top + 1, []).append(left)
                for number in range(top + 2, bottom + 2):
                    self.covered.setdefault(number, []).append((left, top + 1))

    def apply(self, number: int, row: Sequence[Any], first: int) -> Sequence[Any]:
        for column in self.tops.get(number, ()):
            self.values[(column, number)] = _cell(row, column - first)
        if number not in self.covered:
            return row
        filled = list(row)
        for column, top in self.covered[number]:
            if 0 <= column - first < len(filled):
                filled[column - first] = self.values.get((column, top), "")
        return filled


def _cell(row: Sequence[Any], index: int) -> Any:
    return row[index] if 0 <= index < len(row) else None


def filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _is_totals(row: Sequence[Any]) -> bool:
    """A row whose first filled cell reads "Total", "Sous-total", "Total TTC"... (not "TOTAL-1", a number)."""
    first = next((value for value in row if filled(value)), None)
    return isinstance(first, str) and bool(_TOTALS_RE.match(normalise(first)))


def cell_text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    try:
        return clean_text(value, where="")
    except ImportFailed as exc:
        raise BadCell(exc.problems[0].message) from None


def casefold_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = cell_text(value)
    if not text:
        raise BadCell(_("date manquante"))
    token = text.split()[0].split("T")[0]
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(token, pattern).date()
        except ValueError:
            continue
    raise BadCell(_("« %(value)s » n'est pas une date (attendu JJ/MM/AAAA)") % {"value": text[:40]})


def guard(problems: Problems, row: Row, name: str, read: Callable[..., T], *args: Any) -> T | None:
    """`read(*args)`, or None after recording its problem at the row's cell `name`."""
    try:
        return read(*args)
    except BadCell as exc:
        problems.add(row.at(name), str(exc))
        return None
