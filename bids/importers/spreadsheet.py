"""Price schedules (BPU / DQE / DPGF) from XLSX or CSV, to one canonical tender of priced lines.

How a schedule is read:

- The header row is found in the first 50 rows by keywords (French and English, accents and case
  ignored: Désignation, Unité, Quantité, Prix unitaire, Montant HT, N° lot, Code, CPV...). A user
  `mapping` ({field: column letter or header text}) overrides detection field by field (an empty
  value removes a detected column) and `header_row` (1-based; 0 means "no header, data from row 1")
  overrides the detected row.
- Lots come from a lot column; else, when several sheets each hold a schedule, each sheet is a lot
  (named after the sheet); else lines carry `default_lot` (or None, and the caller decides).
  `default_lot` is the caller's own lot and is not added to `lots`.
- Merged cells: a vertically merged cell in the lot, code, unit or CPV column is forward-filled, so
  every row of the merged block gets the top cell's value. Other empty lot cells stay empty.
- Empty rows are skipped; totals rows (Total, Sous-total, Montant total, TVA, Report...) are skipped
  with a warning; a row with text but no quantity, price, unit or amount is a section heading and
  becomes the `section` of the lines below it.
- Numbers are exact Decimals: spreadsheet floats are read at Excel's own precision (15 significant
  digits, so a float 0.1 is Decimal("0.1") and 5.0 is Decimal("5")); texts such as "1 234,50 €" go
  through `parse_amount`. A formula whose computed value was never stored is an error, never a 0.
- Every row error (up to 50) is collected, then one ImportFailed lists them all.

XLSX safety, before the workbook is opened: zip checks (entries, declared sizes, compression
ratio), no DOCTYPE/ENTITY in any XML part, and each sheet's real extent is read from its cell
references (not from its `<dimension>`, which may lie), because calamine holds a sheet as a dense
grid of rows x columns.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain, islice
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree as SafeET
from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from .base import CanonicalLine, CanonicalLot, CanonicalTender, ImportFailed, Problem, ProgressCallback
from .common import MAX_TEXT_CHARS, clean_text, normalise_cpv, parse_amount

FIELDS = ("code", "designation", "unit", "quantity", "unit_price", "amount", "lot", "cpv")
FIELD_LABELS = {
    "code": "Code",
    "designation": "Désignation",
    "unit": "Unité",
    "quantity": "Quantité",
    "unit_price": "Prix unitaire",
    "amount": "Montant",
    "lot": "Lot",
    "cpv": "CPV",
}
HEADER_SCAN_ROWS = 50
PREVIEW_ROWS = 10
MAX_ERRORS = 50
MAX_WARNINGS = 200
PROGRESS_EVERY = 5000

MAX_ZIP_ENTRIES = 10_000
MAX_TOTAL_UNCOMPRESSED = 300 * 1024 * 1024
MAX_ENTRY_UNCOMPRESSED = 100 * 1024 * 1024
MAX_RATIO = 100
RATIO_CHECK_FROM = 1024 * 1024
MAX_ROWS = 1_100_000
MAX_COLUMNS = 500
MAX_SHEET_CELLS = 12_000_000  # calamine keeps rows x columns cells of 32 bytes: about 400 MB
MAX_PROLOG_BYTES = 64 * 1024

NO_HEADER_HINT = "expected columns such as Désignation, Unité, Quantité, Prix unitaire"
_NUMERIC_FIELDS = ("quantity", "unit_price", "amount")
_FILLED_FIELDS = ("lot", "code", "unit", "cpv")  # merged cells forward-filled in these columns
_MISSING = 1 << 30  # column index of an unmapped field: beyond any row, so it reads as empty

# Header keywords, as normalised word sequences matched at the start of a header cell. The order
# of fields matters: "prix total" is an amount before "prix" is a unit price, "unit price" a price
# before "unit" is a unit. Single letters must be the whole header.
_HEADER_KEYWORDS: list[tuple[str, list[str]]] = [
    ("lot", ["lot", "no lot", "n lot", "numero lot", "numero de lot", "num lot"]),
    ("cpv", ["cpv", "code cpv"]),
    ("amount", ["montant", "total", "prix total", "amount", "line total", "prix global", "sous total"]),
    (
        "unit_price",
        [
            "pu",
            "p u",
            "prix unitaire",
            "prix unit",
            "prix u",
            "prix",
            "unit price",
            "unit cost",
            "price",
            "tarif",
            "cout unitaire",
            "rate",
        ],
    ),
    ("quantity", ["quantite", "quantites", "qte", "qtes", "qty", "quantity", "qt", "nombre", "nb", "q"]),
    ("unit", ["unite", "unites", "u", "unit", "uom", "unit of measure", "unite de mesure"]),
    (
        "designation",
        [
            "designation",
            "libelle",
            "description",
            "prestation",
            "prestations",
            "intitule",
            "nature",
            "objet",
            "item description",
            "denomination",
        ],
    ),
    (
        "code",
        ["no", "n", "numero", "num", "ref", "reference", "code", "article", "item", "id", "poste", "repere"],
    ),
]
_EXACT_ONLY = {"u", "q", "n", "unit", "item", "id", "nb", "prix", "price", "rate"}

_TOTAL_RE = re.compile(
    r"\s*(?:tota(?:l|ux)|sous[\s-]*tota(?:l|ux)|montant\s+total|montant\s+(?:de\s+la\s+)?tva|tva|report"
    r"|[àa]\s+reporter|subtotal|sub[\s-]*total|grand\s+total|vat)\b",
    re.IGNORECASE,
)
_LETTERS_RE = re.compile(r"^[A-Za-z]{1,3}$")
# r="..." with no leading \s: a literal prefix makes the scan several times faster, and any other
# attribute ending in "r" can only make the extent look larger, never hide a cell.
_ROW_REF_RE = re.compile(rb'r="[A-Z]*(\d+)"')
_WIDE_COLUMN_RE = re.compile(rb'r="([A-Z]{2,})\d')
_REF_RE = re.compile(rb'(?:^|\s)r="([A-Z]{1,3})(\d+)"')
_FORMULA_CELL_RE = re.compile(
    rb"<(?:\w+:)?c\b([^>]*)>\s*<(?:\w+:)?f\b[^>]*?(?:/>|>.*?</(?:\w+:)?f>)\s*"
    rb"(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>)?",
    re.S,
)
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


@dataclass
class SchedulePreview:
    """What the importer detected in a schedule, for a page where the user corrects the mapping."""

    sheet_names: list[str]
    sheet: str  # the sheet shown ("" for CSV)
    header_row: int | None  # 1-based; None when no header row was found
    headers: list[tuple[str, str]]  # (column letter, header text) of the header row
    mapping: dict[str, str]  # field -> column letter
    rows: list[list[str]]  # the first data rows, as texts
    row_numbers: list[int] = field(default_factory=list)  # 1-based number of each of `rows`
    problem: str = ""  # why no schedule was detected, when so


@dataclass
class _Grid:
    """One sheet (or the CSV file): its rows from row 1, and what the XML told us about it."""

    where: str  # "schedule.xlsx, sheet 'BPU'" or "schedule.csv"
    name: str
    rows: Iterator[Sequence[Any]]
    total_rows: int
    first_column: int = 0  # 0-based column of each row's first value
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    formula_gaps: set[tuple[int, int]] = field(default_factory=set)  # (row, column), 1-based / 0-based
    head: list[Sequence[Any]] = field(default_factory=list)

    def read_head(self) -> list[Sequence[Any]]:
        if not self.head:
            self.head = list(islice(self.rows, HEADER_SCAN_ROWS))
            self.rows = chain(self.head, self.rows)
        return self.head


@dataclass
class _Layout:
    header_row: int  # 1-based, 0 when the data starts at row 1
    columns: dict[str, int]  # field -> 0-based absolute column
    headers: dict[int, str]  # 0-based absolute column -> header text


@dataclass
class _Result:
    lines: list[CanonicalLine] = field(default_factory=list)
    lots: dict[str, str] = field(default_factory=dict)  # lot id -> title
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    done_rows: int = 0

    def error(self, where: str, message: str) -> None:
        if len(self.errors) <= MAX_ERRORS:
            self.errors.append(Problem(where, message))

    def warn(self, where: str, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(Problem(where, message))
        elif len(self.warnings) == MAX_WARNINGS:
            self.warnings.append(Problem("", "more warnings were left out"))


class _CellError(Exception):
    """A cell that cannot be read; the message is shown with the cell's position."""


# ---------------------------------------------------------------- public entry points


def parse(
    data: bytes,
    *,
    source: str,
    progress: ProgressCallback | None = None,
    fmt: str = "xlsx",
    mapping: dict[str, str] | None = None,
    header_row: int | None = None,
    sheet: str | None = None,
    default_lot: str | None = None,
    **_: Any,
) -> list[CanonicalTender]:
    """One tender holding the schedule's priced lines and the lots it names."""
    _check_mapping_fields(mapping, source)
    grids = open_grids(data, source=source, fmt=fmt, sheet=sheet)
    schedules, skipped = _find_schedules(grids, mapping=mapping, header_row=header_row, explicit=bool(sheet))
    sheet_lots = fmt == "xlsx" and len(schedules) > 1
    total = sum(grid.total_rows for grid, _ in schedules)
    result = _Result()
    for problem in skipped:
        result.warn(problem.where, f"sheet left out: {problem.message}")
    for grid, layout in schedules:
        lot_of_sheet = grid.name if sheet_lots else None
        _read_lines(grid, layout, result, fallback_lot=lot_of_sheet or default_lot, progress=progress, total=total)
        if lot_of_sheet and any(line.lot_source_id == lot_of_sheet for line in result.lines):
            result.lots.setdefault(lot_of_sheet, lot_of_sheet)
    if result.errors:
        problems = result.errors[:MAX_ERRORS]
        if len(result.errors) > MAX_ERRORS:
            problems.append(Problem(source, f"more than {MAX_ERRORS} errors: fix these and import again"))
        raise ImportFailed(problems)
    if progress:
        progress(total, total)
    return [_tender(source, fmt, result)]


def inspect(
    data: bytes, *, source: str, fmt: str = "xlsx", sheet: str | None = None, header_row: int | None = None
) -> SchedulePreview:
    """The detected sheet, header row, column mapping and first rows, without importing."""
    grids = open_grids(data, source=source, fmt=fmt, sheet=sheet)
    sheet_names = [grid.name for grid in grids] if fmt == "xlsx" else []
    chosen, layout, problem = grids[0], None, ""
    for grid in grids:
        found = _layout(grid, mapping=None, header_row=header_row)
        if isinstance(found, _Layout):
            chosen, layout = grid, found
            break
        problem = problem or str(found)
    return _preview(chosen, layout, sheet_names, problem)


@dataclass(frozen=True)
class SheetLayout:
    """Where a sheet's schedule sits: its header row (1-based; 0 when the data starts at row 1) and
    the column letter of each field (FIELDS) found in it."""

    header_row: int
    columns: dict[str, str]


def schedule_layouts(
    content: bytes,
    filename: str,
    *,
    sheet: str = "",
    header_row: int | None = None,
    mapping: dict[str, str] | None = None,
) -> dict[str, SheetLayout]:
    """Sheet name ("" for CSV) -> layout, for every sheet `parse` reads a schedule from with the same
    options: the same checks and the same detection, so a line's `source_sheet`/`source_row` and these
    columns point at its cells. Raises ImportFailed as `parse` would."""
    _check_mapping_fields(mapping, filename)
    fmt = "xlsx" if content[:4] == b"PK\x03\x04" else "csv"
    grids = open_grids(content, source=filename, fmt=fmt, sheet=sheet or None)
    schedules, _skipped = _find_schedules(grids, mapping=mapping, header_row=header_row, explicit=bool(sheet))
    return {
        grid.name: SheetLayout(
            layout.header_row, {name: _column_letter(column) for name, column in layout.columns.items()}
        )
        for grid, layout in schedules
    }


# ---------------------------------------------------------------- opening the file


def open_grids(data: bytes, *, source: str, fmt: str, sheet: str | None) -> list[_Grid]:
    if fmt == "csv":
        return [_csv_grid(data, source)]
    if fmt != "xlsx":
        raise ImportFailed(f"unsupported schedule format {fmt!r} (expected xlsx or csv)", where=source)
    return _xlsx_grids(data, source, sheet)


# What a damaged zip or workbook raises while it is read: a bad CRC or offset (BadZipFile, ValueError "negative
# seek value"), a truncated stream, an unknown compression method (NotImplementedError), an encrypted entry
# (RuntimeError), broken XML (ParseError; defusedxml's refusals are ValueErrors).
_DAMAGED = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError, CalamineError,
    ParseError,
)  # fmt: skip


def _xlsx_grids(data: bytes, source: str, sheet: str | None) -> list[_Grid]:
    archive = open_zip(data, source)
    try:
        parts = sheet_parts(archive, source)
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except _DAMAGED as exc:
        raise ImportFailed(f"not a valid XLSX file ({exc})", where=source) from None
    names = _worksheet_names(workbook, selected=sheet)
    if sheet is not None and sheet not in names:
        listed = ", ".join(repr(name) for name in _worksheet_names(workbook, selected=None)) or "none"
        raise ImportFailed(f"no sheet named {sheet!r} (sheets: {listed})", where=source)
    if not names:
        raise ImportFailed("the workbook has no worksheet", where=source)
    return [_xlsx_grid(archive, workbook, name, parts.get(name), source) for name in names]


def open_zip(data: bytes, source: str) -> zipfile.ZipFile:
    if data[:4] != b"PK\x03\x04":
        raise ImportFailed("not a valid XLSX file (not a zip archive)", where=source)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
        raise ImportFailed("not a valid XLSX file (corrupt zip)", where=source) from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ImportFailed(f"not a valid XLSX file (more than {MAX_ZIP_ENTRIES:,} zip entries)", where=source)
    if sum(entry.file_size for entry in entries) > MAX_TOTAL_UNCOMPRESSED:
        raise ImportFailed("file expands too much: possible zip bomb (over 300 MB uncompressed)", where=source)
    for entry in entries:
        if entry.file_size > MAX_ENTRY_UNCOMPRESSED:
            raise ImportFailed(f"file expands too much: possible zip bomb ({entry.filename} over 100 MB)", where=source)
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > RATIO_CHECK_FROM and ratio > MAX_RATIO:
            raise ImportFailed(
                f"file expands too much: possible zip bomb ({entry.filename} compressed {ratio:.0f}:1)",
                where=source,
            )
    return archive


def sheet_parts(archive: zipfile.ZipFile, source: str) -> dict[str, str]:
    """Sheet name -> zip entry of its XML, after refusing any XML part with a DOCTYPE."""
    for entry in archive.infolist():
        if entry.filename.lower().endswith((".xml", ".rels", ".vml")):
            _refuse_doctype(archive, entry, source)
    workbook_path = _office_document_path(archive)
    if workbook_path not in archive.namelist():
        raise ImportFailed("not a valid XLSX file (no workbook inside the zip)", where=source)
    folder = workbook_path.rpartition("/")[0]
    rels_path = f"{folder}/_rels/{workbook_path.rpartition('/')[2]}.rels"
    targets = _relationship_targets(archive, rels_path, folder)
    root = _xml(archive, workbook_path)
    parts = {}
    for sheet in root.iter(f"{_NS_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_NS_REL}id", ""))
        if target:
            parts[sheet.get("name", "")] = target
    return parts


def _refuse_doctype(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, source: str) -> None:
    """Read an XML part up to its root element and refuse a DOCTYPE or entity declaration."""
    with archive.open(entry) as stream:
        head = stream.read(MAX_PROLOG_BYTES)
    prolog = _prolog(head)
    if prolog is None or b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
        raise ImportFailed(f"XML with a DOCTYPE or entity declarations is refused ({entry.filename})", where=source)


def _prolog(head: bytes) -> bytes | None:
    """The bytes before the root element, or None when they do not fit in `head`."""
    position = 0
    while True:
        start = head.find(b"<", position)
        if start < 0:
            return None if len(head) >= MAX_PROLOG_BYTES else head
        if head.startswith(b"<?", start):
            end, closing = head.find(b"?>", start), 2
        elif head.startswith(b"<!--", start):
            end, closing = head.find(b"-->", start), 3
        elif head.startswith(b"<!", start):
            return head  # a DOCTYPE: the caller refuses it
        else:
            return head[:start]
        if end < 0:
            return None
        position = end + closing


def _office_document_path(archive: zipfile.ZipFile) -> str:
    if "_rels/.rels" in archive.namelist():
        for relation in _xml(archive, "_rels/.rels").iter(f"{_NS_PKG_REL}Relationship"):
            if relation.get("Type", "").endswith("/officeDocument"):
                return relation.get("Target", "").lstrip("/")
    return "xl/workbook.xml"


def _relationship_targets(archive: zipfile.ZipFile, rels_path: str, folder: str) -> dict[str, str]:
    if rels_path not in archive.namelist():
        return {}
    targets = {}
    for relation in _xml(archive, rels_path).iter(f"{_NS_PKG_REL}Relationship"):
        target = relation.get("Target", "")
        targets[relation.get("Id", "")] = target.lstrip("/") if target.startswith("/") else f"{folder}/{target}"
    return targets


def _xml(archive: zipfile.ZipFile, path: str) -> Element:
    return SafeET.fromstring(archive.read(path), forbid_dtd=True)


def _worksheet_names(workbook: CalamineWorkbook, *, selected: str | None) -> list[str]:
    names = []
    for meta in workbook.sheets_metadata:
        if meta.typ != SheetTypeEnum.WorkSheet:
            continue
        if selected is None and meta.visible != SheetVisibleEnum.Visible:
            continue
        if selected is None or meta.name == selected:
            names.append(meta.name)
    return names


def _xlsx_grid(archive: zipfile.ZipFile, workbook: CalamineWorkbook, name: str, part: str | None, source: str) -> _Grid:
    where = f"{source}, sheet {name!r}"
    gaps: set[tuple[int, int]] = set()
    if part is not None and part in archive.namelist():
        try:
            xml = archive.read(part)
        except _DAMAGED as exc:
            raise ImportFailed(f"not a valid XLSX file ({exc})", where=where) from None
        check_extent(xml, where)
        gaps = _formula_gaps(xml, where)
    try:
        sheet = workbook.get_sheet_by_name(name)
        merged = sheet.merged_cell_ranges or []
    except CalamineError as exc:
        raise ImportFailed(f"cannot read the sheet ({exc})", where=where) from None
    start, end = sheet.start, sheet.end
    if start is None or end is None:
        return _Grid(where, name, iter(()), 0)
    return _Grid(where, name, sheet.iter_rows(), end[0] + 1, start[1], list(merged), gaps)


def check_extent(xml: bytes, where: str) -> None:
    """Refuse a sheet too large for memory, measured from its cell references."""
    rows = _ROW_REF_RE.findall(xml)
    last_row = max(map(int, set(rows))) if rows else 0
    wide = set(_WIDE_COLUMN_RE.findall(xml)) if _WIDE_COLUMN_RE.search(xml) else set()
    last_column = max((_column_index(letters.decode()) + 1 for letters in wide), default=26)
    if last_row > MAX_ROWS:
        raise ImportFailed(f"the sheet has {last_row:,} rows (at most {MAX_ROWS:,})", where=where)
    if last_column > MAX_COLUMNS:
        raise ImportFailed(f"the sheet has {last_column:,} columns (at most {MAX_COLUMNS})", where=where)
    if last_row * last_column > MAX_SHEET_CELLS:
        raise ImportFailed(
            f"the sheet spans {last_row:,} rows x {last_column} columns, more than {MAX_SHEET_CELLS:,} cells",
            where=where,
        )


def _formula_gaps(xml: bytes, where: str) -> set[tuple[int, int]]:
    """Cells holding a formula whose computed value was never stored (files written by libraries)."""
    if b"<f" not in xml and b":f>" not in xml and b":f " not in xml:
        return set()
    gaps = set()
    for match in _FORMULA_CELL_RE.finditer(xml):
        value = match.group(2)
        if value is not None and value.strip():
            continue
        ref = _REF_RE.search(match.group(1))
        if ref is None:
            raise ImportFailed("a formula without a computed value, in a cell without a reference", where=where)
        gaps.add((int(ref.group(2)), _column_index(ref.group(1).decode())))
    return gaps


def _csv_grid(data: bytes, source: str) -> _Grid:
    text = _decode(data)
    if not text.strip():
        raise ImportFailed("the file is empty", where=source)
    sample = text[:65536]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=";,\t").delimiter
    except csv.Error:
        delimiter = max(";,\t", key=sample.count)
    line_count = text.count("\n") + 1
    if line_count > MAX_ROWS:
        raise ImportFailed(f"the file has {line_count:,} lines (at most {MAX_ROWS:,})", where=source)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return _Grid(source, "", _bounded_csv_rows(reader, source), line_count)


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _bounded_csv_rows(reader: Iterable[list[str]], source: str) -> Iterator[list[str]]:
    try:
        for number, row in enumerate(reader, start=1):
            if len(row) > MAX_COLUMNS:
                raise ImportFailed(f"{len(row)} columns (at most {MAX_COLUMNS})", where=f"{source}, row {number}")
            yield row
    except csv.Error as exc:
        raise ImportFailed(f"not a valid CSV file ({exc})", where=source) from None


# ---------------------------------------------------------------- header and mapping


def _find_schedules(
    grids: list[_Grid], *, mapping: dict[str, str] | None, header_row: int | None, explicit: bool
) -> tuple[list[tuple[_Grid, _Layout]], list[Problem]]:
    """The sheets holding a schedule, and why the other non-empty sheets were left out."""
    schedules, problems, empty = [], [], []
    for grid in grids:
        if not any(any(_filled(value) for value in row) for row in grid.read_head()):
            empty.append(grid)
            continue
        found = _layout(grid, mapping=mapping, header_row=header_row)
        if isinstance(found, Problem):
            problems.append(found)
        else:
            schedules.append((grid, found))
    if schedules and (not problems or not explicit):
        return schedules, problems
    if problems:
        raise ImportFailed(problems)
    where = grids[0].where if len(grids) == 1 else grids[0].where.partition(",")[0]
    raise ImportFailed("the file is empty" if len(grids) == 1 else "every sheet is empty", where=where)


def _layout(grid: _Grid, *, mapping: dict[str, str] | None, header_row: int | None) -> _Layout | Problem:
    head = grid.read_head()
    mapping = mapping or {}
    wanted_texts = {normalise(value): name for name, value in mapping.items() if value and not _is_letters(value)}
    if header_row is None:
        header_row = _detect_header_row(head, grid.first_column, wanted_texts)
        if header_row is None:
            return Problem(grid.where, f"no header row found in the first {HEADER_SCAN_ROWS} rows ({NO_HEADER_HINT})")
    headers = _header_texts(grid, head, header_row)
    columns = _first_column_per_field(headers)
    for name, value in mapping.items():
        if not value:
            columns.pop(name, None)
            continue
        column = _resolve_column(value, headers)
        if column is None:
            return Problem(grid.where, f"mapping of {name}: no column {value!r} in the header row {header_row}")
        columns[name] = column
    if "designation" not in columns:
        where = f"{grid.where}, row {header_row}" if header_row else grid.where
        return Problem(where, "no designation column found (expected Désignation, Libellé, Description...)")
    return _Layout(header_row, columns, headers)


def _detect_header_row(head: list[Sequence[Any]], first_column: int, wanted_texts: dict[str, str]) -> int | None:
    best_row, best_score = None, 1
    for index, row in enumerate(head):
        found = set()
        for value in row:
            if isinstance(value, str) and value.strip():
                normal = normalise(value)
                name = wanted_texts.get(normal) or _classify_normal(normal)
                if name:
                    found.add(name)
        if len(found) > best_score and ("designation" in found or "designation" not in wanted_texts.values()):
            best_row, best_score = index + 1, len(found)
    return best_row


def _header_texts(grid: _Grid, head: list[Sequence[Any]], header_row: int) -> dict[int, str]:
    if header_row < 1 or header_row > len(head):
        return {}
    return {
        grid.first_column + index: _cell_text(value)
        for index, value in enumerate(head[header_row - 1])
        if _filled(value)
    }


def _first_column_per_field(headers: dict[int, str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for column, text in sorted(headers.items()):
        name = _classify(text)
        if name and name not in columns:
            columns[name] = column
    return columns


def _resolve_column(value: str, headers: dict[int, str]) -> int | None:
    wanted = normalise(value)
    for column, text in headers.items():
        if normalise(text) == wanted:
            return column
    return _column_index(value) if _is_letters(value) else None


def _classify(text: str) -> str | None:
    return _classify_normal(normalise(text)) if len(text) <= 80 else None


def _classify_normal(normal: str) -> str | None:
    if not normal or len(normal) > 80:
        return None
    for name, keywords in _HEADER_KEYWORDS:
        for keyword in keywords:
            if normal == keyword or (keyword not in _EXACT_ONLY and normal.startswith(keyword + " ")):
                return name
    return None


def normalise(text: str) -> str:
    text = text.replace("°", "o").replace("º", "o").replace("€", " ")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _check_mapping_fields(mapping: dict[str, str] | None, source: str) -> None:
    unknown = sorted(set(mapping or {}) - set(FIELDS))
    if unknown:
        raise ImportFailed(
            f"unknown mapping field(s) {', '.join(unknown)} (expected {', '.join(FIELDS)})", where=source
        )


# ---------------------------------------------------------------- rows


def _read_lines(
    grid: _Grid,
    layout: _Layout,
    result: _Result,
    *,
    fallback_lot: str | None,
    progress: ProgressCallback | None,
    total: int,
) -> None:
    """One pass over the rows below the header: lines, sections, totals and errors."""
    first = grid.first_column
    index = {name: layout.columns.get(name, _MISSING + first) - first for name in FIELDS}
    index = {name: position if position >= 0 else _MISSING for name, position in index.items()}
    i_code, i_des, i_unit = index["code"], index["designation"], index["unit"]
    i_qty, i_price, i_amount = index["quantity"], index["unit_price"], index["amount"]
    i_lot, i_cpv = index["lot"], index["cpv"]
    blocks = _merged_blocks(grid, layout) if grid.merged else ({}, {})
    has_blocks = bool(blocks[0])
    remembered: dict[tuple[int, int], Any] = {}
    gap_rows = {row for row, _ in grid.formula_gaps}
    section = ""
    done_before = result.done_rows
    for number, row in enumerate(grid.rows, start=1):
        if number % PROGRESS_EVERY == 0 and progress:
            progress(done_before + number, total)
        if has_blocks:
            row = _fill_merged(row, number, first, blocks, remembered)
        if number <= layout.header_row:
            continue
        width = len(row)
        designation = row[i_des] if i_des < width else ""
        quantity = row[i_qty] if i_qty < width else ""
        price = row[i_price] if i_price < width else ""
        amount = row[i_amount] if i_amount < width else ""
        unit = row[i_unit] if i_unit < width else ""
        code = row[i_code] if i_code < width else ""
        lot = row[i_lot] if i_lot < width else ""
        if number in gap_rows and _formula_gap_problems(grid, layout, result, number):
            continue
        try:
            designation = _text(designation)
            unit = unit.strip() if type(unit) is str and len(unit) < 40 and unit.isprintable() else _text(unit)
        except _CellError as exc:
            result.error(f"{grid.where}, row {number}", str(exc))
            continue
        if not designation and not unit and not _filled(quantity) and not _filled(price):
            section = _row_without_designation(grid, number, result, section, code, lot, amount)
            continue
        if _TOTAL_RE.match(designation) or (type(code) is str and _TOTAL_RE.match(code)):
            result.warn(f"{grid.where}, row {number}", f"totals row skipped: {designation or code!r}")
            continue
        if not designation:
            result.error(f"{grid.where}, row {number}", "a quantity, price or unit without a designation")
            continue
        if not unit and not _filled(quantity) and not _filled(price) and not _filled(amount):
            section = designation
            _remember_lot_title(result, lot, designation)
            continue
        cpv = row[i_cpv] if i_cpv < width else ""
        line = _line(grid, layout, result, number, designation, unit, quantity, price, amount, code, lot, cpv)
        if line is None:
            continue
        line.section = section
        if line.lot_source_id is None:
            line.lot_source_id = fallback_lot
        else:
            result.lots.setdefault(line.lot_source_id, line.lot_source_id)
        result.lines.append(line)
    result.done_rows = done_before + grid.total_rows


def _line(
    grid: _Grid,
    layout: _Layout,
    result: _Result,
    number: int,
    designation: str,
    unit: str,
    quantity: Any,
    price: Any,
    amount: Any,
    code: Any,
    lot: Any,
    cpv: Any,
) -> CanonicalLine | None:
    """The line of one priced row, or None after recording its errors."""
    numbers: list[Decimal | None] = []
    for name, value in (("quantity", quantity), ("unit_price", price)):
        try:
            numbers.append(None if value == "" else _decimal(value))
        except _CellError as exc:
            result.error(_cell_where(grid, layout, number, name), str(exc))
    if len(numbers) < 2:
        return None
    try:
        line = CanonicalLine(
            designation=designation,
            lot_source_id=_lot_id(lot),
            code=_label(code),
            unit=unit,
            quantity=numbers[0],
            unit_price=numbers[1],
            cpv=_cpv(cpv, grid, layout, number, result),
            source_row=number,
            source_sheet=grid.name,
        )
    except _CellError as exc:
        result.error(f"{grid.where}, row {number}", str(exc))
        return None
    if amount != "" and amount is not None:
        _check_amount(grid, layout, result, number, line, amount)
    return line


def _row_without_designation(
    grid: _Grid, number: int, result: _Result, section: str, code: Any, lot: Any, amount: Any
) -> str:
    """A row with no designation, quantity, price or unit: empty, a heading in another column, or a total."""
    try:
        code_text, lot_text = _label(code), _label(lot)
    except _CellError as exc:
        result.error(f"{grid.where}, row {number}", str(exc))
        return section
    label = code_text or lot_text
    if label and _TOTAL_RE.match(label):
        result.warn(f"{grid.where}, row {number}", f"totals row skipped: {label!r}")
        return section
    if _filled(amount):
        result.warn(f"{grid.where}, row {number}", "an amount without a designation, skipped as a total")
        return section
    heading = code_text or (lot_text if " " in lot_text else "")
    return heading or section


def _formula_gap_problems(grid: _Grid, layout: _Layout, result: _Result, number: int) -> bool:
    """Record the formulas without a value in this row's mapped columns; True when one is an error."""
    failed = False
    for name, column in layout.columns.items():
        if (number, column) not in grid.formula_gaps:
            continue
        where = _cell_where(grid, layout, number, name)
        if name == "amount":
            result.warn(where, "formula without a computed value (the amount is not checked)")
        else:
            result.error(where, "formula without a computed value: open and save the file in a spreadsheet program")
            failed = True
    return failed


def _merged_blocks(grid: _Grid, layout: _Layout) -> tuple[dict[int, list[int]], dict[int, list[tuple[int, int]]]]:
    """Vertically merged cells of the lot, code, unit and CPV columns.

    Returns the top rows with the columns to remember, and each covered row with its
    (column, top row) pairs to fill from.
    """
    wanted = {layout.columns[name] for name in _FILLED_FIELDS if name in layout.columns}
    tops: dict[int, list[int]] = {}
    covered: dict[int, list[tuple[int, int]]] = {}
    for (top, left), (bottom, _right) in grid.merged:
        if bottom > top and left in wanted:
            tops.setdefault(top + 1, []).append(left)
            for number in range(top + 2, bottom + 2):
                covered.setdefault(number, []).append((left, top + 1))
    return tops, covered


def _fill_merged(
    row: Sequence[Any],
    number: int,
    first: int,
    blocks: tuple[dict[int, list[int]], dict[int, list[tuple[int, int]]]],
    remembered: dict[tuple[int, int], Any],
) -> Sequence[Any]:
    tops, covered = blocks
    for column in tops.get(number, ()):
        remembered[(column, number)] = row[column - first] if 0 <= column - first < len(row) else ""
    if number not in covered:
        return row
    filled = list(row)
    for column, top in covered[number]:
        if 0 <= column - first < len(filled):
            filled[column - first] = remembered.get((column, top), "")
    return filled


def _remember_lot_title(result: _Result, lot: Any, heading: str) -> None:
    """A heading row "Lot 2 — Support Nextcloud" naming a lot gives that lot its title."""
    try:
        lot_id = _lot_id(lot)
    except _CellError:
        return
    if lot_id and heading.lower().startswith("lot") and result.lots.get(lot_id, lot_id) == lot_id:
        result.lots[lot_id] = heading


def _check_amount(grid: _Grid, layout: _Layout, result: _Result, number: int, line: CanonicalLine, raw: Any) -> None:
    """Warn when the schedule's own line amount disagrees with quantity x unit price.

    The amount is never stored, so a float comparison is enough when Excel gave floats; only a
    disagreement is worth the exact Decimal arithmetic.
    """
    if line.quantity is None or line.unit_price is None:
        return
    if type(raw) is float and abs(float(line.quantity) * float(line.unit_price) - raw) < 0.005:
        return
    try:
        amount = _decimal(raw)
    except _CellError as exc:
        result.error(_cell_where(grid, layout, number, "amount"), str(exc))
        return
    if amount is None:
        return
    expected = line.quantity * line.unit_price
    if abs(expected - amount) > Decimal("0.01"):
        result.warn(
            _cell_where(grid, layout, number, "amount"),
            f"amount {amount} differs from quantity x unit price ({expected})",
        )


# ---------------------------------------------------------------- cells


def _filled(value: Any) -> bool:
    return value is not None and value != "" and not (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    """A cell as clean text; the fast path avoids clean_text's work for plain short texts."""
    if type(value) is str:
        if len(value) <= MAX_TEXT_CHARS and value.isprintable() and "  " not in value:
            return value.strip()
        try:
            return clean_text(value, where="")
        except ImportFailed as exc:
            raise _CellError(exc.problems[0].message) from None
    return _cell_text(value)


def _label(value: Any) -> str:
    if type(value) is str and len(value) < 100 and value.isprintable() and "  " not in value:
        return value.strip()
    if type(value) is float and value.is_integer():
        return str(int(value))
    return _text(value)


def _lot_id(value: Any) -> str | None:
    return _label(value) or None


def _cpv(value: Any, grid: _Grid, layout: _Layout, number: int, result: _Result) -> str:
    text = _label(value)
    if not text:
        return ""
    code = normalise_cpv(text)
    if code is None:
        result.warn(_cell_where(grid, layout, number, "cpv"), f"not a CPV code: {text[:40]!r}")
    return code or ""


def _decimal(value: Any) -> Decimal | None:
    kind = type(value)
    if kind is float:
        if not -1e15 < value < 1e15 or (value and abs(value) < 1e-10):
            raise _CellError(f"number out of range: {value!r}")
        if value.is_integer():
            return Decimal(int(value))
        return Decimal(format(value, ".15g"))  # Excel keeps 15 significant digits
    if kind is str or kind is int:
        try:
            return parse_amount(value, where="")
        except ImportFailed as exc:
            raise _CellError(exc.problems[0].message) from None
    if value is None:
        return None
    raise _CellError(f"not a number: {_cell_text(value)[:40]!r}")


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _cell_where(grid: _Grid, layout: _Layout, number: int, name: str) -> str:
    column = layout.columns[name]
    header = layout.headers.get(column) or FIELD_LABELS[name]
    return f"{grid.where}, row {number}, column {_column_letter(column)} ({header})"


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - 64
    return index - 1


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _is_letters(value: str) -> bool:
    return bool(_LETTERS_RE.match(value.strip()))


# ---------------------------------------------------------------- results


def _tender(source: str, fmt: str, result: _Result) -> CanonicalTender:
    title = source.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    title = title.rsplit(".", 1)[0] if "." in title else title
    return CanonicalTender(
        source_format=fmt,
        title=title,
        lots=[CanonicalLot(source_id=lot_id, title=title) for lot_id, title in result.lots.items()],
        lines=result.lines,
        warnings=result.warnings,
    )


def _preview(grid: _Grid, layout: _Layout | None, sheet_names: list[str], problem: str) -> SchedulePreview:
    start = layout.header_row if layout else 0
    rows: list[list[str]] = []
    numbers: list[int] = []
    for number, row in enumerate(grid.rows, start=1):
        if len(rows) == PREVIEW_ROWS:
            break
        if number <= start:
            continue
        if any(_filled(value) for value in row):
            rows.append([_safe_text(value) for value in row])
            numbers.append(number)
    return SchedulePreview(
        sheet_names=sheet_names,
        sheet=grid.name,
        header_row=layout.header_row if layout else None,
        headers=[(_column_letter(column), text) for column, text in sorted((layout.headers if layout else {}).items())],
        mapping={name: _column_letter(column) for name, column in (layout.columns if layout else {}).items()},
        rows=rows,
        row_numbers=numbers,
        problem=problem,
    )


def _safe_text(value: Any) -> str:
    try:
        return _cell_text(value)
    except _CellError as exc:
        return f"<{exc}>"
