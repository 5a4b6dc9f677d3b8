"""The firm directory export: same scope and filters as the page, and no formula ever reaches a spreadsheet."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.urls import reverse

from partners.models import PartnerFirm
from tests.conftest import client_for
from tests.partners.test_partner_pages import make_profiles

pytestmark = pytest.mark.django_db

EXPORT = "/partners/export.xlsx"


@pytest.fixture
def firms(personas: dict[str, Any]) -> dict[str, Any]:
    return make_profiles()


def export_rows(user: Any, **params: str) -> list[tuple[Any, ...]]:
    response = client_for(user).get(EXPORT, params)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].startswith('attachment; filename="entreprises-partenaires-')
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    sheet = workbook["Entreprises"]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def test_url_name() -> None:
    assert reverse("partners:firm_export") == EXPORT


def test_partner_export_holds_only_its_own_firm(partner_a: Any, partner_b: Any, firms: dict[str, Any]) -> None:
    for user, own, other in ((partner_a, "Firm A", "Firm B"), (partner_b, "Firm B", "Firm A")):
        response = client_for(user).get(EXPORT)
        rows = export_rows(user)
        assert [row[0] for row in rows[1:]] == [own]
        assert other.encode() not in response.content
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:  # not even in a shared string
            assert all(other.encode() not in archive.read(name) for name in archive.namelist())


def test_partner_cannot_widen_its_export_with_filters(partner_a: Any, firms: dict[str, Any]) -> None:
    assert [row[0] for row in export_rows(partner_a, region="76")[1:]] == []
    assert [row[0] for row in export_rows(partner_a, q="Firm")[1:]] == ["Firm A"]


def test_staff_export_has_every_firm_with_its_figures(bid_manager: Any, finance: Any, firms: dict[str, Any]) -> None:
    for user in (bid_manager, finance):
        rows = export_rows(user)
        header, *firm_rows = rows
        assert header[0] == "Raison sociale"
        by_name = {row[0]: dict(zip(header, row, strict=True)) for row in firm_rows}
        assert set(by_name) == {"Firm A", "Firm B"}
        firm_a = by_name["Firm A"]
        assert Decimal(str(firm_a["Tarif journalier par défaut (HT)"])) == Decimal("800")
        assert Decimal(str(firm_a["Jours libres (3 mois)"])) == Decimal("15.5")
        assert firm_a["Compétences"] == "PostgreSQL (mainteneur)"
        assert firm_a["Attestations"] == "à jour"
        assert by_name["Firm B"]["Attestations"] == "expirée(s)"


def test_export_applies_the_directory_filters(bid_manager: Any, firms: dict[str, Any]) -> None:
    assert [row[0] for row in export_rows(bid_manager, skill="Drupal")[1:]] == ["Firm B"]
    assert [row[0] for row in export_rows(bid_manager, cpv="7226", min_days="1")[1:]] == ["Firm A"]


def test_bad_filter_sends_back_to_the_directory(bid_manager: Any, firms: dict[str, Any]) -> None:
    response = client_for(bid_manager).get(EXPORT, {"cpv": "abc"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("partners:firm_list") + "?")


@pytest.mark.parametrize("payload", ['=HYPERLINK("http://evil","x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1"])
def test_formula_looking_text_is_written_as_text(bid_manager: Any, firms: dict[str, Any], payload: str) -> None:
    PartnerFirm.objects.filter(pk=firms["b"].pk).update(name=payload, city=payload)
    response = client_for(bid_manager).get(EXPORT)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook["Entreprises"]
    cells = [row[0] for row in sheet.iter_rows(min_row=2) if row[0].value == payload]
    assert len(cells) == 1
    assert cells[0].data_type == "s"
    assert cells[0].quotePrefix


def test_outsider_and_anonymous_get_no_export(outsider: Any, firms: dict[str, Any]) -> None:
    assert client_for(outsider).get(EXPORT).status_code == 403
    assert client_for(None).get(EXPORT).status_code == 302
