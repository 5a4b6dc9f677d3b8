"""Firms and skills through the API: the same scoping as the pages, validated and audited writes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consortium.models import AuditEvent
from partners.models import CapacityMonth, FirmSkill, PartnerFirm, Skill, SkillLevel
from partners.selectors import PLANNING_MONTHS
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def _patch(user: Any, firm: PartnerFirm, payload: Any) -> Any:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return client_for(user).patch(f"/api/firms/{firm.pk}/", data=body, content_type="application/json")


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


# --- Confidentiality: a partner user never reaches another firm ----------------------------------------------


def test_partner_lists_only_its_own_firm(partner_a: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    response = client_for(partner_a).get("/api/firms/")
    assert _names(response) == ["Firm A"]
    assert response.json()["count"] == 1
    assert "Firm B" not in response.content.decode()
    rates = {firm["daily_rate"] for firm in response.json()["results"]}
    assert rates == {"650.00"}  # Firm A's own rate, never Firm B's 590.00


def test_partner_filters_cannot_widen_the_scope(partner_a: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    client = client_for(partner_a)
    assert _names(client.get("/api/firms/", {"q": "Firm B"})) == []
    assert _names(client.get("/api/firms/", {"region": "53"})) == []
    assert _names(client.get("/api/firms/", {"skill": "Python"})) == []


def test_staff_list_every_firm(bid_manager: Any, finance: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    assert _names(client_for(bid_manager).get("/api/firms/")) == ["Firm A", "Firm B"]
    assert _names(client_for(finance).get("/api/firms/")) == ["Firm A", "Firm B"]


def test_other_firm_looks_like_a_missing_one(partner_a: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    client = client_for(partner_a)
    hidden = client.get(f"/api/firms/{profiled_firms['b'].pk}/")
    missing = client.get("/api/firms/999999/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_partner_cannot_patch_another_firm(partner_a: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    firm_b = profiled_firms["b"]
    before = PartnerFirm.objects.get(pk=firm_b.pk).updated_at
    response = _patch(partner_a, firm_b, {"city": "Ailleurs", "daily_rate": "1.00"})
    assert response.status_code == 404
    after = PartnerFirm.objects.get(pk=firm_b.pk)
    assert (after.city, after.daily_rate, after.updated_at) == ("Rennes", Decimal("590.00"), before)
    assert not AuditEvent.objects.filter(action="partners.firm_contact_updated").exists()


def test_finance_cannot_patch(finance: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    response = _patch(finance, profiled_firms["a"], {"city": "Lyon"})
    assert response.status_code == 403
    assert PartnerFirm.objects.get(pk=profiled_firms["a"].pk).city == "Paris"


# --- The representation --------------------------------------------------------------------------------------


def test_firm_representation(partner_a: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    firm = client_for(partner_a).get(f"/api/firms/{profiled_firms['a'].pk}/").json()
    assert firm["name"] == "Firm A"
    assert (firm["siren"], firm["siret"], firm["vat_number"]) == ("732829320", "73282932000074", "")
    assert firm["region"] == {"code": "11", "name": "Île-de-France"}
    assert (firm["daily_rate"], firm["currency"]) == ("650.00", "EUR")
    assert firm["skills"] == [
        {
            "skill": Skill.objects.get(name="PostgreSQL").pk,
            "name": "PostgreSQL",
            "level": "maintainer",
            "level_label": "mainteneur",
            "years": 12,
            "evidence_url": "https://git.postgresql.org/",
        }
    ]
    this_month = timezone.localdate().replace(day=1)
    assert len(firm["capacity"]) == PLANNING_MONTHS
    assert firm["capacity"][0] == {"month": this_month.isoformat(), "days": "8.0"}
    assert firm["capacity"][1]["days"] == "12.5"
    assert {row["days"] for row in firm["capacity"][2:]} == {"0.0"}
    assert firm["free_days"] == "20.5"
    assert firm["attestation_state"] == "incomplete"


def test_firm_without_region_or_skills(bid_manager: Any, firm_a: PartnerFirm) -> None:
    firm = client_for(bid_manager).get(f"/api/firms/{firm_a.pk}/").json()
    assert (firm["region"], firm["skills"], firm["daily_rate"]) == (None, [], None)


# --- Filters -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"region": "11"}, ["Firm A"]),
        ({"region": "bretagne"}, ["Firm B"]),
        ({"region": "Île-de-France"}, ["Firm A"]),
        ({"skill": "postgres"}, ["Firm A"]),
        ({"skill": "PYTHON"}, ["Firm B"]),
        ({"min_level": "maintainer"}, ["Firm A"]),
        ({"min_level": "2"}, ["Firm A", "Firm B"]),
        ({"skill": "Python", "min_level": "expert"}, []),
        ({"q": "renn"}, ["Firm B"]),
        ({"q": "firm a"}, ["Firm A"]),
        ({"region": "", "skill": "", "q": ""}, ["Firm A", "Firm B"]),
    ],
)
def test_firm_filters(
    bid_manager: Any, profiled_firms: dict[str, PartnerFirm], params: dict[str, str], expected: list[str]
) -> None:
    assert _names(client_for(bid_manager).get("/api/firms/", params)) == expected


def test_skill_filter_by_id(bid_manager: Any, profiled_firms: dict[str, PartnerFirm], skills: Any) -> None:
    response = client_for(bid_manager).get("/api/firms/", {"skill": skills["python"].pk})
    assert _names(response) == ["Firm B"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"region": "Atlantide"}, "region"),
        ({"skill": "COBOL.NET"}, "skill"),
        ({"skill": "999999"}, "skill"),
        ({"skill": "9" * 40}, "skill"),
        ({"min_level": "9"}, "min_level"),
        ({"min_level": "god"}, "min_level"),
        ({"min_level": "²"}, "min_level"),
        ({"q": "x" * 101}, "q"),
    ],
)
def test_bad_filters_are_400(
    bid_manager: Any, profiled_firms: dict[str, PartnerFirm], params: dict[str, str], field: str
) -> None:
    response = client_for(bid_manager).get("/api/firms/", params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def _add_firms(names: list[str], skills: dict[str, Skill]) -> None:
    month = timezone.localdate().replace(day=1)
    for name in names:
        firm = PartnerFirm.objects.get_or_create(name=name)[0]
        FirmSkill.objects.create(firm=firm, skill=skills["python"], level=SkillLevel.EXPERT)
        FirmSkill.objects.create(firm=firm, skill=skills["postgresql"], level=SkillLevel.USER)
        CapacityMonth.objects.create(firm=firm, month=month, days=Decimal(5))


@pytest.mark.parametrize("persona", ["bid_manager", "partner_a"])
def test_firm_list_query_count_does_not_grow(
    personas: dict[str, Any], persona: str, skills: dict[str, Skill], django_assert_max_num_queries: Any
) -> None:
    client = client_for(personas[persona])
    _add_firms(["Firm A", "Firme 01"], skills)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/firms/", {"skill": "python"}).status_code == 200
    assert len(few) <= 8
    _add_firms([f"Firme {number:02d}" for number in range(2, 40)], skills)
    with django_assert_max_num_queries(len(few)):
        response = client.get("/api/firms/", {"skill": "python"})
    assert response.json()["count"] == (40 if persona == "bid_manager" else 1)
    assert len(response.json()["results"][0]["skills"]) == 2


# --- Writes --------------------------------------------------------------------------------------------------


def test_partner_patches_its_own_firm(partner_a: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    firm = profiled_firms["a"]
    response = _patch(
        partner_a,
        firm,
        {
            "city": "Lyon",
            "postcode": "69002",
            "website": "https://firm-a.example",
            "departments": ["69", "2a", "69"],
            "daily_rate": "700.50",
            "is_sme": False,
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["city"] == "Lyon"
    assert response.json()["skills"][0]["level"] == "maintainer"  # the whole firm comes back
    saved = PartnerFirm.objects.get(pk=firm.pk)
    assert (saved.city, saved.postcode, saved.website) == ("Lyon", "69002", "https://firm-a.example")
    assert (saved.departments, saved.daily_rate, saved.is_sme) == (["69", "2A"], Decimal("700.50"), False)
    assert saved.name == "Firm A"
    event = AuditEvent.objects.get(action="partners.firm_contact_updated")
    assert event.actor == partner_a
    assert event.object_id == str(firm.pk)
    assert event.details["fields"] == ["city", "daily_rate", "departments", "is_sme", "postcode", "website"]


def test_bid_manager_patches_any_firm(bid_manager: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    response = _patch(bid_manager, profiled_firms["b"], {"daily_rate": None, "description": "Python à Rennes"})
    assert response.status_code == 200
    saved = PartnerFirm.objects.get(pk=profiled_firms["b"].pk)
    assert (saved.daily_rate, saved.description) == (None, "Python à Rennes")


def test_patch_without_change_writes_no_audit_row(partner_a: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    assert _patch(partner_a, profiled_firms["a"], {"city": "Paris"}).status_code == 200
    assert not AuditEvent.objects.filter(action="partners.firm_contact_updated").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"city": "Lyon", "website": "pas une adresse"}, "website"),
        ({"city": "Lyon", "website": "javascript:alert(1)"}, "website"),
        ({"city": "Lyon", "daily_rate": "-1.00"}, "daily_rate"),
        ({"city": "Lyon", "daily_rate": "12.345"}, "daily_rate"),
        ({"city": "Lyon", "daily_rate": "NaN"}, "daily_rate"),
        ({"city": "Lyon", "daily_rate": "1e400"}, "daily_rate"),
        ({"city": "Lyon", "departments": ["75", "99"]}, "departments"),
        ({"city": "Lyon", "departments": "75"}, "departments"),
        ({"city": "Lyon", "postcode": "1" * 11}, "postcode"),
        ({"city": None}, "city"),
        ({"city": "Lyon", "is_sme": "peut-être"}, "is_sme"),
        ({"city": "Lyon", "name": "Firm Z"}, "name"),
        ({"city": "Lyon", "siret": "73282932000074"}, "siret"),
        ({"city": "Lyon", "region": "84"}, "region"),
    ],
)
def test_bad_patch_is_400_and_saves_nothing(
    partner_a: Any, profiled_firms: dict[str, PartnerFirm], payload: dict[str, Any], field: str
) -> None:
    response = _patch(partner_a, profiled_firms["a"], payload)
    assert response.status_code == 400
    assert field in response.json()
    saved = PartnerFirm.objects.get(pk=profiled_firms["a"].pk)
    assert (saved.city, saved.daily_rate, saved.name) == ("Paris", Decimal("650.00"), "Firm A")
    assert not AuditEvent.objects.filter(action="partners.firm_contact_updated").exists()


@pytest.mark.parametrize(
    "body",
    ["{not json", "[1, 2]", '"Lyon"', '{"daily_rate": NaN}', "[" * 100_000 + "]" * 100_000, " " * 70_000 + "{}"],
)
def test_malformed_body_is_400(partner_a: Any, profiled_firms: dict[str, PartnerFirm], body: str) -> None:
    response = _patch(partner_a, profiled_firms["a"], body)
    assert response.status_code == 400
    assert "detail" in response.json() or "non_field_errors" in response.json()


def test_form_encoded_patch_is_refused(partner_a: Any, profiled_firms: dict[str, PartnerFirm]) -> None:
    response = client_for(partner_a).patch(
        f"/api/firms/{profiled_firms['a'].pk}/", data="city=Lyon", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


def test_service_refuses_an_actor_who_may_not_edit(finance: Any, firm_a: PartnerFirm) -> None:
    from django.core.exceptions import PermissionDenied

    from partners.services.api_writes import update_firm_contact_details

    with pytest.raises(PermissionDenied):
        update_firm_contact_details(actor=finance, firm=firm_a, city="Lyon")
    assert PartnerFirm.objects.get(pk=firm_a.pk).city == ""


# --- Skills --------------------------------------------------------------------------------------------------


def test_skill_list_and_filters(partner_b: Any, skills: dict[str, Skill]) -> None:
    client = client_for(partner_b)
    assert _names(client.get("/api/skills/")) == ["PostgreSQL", "Python"]
    assert _names(client.get("/api/skills/", {"q": "postgres"})) == ["PostgreSQL"]
    assert _names(client.get("/api/skills/", {"kind": "language"})) == ["Python"]
    bad = client.get("/api/skills/", {"kind": "magic"})
    assert bad.status_code == 400
    assert list(bad.json()) == ["kind"]


def test_skill_detail(finance: Any, skills: dict[str, Skill]) -> None:
    skill = client_for(finance).get(f"/api/skills/{skills['postgresql'].pk}/").json()
    assert (skill["name"], skill["aliases"], skill["cpv_codes"]) == ("PostgreSQL", ["Postgres"], ["72260000"])
