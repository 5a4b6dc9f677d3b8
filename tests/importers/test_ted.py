"""Legacy TED XML (R2.0.9) importer: the samples, the language choice, local deadlines, bad files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bids.importers import eforms, ted
from bids.importers import parse as dispatch
from bids.importers.base import CanonicalTender, ImportFailed
from tests.importers.fuzzing import apply_edits, assert_one_tender_or_named_failure, sample_edits

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
TED_NS = "http://publications.europa.eu/resource/schema/ted/R2.0.9/publication"


def read(relative: str) -> bytes:
    return (SAMPLES / relative).read_bytes()


def parse_bytes(data: bytes, source: str = "notice.xml") -> CanonicalTender:
    [tender] = ted.parse(data, source=source)
    return tender


def assert_import_fails(data: bytes, *fragments: str) -> str:
    with pytest.raises(ImportFailed) as caught:
        ted.parse(data, source="notice.xml")
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def ted_notice(
    object_descrs: str,
    *,
    country: str = "FR",
    procedure: str = "<PT_OPEN/><DATE_RECEIPT_TENDERS>2024-01-15</DATE_RECEIPT_TENDERS>"
    "<TIME_RECEIPT_TENDERS>12:00</TIME_RECEIPT_TENDERS>",
    contract_extra: str = "",
) -> bytes:
    """A small F02 notice with the given OBJECT_DESCR elements."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<TED_EXPORT xmlns="{TED_NS}" VERSION="R2.0.9.S05.E01" DOC_ID="1-2024">\n'
        "<CODED_DATA_SECTION><NOTICE_DATA><NO_DOC_OJS>2024/S 001-000001</NO_DOC_OJS><LG_ORIG>FR</LG_ORIG>"
        f'<ISO_COUNTRY VALUE="{country}"/></NOTICE_DATA></CODED_DATA_SECTION>\n'
        '<FORM_SECTION><F02_2014 CATEGORY="ORIGINAL" FORM="F02" LG="FR">\n'
        "<CONTRACTING_BODY><ADDRESS_CONTRACTING_BODY><OFFICIALNAME>Ville</OFFICIALNAME>"
        f'<NATIONALID>21750001600019</NATIONALID><COUNTRY VALUE="{country}"/></ADDRESS_CONTRACTING_BODY>'
        "</CONTRACTING_BODY>\n"
        '<OBJECT_CONTRACT><TITLE><P>Marché</P></TITLE><CPV_MAIN><CPV_CODE CODE="72000000"/></CPV_MAIN>'
        f'<TYPE_CONTRACT CTYPE="SERVICES"/>{contract_extra}\n{object_descrs}\n</OBJECT_CONTRACT>\n'
        f"<PROCEDURE>{procedure}</PROCEDURE>\n</F02_2014></FORM_SECTION>\n</TED_EXPORT>"
    ).encode()


def object_descr(lot_no: str | None, body: str = "") -> str:
    number = f"<LOT_NO>{lot_no}</LOT_NO>" if lot_no is not None else ""
    return f'<OBJECT_DESCR ITEM="1">{number}{body}</OBJECT_DESCR>'


# --- samples ---------------------------------------------------------------------------------


def test_20_213571_two_lots_in_gbp() -> None:
    tender = parse_bytes(read("ted-r209/20-213571-001-EXP.xml"), source="20-213571-001-EXP.xml")
    assert tender.source_format == "ted"
    assert tender.procedure_id == "2020/S 087-209416"  # no REFERENCE_NUMBER: the OJ S number
    assert tender.notice_id == "209416-2020"
    assert (tender.notice_type, tender.language) == ("F02", "EN")
    assert [(b.name, b.identifier, b.country) for b in tender.buyers] == [("English Institute of Sport Ltd", "", "UK")]
    assert tender.title == "Information and Communications Technology Services"
    assert tender.description.startswith("English Institute of Sport (‘the EIS’) is seeking")
    assert (tender.nature, tender.procedure_type) == ("services", "restricted")
    assert tender.cpv == ["72600000"]  # the supplementary JA.. codes are not CPV codes
    assert (tender.estimated_value, tender.currency) == (Decimal("1530376.00"), "GBP")
    assert [lot.source_id for lot in tender.lots] == ["1", "2"]
    assert [lot.title for lot in tender.lots] == ["Managed Services", "Wide Area Network"]
    assert [lot.cpv for lot in tender.lots] == [["72500000"], ["64200000"]]
    assert [lot.estimated_value for lot in tender.lots] == [Decimal("1295520.00"), Decimal("234856.00")]
    assert [lot.currency for lot in tender.lots] == ["GBP", "GBP"]
    assert all((lot.duration_value, lot.duration_unit) == (48, "MONTH") for lot in tender.lots)
    # 12:00 in London in June is British Summer Time, 11:00 UTC.
    deadline = datetime(2020, 6, 5, 11, 0, tzinfo=UTC)
    assert tender.tender_deadline == deadline
    assert tender.tender_deadline.utcoffset() == timedelta(hours=1)
    assert all(lot.tender_deadline == deadline for lot in tender.lots)
    assert tender.lot_groups == []
    assert tender.warnings == []
    assert "\n" in tender.lots[0].description  # one paragraph per line


def test_22_104446_reads_the_english_original_first_in_lg_orig() -> None:
    tender = parse_bytes(read("ted-r209/22-104446-001-EXP.xml"))
    assert tender.language == "EN"
    assert tender.procedure_id == "2022/S 041-107804"
    assert tender.notice_id == "107804-2022"
    assert tender.title.startswith("Generation of technical data for the application")
    assert [(b.name, b.country) for b in tender.buyers] == [("ETH Zürich Abteilung Finanzdienstleistungen", "CH")]
    assert (tender.procedure_type, tender.nature) == ("open", "services")
    assert tender.cpv == ["71600000"]
    assert [lot.source_id for lot in tender.lots] == ["1", "2", "3"]
    assert [lot.title for lot in tender.lots] == ["Lot 1", "Lot 2", "Lot 3"]  # no TITLE in the notice
    assert [lot.cpv for lot in tender.lots] == [["71610000"], ["71610000"], ["71600000"]]
    assert all(lot.estimated_value is None and lot.currency == "" for lot in tender.lots)
    assert (tender.estimated_value, tender.currency) == (None, "")
    assert [(lot.start_date, lot.end_date) for lot in tender.lots] == [
        ("2022-04-29", "2022-12-23"),
        ("2022-04-29", "2023-12-22"),
        ("2022-04-29", "2022-12-23"),
    ]
    # 12:00 in Zurich in March is CET, 11:00 UTC.
    assert tender.tender_deadline == datetime(2022, 3, 23, 11, 0, tzinfo=UTC)
    assert tender.tender_deadline.tzinfo == ZoneInfo("Europe/Zurich")


def test_22_104446_language_choice_follows_lg_orig_not_the_form_order() -> None:
    data = read("ted-r209/22-104446-001-EXP.xml")
    german_first = data.replace(
        b"<LG_ORIG>EN</LG_ORIG>\n         <LG_ORIG>DE</LG_ORIG>",
        b"<LG_ORIG>DE</LG_ORIG>\n         <LG_ORIG>EN</LG_ORIG>",
    )
    assert german_first != data
    tender = parse_bytes(german_first)
    assert tender.language == "DE"
    assert tender.lots[1].cpv == ["71600000"]  # the German version disagrees on lot 2
    assert [lot.title for lot in tender.lots] == ["Lot 1", "Lot 2", "Lot 3"]


def test_22_104446_without_a_matching_lg_orig_takes_the_first_original() -> None:
    data = read("ted-r209/22-104446-001-EXP.xml")
    for language in (b"EN", b"DE", b"FR"):
        data = data.replace(b"<LG_ORIG>" + language + b"</LG_ORIG>", b"<LG_ORIG>IT</LG_ORIG>")
    tender = parse_bytes(data)
    assert tender.language == "EN"
    assert tender.lots[1].cpv == ["71610000"]


def test_22_104446_translations_are_never_chosen_over_an_original() -> None:
    data = read("ted-r209/22-104446-001-EXP.xml").replace(
        b'CATEGORY="ORIGINAL" FORM="F02" LG="EN"', b'CATEGORY="TRANSLATION" FORM="F02" LG="EN"'
    )
    assert parse_bytes(data).language == "DE"  # next in LG_ORIG: EN, DE, FR


def test_parity_with_the_eforms_conversion_of_the_same_notice() -> None:
    [legacy] = ted.parse(read("ted-r209/20-213571-001-EXP.xml"), source="ted.xml")
    [converted] = eforms.parse(read("eforms-converted/20-213571-001-EXP.xml"), source="eforms.xml")
    assert len(legacy.lots) == len(converted.lots) == 2
    assert [lot.estimated_value for lot in legacy.lots] == [lot.estimated_value for lot in converted.lots]
    assert [lot.currency for lot in legacy.lots] == [lot.currency for lot in converted.lots]
    assert [lot.title for lot in legacy.lots] == [lot.title for lot in converted.lots]
    assert [lot.duration_value for lot in legacy.lots] == [lot.duration_value for lot in converted.lots]
    assert (legacy.estimated_value, legacy.currency) == (converted.estimated_value, converted.currency)
    assert (legacy.title, legacy.nature, legacy.procedure_type) == (
        converted.title,
        converted.nature,
        converted.procedure_type,
    )
    assert legacy.cpv == converted.cpv
    # The converter copies the procedure CPV into each lot; the lot's own codes agree after it.
    assert [lot.cpv for lot in legacy.lots] == [lot.cpv[1:] for lot in converted.lots]
    assert legacy.tender_deadline == converted.tender_deadline  # same instant, local zone vs offset
    assert legacy.buyers[0].name == converted.buyers[0].name


def test_the_dispatcher_routes_ted_files_here() -> None:
    fmt, [tender] = dispatch(read("ted-r209/22-104446-001-EXP.xml"), source="t.xml")
    assert fmt == "ted"
    assert len(tender.lots) == 3


# --- fields on small notices -----------------------------------------------------------------


def test_reference_number_is_the_procedure_id_when_present() -> None:
    tender = parse_bytes(
        ted_notice(object_descr("1"), contract_extra="<REFERENCE_NUMBER>2024-INF-07</REFERENCE_NUMBER>")
    )
    assert tender.procedure_id == "2024-INF-07"
    assert tender.notice_id == "1-2024"
    assert tender.buyers[0].identifier == "21750001600019"


@pytest.mark.parametrize(
    ("country", "winter_offset"),
    [("FR", 1), ("GB", 0), ("UK", 0), ("CH", 1), ("BE", 1), ("DE", 1), ("FI", 2), ("XX", 1)],
)
def test_deadline_is_local_time_in_the_buyer_country(country: str, winter_offset: int) -> None:
    tender = parse_bytes(ted_notice(object_descr("1"), country=country))
    assert tender.tender_deadline is not None
    assert tender.tender_deadline.utcoffset() == timedelta(hours=winter_offset)
    assert tender.tender_deadline.replace(tzinfo=None) == datetime(2024, 1, 15, 12, 0)


def test_summer_deadline_in_paris_is_utc_plus_two() -> None:
    procedure = (
        "<PT_OPEN/><DATE_RECEIPT_TENDERS>2024-07-01</DATE_RECEIPT_TENDERS>"
        "<TIME_RECEIPT_TENDERS>09:30</TIME_RECEIPT_TENDERS>"
    )
    tender = parse_bytes(ted_notice(object_descr("1"), procedure=procedure))
    assert tender.tender_deadline == datetime(2024, 7, 1, 7, 30, tzinfo=UTC)


def test_no_deadline_in_the_notice_gives_none() -> None:
    tender = parse_bytes(ted_notice(object_descr("1"), procedure="<PT_OPEN/>"))
    assert tender.tender_deadline is None
    assert tender.lots[0].tender_deadline is None


def test_lot_numbers_are_kept_as_written_and_in_order() -> None:
    tender = parse_bytes(ted_notice(object_descr("B") + object_descr("A") + object_descr("10")))
    assert [lot.source_id for lot in tender.lots] == ["B", "A", "10"]
    assert [lot.title for lot in tender.lots] == ["Lot B", "Lot A", "Lot 10"]


def test_lot_cpv_main_comes_before_additional_codes() -> None:
    body = (
        '<CPV_ADDITIONAL><CPV_CODE CODE="48000000"/></CPV_ADDITIONAL>'
        '<CPV_MAIN><CPV_CODE CODE="72000000"/></CPV_MAIN>'
        '<CPV_ADDITIONAL><CPV_CODE CODE="72000000"/></CPV_ADDITIONAL>'
        '<VAL_OBJECT CURRENCY="PLN">10.5</VAL_OBJECT>'
    )
    lot = parse_bytes(ted_notice(object_descr("1", body))).lots[0]
    assert lot.cpv == ["72000000", "48000000"]
    assert (lot.estimated_value, lot.currency) == (Decimal("10.5"), "PLN")


def test_an_undivided_contract_is_one_lot() -> None:
    tender = parse_bytes(ted_notice(object_descr(None, "<TITLE><P>Tout</P></TITLE>")))
    assert [(lot.source_id, lot.title) for lot in tender.lots] == [("1", "Tout")]


# --- bad files -------------------------------------------------------------------------------


def test_no_lots_is_refused() -> None:
    assert_import_fails(ted_notice(""), "notice.xml, F02_2014[FR], OBJECT_CONTRACT: the notice has no lots")


def test_duplicate_lot_numbers_name_the_element() -> None:
    data = ted_notice(object_descr("1") + object_descr("2") + object_descr("2"))
    assert_import_fails(data, "notice.xml, F02_2014[FR], OBJECT_DESCR #3: duplicate lot number 2")


def test_several_lots_without_lot_no_are_refused() -> None:
    assert_import_fails(ted_notice(object_descr(None) + object_descr(None)), "OBJECT_DESCR #1: lot without LOT_NO")


def test_a_value_without_currency_is_refused() -> None:
    data = ted_notice(object_descr("1", "<VAL_OBJECT>100</VAL_OBJECT>"))
    assert_import_fails(data, "OBJECT_DESCR #1 (lot 1), VAL_OBJECT: missing or invalid CURRENCY")


@pytest.mark.parametrize(
    ("procedure", "fragment"),
    [
        ("<DATE_RECEIPT_TENDERS>2024-02-30</DATE_RECEIPT_TENDERS>", "not a date: '2024-02-30'"),
        (
            "<DATE_RECEIPT_TENDERS>2024-02-01</DATE_RECEIPT_TENDERS><TIME_RECEIPT_TENDERS>25:00</TIME_RECEIPT_TENDERS>",
            "not a time: '25:00'",
        ),
    ],
)
def test_bad_deadlines_are_refused(procedure: str, fragment: str) -> None:
    assert_import_fails(ted_notice(object_descr("1"), procedure=procedure), "DATE_RECEIPT_TENDERS", fragment)


def test_a_file_without_an_original_form_is_refused() -> None:
    data = ted_notice(object_descr("1")).replace(b'CATEGORY="ORIGINAL"', b'CATEGORY="TRANSLATION"')
    assert_import_fails(data, "notice.xml: no ORIGINAL form")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"<foo/>", "not a TED R2.0.9 notice: root element is 'foo'"),
        (b"<TED_EXPORT/>", "in namespace None"),
        (
            b"<TED_EXPORT xmlns='http://publications.europa.eu/resource/schema/ted/R2.0.8/publication'/>",
            "R2.0.8",
        ),
        (b"", "the file is empty"),
        (b"<TED_EXPORT xmlns='x'>\n<FORM_SECTION>", "line 2"),
    ],
)
def test_other_files_are_refused(data: bytes, fragment: str) -> None:
    assert_import_fails(data, "notice.xml", fragment)


def test_an_eforms_notice_given_as_ted_is_refused() -> None:
    assert_import_fails(read("eforms/cn_24_FRA_comments.xml"), "root element is 'ContractNotice'")


def test_xxe_in_a_ted_file_is_refused() -> None:
    data = read("ted-r209/20-213571-001-EXP.xml").replace(
        b"<TED_EXPORT", b'<!DOCTYPE TED_EXPORT [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<TED_EXPORT', 1
    )
    assert_import_fails(data, "notice.xml, line 2", "DOCTYPE")


# --- robustness ------------------------------------------------------------------------------

FUZZ_SAMPLE = read("ted-r209/20-213571-001-EXP.xml")


def _parse_or_import_failed(data: bytes) -> None:
    assert_one_tender_or_named_failure(ted.parse, data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_give_import_failed_or_a_tender(data: bytes) -> None:
    _parse_or_import_failed(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample_edits(FUZZ_SAMPLE))
def test_mutated_samples_give_import_failed_or_a_tender(edits: list[tuple[int, int, bytes]]) -> None:
    _parse_or_import_failed(apply_edits(FUZZ_SAMPLE, edits))


_FIELD_VALUES = st.sampled_from(["", " ", "x", "2020-13-01", "99:99", "-1", "1e9", "１２", "GBP", "A" * 50])
_FIELDS = ("DATE_RECEIPT_TENDERS", "TIME_RECEIPT_TENDERS", "LOT_NO", "VAL_OBJECT", "DURATION", "OFFICIALNAME")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_FIELDS), _FIELD_VALUES)
def test_odd_field_values_give_import_failed_or_a_tender(field_name: str, value: str) -> None:
    start = FUZZ_SAMPLE.index(f"<{field_name}".encode())
    open_end = FUZZ_SAMPLE.index(b">", start) + 1
    close = FUZZ_SAMPLE.index(f"</{field_name}>".encode(), open_end)
    _parse_or_import_failed(FUZZ_SAMPLE[:open_end] + value.encode() + FUZZ_SAMPLE[close:])
