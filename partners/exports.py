"""The firm directory as a spreadsheet: rows come from selectors.directory_rows; this module only writes them."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A spreadsheet reads a cell starting with one of these as a formula (CSV/XLSX injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if not isinstance(value, str):  # numbers, dates, None
        return WriteOnlyCell(sheet, value=value)
    cell = WriteOnlyCell(sheet, value=value)
    if value.startswith(FORMULA_STARTS):
        cell.data_type = "s"  # a plain string cell, never evaluated
        cell.quotePrefix = True  # and it stays text if someone edits it in Excel
    return cell


def directory_xlsx(rows: Iterable[list[Any]], *, today: dt.date) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of the directory export: the header row, then one row per firm."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Entreprises")
    for row in rows:
        sheet.append([safe_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return f"entreprises-partenaires-{today:%Y-%m-%d}.xlsx", XLSX, buffer.getvalue()
