"""OCDS 1.1 JSON (with the lots extension) to canonical tenders.

Accepts a release package (`releases`), a record package (`records`), a bare array of
releases, or one release. One canonical tender per `ocid`: several releases of one ocid are
merged in date order following the OCDS merge rules (later fields win, objects merge field
by field, arrays of objects merge by `id`, null deletes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn

from .base import (
    CanonicalBuyer,
    CanonicalLine,
    CanonicalLot,
    CanonicalLotGroup,
    CanonicalTender,
    ImportFailed,
    Problem,
    ProgressCallback,
)
from .common import (
    MAX_AMOUNT_DIGITS,
    clean_text,
    normalise_cpv,
    parse_amount,
    parse_iso_datetime,
    unique,
)
from .jsonsafe import load_json, located

FORMAT = "ocds"

NOT_OCDS = "not an OCDS release package, record package or array of releases"
VIRTUAL_LOT_ID = "1"  # the lots extension's advice for a tender not divided into lots
MAX_DECIMAL_PLACES = 6  # unit prices may go below the cent; more is noise, not money
MAX_DURATION_DAYS = 36_500

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_NATURES = {"goods": "supplies", "works": "works", "services": "services"}


@dataclass
class _Release:
    path: str  # where the release sits in the file: "releases[3]", "records[0].compiledRelease"...
    data: dict[str, Any]


def parse(
    data: bytes, *, source: str, progress: ProgressCallback | None = None, **options: Any
) -> list[CanonicalTender]:
    """Canonical tenders, one per ocid, in the order their first release appears."""
    document = load_json(data, source=source)
    reader = _Reader(source)
    groups = _group_by_ocid(_releases_of(document, reader), reader)
    tenders: list[CanonicalTender] = []
    skipped: list[Problem] = []
    for done, (ocid, releases) in enumerate(groups.items(), start=1):
        path, release = _merge_in_date_order(ocid, releases, reader)
        if release.get("tender") is None:
            skipped.append(Problem(located(source, path), "no tender section: this process is skipped"))
        else:
            tenders.append(_TenderReader(source, path).tender(release))
        if progress:
            progress(done, len(groups))
    if not tenders:
        raise ImportFailed(skipped or "the file has no releases", where=source)
    tenders[0].warnings[:0] = skipped
    return tenders


# --- typed access to untrusted JSON, failing with the path ------------------------------------


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.warnings: list[Problem] = []

    def fail(self, path: str, message: str) -> NoReturn:
        raise ImportFailed(message, where=located(self.source, path))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(located(self.source, path), message))

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, found {_kind(value)}")
        return value

    def array(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list, found {_kind(value)}")
        return value

    def text(self, value: Any, path: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail(path, f"expected text, found {_kind(value)}")
        return clean_text(value, where=located(self.source, path))

    def identifier(self, value: Any, path: str) -> str:
        """OCDS ids are strings, sometimes integers."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.text(value, path)

    def required_identifier(self, value: Any, path: str) -> str:
        identifier = self.identifier(value, path)
        if not identifier:
            self.fail(path, "missing identifier")
        return identifier

    def number(self, value: Any, path: str) -> Decimal | None:
        """A non-negative amount, quantity or price with at most 15 significant digits."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            self.fail(path, f"expected a number, found {_kind(value)}")
        number = parse_amount(value, where=located(self.source, path))
        if number is None:
            return None
        self._check_bounds(number, path)
        return number

    def _check_bounds(self, number: Decimal, path: str) -> None:
        if number < 0:
            self.fail(path, f"negative number: {number}")
        if number == 0:
            return
        shown = str(number)[:40]
        if number.adjusted() >= MAX_AMOUNT_DIGITS:
            self.fail(path, f"number out of range: {shown} (more than {MAX_AMOUNT_DIGITS} digits before the point)")
        significant = number.normalize().as_tuple()
        assert isinstance(significant.exponent, int)
        if len(significant.digits) > MAX_AMOUNT_DIGITS:
            self.fail(path, f"number too precise: {shown} (more than {MAX_AMOUNT_DIGITS} significant digits)")
        if -significant.exponent > MAX_DECIMAL_PLACES:
            self.fail(path, f"number too precise: {shown} (more than {MAX_DECIMAL_PLACES} decimal places)")

    def value(self, value: Any, path: str) -> tuple[Decimal | None, str]:
        """An OCDS Value object: (amount, currency)."""
        value = self.obj(value, path)
        amount = self.number(value.get("amount"), f"{path}.amount")
        currency = self.text(value.get("currency"), f"{path}.currency").upper()
        if currency and not _CURRENCY_RE.match(currency):
            self.fail(f"{path}.currency", f"not an ISO 4217 currency code: {currency[:20]!r}")
        if amount is not None and not currency:
            self.warn(f"{path}.currency", "an amount without a currency")
        return amount, currency

    def moment(self, value: Any, path: str) -> datetime | None:
        text = self.text(value, path)
        return parse_iso_datetime(text, where=located(self.source, path)) if text else None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | Decimal):
        return "a number"
    kinds = {str: "text", list: "a list", dict: "an object", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


# --- containers: which releases the file holds ------------------------------------------------


def _releases_of(document: Any, reader: _Reader) -> list[_Release]:
    if isinstance(document, list):
        releases = [_Release(f"[{index}]", reader.obj(item, f"[{index}]")) for index, item in enumerate(document)]
    elif isinstance(document, dict) and "releases" in document:
        items = reader.array(document["releases"], "releases")
        releases = [
            _Release(f"releases[{index}]", reader.obj(item, f"releases[{index}]")) for index, item in enumerate(items)
        ]
    elif isinstance(document, dict) and "records" in document:
        releases = _releases_of_records(reader.array(document["records"], "records"), reader)
    elif isinstance(document, dict) and "ocid" in document:
        releases = [_Release("release", document)]
    else:
        reader.fail("", NOT_OCDS)
    if not releases:
        reader.fail("", "the file has no releases")
    return releases


def _releases_of_records(records: list[Any], reader: _Reader) -> list[_Release]:
    releases: list[_Release] = []
    for index, raw in enumerate(records):
        path = f"records[{index}]"
        record = reader.obj(raw, path)
        compiled = record.get("compiledRelease")
        if compiled is not None:
            found = [_Release(f"{path}.compiledRelease", reader.obj(compiled, f"{path}.compiledRelease"))]
        else:
            embedded = reader.array(record.get("releases"), f"{path}.releases")
            found = [
                _Release(f"{path}.releases[{number}]", reader.obj(item, f"{path}.releases[{number}]"))
                for number, item in enumerate(embedded)
            ]
            found = [release for release in found if not _is_linked_release(release.data)]
        if not found:
            reader.fail(path, "a record with neither a compiledRelease nor embedded releases")
        for release in found:
            release.data.setdefault("ocid", record.get("ocid"))
        releases.extend(found)
    return releases


def _is_linked_release(release: dict[str, Any]) -> bool:
    """A record may list releases by URL only; those carry no data to import."""
    return "url" in release and "tender" not in release and "id" not in release


def _group_by_ocid(releases: list[_Release], reader: _Reader) -> dict[str, list[_Release]]:
    groups: dict[str, list[_Release]] = {}
    for release in releases:
        ocid = reader.required_identifier(release.data.get("ocid"), f"{release.path}.ocid")
        groups.setdefault(ocid, []).append(release)
    return groups


# --- merging several releases of one ocid -----------------------------------------------------


def _merge_in_date_order(ocid: str, releases: list[_Release], reader: _Reader) -> tuple[str, dict[str, Any]]:
    if len(releases) == 1:
        return releases[0].path, releases[0].data
    dated = [(reader.moment(release.data.get("date"), f"{release.path}.date"), release) for release in releases]
    # Undated releases go first, so that any dated one overrides them.
    dated.sort(key=lambda pair: (pair[0] is not None, pair[0] or datetime.min))
    merged: dict[str, Any] = {}
    for _, release in dated:
        merged = _merge_object(merged, release.data)
    paths = ", ".join(release.path for _, release in dated)
    return f"(ocid {ocid!r} merged from {paths})", merged


def _merge_object(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    merged = dict(earlier)
    for key, value in later.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_object(merged[key], value)
        elif _is_identified_list(value) and _is_identified_list(merged.get(key)):
            merged[key] = _merge_by_id(merged[key], value)
        else:
            merged[key] = value
    return merged


def _is_identified_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and isinstance(item.get("id"), str | int) for item in value)
    )


def _merge_by_id(earlier: list[dict[str, Any]], later: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {str(item["id"]): item for item in earlier}
    for item in later:
        key = str(item["id"])
        by_id[key] = _merge_object(by_id[key], item) if key in by_id else item
    return list(by_id.values())


# --- one release to one canonical tender ------------------------------------------------------


@dataclass
class _Item:
    line: CanonicalLine
    cpvs: list[str] = field(default_factory=list)


class _TenderReader(_Reader):
    def __init__(self, source: str, path: str) -> None:
        super().__init__(source)
        self.path = path

    def at(self, suffix: str) -> str:
        return f"{self.path}.{suffix}" if self.path else suffix

    def tender(self, release: dict[str, Any]) -> CanonicalTender:
        tender_data = self.obj(release.get("tender"), self.at("tender"))
        amount, currency = self.value(tender_data.get("value"), self.at("tender.value"))
        tender = CanonicalTender(
            source_format=FORMAT,
            procedure_id=self.required_identifier(release.get("ocid"), self.at("ocid")),
            notice_id=self.identifier(release.get("id"), self.at("id")),
            notice_type=",".join(self._tags(release)),
            language=self.text(release.get("language"), self.at("language")),
            buyers=self._buyers(release),
            title=self.text(tender_data.get("title"), self.at("tender.title")),
            description=self.text(tender_data.get("description"), self.at("tender.description")),
            nature=self._nature(tender_data),
            procedure_type=self._procedure_type(tender_data),
            estimated_value=amount,
            currency=currency,
            tender_deadline=self._period_end(tender_data, "tenderPeriod", "tender"),
            questions_deadline=self._period_end(tender_data, "enquiryPeriod", "tender"),
        )
        items = self._items(tender_data)
        tender.cpv = self._tender_cpv(tender_data, items)
        tender.lots = self._lots(tender_data) or [self._virtual_lot(tender, tender_data)]
        tender.lines = self._link_items_to_lots(items, tender.lots)
        tender.lot_groups = self._lot_groups(tender_data, {lot.source_id for lot in tender.lots})
        tender.warnings = self.warnings
        return tender

    def _tags(self, release: dict[str, Any]) -> list[str]:
        tags = self.array(release.get("tag"), self.at("tag"))
        return [self.text(tag, self.at(f"tag[{index}]")) for index, tag in enumerate(tags)]

    def _nature(self, tender: dict[str, Any]) -> str:
        category = self.text(tender.get("mainProcurementCategory"), self.at("tender.mainProcurementCategory"))
        if category and category not in _NATURES:
            self.warn(self.at("tender.mainProcurementCategory"), f"unknown category {category[:40]!r}")
        return _NATURES.get(category, "")

    def _procedure_type(self, tender: dict[str, Any]) -> str:
        method = self.text(tender.get("procurementMethod"), self.at("tender.procurementMethod"))
        details = self.text(tender.get("procurementMethodDetails"), self.at("tender.procurementMethodDetails"))
        return method or details

    def _period_end(self, owner: dict[str, Any], key: str, owner_path: str) -> datetime | None:
        period = self.obj(owner.get(key), self.at(f"{owner_path}.{key}"))
        return self.moment(period.get("endDate"), self.at(f"{owner_path}.{key}.endDate"))

    # buyers

    def _buyers(self, release: dict[str, Any]) -> list[CanonicalBuyer]:
        """The `buyer` first, then the other parties in the buyer role (joint procurement)."""
        parties = self._parties(release)
        buyer_ref = self.obj(release.get("buyer"), self.at("buyer"))
        buyer_id = self.identifier(buyer_ref.get("id"), self.at("buyer.id"))
        buyers: list[CanonicalBuyer] = []
        if buyer_ref:
            name = self.text(buyer_ref.get("name"), self.at("buyer.name"))
            buyers.append(self._buyer_from_party(parties.get(buyer_id, ("", {})), fallback_name=name))
        buyers += self._parties_in_role(parties, "buyer", excluding=buyer_id)
        if not buyers:
            buyers = self._parties_in_role(parties, "procuringEntity", excluding="")
        return [buyer for buyer in buyers if buyer.name or buyer.identifier]

    def _parties_in_role(
        self, parties: dict[str, tuple[str, dict[str, Any]]], role: str, *, excluding: str
    ) -> list[CanonicalBuyer]:
        return [
            self._buyer_from_party(party)
            for party_id, party in parties.items()
            if party_id != excluding and role in self._roles(party)
        ]

    def _parties(self, release: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
        parties: dict[str, tuple[str, dict[str, Any]]] = {}
        for index, raw in enumerate(self.array(release.get("parties"), self.at("parties"))):
            path = self.at(f"parties[{index}]")
            party = self.obj(raw, path)
            party_id = self.identifier(party.get("id"), f"{path}.id") or f"#{index}"
            parties.setdefault(party_id, (path, party))
        return parties

    def _roles(self, path_and_party: tuple[str, dict[str, Any]]) -> list[str]:
        path, party = path_and_party
        roles = self.array(party.get("roles"), f"{path}.roles")
        return [role for role in roles if isinstance(role, str)]

    def _buyer_from_party(self, path_and_party: tuple[str, dict[str, Any]], fallback_name: str = "") -> CanonicalBuyer:
        path, party = path_and_party
        identifier = self.obj(party.get("identifier"), f"{path}.identifier")
        legal_name = self.text(identifier.get("legalName"), f"{path}.identifier.legalName")
        name = fallback_name or self.text(party.get("name"), f"{path}.name") or legal_name
        scheme = self.text(identifier.get("scheme"), f"{path}.identifier.scheme")
        number = self.identifier(identifier.get("id"), f"{path}.identifier.id")
        return CanonicalBuyer(name=name, identifier=f"{scheme}-{number}" if scheme and number else number)

    # classifications

    def _cpv_of(self, classification: Any, path: str) -> str | None:
        classification = self.obj(classification, path)
        scheme = self.text(classification.get("scheme"), f"{path}.scheme")
        if scheme.upper() != "CPV":
            return None
        raw = self.identifier(classification.get("id"), f"{path}.id")
        code = normalise_cpv(raw)
        if code is None:
            self.warn(f"{path}.id", f"not a CPV code: {raw[:40]!r}")
        return code

    def _tender_cpv(self, tender: dict[str, Any], items: list[_Item]) -> list[str]:
        main = self._cpv_of(tender.get("classification"), self.at("tender.classification"))
        if main:
            return [main]
        return unique([code for item in items for code in item.cpvs])

    # items

    def _items(self, tender: dict[str, Any]) -> list[_Item]:
        raw_items = self.array(tender.get("items"), self.at("tender.items"))
        return [self._item(raw, index) for index, raw in enumerate(raw_items)]

    def _item(self, raw: Any, index: int) -> _Item:
        path = self.at(f"tender.items[{index}]")
        item = self.obj(raw, path)
        unit = self.obj(item.get("unit"), f"{path}.unit")
        unit_price, currency = self.value(unit.get("value"), f"{path}.unit.value")
        cpvs = self._item_cpvs(item, path)
        line = CanonicalLine(
            designation=self.text(item.get("description"), f"{path}.description"),
            lot_source_id=self.identifier(item.get("relatedLot"), f"{path}.relatedLot") or None,
            code=self.identifier(item.get("id"), f"{path}.id"),
            unit=self.text(unit.get("name"), f"{path}.unit.name"),
            quantity=self.number(item.get("quantity"), f"{path}.quantity"),
            unit_price=unit_price,
            currency=currency,
            cpv=cpvs[0] if cpvs else "",
            source_row=index,
        )
        return _Item(line, cpvs)

    def _item_cpvs(self, item: dict[str, Any], path: str) -> list[str]:
        codes = [self._cpv_of(item.get("classification"), f"{path}.classification")]
        extra = self.array(item.get("additionalClassifications"), f"{path}.additionalClassifications")
        codes += [
            self._cpv_of(classification, f"{path}.additionalClassifications[{number}]")
            for number, classification in enumerate(extra)
        ]
        return unique([code for code in codes if code])

    def _link_items_to_lots(self, items: list[_Item], lots: list[CanonicalLot]) -> list[CanonicalLine]:
        lots_by_id = {lot.source_id: lot for lot in lots}
        for item in items:
            line = item.line
            path = self.at(f"tender.items[{line.source_row}].relatedLot")
            if line.lot_source_id is None:
                if len(lots) == 1:
                    line.lot_source_id = lots[0].source_id
                else:
                    self.warn(path, "item linked to no lot")
                    continue
            lot = lots_by_id.get(line.lot_source_id)
            if lot is None:
                self.fail(path, f"unknown lot {line.lot_source_id[:60]!r} (lots: {', '.join(lots_by_id)[:200]})")
            lot.cpv = unique(lot.cpv + item.cpvs)
        return [item.line for item in items]

    # lots

    def _lots(self, tender: dict[str, Any]) -> list[CanonicalLot]:
        lots: list[CanonicalLot] = []
        first_index: dict[str, int] = {}
        for index, raw in enumerate(self.array(tender.get("lots"), self.at("tender.lots"))):
            lot = self._lot(raw, self.at(f"tender.lots[{index}]"))
            if lot.source_id in first_index:
                earlier = f"tender.lots[{first_index[lot.source_id]}]"
                self.fail(
                    self.at(f"tender.lots[{index}].id"),
                    f"duplicate lot id {lot.source_id[:60]!r} (also {earlier})",
                )
            first_index[lot.source_id] = index
            lots.append(lot)
        return lots

    def _lot(self, raw: Any, path: str) -> CanonicalLot:
        lot = self.obj(raw, path)
        amount, currency = self.value(lot.get("value"), f"{path}.value")
        tender_period = self.obj(lot.get("tenderPeriod"), f"{path}.tenderPeriod")
        canonical = CanonicalLot(
            source_id=self.required_identifier(lot.get("id"), f"{path}.id"),
            title=self.text(lot.get("title"), f"{path}.title"),
            description=self.text(lot.get("description"), f"{path}.description"),
            estimated_value=amount,
            currency=currency,
            tender_deadline=self.moment(tender_period.get("endDate"), f"{path}.tenderPeriod.endDate"),
        )
        self._apply_contract_period(canonical, lot.get("contractPeriod"), f"{path}.contractPeriod")
        return canonical

    def _apply_contract_period(self, lot: CanonicalLot, raw: Any, path: str) -> None:
        period = self.obj(raw, path)
        days = period.get("durationInDays")
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DURATION_DAYS:
                self.fail(f"{path}.durationInDays", f"expected a number of days up to {MAX_DURATION_DAYS}")
            lot.duration_value, lot.duration_unit = days, "DAY"
        start = self.moment(period.get("startDate"), f"{path}.startDate")
        end = self.moment(period.get("endDate"), f"{path}.endDate")
        lot.start_date = start.date().isoformat() if start else ""
        lot.end_date = end.date().isoformat() if end else ""

    def _virtual_lot(self, tender: CanonicalTender, tender_data: dict[str, Any]) -> CanonicalLot:
        lot = CanonicalLot(
            source_id=VIRTUAL_LOT_ID,
            title=tender.title,
            description=tender.description,
            cpv=list(tender.cpv),
            estimated_value=tender.estimated_value,
            currency=tender.currency,
            tender_deadline=tender.tender_deadline,
            questions_deadline=tender.questions_deadline,
        )
        self._apply_contract_period(lot, tender_data.get("contractPeriod"), self.at("tender.contractPeriod"))
        return lot

    # lot groups

    def _lot_groups(self, tender: dict[str, Any], lot_ids: set[str]) -> list[CanonicalLotGroup]:
        groups: list[CanonicalLotGroup] = []
        seen: set[str] = set()
        for index, raw in enumerate(self.array(tender.get("lotGroups"), self.at("tender.lotGroups"))):
            path = self.at(f"tender.lotGroups[{index}]")
            group = self._lot_group(raw, path, lot_ids)
            if group.source_id in seen:
                self.fail(f"{path}.id", f"duplicate lot group id {group.source_id[:60]!r}")
            seen.add(group.source_id)
            groups.append(group)
        return groups

    def _lot_group(self, raw: Any, path: str, lot_ids: set[str]) -> CanonicalLotGroup:
        group = self.obj(raw, path)
        related = self.array(group.get("relatedLots"), f"{path}.relatedLots")
        members = [self.identifier(lot_id, f"{path}.relatedLots[{n}]") for n, lot_id in enumerate(related)]
        for number, member in enumerate(members):
            if member not in lot_ids:
                self.fail(f"{path}.relatedLots[{number}]", f"unknown lot {member[:60]!r}")
        amount, currency = self.value(group.get("maximumValue"), f"{path}.maximumValue")
        return CanonicalLotGroup(
            source_id=self.required_identifier(group.get("id"), f"{path}.id"),
            lot_ids=unique(members),
            title=self.text(group.get("title"), f"{path}.title"),
            estimated_value=amount,
            currency=currency,
        )
