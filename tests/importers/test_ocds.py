"""OCDS importer: the two real samples figure by figure, synthetic shapes, and hostile input.

Expected figures were read from the sample files by hand (see tests/data/samples/PROVENANCE.md).
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bids import importers
from bids.importers import ocds
from bids.importers.base import CanonicalBuyer, CanonicalTender, ImportFailed, Problem
from tests.importers.fuzzing import to_json

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples" / "ocds"
PARAGUAY = "test_data.json"
UK = "releases_with_combined_tables.json"
SOURCE = "upload.json"

PARAGUAY_TZ = timezone(timedelta(hours=-4))
BST = timezone(timedelta(hours=1))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def parse(document: Any) -> list[CanonicalTender]:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    return ocds.parse(data, source=SOURCE)


def refused(document: Any) -> Problem:
    with pytest.raises(ImportFailed) as caught:
        parse(document)
    assert len(caught.value.problems) == 1
    return caught.value.problems[0]


def floats_in(value: Any) -> list[Any]:
    """Every float anywhere inside canonical dataclasses (money must be Decimal)."""
    if isinstance(value, float):
        return [value]
    if is_dataclass(value):
        return [f for field in fields(value) for f in floats_in(getattr(value, field.name))]
    if isinstance(value, list):
        return [f for item in value for f in floats_in(item)]
    return []


# --- Paraguay DNCP: release package, 1 release, 2 lots, 16 priced items, no CPV --------------------


@pytest.fixture(scope="module")
def paraguay() -> CanonicalTender:
    tenders = ocds.parse(sample(PARAGUAY), source=PARAGUAY)
    assert len(tenders) == 1
    return tenders[0]


def test_paraguay_tender_header(paraguay: CanonicalTender) -> None:
    assert paraguay.source_format == "ocds"
    assert paraguay.procedure_id == "ocds-03ad3f-394282-1"
    assert paraguay.notice_id == "394282-adquisicion-cubiertas-maquinarias-vehiculos-utilitarios-annp-1-1621414358"
    assert paraguay.notice_type == "planning,tender"
    assert paraguay.language == "es"
    assert paraguay.title == "ADQUISICIÓN DE CUBIERTAS PARA MAQUINARIAS Y VEHÍCULOS UTILITARIOS DE LA ANNP"
    assert paraguay.description == ""
    assert paraguay.nature == "supplies"
    assert paraguay.procedure_type == "open"
    assert paraguay.warnings == []


def test_paraguay_value_is_an_exact_decimal_in_pyg(paraguay: CanonicalTender) -> None:
    assert paraguay.estimated_value == Decimal("309718553")
    assert type(paraguay.estimated_value) is Decimal
    assert paraguay.currency == "PYG"
    assert floats_in(paraguay) == []


def test_paraguay_deadlines_are_aware_and_keep_their_offset(paraguay: CanonicalTender) -> None:
    assert paraguay.tender_deadline == datetime(2021, 5, 26, 9, 0, tzinfo=PARAGUAY_TZ)
    assert paraguay.tender_deadline.utcoffset() == timedelta(hours=-4)
    assert paraguay.questions_deadline == datetime(2021, 5, 21, 9, 0, tzinfo=PARAGUAY_TZ)
    assert paraguay.participation_deadline is None


def test_paraguay_buyer_comes_from_buyer_and_its_party(paraguay: CanonicalTender) -> None:
    assert paraguay.buyers == [
        CanonicalBuyer(name="Administración Nacional de Navegación y Puertos (ANNP)", identifier="DNCP-SICP-CODE-169")
    ]


def test_paraguay_catalogue_and_unspsc_classifications_are_not_taken_for_cpv(
    paraguay: CanonicalTender,
) -> None:
    assert paraguay.cpv == []
    assert [lot.cpv for lot in paraguay.lots] == [[], []]
    assert {line.cpv for line in paraguay.lines} == {""}


def test_paraguay_lots(paraguay: CanonicalTender) -> None:
    assert [(lot.source_id, lot.title, lot.estimated_value, lot.currency) for lot in paraguay.lots] == [
        ("iuUfm8MqmKQ=", "1 - CUBIERTAS PARA MAQUINARIAS Y TRACTORES", Decimal("225013501"), "PYG"),
        ("i5Yaxy1ge1o=", "2 - CUBIERTAS PARA VEHICULOS UTILITARIOS Y CAMIONES", Decimal("84705052"), "PYG"),
    ]
    assert all(lot.tender_deadline is None and lot.duration_value is None for lot in paraguay.lots)
    assert paraguay.lot_groups == []


PARAGUAY_ITEMS = [
    # (item id, quantity, unit price) in file order; the first 6 belong to lot 1, the next 10 to lot 2
    ("DfAmxysffOywvCULX2pcZA==", "14", "1558333"),
    ("EuVKHsWqrfMQhKeQzQbqXQ==", "10", "1606667"),
    ("ydYbW/sQ0l5w03pBW3y0Bg==", "9", "17827500"),
    ("TBC3K0F8uxMA1HGNFzR1qQ==", "15", "1282667"),
    ("yIVBxombPDYltxjLCx0VcQ==", "8", "785333"),
    ("ynb2lGLPD/xowxdLVB6lKg==", "2", "580000"),
    ("OkJYA+QqCeHsFzi6i62bSQ==", "26", "811438"),
    ("vpoqdPJvsddihFIacmiaxw==", "14", "975333"),
    ("mkRHrCP7h675KV3NH4sPaA==", "4", "723750"),
    ("/w44odet6BpqVCiHbKNqlQ==", "4", "975125"),
    ("ij6u5iap17lmSFGdtkk2yg==", "8", "571667"),
    ("3OCnNmr1fVqv0rNIyA1OZQ==", "4", "682667"),
    ("+ifDraJ0HL+Yk8jtLLK8+g==", "8", "371250"),
    ("2i01DNpswF/gkjopctpM2g==", "6", "1306500"),
    ("vwvU6rU1X4Jpx2V4d7FyYA==", "6", "2233333"),
    ("dYdtXWkQBTafKaEa8Iu2Bg==", "6", "1940750"),
]


def test_paraguay_items_become_priced_lines(paraguay: CanonicalTender) -> None:
    assert [(line.code, line.quantity, line.unit_price) for line in paraguay.lines] == [
        (code, Decimal(quantity), Decimal(price)) for code, quantity, price in PARAGUAY_ITEMS
    ]
    assert [line.lot_source_id for line in paraguay.lines] == ["iuUfm8MqmKQ="] * 6 + ["i5Yaxy1ge1o="] * 10
    assert [line.source_row for line in paraguay.lines] == list(range(16))
    assert {(line.unit, line.currency) for line in paraguay.lines} == {("Unidad", "PYG")}
    assert paraguay.lines[0].designation == "Cubierta para maquinaria pesada - Neumático Radial 11R22,5 Lisa"
    assert paraguay.lines[15].designation == "Cubierta para camion - Neumático 10,00 - 20 16 PR"


def test_paraguay_quantities_times_unit_prices_add_up_to_each_lot_value(paraguay: CanonicalTender) -> None:
    for lot in paraguay.lots:
        lines = [line for line in paraguay.lines if line.lot_source_id == lot.source_id]
        assert sum(line.quantity * line.unit_price for line in lines) == lot.estimated_value  # type: ignore[operator]


# --- UK Find a Tender: bare array of 10 releases, 27 lots, CPV in items' additional classifications -


@pytest.fixture(scope="module")
def uk() -> list[CanonicalTender]:
    return ocds.parse(sample(UK), source=UK)


UK_TENDERS = [
    # ocid, release id, title, value, tender CPV, tender deadline (BST), nature, method, lot count
    ("ocds-h6vhtk-02dce3", "021876-2021", "External Audit Services", "250000", "79212000",
     (2021, 10, 4, 12, 0), "services", "open", 1),
    ("ocds-h6vhtk-02cc52", "017636-2021", "Voluntary Community Provider Service", "12000000", "85000000",
     (2021, 9, 20, 12, 0), "services", "open", 1),
    ("ocds-h6vhtk-02d618", "020137-2021", "Domestic Abuse Support Services", None, "85300000",
     (2021, 9, 29, 12, 0), "services", "open", 1),
    ("ocds-h6vhtk-02e104", "022929-2021", "NHS Lothian Term Contract for Electrical Engineering 2022",
     "1000000", "50711000", (2021, 10, 20, 12, 0), "services", "selective", 1),
    ("ocds-h6vhtk-02d9e3", "021107-2021", "Public Facing CCTV System Upgrade", "1800000.0", "35120000",
     (2021, 9, 29, 13, 0), "supplies", "open", 1),
    ("ocds-h6vhtk-02cc4e", "017632-2021", "Plymouth Mobility Hubs", "13000000", "60000000",
     (2021, 10, 15, 12, 0), "services", "", 3),
    ("ocds-h6vhtk-02db69", "021498-2021", "HEY/21/407 - Pharmacy Outpatient Dispensing Services", None,
     "85149000", (2021, 10, 5, 12, 0), "services", "open", 1),
    ("ocds-h6vhtk-02db48", "021465-2021", "991_22 – Supply of Early Years & Curriculum Product Ranges",
     "24000000", "39162000", (2021, 9, 30, 12, 0), "supplies", "open", 8),
    ("ocds-h6vhtk-02d9c4", "021076-2021", "Tender for Insurance Services", "3989153", "66000000",
     (2021, 10, 1, 14, 0), "services", "open", 9),
    ("ocds-h6vhtk-02d35f", "019440-2021", "Cycle Count Sensors", "5500000", "72314000",
     (2021, 9, 24, 11, 0), "services", "open", 1),
]  # fmt: skip


def test_uk_one_tender_per_release_with_27_lots_in_all(uk: list[CanonicalTender]) -> None:
    assert len(uk) == 10
    assert sum(len(tender.lots) for tender in uk) == 27
    assert [len(tender.lots) for tender in uk] == [row[8] for row in UK_TENDERS]
    assert [len(tender.lines) for tender in uk] == [row[8] for row in UK_TENDERS]
    assert floats_in(uk) == []


@pytest.mark.parametrize("index", range(10))
def test_uk_tender_headers(uk: list[CanonicalTender], index: int) -> None:
    ocid, release_id, title, value, cpv, deadline, nature, method, _ = UK_TENDERS[index]
    tender = uk[index]

    assert (tender.procedure_id, tender.notice_id, tender.title) == (ocid, release_id, title)
    assert tender.estimated_value == (Decimal(value) if value else None)
    assert tender.currency == ("GBP" if value else "")
    assert tender.cpv == [cpv]  # tender.classification is CPV: it wins over the items' codes
    assert tender.tender_deadline == datetime(*deadline, tzinfo=BST)
    assert tender.questions_deadline is None
    assert (tender.nature, tender.procedure_type, tender.language, tender.notice_type) == (
        nature, method, "en", "tender"
    )  # fmt: skip
    assert tender.warnings == []


def test_uk_float_amount_stays_the_exact_literal(uk: list[CanonicalTender]) -> None:
    cctv = uk[4]
    assert str(cctv.estimated_value) == "1800000.0"
    assert str(cctv.lots[0].estimated_value) == "1800000.0"


def test_uk_joint_procurement_lists_every_party_in_the_buyer_role(uk: list[CanonicalTender]) -> None:
    assert [buyer.name for buyer in uk[0].buyers] == [
        "Connexus Homes Limited",
        "Rise Partnership Developments Limited",
        "Floreat Living Limited",
        "Connexus Enterprise Limited",
        "Herefordshire Capital plc",
    ]
    assert {buyer.identifier for buyer in uk[0].buyers} == {""}  # no identifier.id in FTS data
    assert [[buyer.name for buyer in tender.buyers] for tender in uk[1:]] == [
        ["Dudley Metropolitan Borough Council"],
        ["Sunderland City Council"],
        ["NHS Lothian"],
        ["NORTH EAST LINCOLNSHIRE COUNCIL"],
        ["PLYMOUTH CITY COUNCIL"],
        ["Hull University Teaching Hospitals NHS Trust"],
        ["ESPO"],
        ["Thanet District Council"],
        ["Liverpool City Region Combined Authority"],
    ]


def test_uk_single_lot_releases(uk: list[CanonicalTender]) -> None:
    single = [tender for tender in uk if len(tender.lots) == 1]
    assert [
        (lot.source_id, lot.title, lot.estimated_value, lot.currency,
         lot.duration_value, lot.duration_unit, lot.cpv)
        for lot in (tender.lots[0] for tender in single)
    ] == [
        ("1", "", None, "", 1080, "DAY", ["79212100", "79210000", "79212300", "79200000"]),
        ("1", "", Decimal("8400000"), "GBP", 2520, "DAY", ["85000000", "98000000"]),
        ("1", "", None, "", 2520, "DAY", []),
        ("1", "", None, "", 360, "DAY", ["50711000"]),
        ("1", "", Decimal("1800000.0"), "GBP", 3600, "DAY",
         ["32231000", "32510000", "45210000", "45310000", "48100000"]),
        ("1", "", None, "", 720, "DAY", []),
        ("1", "", Decimal("5500000"), "GBP", 1440, "DAY", ["34970000", "38300000", "63712710"]),
    ]  # fmt: skip
    assert all(tender.lots[0].description for tender in single)


def test_uk_plymouth_lots(uk: list[CanonicalTender]) -> None:
    plymouth = uk[5]
    assert [(lot.source_id, lot.title, lot.estimated_value, lot.duration_value) for lot in plymouth.lots] == [
        ("1", "Electric Vehicle Charge Point Operator", Decimal("10000000"), 5040),
        ("2", "Car Club Operator", Decimal("1000000"), 2520),
        ("3", "e-Bike Share Operator", Decimal("2000000"), 2880),
    ]
    assert [lot.cpv for lot in plymouth.lots] == [
        ["31158000", "31681500", "34000000", "45233293", "45310000", "60100000", "63712600", "65300000"],
        ["34110000", "34144900", "50110000", "60112000", "60130000", "63000000"],
        ["34420000", "34430000", "34913510"],
    ]


def test_uk_espo_lots_with_contract_dates(uk: list[CanonicalTender]) -> None:
    espo = uk[7]
    assert [(lot.source_id, lot.title, lot.estimated_value) for lot in espo.lots] == [
        ("1", "Supply of Curriculum Product Ranges", Decimal("10400000")),
        ("2", "Supply of Early Learning Product Ranges", Decimal("8800000")),
        ("3", "Classroom Reward Products", Decimal("800000")),
        ("4", "Early Outdoor Play & Garden Furniture", Decimal("400000")),
        ("5", "Bikes, Trikes & Ride on Vehicles", Decimal("400000")),
        ("6", "Educational Mini White Board Ranges", Decimal("2000000")),
        ("7", "General Supplementary Curriculum Resources", Decimal("400000")),
        ("8", "Children’s Aprons & Outdoor Clothing", Decimal("800000")),
    ]
    assert {(lot.start_date, lot.end_date, lot.duration_value) for lot in espo.lots} == {
        ("2022-03-01", "2024-03-31", None)
    }
    assert espo.lots[0].cpv == [
        "22110000", "22114000", "22114100", "22114200", "22114300", "37523000",
        "37524000", "37524100", "39162000", "39162100", "39162110", "39162200",
    ]  # fmt: skip
    assert espo.lots[4].cpv == ["34431000", "37522000", "37529200"]
    assert espo.lots[7].cpv == ["18000000", "18143000", "18200000", "18221000", "35113430", "35113440"]


def test_uk_thanet_insurance_lots(uk: list[CanonicalTender]) -> None:
    thanet = uk[8]
    assert [(lot.source_id, lot.estimated_value, lot.cpv) for lot in thanet.lots] == [
        ("1", Decimal("53170"), ["66000000", "66515200"]),
        ("2", Decimal("20500"), ["66000000"]),
        ("3", Decimal("495799"), ["66515200"]),
        ("4", Decimal("79716"), ["66000000"]),
        ("5", Decimal("481453"), ["66000000"]),
        ("6", Decimal("13118"), ["66000000"]),
        ("7", Decimal("3298"), ["66512000"]),
        ("8", Decimal("60264"), ["66000000"]),
        ("9", Decimal("272650"), ["66514110"]),
    ]
    assert thanet.lots[8].title == "Motot Fleet"  # sic
    assert {(lot.currency, lot.start_date, lot.end_date) for lot in thanet.lots} == {
        ("GBP", "2022-01-01", "2024-12-31")
    }


def test_uk_items_map_one_to_one_to_lots_with_their_first_cpv(uk: list[CanonicalTender]) -> None:
    for tender in uk:
        assert [line.lot_source_id for line in tender.lines] == [lot.source_id for lot in tender.lots]
        assert [line.cpv for line in tender.lines] == [lot.cpv[0] if lot.cpv else "" for lot in tender.lots]
        assert {(line.designation, line.quantity, line.unit_price) for line in tender.lines} == {("", None, None)}


def test_the_dispatcher_detects_ocds_and_uses_this_module() -> None:
    fmt, tenders = importers.parse(sample(UK), source=UK)
    assert fmt == "ocds"
    assert len(tenders) == 10


# --- synthetic releases -----------------------------------------------------------------------------


def release(**tender: Any) -> dict[str, Any]:
    return {
        "ocid": "ocds-abc-1",
        "id": "r1",
        "date": "2024-01-10T10:00:00Z",
        "tag": ["tender"],
        "buyer": {"id": "B1", "name": "Ville de Lyon"},
        "parties": [
            {"id": "B1", "name": "Ville de Lyon", "roles": ["buyer"],
             "identifier": {"scheme": "FR-SIRET", "id": "21690123100011"}},
        ],
        "tender": {"id": "T1", "title": "Maintenance logicielle", **tender},
    }  # fmt: skip


def package(*releases: dict[str, Any]) -> dict[str, Any]:
    return {"uri": "https://example.org/p.json", "version": "1.1", "releases": list(releases)}


def two_lots(**extra: Any) -> dict[str, Any]:
    return release(
        value={"amount": 150000, "currency": "EUR"},
        lots=[
            {"id": "L1", "title": "PostgreSQL", "value": {"amount": 100000, "currency": "EUR"}},
            {"id": "L2", "title": "Nextcloud", "value": {"amount": 50000, "currency": "EUR"}},
        ],
        items=[
            {"id": "i1", "description": "Support", "relatedLot": "L1",
             "classification": {"scheme": "CPV", "id": "72261000"}},
            {"id": "i2", "description": "Hébergement", "relatedLot": "L2",
             "classification": {"scheme": "UNSPSC", "id": "81112100"},
             "additionalClassifications": [{"scheme": "cpv", "id": "72415000-2"}]},
        ],
        **extra,
    )  # fmt: skip


def amended(document: dict[str, Any], *, release_id: str, date: str) -> dict[str, Any]:
    return {**document, "id": release_id, "date": date}


def test_a_release_without_lots_gets_one_virtual_lot_carrying_the_tender() -> None:
    document = package(
        release(
            description="TMA",
            value={"amount": 90000.50, "currency": "EUR"},
            classification={"scheme": "CPV", "id": "72267000"},
            tenderPeriod={"endDate": "2024-02-01T12:00:00+01:00"},
            enquiryPeriod={"endDate": "2024-01-25T12:00:00+01:00"},
            contractPeriod={"durationInDays": 365},
            items=[{"id": 7, "description": "TMA", "quantity": 12, "unit": {"name": "mois"},
                    "classification": {"scheme": "CPV", "id": "72253000"}}],
        )
    )  # fmt: skip

    (tender,) = parse(document)
    (lot,) = tender.lots

    assert (lot.source_id, lot.title, lot.description) == ("1", "Maintenance logicielle", "TMA")
    assert (lot.estimated_value, lot.currency) == (Decimal("90000.5"), "EUR")
    assert lot.cpv == ["72267000", "72253000"]
    assert lot.tender_deadline == datetime(2024, 2, 1, 11, 0, tzinfo=UTC)
    assert lot.questions_deadline == datetime(2024, 1, 25, 11, 0, tzinfo=UTC)
    assert (lot.duration_value, lot.duration_unit) == (365, "DAY")
    assert tender.cpv == ["72267000"]
    assert [(line.code, line.lot_source_id, line.quantity, line.unit) for line in tender.lines] == [
        ("7", "1", Decimal("12"), "mois")
    ]


def test_tender_cpv_falls_back_to_the_items_and_other_schemes_are_ignored() -> None:
    (tender,) = parse(package(two_lots(classification={"scheme": "UNSPSC", "id": "81110000"})))

    assert tender.cpv == ["72261000", "72415000"]
    assert [lot.cpv for lot in tender.lots] == [["72261000"], ["72415000"]]
    assert [line.cpv for line in tender.lines] == ["72261000", "72415000"]


def test_buyer_identifier_is_scheme_and_id_of_its_party() -> None:
    (tender,) = parse(package(two_lots()))
    assert tender.buyers == [CanonicalBuyer(name="Ville de Lyon", identifier="FR-SIRET-21690123100011")]


def test_without_a_buyer_the_procuring_entity_party_is_used() -> None:
    document = two_lots()
    del document["buyer"]
    document["parties"][0]["roles"] = ["procuringEntity"]

    assert parse(package(document))[0].buyers == [CanonicalBuyer("Ville de Lyon", "FR-SIRET-21690123100011")]


def test_lot_groups_become_canonical_groups() -> None:
    document = two_lots(
        lotGroups=[{"id": "G1", "relatedLots": ["L1", "L2"], "optionToCombine": True,
                    "maximumValue": {"amount": 140000, "currency": "EUR"}}]
    )  # fmt: skip

    (tender,) = parse(package(document))

    (group,) = tender.lot_groups
    assert (group.source_id, group.lot_ids, group.estimated_value, group.currency) == (
        "G1", ["L1", "L2"], Decimal("140000"), "EUR"
    )  # fmt: skip


def test_a_lot_with_its_own_tender_period_and_contract_dates() -> None:
    document = two_lots()
    document["tender"]["lots"][0]["tenderPeriod"] = {"endDate": "2024-03-01T16:00:00+02:00"}
    document["tender"]["lots"][0]["contractPeriod"] = {
        "startDate": "2024-06-01T00:00:00Z",
        "endDate": "2026-05-31",
    }

    lot = parse(package(document))[0].lots[0]

    assert lot.tender_deadline == datetime(2024, 3, 1, 14, 0, tzinfo=UTC)
    assert (lot.start_date, lot.end_date) == ("2024-06-01", "2026-05-31")


def test_record_package_uses_the_compiled_release() -> None:
    compiled = two_lots()
    del compiled["ocid"]  # the record's ocid applies
    document = {"records": [{"ocid": "ocds-abc-9", "compiledRelease": compiled, "releases": [{"url": "x"}]}]}

    (tender,) = parse(document)

    assert tender.procedure_id == "ocds-abc-9"
    assert [lot.source_id for lot in tender.lots] == ["L1", "L2"]


def test_record_package_without_compiled_release_merges_its_releases_by_date() -> None:
    first = two_lots()
    later = {
        "ocid": "ocds-abc-1",
        "id": "r2",
        "date": "2024-01-20T10:00:00Z",
        "tag": ["tenderAmendment"],
        "tender": {
            "title": "Maintenance logicielle (rectificatif)",
            "lots": [
                {"id": "L2", "value": {"amount": 60000, "currency": "EUR"}},
                {"id": "L3", "title": "GLPI"},
            ],
            "tenderPeriod": {"endDate": "2024-02-15T12:00:00Z"},
            "value": None,
        },
    }
    document = {"records": [{"ocid": "ocds-abc-1", "releases": [later, first]}]}

    (tender,) = parse(document)

    assert tender.notice_id == "r2"
    assert tender.notice_type == "tenderAmendment"
    assert tender.title == "Maintenance logicielle (rectificatif)"
    assert (tender.estimated_value, tender.currency) == (None, "")  # null deletes the earlier value
    assert tender.tender_deadline == datetime(2024, 2, 15, 12, 0, tzinfo=UTC)
    assert [(lot.source_id, lot.title, lot.estimated_value) for lot in tender.lots] == [
        ("L1", "PostgreSQL", Decimal("100000")),
        ("L2", "Nextcloud", Decimal("60000")),
        ("L3", "GLPI", None),
    ]


def test_several_releases_of_one_ocid_in_a_package_give_one_tender_and_others_stay_apart() -> None:
    later = {"ocid": "ocds-abc-1", "id": "r2", "date": "2024-01-11T00:00:00Z", "tender": {"title": "Nouveau"}}
    other = dict(release(), ocid="ocds-abc-2", id="x1")

    tenders = parse(package(later, two_lots(), other))

    assert [(tender.procedure_id, tender.notice_id, tender.title) for tender in tenders] == [
        ("ocds-abc-1", "r2", "Nouveau"),
        ("ocds-abc-2", "x1", "Maintenance logicielle"),
    ]
    assert len(tenders[0].lots) == 2


def test_a_single_bare_release_is_accepted() -> None:
    assert parse(two_lots())[0].procedure_id == "ocds-abc-1"


def test_items_without_related_lot_among_several_lots_are_kept_with_a_warning() -> None:
    document = two_lots()
    del document["tender"]["items"][1]["relatedLot"]

    (tender,) = parse(package(document))

    assert tender.lines[1].lot_source_id is None
    assert tender.warnings == [Problem(f"{SOURCE}: releases[0].tender.items[1].relatedLot", "item linked to no lot")]


def test_a_process_without_tender_section_is_skipped_with_a_warning() -> None:
    planning_only = {"ocid": "ocds-abc-7", "id": "p1", "date": "2023-12-01T00:00:00Z", "planning": {}}

    tenders = parse(package(planning_only, two_lots()))

    assert [tender.procedure_id for tender in tenders] == ["ocds-abc-1"]
    assert tenders[0].warnings == [Problem(f"{SOURCE}: releases[0]", "no tender section: this process is skipped")]


def test_progress_is_reported_per_process() -> None:
    calls: list[tuple[int, int]] = []
    ocds.parse(sample(UK), source=UK, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(done, 10) for done in range(1, 11)]


# --- refused input: what and where ------------------------------------------------------------------


def with_value_literal(literal: str) -> bytes:
    return json.dumps(package(two_lots())).replace('"amount": 150000', f'"amount": {literal}').encode()


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("NaN", "NaN is not a number JSON allows at line 1 column "),
        ("Infinity", "Infinity is not a number JSON allows at line 1 column "),
        ("-Infinity", "-Infinity is not a number JSON allows at line 1 column "),
        ("7" * 5000, "an integer of 5000 digits is too long (at most 40) at line 1 column "),
    ],
)
def test_numbers_json_does_not_allow_are_refused_by_the_loader(literal: str, message: str) -> None:
    problem = refused(with_value_literal(literal))
    assert problem.where == SOURCE
    assert problem.message.startswith(message)


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("1e400", "number out of range: '1E+400'"),
        ("1e15", "number out of range: 1000000000000000 (more than 15 digits before the point)"),
        ("1234567890123456", "number out of range: 1234567890123456 (more than 15 digits before the point)"),
        ("12345678901234.56", "number too precise: 12345678901234.56 (more than 15 significant digits)"),
        ("0.0000001", "number too precise: 1E-7 (more than 6 decimal places)"),
        ("-5", "negative number: -5"),
        ('"beaucoup"', "not a number: 'beaucoup'"),
        ("true", "expected a number, found true/false"),
        ("[1]", "expected a number, found a list"),
    ],
)
def test_absurd_or_wrong_amounts_are_refused_naming_the_field(literal: str, message: str) -> None:
    assert refused(with_value_literal(literal)) == Problem(f"{SOURCE}: releases[0].tender.value.amount", message)


def test_the_largest_sane_amount_is_accepted() -> None:
    (tender,) = parse(with_value_literal("999999999999.99"))
    assert tender.estimated_value == Decimal("999999999999.99")


def test_a_duplicate_key_that_would_silently_raise_a_price_is_refused() -> None:
    document = json.dumps(package(two_lots())).replace('"amount": 150000', '"amount":1,"amount":1000000')
    assert refused(document.encode()) == Problem(SOURCE, "duplicate key 'amount' in one object")


def test_100k_deep_nesting_is_refused_cleanly() -> None:
    problem = refused(b'{"releases": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert problem.message.startswith("JSON nested deeper than 64 levels")


def test_a_nul_in_a_title_is_refused_with_its_path() -> None:
    document = json.dumps(package(two_lots())).replace("Maintenance logicielle", "Maint\\u0000enance")
    assert refused(document.encode()) == Problem(f"{SOURCE}: releases[0].tender.title", "contains a NUL character")


def test_truncated_json_is_refused_with_its_position() -> None:
    document = json.dumps(package(two_lots())).encode()
    assert refused(document[:-40]).message.startswith("the JSON ends too early (truncated file?)")


def test_empty_and_non_utf8_files_are_refused() -> None:
    assert refused(b"") == Problem(SOURCE, "the file is empty")
    assert refused(b'{"releases": [{"ocid": "caf\xe9"}]}') == Problem(
        SOURCE, "not UTF-8 text: byte 0xe9 at offset 27 is invalid"
    )


@pytest.mark.parametrize("document", [{"foo": 1}, "a string", 42, None, {"uri": "x", "version": "1.1"}])
def test_json_of_another_kind_is_not_ocds(document: Any) -> None:
    assert refused(document) == Problem(SOURCE, ocds.NOT_OCDS)


@pytest.mark.parametrize("document", [[], {"releases": []}, {"records": []}])
def test_a_file_with_no_releases_is_refused(document: Any) -> None:
    assert refused(document) == Problem(SOURCE, "the file has no releases")


def test_duplicate_lot_ids_are_refused() -> None:
    document = two_lots()
    document["tender"]["lots"][1]["id"] = "L1"

    assert refused(package(document)) == Problem(
        f"{SOURCE}: releases[0].tender.lots[1].id", "duplicate lot id 'L1' (also tender.lots[0])"
    )


def test_an_item_pointing_to_an_unknown_lot_is_refused() -> None:
    document = two_lots()
    document["tender"]["items"][1]["relatedLot"] = "L9"

    assert refused(package(document)) == Problem(
        f"{SOURCE}: releases[0].tender.items[1].relatedLot", "unknown lot 'L9' (lots: L1, L2)"
    )


def test_an_item_pointing_to_a_lot_when_there_is_only_the_virtual_lot_is_refused() -> None:
    document = release(items=[{"id": "1", "relatedLot": "A"}])
    assert refused([document]).where == f"{SOURCE}: [0].tender.items[0].relatedLot"


def test_a_lot_group_with_an_unknown_lot_is_refused() -> None:
    document = two_lots(lotGroups=[{"id": "G1", "relatedLots": ["L1", "L7"]}])
    assert refused(package(document)) == Problem(
        f"{SOURCE}: releases[0].tender.lotGroups[0].relatedLots[1]", "unknown lot 'L7'"
    )


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (lambda r: r.update(tender="Maintenance"), "releases[0].tender", "expected an object, found text"),
        (lambda r: r["tender"].update(lots={"id": "L1"}), "releases[0].tender.lots",
         "expected a list, found an object"),
        (lambda r: r["tender"]["lots"].__setitem__(0, "L1"), "releases[0].tender.lots[0]",
         "expected an object, found text"),
        (lambda r: r["tender"].update(value="150000 EUR"), "releases[0].tender.value",
         "expected an object, found text"),
        (lambda r: r["tender"].update(title=12), "releases[0].tender.title", "expected text, found a number"),
        (lambda r: r["tender"]["items"][0].update(unit=[]), "releases[0].tender.items[0].unit",
         "expected an object, found a list"),
        (lambda r: r["tender"]["lots"][0].pop("id"), "releases[0].tender.lots[0].id", "missing identifier"),
        (lambda r: r.pop("ocid"), "releases[0].ocid", "missing identifier"),
        (lambda r: r["tender"]["value"].update(currency="euros"), "releases[0].tender.value.currency",
         "not an ISO 4217 currency code: 'EUROS'"),
        (lambda r: r["tender"].update(tenderPeriod={"endDate": "next week"}),
         "releases[0].tender.tenderPeriod.endDate", "not a date-time: 'next week'"),
        (lambda r: r["tender"]["lots"][0].update(contractPeriod={"durationInDays": -3}),
         "releases[0].tender.lots[0].contractPeriod.durationInDays", "expected a number of days up to 36500"),
        (lambda r: r["tender"]["items"][0].update(quantity=-2), "releases[0].tender.items[0].quantity",
         "negative number: -2"),
        (lambda r: r["tender"]["items"][0].update(unit={"value": {"amount": "1e30"}}),
         "releases[0].tender.items[0].unit.value.amount", "number out of range: '1e30'"),
    ],
)  # fmt: skip
def test_wrong_types_and_values_are_named_by_path(change: Any, where: str, message: str) -> None:
    document = two_lots()
    change(document)
    assert refused(package(document)) == Problem(f"{SOURCE}: {where}", message)


def test_a_bare_array_names_its_elements_by_index() -> None:
    assert refused([two_lots(), "oops"]) == Problem(f"{SOURCE}: [1]", "expected an object, found text")


def test_merged_releases_are_named_by_all_their_places() -> None:
    first, later = two_lots(), amended(two_lots(), release_id="r2", date="2024-02-01T00:00:00Z")
    later["tender"]["items"] = [{"id": "i1", "relatedLot": "L9"}]

    problem = refused(package(first, later))

    assert problem.where == (
        f"{SOURCE}: (ocid 'ocds-abc-1' merged from releases[0], releases[1]).tender.items[0].relatedLot"
    )


# --- properties -------------------------------------------------------------------------------------

_SAMPLE_BYTES = {name: sample(name) for name in (PARAGUAY, UK)}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(_SAMPLE_BYTES)),
    edits=st.lists(st.tuples(st.floats(0, 1), st.binary(max_size=4), st.integers(0, 4)), min_size=1, max_size=4),
)
def test_mutated_sample_bytes_give_tenders_or_import_failed(name: str, edits: list[tuple[float, bytes, int]]) -> None:
    data = bytearray(_SAMPLE_BYTES[name])
    for where, inserted, removed in edits:
        position = int(where * len(data))
        data[position : position + removed] = inserted
    _parse_or_fail(bytes(data))


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["CPV", "L1", "1", "2024-01-01T00:00:00Z", "EUR", "72000000"])
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["id", "amount", "currency", "scheme", "relatedLot", "x"]), children)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(document=_values)
def test_random_json_gives_tenders_or_import_failed(document: Any) -> None:
    _parse_or_fail(to_json(document).encode())


_TENDER_PATHS = [
    ("tender",), ("tender", "value"), ("tender", "lots"), ("tender", "lots", 0), ("tender", "lots", 0, "id"),
    ("tender", "lots", 1, "value", "amount"), ("tender", "items"), ("tender", "items", 0, "relatedLot"),
    ("tender", "items", 1, "unit"), ("tender", "items", 0, "quantity"), ("tender", "classification"),
    ("tender", "lotGroups"), ("tender", "tenderPeriod"), ("buyer",), ("parties",), ("parties", 0, "roles"),
    ("ocid",), ("date",), ("tag",),
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(_TENDER_PATHS), value=_values, seed=st.integers(0, 2**16))
def test_a_valid_release_with_one_random_field_gives_tenders_or_import_failed(
    path: tuple[Any, ...], value: Any, seed: int
) -> None:
    document = copy.deepcopy(two_lots())
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    releases = [document, amended(two_lots(), release_id="r2", date="2024-01-05T00:00:00Z")]
    random.Random(seed).shuffle(releases)
    _parse_or_fail(to_json(package(*releases)).encode())


def _parse_or_fail(data: bytes) -> None:
    try:
        tenders = ocds.parse(data, source=SOURCE)
    except ImportFailed as failure:
        problems = failure.problems
    else:
        assert all(isinstance(tender, CanonicalTender) for tender in tenders)
        assert floats_in(tenders) == []
        return
    assert problems
    assert all(problem.message for problem in problems)
