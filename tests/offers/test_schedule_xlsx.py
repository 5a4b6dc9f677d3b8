"""The offer's price schedule: the buyer's workbook filled in, the clean BPU/DQE, a partner's own prices."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill

from bids.importers.base import CanonicalLine
from bids.importers.spreadsheet import parse
from bids.offer_documents.sample import sample_snapshot
from bids.offer_documents.schedule import render_partner_schedule, render_schedule
from bids.offer_snapshot import OfferSnapshot, ScheduleSource
from consortium.money import CENT, round_money

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE = ['=HYPERLINK("http://evil","x")', "+1", "-2", "@SUM(A1)", "<img src=file:///etc/passwd>"]
PRICE_FORMAT = '#,##0.00" €"'
HEADER_FILL = "FF1F4E79"


def buyer_workbook(*, price_header: str = "Prix unitaire HT") -> bytes:
    """A buyer's BPU as people make them: a merged title, a styled header, sections, formula amounts
    (one line with a typed amount instead), a SUM total, and a sheet that is not a schedule."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "BPU"
    sheet["A1"] = "Bordereau des prix unitaires — support des logiciels libres"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.merge_cells("A1:F1")
    sheet.append([])
    sheet.append(["N°", "Désignation", "Unité", "Quantité", price_header, "Montant HT"])
    for cell in sheet[3]:
        cell.font = Font(bold=True, color="FFFFFFFF")
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
    sheet.append([None, "Support PostgreSQL"])
    sheet.append(["1.1", "Support PostgreSQL niveau 1", "jour", 10, None, "=D5*E5"])
    sheet.append(["1.2", "Support PostgreSQL niveau 2", "jour", 3, None, "=D6*E6"])
    sheet.append([None, "Formation"])
    sheet.append(["2.1", "Formation des administrateurs", "session", 2, None, "=D8*E8"])
    sheet.append(["2.2", "Audit de la plateforme", "forfait", 1, None, None])
    sheet.append([])
    sheet.append([None, "Total HT", None, None, None, "=SUM(F5:F9)"])
    for row in range(5, 10):
        sheet[f"E{row}"].number_format = PRICE_FORMAT
        sheet[f"F{row}"].number_format = PRICE_FORMAT
    sheet.column_dimensions["B"].width = 48
    conditions = workbook.create_sheet("Conditions")
    conditions["A1"] = "Conditions d'exécution"
    conditions["A2"] = "Les prix sont fermes et non révisables pendant la première année."
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def imported(data: bytes) -> list[CanonicalLine]:
    return parse(data, source="bpu-acheteur.xlsx")[0].lines


def snapshot_for(lines: list[CanonicalLine], data: bytes) -> OfferSnapshot:
    """A sample offer whose lines are the imported ones, priced by the sample, amounts = quantity x price."""
    base = sample_snapshot(lots=1, lines_per_lot=len(lines), firms=2)
    priced = [
        dataclasses.replace(
            line,
            code=source.code,
            designation=source.designation,
            unit=source.unit,
            quantity=source.quantity,
            amount=round_money((source.quantity or Decimal(0)) * line.unit_price),
            source_sheet=source.source_sheet,
            source_row=source.source_row,
        )
        for line, source in zip(base.lines, lines, strict=True)
    ]
    return dataclasses.replace(
        base, lines=priced, schedule_source=ScheduleSource(filename="bpu-acheteur.xlsx", content=data)
    )


def cells(data: bytes) -> list[Any]:
    workbook = load_workbook(io.BytesIO(data))
    return [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]


def money(value: Any) -> Decimal:
    assert isinstance(value, int | float), value
    return Decimal(str(value)).quantize(CENT)


def formulas_in(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [name for name in archive.namelist() if re.search(rb"<(\w+:)?f[ >]", archive.read(name))]


# --- The buyer's workbook ----------------------------------------------------------------------------------


def test_buyer_workbook_round_trip_keeps_everything_and_places_the_prices() -> None:
    data = buyer_workbook()
    lines = imported(data)
    assert [(line.source_sheet, line.source_row) for line in lines] == [("BPU", 5), ("BPU", 6), ("BPU", 8), ("BPU", 9)]
    snapshot = snapshot_for(lines, data)

    filename, content_type, filled = render_schedule(snapshot)

    assert (filename, content_type) == ("bordereau-prix-2026-oss-01.xlsx", XLSX)
    workbook = load_workbook(io.BytesIO(filled))
    assert workbook.sheetnames == ["BPU", "Conditions"]
    sheet = workbook["BPU"]
    prices = {line.source_row: line.unit_price for line in snapshot.lines}
    for row, price in prices.items():
        assert sheet[f"E{row}"].value == pytest.approx(float(price))
        assert sheet[f"E{row}"].data_type == "n"
        assert sheet[f"E{row}"].number_format == PRICE_FORMAT
    assert [sheet[f"F{row}"].value for row in (5, 6, 8)] == ["=D5*E5", "=D6*E6", "=D8*E8"]
    assert sheet["F9"].value == pytest.approx(float(snapshot.lines[3].amount))  # a typed amount, not a formula
    assert sheet["F11"].value == "=SUM(F5:F9)"
    assert sheet["E4"].value is None and sheet["E7"].value is None and sheet["E11"].value is None
    assert [str(merged) for merged in sheet.merged_cells.ranges] == ["A1:F1"]
    assert sheet["A1"].font.bold and sheet["A1"].font.size == 14
    assert sheet["E3"].fill.fgColor.rgb == HEADER_FILL and sheet["E3"].font.bold
    assert sheet.column_dimensions["B"].width == 48
    assert [cell.value for cell in workbook["Conditions"]["A"]] == [
        "Conditions d'exécution",
        "Les prix sont fermes et non révisables pendant la première année.",
    ]

    again = imported(filled)
    assert [(line.code, line.source_row, line.unit_price) for line in again] == [
        (line.code, line.source_row, line.unit_price) for line in snapshot.lines
    ]
    total = sum((round_money(line.quantity * line.unit_price) for line in again if line.quantity), Decimal("0.00"))
    assert total == sum((line.amount for line in snapshot.lines), Decimal("0.00"))
    assert total > 0


def test_buyer_workbook_without_a_price_column_falls_back_to_the_clean_workbook() -> None:
    data = buyer_workbook(price_header="Observations")
    snapshot = snapshot_for(imported(data), data)

    filename, _, content = render_schedule(snapshot)

    workbook = load_workbook(io.BytesIO(content))
    assert filename == "bordereau-prix-2026-oss-01.xlsx"
    assert workbook.sheetnames[:2] == ["Lisez-moi", "Récapitulatif"]
    note = workbook["Lisez-moi"]["A2"].value
    assert "bpu-acheteur.xlsx" in note and "n'a pas de colonne de prix unitaire" in note


def test_a_line_that_moved_falls_back_rather_than_pricing_the_wrong_row() -> None:
    data = buyer_workbook()
    snapshot = snapshot_for(imported(data), data)
    moved = dataclasses.replace(snapshot.lines[0], source_row=6)
    snapshot = dataclasses.replace(snapshot, lines=[moved, *snapshot.lines[1:]])

    workbook = load_workbook(io.BytesIO(render_schedule(snapshot)[2]))

    assert workbook.sheetnames[0] == "Lisez-moi"
    assert "n'est plus à la ligne 6 de la feuille « BPU »" in workbook["Lisez-moi"]["A2"].value


def test_a_line_without_a_source_cell_falls_back() -> None:
    data = buyer_workbook()
    snapshot = snapshot_for(imported(data), data)
    added = dataclasses.replace(snapshot.lines[0], source_row=None, source_sheet="")
    snapshot = dataclasses.replace(snapshot, lines=[*snapshot.lines, added])

    workbook = load_workbook(io.BytesIO(render_schedule(snapshot)[2]))

    assert workbook.sheetnames[0] == "Lisez-moi"
    assert len(workbook.sheetnames) == 3  # the note, the summary, the one lot


def test_an_unreadable_buyer_workbook_still_gives_a_workbook() -> None:
    snapshot = dataclasses.replace(
        sample_snapshot(lots=1, lines_per_lot=2),
        schedule_source=ScheduleSource(filename="bpu.xlsx", content=b"PK\x03\x04 not really a zip"),
    )
    workbook = load_workbook(io.BytesIO(render_schedule(snapshot)[2]))
    assert workbook.sheetnames[0] == "Lisez-moi"
    assert "bpu.xlsx" in workbook["Lisez-moi"]["A2"].value


# --- The clean BPU / DQE -----------------------------------------------------------------------------------


def test_clean_workbook_has_a_summary_and_one_sheet_per_lot_with_exact_totals() -> None:
    snapshot = sample_snapshot(lots=3, lines_per_lot=7, firms=3)

    filename, content_type, content = render_schedule(snapshot)

    assert (filename, content_type) == ("bordereau-prix-2026-oss-01.xlsx", XLSX)
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == [
        "Récapitulatif",
        "LOT-0001 Lot 1 support et maint",
        "LOT-0002 Lot 2 support et maint",
        "LOT-0003 Lot 3 support et maint",
    ]
    summary = {row[0]: row for row in workbook["Récapitulatif"].iter_rows(values_only=True) if row[0]}
    for lot in snapshot.lots:
        row = summary[lot.source_id]
        assert row[1] == lot.title
        assert [money(value) for value in row[2:5]] == [lot.totals.amount, lot.totals.vat, lot.totals.amount_with_vat]
    total = summary["Total de l'offre"]
    assert [money(value) for value in total[2:5]] == [
        snapshot.total.amount,
        snapshot.total.vat,
        snapshot.total.amount_with_vat,
    ]
    read_total = Decimal("0.00")
    for lot, sheet in zip(snapshot.lots, workbook.worksheets[1:], strict=True):
        rows = list(sheet.iter_rows(values_only=True))
        header = rows.index(("Code", "Désignation", "Unité", "Quantité", "Prix unitaire HT", "Montant HT"))
        lines = [row for row in rows[header + 1 :] if row[0]]
        expected = [line for line in snapshot.lines if line.lot_id == lot.id]
        assert [row[0] for row in lines] == [line.code for line in expected]
        assert [(money(row[4]), money(row[5])) for row in lines] == [
            (line.unit_price, line.amount) for line in expected
        ]
        assert sum((money(row[5]) for row in lines), Decimal("0.00")) == lot.totals.amount
        by_label = {row[1]: row[5] for row in rows[header + 1 :] if row[1] and row[5] is not None and not row[0]}
        assert money(by_label["Total HT"]) == lot.totals.amount
        assert money(by_label["TVA 20 %"]) == lot.totals.vat
        assert money(by_label["Total TTC"]) == lot.totals.amount_with_vat
        read_total += money(by_label["Total HT"])
    assert read_total == snapshot.total.amount == Decimal("128930.69")
    sheet = workbook.worksheets[1]
    header = list(sheet.iter_rows(values_only=True)).index(
        ("Code", "Désignation", "Unité", "Quantité", "Prix unitaire HT", "Montant HT")
    )
    price_cell = sheet.cell(row=header + 3, column=5)
    assert price_cell.data_type == "n" and price_cell.number_format == "#,##0.00"
    assert formulas_in(content) == []


def test_sheet_titles_are_unique_short_and_legal() -> None:
    snapshot = sample_snapshot(lots=4, lines_per_lot=2)
    titles = ["Lot [A]: réseaux/serveurs * ? \\ très long intitulé", "Lot [A]: réseaux/serveurs * ? \\ très long"]
    lots = [dataclasses.replace(lot, source_id="1", title=titles[index % 2]) for index, lot in enumerate(snapshot.lots)]
    snapshot = dataclasses.replace(snapshot, lots=lots)

    names = load_workbook(io.BytesIO(render_schedule(snapshot)[2])).sheetnames

    assert len(names) == 5
    assert len({name.casefold() for name in names}) == 5
    assert all(len(name) <= 31 and not re.search(r"[\[\]:*?/\\]", name) for name in names)


def test_hostile_text_is_written_as_text_never_as_a_formula() -> None:
    base = sample_snapshot(lots=2, lines_per_lot=len(HOSTILE), firms=2, note=HOSTILE[0])
    lines = [
        dataclasses.replace(line, code=text, designation=text, unit=text, section=text)
        for line, text in zip(base.lines, HOSTILE * 2, strict=False)
    ]
    lots = [dataclasses.replace(lot, title=HOSTILE[index]) for index, lot in enumerate(base.lots)]
    firms = [dataclasses.replace(firm, name=HOSTILE[index]) for index, firm in enumerate(base.firms)]
    snapshot = dataclasses.replace(
        base, lines=lines, lots=lots, firms=firms, tender_title=HOSTILE[0], buyers=[HOSTILE[3]]
    )

    for content in (render_schedule(snapshot)[2], render_partner_schedule(snapshot.for_firm(firms[0].id))[2]):
        found = [cell for cell in cells(content) if cell.value in HOSTILE]
        assert {cell.value for cell in found} == set(HOSTILE)
        assert all(cell.data_type == "s" for cell in found)
        assert formulas_in(content) == []


# --- A partner's own prices --------------------------------------------------------------------------------


def test_partner_part_holds_only_its_own_lines_and_prices() -> None:
    snapshot = sample_snapshot(lots=4, lines_per_lot=6, firms=3)
    firm = snapshot.firms[0]
    part = snapshot.for_firm(firm.id)

    filename, content_type, content = render_partner_schedule(part)

    assert (filename, content_type) == ("prix-expert-nextcloud-1-sarl-2026-oss-01.xlsx", XLSX)
    values = [cell.value for cell in cells(content) if cell.value is not None]
    numbers = {money(value) for value in values if isinstance(value, int | float) and not isinstance(value, bool)}
    texts = {value for value in values if isinstance(value, str)}
    mine = [line for line in snapshot.lines if line.firm_id == firm.id]
    others = [line for line in snapshot.lines if line.firm_id != firm.id]
    assert mine and others
    for line in mine:
        assert {line.firm_unit_price, line.unit_price, line.firm_amount, line.amount} <= numbers
        assert line.code in texts
    own = {value for line in mine for value in (line.firm_unit_price, line.unit_price, line.firm_amount, line.amount)}
    foreign = {
        value for line in others for value in (line.firm_unit_price, line.unit_price, line.firm_amount, line.amount)
    } - own
    assert foreign and not foreign & numbers
    assert not {line.code for line in others} & texts
    assert not {other.name for other in snapshot.firms[1:]} & texts
    assert f"Prix de {firm.name}" in texts
    for lot in part.lots:
        label = f"Total {lot.source_id} {lot.title}"
        row = next(
            row for row in load_workbook(io.BytesIO(content))["Prix"].iter_rows(values_only=True) if row[2] == label
        )
        assert (money(row[7]), money(row[8])) == (lot.totals.firm_amount, lot.totals.amount)
