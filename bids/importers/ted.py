"""Legacy TED XML notices (TED_EXPORT, schema R2.0.9, standard forms F01 to F25).

A file holds one form per language. We read the ORIGINAL form in the notice's original language
(the first LG_ORIG that has one), else the first ORIGINAL, so the choice never depends on the
order of the forms: language versions can disagree (a lot's CPV in `22-104446`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from .base import (
    CanonicalBuyer,
    CanonicalLot,
    CanonicalTender,
    ImportFailed,
    Problem,
    ProgressCallback,
)
from .common import clean_text, normalise_cpv, unique
from .xmlsafe import element_text, parse_xml, xs_decimal

FORMAT = "ted"

TED_NS = "http://publications.europa.eu/resource/schema/ted/R2.0.9/publication"
NS = {"ted": TED_NS, "n2016": "http://publications.europa.eu/resource/schema/ted/2016/nuts"}
_NOTICE_DATA = "ted:CODED_DATA_SECTION/ted:NOTICE_DATA"

# TED dates and times are the buyer's local time with no offset.
DEFAULT_ZONE = "Europe/Brussels"
COUNTRY_ZONES = {
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "UK": "Europe/London",  # TED writes the United Kingdom "UK"
    "IE": "Europe/Dublin",
    "PT": "Europe/Lisbon",
    "CH": "Europe/Zurich",
    "BE": "Europe/Brussels",
    "DE": "Europe/Berlin",
    "FI": "Europe/Helsinki",
    "EE": "Europe/Tallinn",
    "LV": "Europe/Riga",
    "LT": "Europe/Vilnius",
    "BG": "Europe/Sofia",
    "RO": "Europe/Bucharest",
    "EL": "Europe/Athens",  # TED writes Greece "EL"
    "GR": "Europe/Athens",
    "CY": "Asia/Nicosia",
}

PROCEDURE_TYPES = {  # PROCEDURE/PT_* element -> the eForms code, so both importers agree
    "PT_OPEN": "open",
    "PT_RESTRICTED": "restricted",
    "PT_COMPETITIVE_NEGOTIATION": "neg-w-call",
    "PT_NEGOTIATED_WITH_PRIOR_CALL": "neg-w-call",
    "PT_COMPETITIVE_DIALOGUE": "comp-dial",
    "PT_INNOVATION_PARTNERSHIP": "innovation",
    "PT_AWARD_CONTRACT_WITHOUT_CALL": "neg-wo-call",
    "PT_NEGOTIATED_WITHOUT_PUBLICATION": "neg-wo-call",
}

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_WHOLE_NUMBER_RE = re.compile(r"^\d{1,6}$", re.ASCII)
_TED_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$", re.ASCII)


@dataclass
class _Context:
    source: str
    zone: ZoneInfo
    warnings: list[Problem] = field(default_factory=list)

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(Problem(where, message))


def parse(
    data: bytes, *, source: str, progress: ProgressCallback | None = None, **options: Any
) -> list[CanonicalTender]:
    """The one tender of a TED_EXPORT file; `ImportFailed` names the element when it is wrong."""
    root = parse_xml(data, source=source)
    _check_root(root, source=source)
    form = choose_form(root, source=source)
    where = f"{source}, {etree.QName(form).localname}[{form.get('LG', '')}]"
    buyers = _buyers(form, where)
    ctx = _Context(source=where, zone=_zone(buyers, root))
    contract = _one(form, "ted:OBJECT_CONTRACT", where)
    deadline = _deadline(form, ctx)
    tender = CanonicalTender(
        source_format=FORMAT,
        procedure_id=_procedure_id(root, contract, where),
        notice_id=(root.get("DOC_ID") or "").strip(),
        notice_type=(form.get("FORM") or etree.QName(form).localname.split("_")[0]).strip(),
        language=(form.get("LG") or "").strip().upper(),
        buyers=buyers,
        title=_paragraphs(contract, "ted:TITLE", where, separator=" "),
        description=_paragraphs(contract, "ted:SHORT_DESCR", where),
        nature=(_attribute(contract, "ted:TYPE_CONTRACT", "CTYPE")).lower(),
        procedure_type=_procedure_type(form),
        cpv=_cpv_codes(contract, ("ted:CPV_MAIN",), ctx, where),
        tender_deadline=deadline,
    )
    tender.estimated_value, tender.currency = _amount(contract, "ted:VAL_ESTIMATED_TOTAL", where)
    tender.lots = _lots(contract, deadline, ctx, progress)
    tender.warnings = ctx.warnings
    return [tender]


def _check_root(root: etree._Element, *, source: str) -> None:
    qname = etree.QName(root)
    if qname.localname != "TED_EXPORT" or qname.namespace != TED_NS:
        raise ImportFailed(
            f"not a TED R2.0.9 notice: root element is {qname.localname!r} in namespace {qname.namespace!r}, "
            f"expected TED_EXPORT in {TED_NS}",
            where=source,
        )


def choose_form(root: etree._Element, *, source: str) -> etree._Element:
    """The ORIGINAL form in the first original language that has one, else the first ORIGINAL."""
    forms = [form for form in root.iterfind("ted:FORM_SECTION/*", NS) if isinstance(form.tag, str)]
    originals = [form for form in forms if form.get("CATEGORY") == "ORIGINAL"]
    if not originals:
        raise ImportFailed("no ORIGINAL form in FORM_SECTION", where=source)
    languages = [(lg.text or "").strip().upper() for lg in root.iterfind(_NOTICE_DATA + "/ted:LG_ORIG", NS)]
    for language in languages:
        for form in originals:
            if (form.get("LG") or "").upper() == language:
                return form
    return originals[0]


# --- small readers ---------------------------------------------------------------------------


def _one(parent: etree._Element, path: str, where: str) -> etree._Element:
    element = parent.find(path, NS)
    if element is None:
        raise ImportFailed(f"missing {path.removeprefix('ted:')}", where=where)
    return element


def _text(parent: etree._Element | None, path: str, where: str) -> str:
    if parent is None:
        return ""
    return clean_text(element_text(parent.find(path, NS)), where=f"{where}, {path.replace('ted:', '')}")


def _attribute(parent: etree._Element, path: str, name: str) -> str:
    element = parent.find(path, NS)
    return (element.get(name) or "").strip() if element is not None else ""


def _paragraphs(parent: etree._Element, path: str, where: str, *, separator: str = "\n") -> str:
    """A TED text block: its <P> paragraphs joined (titles on one line, descriptions one per line)."""
    block = parent.find(path, NS)
    if block is None:
        return ""
    paragraphs = [" ".join(element_text(p).split()) for p in block.iterfind("ted:P", NS)]
    text = separator.join(p for p in paragraphs if p) or element_text(block)
    return clean_text(text, where=f"{where}, {path.replace('ted:', '')}")


def _amount(parent: etree._Element, path: str, where: str) -> tuple[Decimal | None, str]:
    element = parent.find(path, NS)
    if element is None:
        return None, ""
    field_where = f"{where}, {path.replace('ted:', '')}"
    value = xs_decimal(element_text(element), where=field_where)
    if value is None:
        return None, ""
    currency = (element.get("CURRENCY") or "").strip().upper()
    if not _CURRENCY_RE.match(currency):
        raise ImportFailed(f"missing or invalid CURRENCY {currency[:20]!r}", where=field_where)
    return value, currency


def _cpv_codes(parent: etree._Element, paths: tuple[str, ...], ctx: _Context, where: str) -> list[str]:
    codes: list[str] = []
    for path in paths:
        for element in parent.iterfind(f"{path}/ted:CPV_CODE", NS):
            raw = (element.get("CODE") or "").strip()
            code = normalise_cpv(raw)
            if code is None:
                ctx.warn(f"{where}, {path.replace('ted:', '')}", f"not a CPV code: {raw[:40]!r}")
            else:
                codes.append(code)
    return unique(codes)


# --- notice-level fields ---------------------------------------------------------------------


def _procedure_id(root: etree._Element, contract: etree._Element, where: str) -> str:
    reference = _text(contract, "ted:REFERENCE_NUMBER", where)
    ojs_number = _text(root, f"{_NOTICE_DATA}/ted:NO_DOC_OJS", where)
    return reference or ojs_number or (root.get("DOC_ID") or "").strip()


def _buyers(form: etree._Element, where: str) -> list[CanonicalBuyer]:
    buyers: list[CanonicalBuyer] = []
    paths = ("ted:ADDRESS_CONTRACTING_BODY", "ted:ADDRESS_CONTRACTING_BODY_ADDITIONAL")
    for path in paths:
        for address in form.iterfind(f"ted:CONTRACTING_BODY/{path}", NS):
            address_where = f"{where}, {path.replace('ted:', '')}"
            buyers.append(
                CanonicalBuyer(
                    name=_text(address, "ted:OFFICIALNAME", address_where),
                    identifier=_text(address, "ted:NATIONALID", address_where),
                    country=_attribute(address, "ted:COUNTRY", "VALUE").upper(),
                    nuts=_attribute(address, "n2016:NUTS", "CODE").upper(),
                )
            )
    return buyers


def _zone(buyers: list[CanonicalBuyer], root: etree._Element) -> ZoneInfo:
    country = buyers[0].country if buyers and buyers[0].country else ""
    if not country:
        country = _attribute(root, f"{_NOTICE_DATA}/ted:ISO_COUNTRY", "VALUE").upper()
    return ZoneInfo(COUNTRY_ZONES.get(country, DEFAULT_ZONE))


def _procedure_type(form: etree._Element) -> str:
    procedure = form.find("ted:PROCEDURE", NS)
    if procedure is None:
        return ""
    for child in procedure:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if name.startswith("PT_"):
            return PROCEDURE_TYPES.get(name, name.removeprefix("PT_").lower())
    return ""


def _deadline(form: etree._Element, ctx: _Context) -> datetime | None:
    """DATE_RECEIPT_TENDERS + TIME_RECEIPT_TENDERS, local time in the buyer's country."""
    procedure = form.find("ted:PROCEDURE", NS)
    day_text = _text(procedure, "ted:DATE_RECEIPT_TENDERS", ctx.source)
    if not day_text:
        return None
    time_text = _text(procedure, "ted:TIME_RECEIPT_TENDERS", ctx.source)
    where = f"{ctx.source}, PROCEDURE/DATE_RECEIPT_TENDERS"
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise ImportFailed(f"not a date: {day_text[:40]!r}", where=where) from None
    return datetime.combine(day, _local_time(time_text, where), tzinfo=ctx.zone)


def _local_time(text: str, where: str) -> time:
    if not text:
        return time(0, 0)
    match = _TED_TIME_RE.match(text)
    try:
        if match is None:
            raise ValueError(text)
        hours, minutes, seconds = (int(part or 0) for part in match.groups())
        return time(hours, minutes, seconds)
    except ValueError:
        raise ImportFailed(f"not a time: {text[:20]!r}", where=where) from None


# --- lots ------------------------------------------------------------------------------------


def _lots(
    contract: etree._Element, deadline: datetime | None, ctx: _Context, progress: ProgressCallback | None
) -> list[CanonicalLot]:
    descriptions = contract.findall("ted:OBJECT_DESCR", NS)
    if not descriptions:
        raise ImportFailed("the notice has no lots (no OBJECT_DESCR)", where=f"{ctx.source}, OBJECT_CONTRACT")
    lots: dict[str, CanonicalLot] = {}
    for index, description in enumerate(descriptions, start=1):
        where = f"{ctx.source}, OBJECT_DESCR #{index}"
        lot_no = _lot_number(description, single=len(descriptions) == 1, where=where)
        if lot_no in lots:
            raise ImportFailed(f"duplicate lot number {lot_no}", where=where)
        lots[lot_no] = _lot(description, lot_no, deadline, ctx, where=f"{where} (lot {lot_no})")
        if progress is not None:
            progress(index, len(descriptions))
    return list(lots.values())


def _lot_number(description: etree._Element, *, single: bool, where: str) -> str:
    lot_no = _text(description, "ted:LOT_NO", where)
    if lot_no:
        return lot_no
    if single:  # an undivided contract: one OBJECT_DESCR without LOT_NO
        return "1"
    raise ImportFailed("lot without LOT_NO", where=where)


def _lot(
    description: etree._Element, lot_no: str, deadline: datetime | None, ctx: _Context, *, where: str
) -> CanonicalLot:
    lot = CanonicalLot(
        source_id=lot_no,
        title=_paragraphs(description, "ted:TITLE", where, separator=" ") or f"Lot {lot_no}",
        description=_paragraphs(description, "ted:SHORT_DESCR", where),
        cpv=_cpv_codes(description, ("ted:CPV_MAIN", "ted:CPV_ADDITIONAL"), ctx, where),
        tender_deadline=deadline,
        start_date=_iso_date(description, "ted:DATE_START", where),
        end_date=_iso_date(description, "ted:DATE_END", where),
    )
    lot.estimated_value, lot.currency = _amount(description, "ted:VAL_OBJECT", where)
    _fill_duration(lot, description, where)
    return lot


def _fill_duration(lot: CanonicalLot, description: etree._Element, where: str) -> None:
    duration = description.find("ted:DURATION", NS)
    if duration is None:
        return
    amount = element_text(duration).strip()
    if not _WHOLE_NUMBER_RE.match(amount):
        raise ImportFailed(f"duration is not a whole number: {amount[:20]!r}", where=f"{where}, DURATION")
    lot.duration_value = int(amount)
    lot.duration_unit = (duration.get("TYPE") or "").strip().upper()


def _iso_date(description: etree._Element, path: str, where: str) -> str:
    text = _text(description, path, where)
    if not text:
        return ""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ImportFailed(f"not a date: {text[:40]!r}", where=f"{where}, {path.replace('ted:', '')}") from None


__all__ = ["COUNTRY_ZONES", "FORMAT", "choose_form", "parse"]
