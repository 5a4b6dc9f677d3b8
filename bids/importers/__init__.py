"""One entry point for every tender format: detect the format, then parse to canonical tenders.

Each format lives in its own module exposing::

    FORMAT: str
    def parse(data: bytes, *, source: str, progress: ProgressCallback | None = None,
              **options) -> list[CanonicalTender]

`source` is the file name used in error messages. A module raises `ImportFailed` with the
problems it found, naming the element, field, sheet or row.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from .base import CanonicalTender, ImportFailed, ProgressCallback

FORMATS = ("eforms", "ocds", "ted", "xlsx", "csv")
_MODULES = {"eforms": "eforms", "ocds": "ocds", "ted": "ted", "xlsx": "spreadsheet", "csv": "spreadsheet"}
SCHEDULE_FORMATS = ("xlsx", "csv")

_EFORMS_ROOTS = {"ContractNotice", "PriorInformationNotice", "ContractAwardNotice"}
_ROOT_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]")


def _xml_root_name(head: bytes) -> str | None:
    text = re.sub(rb"<\?.*?\?>|<!--.*?-->", b"", head, flags=re.S)
    if b"<!DOCTYPE" in text[:2048] or b"<!ENTITY" in text[:4096]:
        return "!DOCTYPE"
    match = _ROOT_RE.search(text)
    return match.group(1).decode("ascii", "replace") if match else None


def detect_format(data: bytes, *, source: str = "") -> str:
    """The format of `data`, from its content first and its file name last."""
    if not data.strip():
        raise ImportFailed("the file is empty", where=source)
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFailed("old Excel .xls files are not supported: save it as .xlsx", where=source)
    head = data[:8192].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        return "ocds"
    if head[:1] == b"<":
        root = _xml_root_name(head)
        if root == "TED_EXPORT":
            return "ted"
        if root in _EFORMS_ROOTS:
            return "eforms"
        if root == "!DOCTYPE":
            raise ImportFailed("XML with a DOCTYPE or entity declarations is refused", where=source)
        raise ImportFailed(f"unknown XML notice (root element {root!r})", where=source)
    if data[:5] == b"%PDF-":
        raise ImportFailed("this is a PDF, not a notice or a price schedule", where=source)
    if source.lower().endswith((".csv", ".txt")) or b";" in head or b"," in head or b"\t" in head:
        return "csv"
    raise ImportFailed("unrecognised file format (expected eForms or TED XML, OCDS JSON, XLSX or CSV)", where=source)


def parse(
    data: bytes,
    *,
    source: str,
    fmt: str = "auto",
    progress: ProgressCallback | None = None,
    **options: Any,
) -> tuple[str, list[CanonicalTender]]:
    """Parse `data` as `fmt` (or the detected format); returns the format and the tenders."""
    if fmt == "auto":
        fmt = detect_format(data, source=source)
    elif fmt not in FORMATS:
        raise ImportFailed(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", where=source)
    elif not data.strip():
        raise ImportFailed("the file is empty", where=source)
    module = importlib.import_module(f"{__name__}.{_MODULES[fmt]}")
    if fmt in SCHEDULE_FORMATS:
        options["fmt"] = fmt
    tenders: list[CanonicalTender] = module.parse(data, source=source, progress=progress, **options)
    return fmt, tenders


__all__ = ["FORMATS", "SCHEDULE_FORMATS", "CanonicalTender", "ImportFailed", "detect_format", "parse"]
