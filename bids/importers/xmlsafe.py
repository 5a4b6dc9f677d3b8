"""The one hardened XML parser every importer uses, and XML value helpers.

Untrusted notices never get a DTD: a DOCTYPE or an entity declaration is refused before and
after parsing, entities are never expanded, and the parser never opens a file or a socket.
Every lxml failure becomes an `ImportFailed` naming the file and the line.
"""

from __future__ import annotations

import re
from decimal import Decimal

from lxml import etree

from .base import ImportFailed
from .common import parse_amount

MAX_XML_BYTES = 32 * 1024 * 1024  # the largest real notice is under 3 MB

_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARATION_RE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# UTF-16/32 (with or without a BOM) would hide a DOCTYPE from the byte scan below.
_NON_ASCII_COMPATIBLE_STARTS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"<\x00", b"\x00<")
_XS_DECIMAL_RE = re.compile(r"^\+?(?:\d+(?:\.\d*)?|\.\d+)$", re.ASCII)


def hardened_parser() -> etree.XMLParser:
    """A new lxml parser with entities, DTDs and network access switched off.

    One per call: lxml parsers keep state between documents and are not for sharing across threads.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,  # keeps libxml2's limits on depth and text size
        recover=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_xml(data: bytes, *, source: str) -> etree._Element:
    """Parse untrusted XML bytes into their root element, or fail with where and why."""
    if not isinstance(data, bytes | bytearray):
        raise ImportFailed("expected the file's bytes", where=source)
    data = bytes(data)
    _refuse_before_parsing(data, source=source)
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as error:
        raise ImportFailed(_describe(error), where=_line_where(source, error)) from None
    except (etree.LxmlError, ValueError) as error:
        raise ImportFailed(f"not well-formed XML ({error})", where=source) from None
    if root is None:
        raise ImportFailed("no XML root element", where=source)
    _refuse_after_parsing(root, source=source)
    return root


def _refuse_before_parsing(data: bytes, *, source: str) -> None:
    if not data.removeprefix(_UTF8_BOM).strip():
        raise ImportFailed("the file is empty", where=source)
    if len(data) > MAX_XML_BYTES:
        raise ImportFailed(f"file larger than {MAX_XML_BYTES // (1024 * 1024)} MB", where=source)
    if data.startswith(_NON_ASCII_COMPATIBLE_STARTS):
        raise ImportFailed("only UTF-8 XML is accepted (this file looks like UTF-16 or UTF-32)", where=source)
    match = _DECLARATION_RE.search(data)
    if match:
        line = data.count(b"\n", 0, match.start()) + 1
        raise ImportFailed(
            "DOCTYPE and entity declarations are refused (they can read local files or expand without limit)",
            where=f"{source}, line {line}",
        )


def _refuse_after_parsing(root: etree._Element, *, source: str) -> None:
    # Defence in depth, should an encoding trick get a declaration past the byte scan.
    if root.getroottree().docinfo.internalDTD is not None:  # any DOCTYPE, with or without a subset
        raise ImportFailed("DOCTYPE and entity declarations are refused", where=source)
    entity = next(root.iter(etree.Entity), None)
    if entity is not None:
        raise ImportFailed(f"unexpanded entity {entity.text} refused", where=_element_where(source, entity))


def _line_where(source: str, error: etree.XMLSyntaxError) -> str:
    line = error.lineno or (error.position[0] if error.position else 0)
    return f"{source}, line {line}" if line else source


def _element_where(source: str, element: etree._Element) -> str:
    return f"{source}, line {element.sourceline}" if element.sourceline else source


def _describe(error: etree.XMLSyntaxError) -> str:
    detail = re.sub(r"\s*,\s*line \d+, column \d+\s*$", "", error.msg or str(error))
    detail = " ".join(detail.replace(", use XML_PARSE_HUGE option", "").split())
    lowered = detail.lower()
    if "excessive depth" in lowered:
        return f"XML nested too deeply ({detail})"
    if "amplification" in lowered or "entity" in lowered:
        return f"entities are refused ({detail})"
    if "premature end" in lowered or "document is empty" in lowered or "end of document" in lowered:
        return f"truncated or not well-formed XML ({detail})"
    return f"not well-formed XML ({detail})"


def element_text(element: etree._Element | None) -> str:
    """All the text inside `element` ("" when it is missing)."""
    if element is None:
        return ""
    return "".join(text for text in element.itertext() if isinstance(text, str))


def xs_decimal(raw: str | None, *, where: str) -> Decimal | None:
    """An exact, non-negative Decimal from an XML decimal ("1295520.00"); empty gives None.

    Stricter than `common.parse_amount`: XML decimals have no thousands separators or commas,
    so "1,234" is refused instead of being read as 1.234.
    """
    text = (raw or "").strip()
    if not text:
        return None
    if not _XS_DECIMAL_RE.match(text):
        raise ImportFailed(f"not a decimal amount: {text[:40]!r}", where=where)
    return parse_amount(text, where=where)


__all__ = ["MAX_XML_BYTES", "element_text", "hardened_parser", "parse_xml", "xs_decimal"]
