"""eForms notices (UBL 2.3): ContractNotice, PriorInformationNotice and ContractAwardNotice.

One notice per file gives one canonical tender. Elements are matched by namespace URI, never by
prefix: the default namespace changes with the root element. XPaths follow eForms SDK 1.15
(see docs `tender_formats.md` section 2.2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from .base import (
    CanonicalBuyer,
    CanonicalLot,
    CanonicalLotGroup,
    CanonicalTender,
    ImportFailed,
    Problem,
    ProgressCallback,
)
from .common import clean_text, normalise_cpv, parse_date_time, unique
from .xmlsafe import element_text, parse_xml, xs_decimal

FORMAT = "eforms"

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    "efext": "http://data.europa.eu/p27/eforms-ubl-extensions/1",
    "efac": "http://data.europa.eu/p27/eforms-ubl-extension-aggregate-components/1",
    "efbc": "http://data.europa.eu/p27/eforms-ubl-extension-basic-components/1",
}
ROOTS = ("ContractNotice", "PriorInformationNotice", "ContractAwardNotice")
EXT = "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/efext:EformsExtension"

FALLBACK_LANGUAGES = ("FRA", "ENG")  # after the notice's own language
LOT_SCHEMES = frozenset({"Lot", "Part"})  # Part: the lots of a prior information notice
GROUP_SCHEME = "LotsGroup"
GROUP_ID_PREFIX = "GLO-"

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_WHOLE_NUMBER_RE = re.compile(r"^\d{1,6}$", re.ASCII)


@dataclass
class _Context:
    source: str
    language: str
    warnings: list[Problem] = field(default_factory=list)

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(Problem(where, message))


def parse(
    data: bytes, *, source: str, progress: ProgressCallback | None = None, **options: Any
) -> list[CanonicalTender]:
    """The one tender of an eForms notice; `ImportFailed` names the element when it is wrong."""
    root = parse_xml(data, source=source)
    notice_type = _check_root(root, source=source)
    ctx = _Context(source=source, language=_text(root, "cbc:NoticeLanguageCode", source).upper())
    tender = CanonicalTender(
        source_format=FORMAT,
        procedure_id=_text(root, "cbc:ContractFolderID", source),
        notice_id=_notice_id(root, source),
        notice_type=_text(root, "cbc:NoticeTypeCode", source) or notice_type,
        language=ctx.language,
        changes_notice_id=_text(root, f"{EXT}/efac:Changes/efbc:ChangedNoticeIdentifier", source),
        buyers=_buyers(root, ctx),
        procedure_type=_text(root, "cac:TenderingProcess/cbc:ProcedureCode", source),
    )
    project = root.find("cac:ProcurementProject", NS)
    if project is not None:
        _fill_procedure_project(tender, project, ctx)
    tender.lots, tender.lot_groups = _lots_and_groups(root, ctx, progress)
    tender.tender_deadline = _earliest(lot.tender_deadline for lot in tender.lots)
    tender.participation_deadline = _earliest(lot.participation_deadline for lot in tender.lots)
    tender.questions_deadline = _earliest(lot.questions_deadline for lot in tender.lots)
    tender.warnings = ctx.warnings
    return [tender]


def _check_root(root: etree._Element, *, source: str) -> str:
    qname = etree.QName(root)
    if qname.localname in ROOTS and qname.namespace == _document_namespace(qname.localname):
        return qname.localname
    expected = ", ".join(ROOTS)
    raise ImportFailed(
        f"not an eForms notice: root element is {qname.localname!r} in namespace {qname.namespace!r}, "
        f"expected one of {expected}",
        where=source,
    )


def _document_namespace(root_name: str) -> str:
    return f"urn:oasis:names:specification:ubl:schema:xsd:{root_name}-2"


def _notice_id(root: etree._Element, source: str) -> str:
    notice_id = _text(root, "cbc:ID[@schemeName='notice-id']", source)
    return notice_id or _text(root, "cbc:ID", source)


# --- texts -----------------------------------------------------------------------------------


def _text(parent: etree._Element, path: str, where: str) -> str:
    return clean_text(element_text(parent.find(path, NS)), where=f"{where}, {path}")


def _multilingual(parent: etree._Element, path: str, ctx: _Context, where: str) -> str:
    """The text in the notice's language, else French, else English, else the first given."""
    versions = parent.findall(path, NS)
    if not versions:
        return ""
    by_language: dict[str, etree._Element] = {}
    for version in versions:
        by_language.setdefault((version.get("languageID") or "").upper(), version)
    chosen = next(
        (by_language[code] for code in (ctx.language, *FALLBACK_LANGUAGES) if code in by_language),
        versions[0],
    )
    return clean_text(element_text(chosen), where=f"{where}, {path}")


# --- buyers ----------------------------------------------------------------------------------


def _buyers(root: etree._Element, ctx: _Context) -> list[CanonicalBuyer]:
    companies = _companies_by_id(root)
    buyers: list[CanonicalBuyer] = []
    references = root.findall("cac:ContractingParty/cac:Party/cac:PartyIdentification/cbc:ID", NS)
    for reference in unique([(ref.text or "").strip() for ref in references]):
        company = companies.get(reference)
        if company is None:
            ctx.warn(f"{ctx.source}, ContractingParty", f"buyer {reference} is not in efac:Organizations")
            continue
        buyers.append(_buyer(company, ctx, where=f"{ctx.source}, organization {reference}"))
    return buyers


def _companies_by_id(root: etree._Element) -> dict[str, etree._Element]:
    companies: dict[str, etree._Element] = {}
    for company in root.iterfind(f"{EXT}/efac:Organizations/efac:Organization/efac:Company", NS):
        identifier = (company.findtext("cac:PartyIdentification/cbc:ID", "", NS) or "").strip()
        if identifier:
            companies.setdefault(identifier, company)
    return companies


def _buyer(company: etree._Element, ctx: _Context, *, where: str) -> CanonicalBuyer:
    return CanonicalBuyer(
        name=_multilingual(company, "cac:PartyName/cbc:Name", ctx, where),
        identifier=_text(company, "cac:PartyLegalEntity/cbc:CompanyID", where),
        country=_text(company, "cac:PostalAddress/cac:Country/cbc:IdentificationCode", where),
        nuts=_text(company, "cac:PostalAddress/cbc:CountrySubentityCode", where),
    )


# --- procedure -------------------------------------------------------------------------------


def _fill_procedure_project(tender: CanonicalTender, project: etree._Element, ctx: _Context) -> None:
    where = f"{ctx.source}, ProcurementProject"
    tender.title = _multilingual(project, "cbc:Name", ctx, where)
    tender.description = _multilingual(project, "cbc:Description", ctx, where)
    tender.nature = _nature(project, where)
    tender.cpv = _cpv_codes(project, ctx, where)
    tender.estimated_value, tender.currency = _estimated_value(project, ctx, where)


def _nature(project: etree._Element, where: str) -> str:
    for code in project.findall("cbc:ProcurementTypeCode", NS):
        if code.get("listName") in (None, "contract-nature"):
            return clean_text(element_text(code), where=f"{where}, cbc:ProcurementTypeCode")
    return ""


def _cpv_codes(project: etree._Element, ctx: _Context, where: str) -> list[str]:
    codes: list[str] = []
    for path in (
        "cac:MainCommodityClassification/cbc:ItemClassificationCode",
        "cac:AdditionalCommodityClassification/cbc:ItemClassificationCode",
    ):
        for element in project.findall(path, NS):
            if element.get("listName") not in (None, "cpv"):
                continue
            raw = element_text(element).strip()
            code = normalise_cpv(raw)
            if code is None:
                ctx.warn(f"{where}, {path}", f"not a CPV code: {raw[:40]!r}")
            else:
                codes.append(code)
    return unique(codes)


def _estimated_value(project: etree._Element, ctx: _Context, where: str) -> tuple[Decimal | None, str]:
    path = "cac:RequestedTenderTotal/cbc:EstimatedOverallContractAmount"
    return _amount(project.find(path, NS), ctx, where=f"{where}, {path}")


def _framework_maximum(project: etree._Element, ctx: _Context, where: str) -> tuple[Decimal | None, str]:
    path = f"cac:RequestedTenderTotal/{EXT}/efbc:FrameworkMaximumAmount"
    return _amount(project.find(path, NS), ctx, where=f"{where}, efbc:FrameworkMaximumAmount")


def _amount(element: etree._Element | None, ctx: _Context, *, where: str) -> tuple[Decimal | None, str]:
    """An amount and its own currency (a notice may mix currencies)."""
    if element is None:
        return None, ""
    value = xs_decimal(element_text(element), where=where)
    currency = (element.get("currencyID") or "").strip().upper()
    if value is None:
        return None, ""
    if not currency:
        ctx.warn(where, "amount without a currencyID")
    elif not _CURRENCY_RE.match(currency):
        raise ImportFailed(f"not a currency code: {currency[:20]!r}", where=where)
    return value, currency


# --- lots and groups -------------------------------------------------------------------------


def _lots_and_groups(
    root: etree._Element, ctx: _Context, progress: ProgressCallback | None
) -> tuple[list[CanonicalLot], list[CanonicalLotGroup]]:
    elements = root.findall("cac:ProcurementProjectLot", NS)
    lots: dict[str, CanonicalLot] = {}
    group_lots: dict[str, etree._Element] = {}
    for index, element in enumerate(elements, start=1):
        where = f"{ctx.source}, ProcurementProjectLot #{index}"
        identifier, is_group = _lot_identity(element, where)
        if identifier in lots or identifier in group_lots:
            raise ImportFailed(f"duplicate lot id {identifier}", where=where)
        if is_group:
            group_lots[identifier] = element
        else:
            lots[identifier] = _lot(element, identifier, ctx, where=f"{where} ({identifier})")
        if progress is not None:
            progress(index, len(elements))
    if not lots:
        raise ImportFailed(
            "the notice has no lots (no cac:ProcurementProjectLot with a Lot or Part id)", where=ctx.source
        )
    return list(lots.values()), _groups(root, lots, group_lots, ctx)


def _lot_identity(element: etree._Element, where: str) -> tuple[str, bool]:
    """The lot's id, and whether it is a LotsGroup pseudo-lot rather than a real lot."""
    id_element = element.find("cbc:ID", NS)
    identifier = clean_text(element_text(id_element), where=f"{where}, cbc:ID")
    if id_element is None or not identifier:
        raise ImportFailed("lot without an id (cbc:ID)", where=where)
    scheme = id_element.get("schemeName")
    if scheme is None:
        return identifier, identifier.startswith(GROUP_ID_PREFIX)
    return identifier, scheme == GROUP_SCHEME


def _lot(element: etree._Element, identifier: str, ctx: _Context, *, where: str) -> CanonicalLot:
    lot = CanonicalLot(source_id=identifier)
    project = element.find("cac:ProcurementProject", NS)
    if project is not None:
        _fill_lot_project(lot, project, ctx, where)
    process = element.find("cac:TenderingProcess", NS)
    if process is not None:
        lot.tender_deadline = _deadline(process, "cac:TenderSubmissionDeadlinePeriod", where)
        lot.participation_deadline = _deadline(process, "cac:ParticipationRequestReceptionPeriod", where)
        lot.questions_deadline = _deadline(process, "cac:AdditionalInformationRequestPeriod", where)
    return lot


def _fill_lot_project(lot: CanonicalLot, project: etree._Element, ctx: _Context, where: str) -> None:
    lot.internal_ref = _text(project, "cbc:ID", where)
    lot.title = _multilingual(project, "cbc:Name", ctx, where)
    lot.description = _multilingual(project, "cbc:Description", ctx, where)
    lot.cpv = _cpv_codes(project, ctx, where)
    lot.estimated_value, lot.currency = _estimated_value(project, ctx, where)
    lot.framework_maximum, maximum_currency = _framework_maximum(project, ctx, where)
    if maximum_currency and not lot.currency:
        lot.currency = maximum_currency
    elif maximum_currency and maximum_currency != lot.currency:
        ctx.warn(where, f"framework maximum in {maximum_currency} but estimated value in {lot.currency}")
    _fill_duration(lot, project, where)


def _fill_duration(lot: CanonicalLot, project: etree._Element, where: str) -> None:
    period = project.find("cac:PlannedPeriod", NS)
    if period is None:
        return
    measure = period.find("cbc:DurationMeasure", NS)
    if measure is not None:
        amount = element_text(measure).strip()
        if not _WHOLE_NUMBER_RE.match(amount):
            raise ImportFailed(f"duration is not a whole number: {amount[:20]!r}", where=f"{where}, DurationMeasure")
        lot.duration_value = int(amount)
        lot.duration_unit = clean_text(measure.get("unitCode"), where=f"{where}, DurationMeasure").upper()
    lot.start_date = _iso_date(period, "cbc:StartDate", where)
    lot.end_date = _iso_date(period, "cbc:EndDate", where)


def _iso_date(period: etree._Element, path: str, where: str) -> str:
    moment = parse_date_time(element_text(period.find(path, NS)), where=f"{where}, PlannedPeriod/{path}")
    return moment.date().isoformat() if moment else ""


def _deadline(process: etree._Element, period_path: str, where: str) -> datetime | None:
    period = process.find(period_path, NS)
    if period is None:
        return None
    return parse_date_time(
        element_text(period.find("cbc:EndDate", NS)).strip(),
        element_text(period.find("cbc:EndTime", NS)).strip(),
        where=f"{where}, {period_path}",
    )


def _earliest(moments: Any) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None


def _groups(
    root: etree._Element,
    lots: dict[str, CanonicalLot],
    group_lots: dict[str, etree._Element],
    ctx: _Context,
) -> list[CanonicalLotGroup]:
    groups: dict[str, CanonicalLotGroup] = {}
    path = "cac:TenderingTerms/cac:LotDistribution/cac:LotsGroup"
    for index, declaration in enumerate(root.findall(path, NS), start=1):
        where = f"{ctx.source}, LotsGroup #{index}"
        identifier = _text(declaration, "cbc:LotsGroupID", where)
        if not identifier:
            raise ImportFailed("lot group without an id (cbc:LotsGroupID)", where=where)
        if identifier in groups:
            raise ImportFailed(f"duplicate lot group id {identifier}", where=where)
        groups[identifier] = CanonicalLotGroup(
            source_id=identifier, lot_ids=_group_members(declaration, lots, ctx, where)
        )
    for identifier, element in group_lots.items():
        group = groups.get(identifier)
        if group is None:
            ctx.warn(ctx.source, f"lot group {identifier} is not declared in cac:LotsGroup")
            group = groups[identifier] = CanonicalLotGroup(source_id=identifier)
        _fill_group(group, element, ctx)
    return list(groups.values())


def _group_members(declaration: etree._Element, lots: dict[str, CanonicalLot], ctx: _Context, where: str) -> list[str]:
    members: list[str] = []
    for reference in declaration.findall("cac:ProcurementProjectLotReference/cbc:ID", NS):
        lot_id = element_text(reference).strip()
        if lot_id in lots:
            members.append(lot_id)
        else:
            ctx.warn(where, f"refers to an unknown lot {lot_id[:40]!r}")
    return unique(members)


def _fill_group(group: CanonicalLotGroup, element: etree._Element, ctx: _Context) -> None:
    project = element.find("cac:ProcurementProject", NS)
    if project is None:
        return
    where = f"{ctx.source}, lot group {group.source_id}"
    group.title = _multilingual(project, "cbc:Name", ctx, where)
    group.estimated_value, group.currency = _estimated_value(project, ctx, where)


__all__ = ["FORMAT", "NS", "parse"]
