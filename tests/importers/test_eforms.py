"""eForms importer: every sample read to the last lot, and bad notices refused with where and why."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bids.importers import eforms
from bids.importers import parse as dispatch
from bids.importers.base import CanonicalLot, CanonicalTender, ImportFailed
from tests.importers.fuzzing import apply_edits, assert_one_tender_or_named_failure, sample_edits

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))

NS_DECLARATIONS = (
    'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
    'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" '
    'xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2" '
    'xmlns:efext="http://data.europa.eu/p27/eforms-ubl-extensions/1" '
    'xmlns:efac="http://data.europa.eu/p27/eforms-ubl-extension-aggregate-components/1" '
    'xmlns:efbc="http://data.europa.eu/p27/eforms-ubl-extension-basic-components/1"'
)


def read(relative: str) -> bytes:
    return (SAMPLES / relative).read_bytes()


def parse_sample(relative: str) -> CanonicalTender:
    tenders = eforms.parse(read(relative), source=Path(relative).name)
    assert len(tenders) == 1
    return tenders[0]


def parse_bytes(data: bytes, source: str = "notice.xml") -> CanonicalTender:
    [tender] = eforms.parse(data, source=source)
    return tender


def ids(lots: list[CanonicalLot]) -> list[str]:
    return [lot.source_id for lot in lots]


def lot_xml(lot_id: str, *, scheme: str = "Lot", body: str = "") -> str:
    lot_id_xml = f'<cbc:ID schemeName="{scheme}">{lot_id}</cbc:ID>'
    return f"<cac:ProcurementProjectLot>{lot_id_xml}{body}</cac:ProcurementProjectLot>"


def notice(
    lots: str = "",
    *,
    root: str = "ContractNotice",
    language: str = "ENG",
    extension: str = "",
    project: str = "",
) -> bytes:
    """A small eForms notice built around the given lots."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2" {NS_DECLARATIONS}>\n'
        f"<ext:UBLExtensions><ext:UBLExtension><ext:ExtensionContent><efext:EformsExtension>{extension}"
        f"</efext:EformsExtension></ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>\n"
        f'<cbc:ID schemeName="notice-id">n-1</cbc:ID>\n<cbc:ContractFolderID>proc-1</cbc:ContractFolderID>\n'
        f"<cbc:NoticeLanguageCode>{language}</cbc:NoticeLanguageCode>\n"
        f"<cac:ProcurementProject>{project}</cac:ProcurementProject>\n{lots}\n</{root}>"
    ).encode()


def assert_import_fails(data: bytes, *fragments: str, source: str = "notice.xml") -> str:
    with pytest.raises(ImportFailed) as caught:
        eforms.parse(data, source=source)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --- SDK examples ----------------------------------------------------------------------------


def test_cn_24_fra_comments() -> None:
    tender = parse_sample("eforms/cn_24_FRA_comments.xml")
    assert tender.source_format == "eforms"
    assert tender.procedure_id == "e3cdabf1-e057-47a5-9210-b1f6fc757228"
    assert tender.notice_id == "da4d46e9-490b-41ff-a2ae-8166d356a619"
    assert tender.notice_type == "cn-standard"
    assert tender.language == "FRA"
    assert tender.changes_notice_id == ""
    assert [(b.name, b.identifier, b.country) for b in tender.buyers] == [("Rouen Habitat", "123 456 789", "FRA")]
    assert tender.title == "Service d'entretien de remise en état et de nettoyage des espaces verts"
    assert tender.nature == "services"
    assert tender.procedure_type == "open"
    assert tender.cpv == ["77310000"]
    assert (tender.estimated_value, tender.currency) == (None, "")
    assert ids(tender.lots) == ["LOT-0001", "LOT-0002"]
    assert [lot.title for lot in tender.lots] == ["Agence centre", "Agence Hauts de Rouen"]
    assert [lot.internal_ref for lot in tender.lots] == ["1", "2"]
    deadline = datetime(2019, 6, 24, 16, 0, tzinfo=UTC)
    for lot in tender.lots:
        assert lot.cpv == ["77310000"]
        assert (lot.estimated_value, lot.currency, lot.framework_maximum) == (None, "", None)
        assert lot.tender_deadline == deadline
        assert lot.tender_deadline.utcoffset() == timedelta(0)
        assert lot.participation_deadline is None
        assert (lot.start_date, lot.end_date) == ("2019-09-01", "2020-12-31")
    assert tender.tender_deadline == deadline
    assert (tender.participation_deadline, tender.questions_deadline) == (None, None)
    assert tender.lot_groups == []
    assert tender.warnings == []


def test_cn_24_maximal_has_a_lot_group_that_is_not_a_lot() -> None:
    tender = parse_sample("eforms/cn_24_maximal.xml")
    assert tender.procedure_id == "aff2863e-b4cc-4e91-baba-b3b85f709117"
    assert tender.notice_id == "14549263-b47b-4e59-96a1-2d0d13e19343"
    assert tender.language == "ENG"
    assert tender.buyers[0].name == "Financial Adinistration for ..."
    assert (tender.buyers[0].identifier, tender.buyers[0].country) == ("998298", "LUX")
    assert len(tender.buyers) == 1
    assert tender.procedure_type == "neg-w-call"
    assert tender.nature == "services"  # the main nature, not the additional "works"
    assert tender.cpv == ["79710000", "79720000"]
    assert (tender.estimated_value, tender.currency) == (Decimal("9999999.99"), "EUR")
    assert ids(tender.lots) == ["LOT-0001", "LOT-0002"]
    assert [lot.internal_ref for lot in tender.lots] == ["Lot A", "Lot B"]
    assert [lot.title for lot in tender.lots] == ["Title ---", "Title Lot 2---"]
    participation = datetime(2023, 5, 22, 20, 59, 32, tzinfo=CET)
    questions = datetime(2023, 5, 20, 20, 59, 32, tzinfo=CET)
    for lot in tender.lots:
        assert lot.cpv == ["75121000"]
        assert (lot.estimated_value, lot.currency) == (Decimal("9999999.99"), "EUR")
        assert lot.tender_deadline is None  # restricted: only BT-1311
        assert lot.participation_deadline == participation
        assert lot.questions_deadline == questions
    assert (tender.tender_deadline, tender.participation_deadline) == (None, participation)
    assert tender.questions_deadline == questions
    [group] = tender.lot_groups
    assert group.source_id == "GLO-0001"
    assert group.lot_ids == ["LOT-0001", "LOT-0002"]
    assert (group.title, group.estimated_value, group.currency) == ("Title ---", Decimal("9999999.99"), "EUR")


def test_cn_24_maximal_100_lots_reads_every_lot_quickly() -> None:
    data = read("eforms/cn_24_maximal_100_lots.xml")
    calls: list[tuple[int, int]] = []
    started = time.perf_counter()
    [tender] = eforms.parse(data, source="cn_24_maximal_100_lots.xml", progress=lambda d, t: calls.append((d, t)))
    elapsed = time.perf_counter() - started
    assert len(tender.lots) == 100
    assert ids(tender.lots) == [f"LOT-{n:04d}" for n in range(1, 101)]
    assert [lot.internal_ref for lot in tender.lots] == [f"Lot {n}" for n in range(1, 101)]
    assert all(lot.cpv == ["75121000"] for lot in tender.lots)
    assert all((lot.estimated_value, lot.currency) == (Decimal("9999999.99"), "EUR") for lot in tender.lots)
    assert all(lot.participation_deadline == datetime(2023, 5, 22, 20, 59, 32, tzinfo=CET) for lot in tender.lots)
    assert tender.lot_groups == []
    assert calls[-1] == (100, 100)
    assert elapsed < 1.0, f"100-lot notice took {elapsed:.3f} s"


def test_cn_24_multilingual_keeps_the_notice_language_not_the_first_text() -> None:
    tender = parse_sample("eforms/cn_24_multilingual.xml")
    assert tender.language == "ENG"
    assert (
        tender.title == "Provision of IT Services Related to OP IT Systems (EUR-Lex, N-Lex, Search Layer, and Others)"
    )
    assert tender.description.startswith("Provision of IT services related to the information systems")
    assert tender.buyers[0].name == "Publications Office of the European Union"
    assert (tender.buyers[0].identifier, tender.buyers[0].country) == ("EU-PO", "LUX")
    assert tender.procedure_id == "46c9ce89-5986-40d9-992f-e1a2469a48f8"
    assert tender.procedure_type == "open"
    assert tender.cpv == ["72230000", "72260000"]
    assert (tender.estimated_value, tender.currency) == (Decimal("4500000"), "EUR")
    [lot] = tender.lots
    assert lot.source_id == "LOT-0000"
    assert lot.internal_ref == "AO 10786 Lot 1"
    assert lot.title == tender.title
    assert lot.cpv == ["72230000", "72260000"]
    assert (lot.estimated_value, lot.currency) == (Decimal("4500000"), "EUR")
    assert lot.tender_deadline == datetime(2020, 2, 3, 13, 0, tzinfo=UTC)
    assert (lot.duration_value, lot.duration_unit, lot.start_date) == (48, "MONTH", "2020-06-01")
    assert tender.tender_deadline == lot.tender_deadline


def test_multilingual_falls_back_to_french_then_english() -> None:
    data = read("eforms/cn_24_multilingual.xml")
    unknown = data.replace(b"<cbc:NoticeLanguageCode>ENG<", b"<cbc:NoticeLanguageCode>XXX<")
    assert parse_bytes(unknown).title.startswith("Fourniture de services informatiques")
    german = data.replace(b"<cbc:NoticeLanguageCode>ENG<", b"<cbc:NoticeLanguageCode>DEU<")
    assert parse_bytes(german).language == "DEU"
    assert parse_bytes(german).title != parse_bytes(unknown).title
    project = (
        '<cbc:Name languageID="BUL">Б</cbc:Name><cbc:Name languageID="ENG">English</cbc:Name>'
        '<cbc:Description languageID="BUL">only Bulgarian</cbc:Description>'
    )
    tender = parse_bytes(notice(lot_xml("LOT-0001"), language="ITA", project=project))
    assert (tender.title, tender.description) == ("English", "only Bulgarian")


# --- notices published on TED ----------------------------------------------------------------


def test_547670_french_three_lots_without_values() -> None:
    tender = parse_sample("eforms-ted-published/547670-2023.xml")
    assert tender.procedure_id == "b472beaf-2f5e-4afc-9ac0-f238618b32af"
    assert tender.notice_id == "4227480c-5326-47ba-af45-3aa58b106951"
    assert (tender.notice_type, tender.language, tender.procedure_type) == ("cn-social", "FRA", "oth-single")
    assert [(b.name, b.identifier, b.country) for b in tender.buyers] == [
        ("Université de Namur", "0409530535_1697", "BEL")
    ]
    assert tender.cpv == ["55000000"]
    assert ids(tender.lots) == ["LOT-0001", "LOT-0002", "LOT-0003"]
    assert [lot.title for lot in tender.lots] == ["2023UN021 - 1", "2023UN021 - 2", "2023UN021 - 3"]
    assert [lot.cpv for lot in tender.lots] == [["55000000", "55500000"], ["55000000"], ["55000000"]]
    assert all(lot.estimated_value is None and lot.currency == "" for lot in tender.lots)
    deadline = datetime(2023, 10, 11, 14, 0, tzinfo=CEST)
    assert all(lot.tender_deadline == deadline for lot in tender.lots)
    assert tender.tender_deadline == deadline
    assert tender.tender_deadline.utcoffset() == timedelta(hours=2)
    assert tender.estimated_value is None
    assert tender.lot_groups == []


def test_665175_real_lot_group_without_scheme_name() -> None:
    tender = parse_sample("eforms-ted-published/665175-2023.xml")
    assert tender.procedure_id == "ae8b8145-fed3-47e4-bbd5-26c2549633ea"
    assert tender.notice_id == "c7580eab-e355-4b1e-874f-f4a818703953"
    assert (tender.language, tender.procedure_type) == ("POL", "restricted")
    assert [(b.name, b.identifier, b.country) for b in tender.buyers] == [
        ("32 Wojskowy Oddział Gospodarczy w Zamościu", "922-304-63-57", "POL")
    ]
    assert tender.cpv == ["60140000"]
    assert ids(tender.lots) == ["LOT-0001", "LOT-0002", "LOT-0003", "LOT-0004"]
    assert [lot.internal_ref for lot in tender.lots] == [f"CZĘŚĆ NR {n}" for n in range(1, 5)]
    assert all(lot.cpv == ["60140000"] and lot.estimated_value is None for lot in tender.lots)
    participation = datetime(2023, 11, 14, 10, 0, tzinfo=CET)
    assert all(lot.participation_deadline == participation and lot.tender_deadline is None for lot in tender.lots)
    assert all((lot.start_date, lot.end_date) == ("2024-01-01", "2024-12-31") for lot in tender.lots)
    assert (tender.tender_deadline, tender.participation_deadline) == (None, participation)
    [group] = tender.lot_groups
    assert group.source_id == "GLO-0008"
    assert group.lot_ids == ["LOT-0001", "LOT-0003", "LOT-0002", "LOT-0004"]
    assert (group.title, group.estimated_value, group.currency) == ("", None, "")


def test_762961_prior_information_notice_lot_values_add_up() -> None:
    tender = parse_sample("eforms-ted-published/762961-2023.xml")
    assert tender.procedure_id == "98dd947e-f61d-426d-8b2d-f0f1141db12a"
    assert tender.notice_id == "91b2373e-ec9e-421a-ac2a-82d39e6f21da"
    assert (tender.notice_type, tender.language) == ("pin-cfc-standard", "ELL")
    assert tender.buyers[0].name == "ΠΑΝΕΠΙΣΤΗΜΙΟ ΠΕΛΟΠΟΝΝΗΣΟΥ"
    assert tender.buyers[0].country == "GRC"
    assert tender.cpv == ["79713000"]
    assert (tender.estimated_value, tender.currency) == (Decimal("1006000"), "EUR")
    assert ids(tender.lots) == ["LOT-0001", "LOT-0002", "LOT-0003", "LOT-0004"]
    values = [lot.estimated_value for lot in tender.lots]
    assert values == [Decimal("428000"), Decimal("258000"), Decimal("236000"), Decimal("84000")]
    assert sum((value or Decimal(0) for value in values), Decimal(0)) == Decimal("1006000.00")
    assert all(lot.currency == "EUR" and lot.cpv == ["79713000"] for lot in tender.lots)
    assert all((lot.duration_value, lot.duration_unit) == (36, "MONTH") for lot in tender.lots)
    assert tender.lots[0].title == "ΟΜΑΔΑ Α-ΤΡΙΠΟΛΗ"
    assert (tender.tender_deadline, tender.participation_deadline, tender.questions_deadline) == (
        None,
        None,
        None,
    )
    assert tender.lot_groups == []


def test_615708_framework_maximum_is_kept_apart_from_the_estimate() -> None:
    tender = parse_sample("eforms-ted-published/615708-2023.xml")
    assert tender.procedure_id == "bc38ad25-a1f2-4553-875f-ba937663dfff"
    assert tender.notice_id == "e7e6a9f6-a5bd-4515-b985-652b23d95916"
    assert (tender.language, tender.procedure_type) == ("FIN", "restricted")
    assert tender.title == "ICT-järjestelmien rakentamisen tukipalvelut"
    assert [(b.name, b.identifier, b.country) for b in tender.buyers] == [
        ("Puolustusvoimien logistiikkalaitos", "0952029-9", "FIN")
    ]
    assert tender.cpv == ["72000000"]
    assert (tender.estimated_value, tender.currency) == (Decimal("10000000"), "EUR")
    [lot] = tender.lots
    assert (lot.source_id, lot.internal_ref) == ("LOT-0000", "669798")
    assert lot.cpv == ["72000000"]
    assert (lot.estimated_value, lot.framework_maximum, lot.currency) == (
        Decimal("10000000"),
        Decimal("10000000"),
        "EUR",
    )
    assert (lot.duration_value, lot.duration_unit) == (60, "MONTH")
    assert lot.participation_deadline == datetime(2023, 11, 10, 14, 0, tzinfo=CEST)
    assert lot.questions_deadline == datetime(2023, 10, 31, 14, 0, tzinfo=CEST)
    assert tender.participation_deadline == lot.participation_deadline
    assert tender.questions_deadline == lot.questions_deadline
    assert tender.tender_deadline is None


def test_converted_20_213571() -> None:
    tender = parse_sample("eforms-converted/20-213571-001-EXP.xml")
    assert tender.procedure_id == "aff2863e-b4cc-4e91-baba-b3b85f709117"
    assert tender.title == "Information and Communications Technology Services"
    assert tender.buyers[0].name == "English Institute of Sport Ltd"
    assert tender.cpv == ["72600000"]
    assert (tender.estimated_value, tender.currency) == (Decimal("1530376.00"), "GBP")
    assert ids(tender.lots) == ["LOT-0001", "LOT-0002"]
    assert [lot.title for lot in tender.lots] == ["Managed Services", "Wide Area Network"]
    assert [lot.cpv for lot in tender.lots] == [["72600000", "72500000"], ["72600000", "64200000"]]
    assert [lot.estimated_value for lot in tender.lots] == [Decimal("1295520.00"), Decimal("234856.00")]
    assert [lot.currency for lot in tender.lots] == ["GBP", "GBP"]
    assert all(lot.tender_deadline == datetime(2020, 6, 5, 11, 0, tzinfo=UTC) for lot in tender.lots)


def test_the_dispatcher_routes_a_sample_here() -> None:
    fmt, [tender] = dispatch(read("eforms/cn_24_FRA_comments.xml"), source="cn.xml")
    assert fmt == "eforms"
    assert len(tender.lots) == 2


# --- features built on small notices ---------------------------------------------------------


def test_prior_information_notice_parts_are_lots() -> None:
    data = notice(
        lot_xml("PAR-0001", scheme="Part") + lot_xml("PAR-0002", scheme="Part"), root="PriorInformationNotice"
    )
    tender = parse_bytes(data)
    assert ids(tender.lots) == ["PAR-0001", "PAR-0002"]
    assert tender.notice_type == "PriorInformationNotice"


def test_contract_award_notice_is_read() -> None:
    tender = parse_bytes(notice(lot_xml("LOT-0001"), root="ContractAwardNotice"))
    assert ids(tender.lots) == ["LOT-0001"]


def test_change_notice_names_the_notice_it_changes() -> None:
    changes = (
        "<efac:Changes><efbc:ChangedNoticeIdentifier>old-notice-01</efbc:ChangedNoticeIdentifier>"
        "<efac:Change><efac:ChangedSection><efbc:ChangedSectionIdentifier>LOT-0001</efbc:ChangedSectionIdentifier>"
        "</efac:ChangedSection></efac:Change></efac:Changes>"
    )
    tender = parse_bytes(notice(lot_xml("LOT-0001"), extension=changes))
    assert (tender.changes_notice_id, tender.procedure_id, tender.notice_id) == (
        "old-notice-01",
        "proc-1",
        "n-1",
    )


def test_namespaces_are_matched_by_uri_whatever_the_prefixes() -> None:
    data = (
        b'<n:ContractNotice xmlns:n="urn:oasis:names:specification:ubl:schema:xsd:ContractNotice-2"'
        b' xmlns:A="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">'
        b'<ID xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"'
        b' schemeName="notice-id">x</ID><A:ProcurementProjectLot>'
        b'<B:ID xmlns:B="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"'
        b' schemeName="Lot">LOT-0007</B:ID></A:ProcurementProjectLot></n:ContractNotice>'
    )
    tender = parse_bytes(data)
    assert tender.notice_id == "x"
    assert ids(tender.lots) == ["LOT-0007"]


def test_each_amount_keeps_its_own_currency() -> None:
    def project(amount: str, currency: str) -> str:
        return (
            f"<cac:ProcurementProject><cac:RequestedTenderTotal><cbc:EstimatedOverallContractAmount "
            f'currencyID="{currency}">{amount}</cbc:EstimatedOverallContractAmount></cac:RequestedTenderTotal>'
            f"</cac:ProcurementProject>"
        )

    lots = lot_xml("LOT-0001", body=project("1000.50", "EUR")) + lot_xml("LOT-0002", body=project("200", "PLN"))
    tender = parse_bytes(
        notice(
            lots,
            project='<cac:RequestedTenderTotal><cbc:EstimatedOverallContractAmount currencyID="GBP">9.99'
            "</cbc:EstimatedOverallContractAmount></cac:RequestedTenderTotal>",
        )
    )
    assert (tender.estimated_value, tender.currency) == (Decimal("9.99"), "GBP")
    assert [(lot.estimated_value, lot.currency) for lot in tender.lots] == [
        (Decimal("1000.50"), "EUR"),
        (Decimal("200"), "PLN"),
    ]
    assert all(isinstance(lot.estimated_value, Decimal) for lot in tender.lots)


def test_tender_deadlines_are_the_earliest_of_the_lots() -> None:
    def deadlines(day: str, hour: str) -> str:
        return (
            "<cac:TenderingProcess><cac:TenderSubmissionDeadlinePeriod>"
            f"<cbc:EndDate>{day}</cbc:EndDate><cbc:EndTime>{hour}</cbc:EndTime>"
            "</cac:TenderSubmissionDeadlinePeriod></cac:TenderingProcess>"
        )

    lots = (
        lot_xml("LOT-0001", body=deadlines("2024-03-01+01:00", "12:00:00+01:00"))
        + lot_xml("LOT-0002", body=deadlines("2024-03-01Z", "10:30:00Z"))
        + lot_xml("LOT-0003")
    )
    tender = parse_bytes(notice(lots))
    assert tender.tender_deadline == datetime(2024, 3, 1, 10, 30, tzinfo=UTC)
    assert tender.lots[0].tender_deadline == datetime(2024, 3, 1, 11, 0, tzinfo=UTC)
    assert tender.lots[2].tender_deadline is None


def test_planned_period_with_duration_or_dates() -> None:
    period = (
        "<cac:ProcurementProject><cac:PlannedPeriod>"
        '<cbc:DurationMeasure unitCode="DAY">90</cbc:DurationMeasure>'
        "</cac:PlannedPeriod></cac:ProcurementProject>"
    )
    dates = (
        "<cac:ProcurementProject><cac:PlannedPeriod><cbc:StartDate>2025-01-01+01:00</cbc:StartDate>"
        "<cbc:EndDate>2026-06-30+02:00</cbc:EndDate></cac:PlannedPeriod></cac:ProcurementProject>"
    )
    tender = parse_bytes(notice(lot_xml("LOT-0001", body=period) + lot_xml("LOT-0002", body=dates)))
    first, second = tender.lots
    assert (first.duration_value, first.duration_unit, first.start_date) == (90, "DAY", "")
    assert (second.duration_value, second.start_date, second.end_date) == (None, "2025-01-01", "2026-06-30")


def test_an_unknown_buyer_reference_is_a_warning() -> None:
    party = "<cac:ContractingParty><cac:Party><cac:PartyIdentification><cbc:ID>ORG-0009</cbc:ID>"
    data = notice(lot_xml("LOT-0001")).replace(
        b"<cac:ProcurementProject>",
        party.encode() + b"</cac:PartyIdentification></cac:Party></cac:ContractingParty><cac:ProcurementProject>",
        1,
    )
    tender = parse_bytes(data)
    assert tender.buyers == []
    assert "ORG-0009" in str(tender.warnings[0])


# --- bad notices -----------------------------------------------------------------------------


def test_a_notice_without_lots_is_refused() -> None:
    assert_import_fails(notice(), "notice.xml: the notice has no lots")


def test_a_notice_with_only_a_lot_group_is_refused() -> None:
    assert_import_fails(notice(lot_xml("GLO-0001", scheme="LotsGroup")), "the notice has no lots")


def test_duplicate_lot_ids_name_the_element() -> None:
    lots = lot_xml("LOT-0001") + lot_xml("LOT-0002") + lot_xml("LOT-0002")
    assert_import_fails(notice(lots), "notice.xml, ProcurementProjectLot #3: duplicate lot id LOT-0002")


def test_a_lot_without_id_names_the_element() -> None:
    lots = (
        lot_xml("LOT-0001")
        + "<cac:ProcurementProjectLot><cbc:ID schemeName='Lot'> </cbc:ID></cac:ProcurementProjectLot>"
    )
    assert_import_fails(notice(lots), "notice.xml, ProcurementProjectLot #2: lot without an id")
    no_id = lot_xml("LOT-0001") + "<cac:ProcurementProjectLot/>"
    assert_import_fails(notice(no_id), "ProcurementProjectLot #2: lot without an id")


def test_a_nul_character_in_a_title_is_refused() -> None:
    raw = notice(lot_xml("LOT-0001"), project="<cbc:Name>Bad\x00title</cbc:Name>")
    assert_import_fails(raw, "notice.xml, line 7", "0x0")
    reference = notice(lot_xml("LOT-0001"), project="<cbc:Name>Bad&#0;title</cbc:Name>")
    assert_import_fails(reference, "notice.xml, line 7", "invalid xmlChar value 0")


def test_a_bad_amount_names_the_lot_and_the_field() -> None:
    body = (
        "<cac:ProcurementProject><cac:RequestedTenderTotal>"
        "<cbc:EstimatedOverallContractAmount currencyID='EUR'>1,5</cbc:EstimatedOverallContractAmount>"
        "</cac:RequestedTenderTotal></cac:ProcurementProject>"
    )
    assert_import_fails(
        notice(lot_xml("LOT-0001", body=body)),
        "ProcurementProjectLot #1 (LOT-0001)",
        "EstimatedOverallContractAmount: not a decimal amount: '1,5'",
    )


def test_a_bad_currency_is_refused() -> None:
    body = (
        "<cac:ProcurementProject><cac:RequestedTenderTotal>"
        "<cbc:EstimatedOverallContractAmount currencyID='euro'>1</cbc:EstimatedOverallContractAmount>"
        "</cac:RequestedTenderTotal></cac:ProcurementProject>"
    )
    assert_import_fails(notice(lot_xml("LOT-0001", body=body)), "not a currency code: 'EURO'")


def test_a_bad_deadline_is_refused() -> None:
    body = (
        "<cac:TenderingProcess><cac:TenderSubmissionDeadlinePeriod><cbc:EndDate>2024-02-30Z</cbc:EndDate>"
        "</cac:TenderSubmissionDeadlinePeriod></cac:TenderingProcess>"
    )
    assert_import_fails(notice(lot_xml("LOT-0001", body=body)), "LOT-0001", "not a date")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"<foo/>", "not an eForms notice: root element is 'foo'"),
        (b"<html><head><title>Hi</title></head><body><p>x</p></body></html>", "root element is 'html'"),
        (b"<!DOCTYPE html>\n<html><body>hello</body></html>", "DOCTYPE"),
        (b"<ContractNotice><cbc:ID/></ContractNotice>", "Namespace prefix cbc"),
        (b"<ContractNotice/>", "in namespace None"),
        (
            b"<BusinessRegistrationInformationNotice xmlns='urn:oasis:names:specification:ubl:schema:xsd:"
            b"BusinessRegistrationInformationNotice-2'/>",
            "expected one of ContractNotice",
        ),
    ],
)
def test_other_xml_is_refused(data: bytes, fragment: str) -> None:
    assert_import_fails(data, "notice.xml", fragment)


def test_a_ted_file_given_as_eforms_is_refused() -> None:
    assert_import_fails(read("ted-r209/20-213571-001-EXP.xml"), "root element is 'TED_EXPORT'")


def test_the_dispatcher_refuses_foo_with_fmt_eforms() -> None:
    with pytest.raises(ImportFailed, match=r"notice\.xml: not an eForms notice"):
        dispatch(b"<foo/>", source="notice.xml", fmt="eforms")


@pytest.mark.parametrize("data", [b"", b"  \n", b"<ContractNotice"])
def test_empty_or_truncated_files_are_refused(data: bytes) -> None:
    assert_import_fails(data, "notice.xml")


def test_a_truncated_sample_names_the_line() -> None:
    data = read("eforms/cn_24_FRA_comments.xml")
    message = assert_import_fails(data[: len(data) // 2], "notice.xml, line ", "truncated")
    assert "line 1:" not in message


# --- robustness ------------------------------------------------------------------------------

FUZZ_SAMPLE = read("eforms-converted/20-213571-001-EXP.xml")


def _parse_or_import_failed(data: bytes) -> None:
    assert_one_tender_or_named_failure(eforms.parse, data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_give_import_failed_or_a_tender(data: bytes) -> None:
    _parse_or_import_failed(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample_edits(FUZZ_SAMPLE))
def test_mutated_samples_give_import_failed_or_a_tender(edits: list[tuple[int, int, bytes]]) -> None:
    _parse_or_import_failed(apply_edits(FUZZ_SAMPLE, edits))


_SNIPPETS = [
    b"",
    b"<cbc:ID/>",
    b'<cbc:ID schemeName="Lot">LOT-0001</cbc:ID>',
    b"<cbc:EndDate>2020-13-45Z</cbc:EndDate>",
    b'<cbc:DurationMeasure unitCode="MONTH">x</cbc:DurationMeasure>',
    b'<cbc:EstimatedOverallContractAmount currencyID="EUR">1e999</cbc:EstimatedOverallContractAmount>',
    b"<cbc:EndTime>25:61:00Z</cbc:EndTime>",
    b"</cac:ProcurementProjectLot><cac:ProcurementProjectLot>",
]


_ROOT_START = FUZZ_SAMPLE.find(b"<ContractNotice")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(FUZZ_SAMPLE)), st.sampled_from(_SNIPPETS))
def test_well_formed_but_odd_elements_give_import_failed_or_a_tender(position: int, snippet: bytes) -> None:
    # Insert at element boundaries so most variants stay well-formed and reach the field readers.
    boundary = FUZZ_SAMPLE.find(b"<", max(position, _ROOT_START + 1))
    boundary = boundary if boundary != -1 else FUZZ_SAMPLE.rfind(b"</ContractNotice>")
    _parse_or_import_failed(FUZZ_SAMPLE[:boundary] + snippet + FUZZ_SAMPLE[boundary:])
