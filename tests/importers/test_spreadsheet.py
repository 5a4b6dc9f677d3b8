"""The BPU / DQE / DPGF importer: detection, row rules, exact numbers, and hostile files."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from bids.importers.base import CanonicalTender, ImportFailed
from bids.importers.spreadsheet import SheetLayout, inspect, parse, schedule_layouts
from bids.schedule_samples import write_support_schedule, write_support_schedule_csv

HEADER = ["N°", "Désignation", "Unité", "Quantité", "Prix unitaire", "Montant HT"]


@pytest.fixture(autouse=True)
def _isolated_files() -> None:
    """These tests touch neither settings nor files: they run without Django (-p no:django)."""


def workbook_bytes(*sheets: tuple[str, list[list[Any]]], fill: Callable[[Workbook], None] | None = None) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    if fill:
        fill(workbook)
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def patched(data: bytes, changes: dict[str, Callable[[bytes], bytes]], extra: dict[str, bytes] | None = None) -> bytes:
    """The same zip with some entries rewritten and others added."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            content = source.read(name)
            target.writestr(name, changes[name](content) if name in changes else content)
        for name, content in (extra or {}).items():
            target.writestr(name, content)
    return out.getvalue()


def one(data: bytes, **options: Any) -> CanonicalTender:
    tenders = parse(data, source=options.pop("source", "schedule.xlsx"), **options)
    assert len(tenders) == 1
    return tenders[0]


def failure(data: bytes, **options: Any) -> str:
    with pytest.raises(ImportFailed) as caught:
        parse(data, source=options.pop("source", "schedule.xlsx"), **options)
    return str(caught.value)


def simple_bpu(*lines: list[Any]) -> bytes:
    return workbook_bytes(("BPU", [HEADER, *lines]))


# ---------------------------------------------------------------- the sample generator


def test_generated_schedule_reimports_with_exact_lines_and_lots() -> None:
    stream = io.BytesIO()
    lots = [("1", "Bases de données"), ("2", "Collaboration"), ("3", "Systèmes")]
    write_support_schedule(stream, lines=250, lots=lots, seed=7)
    tender = one(stream.getvalue(), source="dqe-support.xlsx")
    assert tender.source_format == "xlsx"
    assert tender.title == "dqe-support"
    assert len(tender.lines) == 250
    assert [lot.source_id for lot in tender.lots] == ["1", "2", "3"]
    assert [lot.title for lot in tender.lots] == [
        "Lot 1 — Bases de données",
        "Lot 2 — Collaboration",
        "Lot 3 — Systèmes",
    ]
    counts = {lot_id: sum(line.lot_source_id == lot_id for line in tender.lines) for lot_id, _ in lots}
    assert counts == {"1": 84, "2": 83, "3": 83}
    assert all(line.section and line.unit and line.quantity and line.unit_price for line in tender.lines)
    assert all(isinstance(line.unit_price, Decimal) for line in tender.lines)
    assert sum("totals row skipped" in w.message for w in tender.warnings) == 4  # 3 sub-totals and Total HT


def test_generated_schedule_is_deterministic_and_csv_matches_xlsx() -> None:
    first, second, text = io.BytesIO(), io.BytesIO(), io.BytesIO()
    write_support_schedule(first, lines=60, seed=3)
    write_support_schedule(second, lines=60, seed=3)
    write_support_schedule_csv(text, lines=60, seed=3)
    from_xlsx, from_csv = one(first.getvalue()), one(text.getvalue(), source="dqe.csv", fmt="csv")
    assert one(second.getvalue()).lines == from_xlsx.lines
    assert from_xlsx.lots == []
    assert all(line.lot_source_id is None for line in from_xlsx.lines)
    assert [(x.code, x.designation, x.quantity, x.unit_price) for x in from_xlsx.lines] == [
        (x.code, x.designation, x.quantity, x.unit_price) for x in from_csv.lines
    ]


def test_default_lot_applies_to_lines_without_a_lot() -> None:
    stream = io.BytesIO()
    write_support_schedule(stream, lines=10, unit_prices=False)
    tender = one(stream.getvalue(), default_lot="LOT-0001")
    assert {line.lot_source_id for line in tender.lines} == {"LOT-0001"}
    assert all(line.unit_price is None for line in tender.lines)


# ---------------------------------------------------------------- detection and row rules


def test_title_block_sections_totals_and_french_numbers() -> None:
    data = workbook_bytes(
        (
            "DQE",
            [
                ["Commune de Lyon"],
                ["Bordereau des prix unitaires / Détail quantitatif estimatif"],
                [],
                ["Réf.", "Libellé de la prestation", "U", "Qté", "P.U. HT (€)", "Total HT"],
                [None, "SUPPORT POSTGRESQL"],
                ["1.1", "Journée d'expertise PostgreSQL — niveau 3", "jour", 10, "1 234,50 €", 12345],
                ["1.2", "Ticket de support — correctif PostgreSQL", "ticket", "25", "180,00", None],
                [None, "Sous-total Support PostgreSQL", None, None, None, 12345],
                [None, "MAINTENANCE"],
                ["2.1", "Forfait maintenance composant LibreOffice (mois)", "mois", 12, 350.1, 999],
                [],
                [None, "Total HT", None, None, None, 99],
                [None, "TVA 20 %", None, None, None, 20],
                ["Total TTC"],
            ],
        )
    )
    tender = one(data)
    assert [(x.code, x.section, x.unit, x.quantity, x.unit_price, x.source_row) for x in tender.lines] == [
        ("1.1", "SUPPORT POSTGRESQL", "jour", Decimal(10), Decimal("1234.50"), 6),
        ("1.2", "SUPPORT POSTGRESQL", "ticket", Decimal(25), Decimal("180.00"), 7),
        ("2.1", "MAINTENANCE", "mois", Decimal(12), Decimal("350.1"), 10),
    ]
    messages = [str(w) for w in tender.warnings]
    assert sum("totals row skipped" in m for m in messages) == 4
    assert any("row 10, column F (Total HT): amount 999 differs" in m for m in messages)
    assert tender.lots == []
    assert tender.lines[0].lot_source_id is None


def test_lot_column_with_merged_cells_and_excel_float_ids() -> None:
    def merge(workbook: Workbook) -> None:
        workbook["BPU"].merge_cells("A2:A4")

    rows = [
        ["N° lot", *HEADER],
        ["Lot 1 — Support", "1", "Expertise PostgreSQL", "jour", 5, 900],
        [None, "2", "Expertise Nextcloud", "jour", 5, 900],
        [None, "3", "Expertise GLPI", "jour", 5, 900],
        [2.0, "4", "Expertise Drupal", "jour", 5, 900],
        [None, "5", "Expertise Moodle", "jour", 5, 900],
    ]
    tender = one(workbook_bytes(("BPU", rows), fill=merge))
    assert [x.lot_source_id for x in tender.lines] == ["Lot 1 — Support"] * 3 + ["2", None]
    assert [lot.source_id for lot in tender.lots] == ["Lot 1 — Support", "2"]


def test_one_sheet_per_lot() -> None:
    lines = [["A1", "Expertise Keycloak", "jour", 3, 800]]
    data = workbook_bytes(
        ("Instructions", [["Remplir les prix unitaires HT."]]),
        ("Lot 1", [HEADER, *lines]),
        ("Lot 2", [["Lot 2 : systèmes"], HEADER, *lines, ["A2", "Expertise Debian", "jour", 4, 700]]),
    )
    tender = one(data)
    assert [lot.source_id for lot in tender.lots] == ["Lot 1", "Lot 2"]
    assert [(x.lot_source_id, x.source_row) for x in tender.lines] == [
        ("Lot 1", 2),
        ("Lot 2", 3),
        ("Lot 2", 4),
    ]
    assert any("sheet 'Instructions': sheet left out: no header row" in str(w) for w in tender.warnings)
    only = one(data, sheet="Lot 2")
    assert only.lots == []
    assert len(only.lines) == 2


def test_user_mapping_overrides_detection_and_header_row() -> None:
    rows = [
        ["Texte", "Combien", "Tarif horaire", "Désignation interne", "Montant"],
        ["Support QGIS", 3, 650, "ne pas lire", "n/a"],
    ]
    data = workbook_bytes(("Feuil1", rows))
    tender = one(data, mapping={"designation": "A", "quantity": "combien", "unit_price": "C", "amount": ""})
    assert [(x.designation, x.quantity, x.unit_price) for x in tender.lines] == [
        ("Support QGIS", Decimal(3), Decimal(650))
    ]
    preview = inspect(data, source="schedule.xlsx")
    assert preview.header_row == 1
    assert preview.mapping["designation"] == "D"
    with_row = one(
        workbook_bytes(("Feuil1", [["x"], ["a", "b"], ["Python", 2]])),
        header_row=2,
        mapping={"designation": "A", "quantity": "B"},
    )
    assert [(x.designation, x.quantity, x.source_row) for x in with_row.lines] == [("Python", Decimal(2), 3)]


def test_inspect_shows_what_was_detected() -> None:
    data = workbook_bytes(("BPU", [["Titre"], HEADER, ["1", "Support PHP", "UO", 4, 500, 2000]]))
    preview = inspect(data, source="schedule.xlsx")
    assert preview.sheet_names == ["BPU"]
    assert preview.sheet == "BPU"
    assert preview.header_row == 2
    assert preview.headers[:2] == [("A", "N°"), ("B", "Désignation")]
    assert preview.mapping == {
        "code": "A",
        "designation": "B",
        "unit": "C",
        "quantity": "D",
        "unit_price": "E",
        "amount": "F",
    }
    assert preview.rows == [["1", "Support PHP", "UO", "4", "500", "2000"]]
    assert preview.row_numbers == [3]


def test_csv_in_cp1252_with_semicolons_and_decimal_commas() -> None:
    text = "Marché de support\r\nN° lot;Désignation;Unité;Qté;Prix unitaire HT\r\n"
    text += "1;Journée d'expertise Apache HTTP Server;jour;3;1 050,75\r\n"
    text += "2;Unité d'œuvre TMA — Drupal;UO;12;480\r\n"
    tender = one(text.encode("cp1252"), source="bpu.csv", fmt="csv")
    assert tender.source_format == "csv"
    assert tender.title == "bpu"
    assert [(x.lot_source_id, x.designation, x.unit_price) for x in tender.lines] == [
        ("1", "Journée d'expertise Apache HTTP Server", Decimal("1050.75")),
        ("2", "Unité d'œuvre TMA — Drupal", Decimal(480)),
    ]


def test_progress_is_reported() -> None:
    stream = io.BytesIO()
    write_support_schedule(stream, lines=12_000)
    calls: list[tuple[int, int]] = []
    one(stream.getvalue(), progress=lambda done, total: calls.append((done, total)))
    assert len(calls) >= 3
    assert calls[-1][0] == calls[-1][1]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False), min_size=1, max_size=20))
def test_numbers_written_as_floats_read_back_exactly(values: list[Decimal]) -> None:
    rows = [HEADER] + [["", f"Ligne {i}", "jour", float(value), float(value)] for i, value in enumerate(values)]
    tender = one(workbook_bytes(("BPU", rows)))
    assert [line.unit_price for line in tender.lines] == values
    assert all(
        str(line.quantity) == str(value.normalize()) or line.quantity == value
        for line, value in zip(tender.lines, values, strict=True)
    )


# ---------------------------------------------------------------- bad cells


def test_every_bad_number_is_reported_with_sheet_row_and_column() -> None:
    data = simple_bpu(["1", "Support Java", "jour", 2, "abc"], ["2", "Support PHP", "jour", "deux", 100])
    message = failure(data)
    assert "schedule.xlsx, sheet 'BPU', row 2, column E (Prix unitaire): not a number: 'abc'" in message
    assert "schedule.xlsx, sheet 'BPU', row 3, column D (Quantité): not a number: 'deux'" in message


def test_nul_character_is_refused() -> None:
    text = "Désignation;Quantité;Prix unitaire\nSupport\x00Python;1;2\n"
    assert "schedule.csv, row 2: contains a NUL character" in failure(text.encode(), source="schedule.csv", fmt="csv")


def test_over_long_cell_is_refused() -> None:
    text = f"Désignation;Quantité;Prix unitaire\n{'x' * 40_000};1;2\n"
    assert "row 2: text longer than 32767 characters" in failure(text.encode(), source="schedule.csv", fmt="csv")


def test_formula_without_cached_value_in_price_column_is_an_error() -> None:
    data = simple_bpu(
        ["1", "Support Moodle", "jour", 2, "=10*90", "=D2*E2"], ["2", "Support QGIS", "jour", 1, 5, "=D3*E3"]
    )
    message = failure(data)
    assert "sheet 'BPU', row 2, column E (Prix unitaire): formula without a computed value" in message
    assert "row 3" not in message  # an amount formula without a value is only a warning


def test_amount_formula_without_value_is_a_warning() -> None:
    tender = one(simple_bpu(["1", "Support QGIS", "jour", 1, 5, "=D2*E2"]))
    assert tender.lines[0].unit_price == 5
    assert any("column F (Montant HT): formula without a computed value" in str(w) for w in tender.warnings)


def test_no_header_row() -> None:
    data = workbook_bytes(("BPU", [["Bonjour"], ["Rien à voir", 3]]))
    assert failure(data) == (
        "schedule.xlsx, sheet 'BPU': no header row found in the first 50 rows "
        "(expected columns such as Désignation, Unité, Quantité, Prix unitaire)"
    )


def test_priced_row_without_designation_is_an_error() -> None:
    assert "row 2: a quantity, price or unit without a designation" in failure(simple_bpu(["9", None, "jour", 1, 5]))


# ---------------------------------------------------------------- hostile or broken files


def test_zip_bomb_is_refused_before_opening() -> None:
    data = patched(
        simple_bpu(["1", "Support", "jour", 1, 5]), {}, {"xl/bomb.xml": b"<a>" + b"0" * 20_000_000 + b"</a>"}
    )
    assert len(data) < 100_000
    assert "file expands too much: possible zip bomb" in failure(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"PK\x03\x04" + b"\x00" * 200, "not a valid XLSX file (corrupt zip)"),
        (b"Designation;Prix\nSupport;3\n", "not a valid XLSX file (not a zip archive)"),
    ],
)
def test_not_a_zip(data: bytes, expected: str) -> None:
    assert failure(data) == f"schedule.xlsx: {expected}"


def test_truncated_xlsx() -> None:
    data = simple_bpu(["1", "Support", "jour", 1, 5])
    assert "schedule.xlsx: not a valid XLSX file" in failure(data[: len(data) // 2])


def test_zip_that_is_not_a_workbook() -> None:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("notes.txt", "hello")
    assert "not a valid XLSX file" in failure(stream.getvalue())


def test_empty_workbook_and_empty_csv() -> None:
    assert failure(workbook_bytes(("Feuil1", []))) == "schedule.xlsx, sheet 'Feuil1': the file is empty"
    assert failure(b"\xef\xbb\xbf \r\n", source="schedule.csv", fmt="csv") == "schedule.csv: the file is empty"


def test_lying_dimension_still_imports_every_row() -> None:
    data = simple_bpu(*[[str(i), f"Support {i}", "jour", i, 10] for i in range(1, 31)])
    liar = patched(
        data,
        {
            "xl/worksheets/sheet1.xml": lambda xml: re.sub(
                rb'<dimension ref="[^"]+"/>', b'<dimension ref="A1:B1"/>', xml
            )
        },
    )
    assert b'<dimension ref="A1:B1"/>' in zipfile.ZipFile(io.BytesIO(liar)).read("xl/worksheets/sheet1.xml")
    assert len(one(liar).lines) == 30


@pytest.mark.parametrize(
    ("far_cell", "expected"),
    [("XFD1", "16,384 columns (at most 500)"), ("Z1048576", "more than 12,000,000 cells")],
)
def test_far_away_cell_is_refused_not_allocated(far_cell: str, expected: str) -> None:
    row = re.sub(r"\D", "", far_cell)
    extra = f'<row r="{row}"><c r="{far_cell}" t="n"><v>1</v></c></row></sheetData>'.encode()
    data = patched(
        simple_bpu(["1", "Support", "jour", 1, 5]),
        {"xl/worksheets/sheet1.xml": lambda xml: xml.replace(b"</sheetData>", extra)},
    )
    assert expected in failure(data)


def test_billion_laughs_shared_strings_is_refused() -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    sst = (
        f'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY l0 "lol">{entities}]>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&l9;</t></si></sst>'
    ).encode()
    data = patched(simple_bpu(["1", "Support", "jour", 1, 5]), {}, {"xl/sharedStrings.xml": sst})
    assert "XML with a DOCTYPE or entity declarations is refused (xl/sharedStrings.xml)" in failure(data)


def test_unknown_mapping_field_and_unknown_sheet() -> None:
    data = simple_bpu(["1", "Support", "jour", 1, 5])
    assert "unknown mapping field(s) price" in failure(data, mapping={"price": "E"})
    assert "no sheet named 'Lot 9' (sheets: 'BPU')" in failure(data, sheet="Lot 9")


def test_malformed_workbook_part_is_a_clear_error_not_a_crash() -> None:
    data = patched(
        simple_bpu(["1", "Support", "jour", 2, 100, 200]), {"xl/workbook.xml": lambda _: b"<workbook><sheets"}
    )
    assert "not a valid XLSX file" in failure(data)


# ---------------------------------------------------------------- where each line came from


def test_lines_carry_their_sheet_and_layouts_give_the_same_columns() -> None:
    data = workbook_bytes(
        ("Instructions", [["Remplir les prix unitaires HT."]]),
        ("Lot 1", [HEADER, ["A1", "Expertise Keycloak", "jour", 3, 800]]),
        ("Lot 2", [["Lot 2 : systèmes"], [None, *HEADER], [None, "A2", "Expertise Debian", "jour", 4, 700]]),
    )
    tender = one(data)
    assert [(x.source_sheet, x.source_row) for x in tender.lines] == [("Lot 1", 2), ("Lot 2", 3)]
    assert schedule_layouts(data, "schedule.xlsx") == {
        "Lot 1": SheetLayout(
            1, {"code": "A", "designation": "B", "unit": "C", "quantity": "D", "unit_price": "E", "amount": "F"}
        ),
        "Lot 2": SheetLayout(
            2, {"code": "B", "designation": "C", "unit": "D", "quantity": "E", "unit_price": "F", "amount": "G"}
        ),
    }
    assert list(schedule_layouts(data, "schedule.xlsx", sheet="Lot 2")) == ["Lot 2"]


def test_layouts_follow_the_users_mapping_and_header_row() -> None:
    data = workbook_bytes(("Feuil1", [["x"], ["Texte", "Combien", "Tarif"], ["Support QGIS", 3, 650]]))
    layouts = schedule_layouts(
        data, "grille.xlsx", header_row=2, mapping={"designation": "A", "quantity": "combien", "unit_price": "C"}
    )
    assert layouts == {"Feuil1": SheetLayout(2, {"designation": "A", "quantity": "B", "unit_price": "C"})}
    tender = one(data, header_row=2, mapping={"designation": "A", "quantity": "combien", "unit_price": "C"})
    assert [(x.source_sheet, x.source_row, x.unit_price) for x in tender.lines] == [("Feuil1", 3, Decimal(650))]


def test_csv_lines_have_no_sheet() -> None:
    data = "Désignation;Quantité;Prix unitaire\nSupport;2;10\n".encode()
    tender = one(data, source="bpu.csv", fmt="csv")
    assert [(x.source_sheet, x.source_row) for x in tender.lines] == [("", 2)]
    assert schedule_layouts(data, "bpu.csv") == {
        "": SheetLayout(1, {"designation": "A", "quantity": "B", "unit_price": "C"})
    }
    with pytest.raises(ImportFailed):
        schedule_layouts(b"", "vide.csv")
