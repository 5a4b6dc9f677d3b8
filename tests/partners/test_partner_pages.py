"""The partner firm pages: who sees and edits which firm, what the edits save, the directory filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from consortium.models import AuditEvent
from partners.identifiers import vat_for_siren
from partners.models import (
    Attestation,
    AttestationKind,
    CapacityMonth,
    Contact,
    FirmSkill,
    LevelRate,
    PartnerFirm,
    Reference,
    Skill,
    SkillLevel,
)
from partners.selectors import month_starts
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db

PERSONAS = ("bid_manager", "partner_a", "partner_b", "finance", "outsider", "anonymous")
SIRET_A = "73282932000074"  # a real, Luhn-valid SIRET
SIREN_A = SIRET_A[:9]
READ_ALL = {"bid_manager": 200, "finance": 200, "partner_a": 200, "partner_b": 200, "outsider": 403, "anonymous": 302}
FIRM_A_READ = {**READ_ALL, "partner_b": 404}
FIRM_A_EDIT = {**FIRM_A_READ, "finance": 403}
REDIRECTS = {**READ_ALL, "bid_manager": 302, "finance": 302, "partner_a": 302, "partner_b": 302}
EDIT_PAGES = (
    "partners:firm_edit",
    "partners:firm_skills",
    "partners:firm_capacity",
    "partners:firm_attestations",
    "partners:firm_references",
    "partners:firm_contacts",
)
# url name -> expected status per persona, on Firm A for the per-firm pages
MATRIX: dict[str, dict[str, int]] = {
    "partners:firm_list": READ_ALL,
    "partners:firm_export": READ_ALL,
    "partners:skill_list": READ_ALL,
    "partners:my_firm": REDIRECTS,
    "partners:firm_detail": FIRM_A_READ,
    **dict.fromkeys(EDIT_PAGES, FIRM_A_EDIT),
}


def make_profiles() -> dict[str, Any]:
    """Firm A (Paris, PostgreSQL maintainer, free days, valid attestations) and Firm B (Toulouse, Drupal)."""
    today = timezone.localdate()
    months = month_starts(today, 3)
    postgres = Skill.objects.create(name="PostgreSQL", slug="postgresql", cpv_codes=["72260000"])
    drupal = Skill.objects.create(
        name="Drupal", slug="drupal", aliases=["Drupal CMS"], cpv_codes=["72212000"], licence="GPL-2.0"
    )
    firm_a = PartnerFirm.objects.get(name="Firm A")
    firm_b = PartnerFirm.objects.get(name="Firm B")
    PartnerFirm.objects.filter(pk=firm_a.pk).update(region="11", city="Paris", daily_rate=Decimal("800.00"))
    PartnerFirm.objects.filter(pk=firm_b.pk).update(region="76", city="Toulouse", is_sme=False)
    FirmSkill.objects.create(
        firm=firm_a, skill=postgres, level=SkillLevel.MAINTAINER, evidence_url="https://git.postgresql.org/x", years=12
    )
    FirmSkill.objects.create(firm=firm_b, skill=drupal, level=SkillLevel.EXPERT, years=5)
    CapacityMonth.objects.create(firm=firm_a, month=months[0], days=Decimal("10"))
    CapacityMonth.objects.create(firm=firm_a, month=months[2], days=Decimal("5.5"))
    CapacityMonth.objects.create(firm=firm_b, month=months[1], days=Decimal("2"))
    for kind in AttestationKind.values:
        Attestation.objects.create(firm=firm_a, kind=kind, valid_until=today + dt.timedelta(days=200))
    Attestation.objects.create(firm=firm_b, kind=AttestationKind.URSSAF, valid_until=today - dt.timedelta(days=1))
    Reference.objects.create(firm=firm_b, title="Support", buyer="Ville de Toulouse", year=2023, cpv_codes=["48000000"])
    return {"a": firm_a, "b": firm_b, "postgres": postgres, "drupal": drupal}


@pytest.fixture
def firms(personas: dict[str, Any]) -> dict[str, Any]:
    return make_profiles()


def url(name: str, firm: PartnerFirm) -> str:
    return reverse(name, args=[firm.pk]) if name in {"partners:firm_detail", *EDIT_PAGES} else reverse(name)


def fresh(firm: PartnerFirm) -> PartnerFirm:
    return PartnerFirm.objects.get(pk=firm.pk)


def version_of(firm: PartnerFirm) -> str:
    return fresh(firm).updated_at.isoformat()


def identity_data(firm: PartnerFirm, **changes: Any) -> dict[str, Any]:
    firm = fresh(firm)
    data = {
        "name": firm.name,
        "siret": firm.siret,
        "vat_number": firm.vat_number,
        "address": firm.address,
        "postcode": firm.postcode,
        "city": firm.city,
        "region": firm.region,
        "departments": ", ".join(firm.departments),
        "is_sme": "on" if firm.is_sme else "",
        "website": firm.website,
        "description": firm.description,
        "daily_rate": "" if firm.daily_rate is None else str(firm.daily_rate),
        "version": firm.updated_at.isoformat(),
    }
    return {**data, **changes}


def formset_data(prefix: str, rows: list[dict[str, Any]], *, initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{key}": value for key, value in row.items()})
    return data


def audit_actions(firm: PartnerFirm) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_id=str(firm.pk), object_type="partners.partnerfirm").values_list(
            "action", flat=True
        )
    )


# --- Who may open what ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MATRIX)
def test_every_page_for_every_persona(name: str, personas: dict[str, Any], firms: dict[str, Any]) -> None:
    seen = {persona: client_for(personas[persona]).get(url(name, firms["a"])).status_code for persona in PERSONAS}
    assert seen == MATRIX[name]


def test_anonymous_goes_to_login(firms: dict[str, Any]) -> None:
    response = client_for(None).get(reverse("partners:firm_detail", args=[firms["a"].pk]))
    assert response["Location"].startswith("/accounts/login/")


def test_partner_sees_only_its_own_firm_in_the_directory(partner_a: Any, firms: dict[str, Any]) -> None:
    body = client_for(partner_a).get(reverse("partners:firm_list")).content.decode()
    assert "Firm A" in body
    assert "Firm B" not in body and "Toulouse" not in body


def test_staff_see_every_firm(bid_manager: Any, finance: Any, firms: dict[str, Any]) -> None:
    for user in (bid_manager, finance):
        body = client_for(user).get(reverse("partners:firm_list")).content.decode()
        assert "Firm A" in body and "Firm B" in body


def test_other_firm_and_unknown_firm_are_the_same_404(partner_a: Any, firms: dict[str, Any]) -> None:
    client = client_for(partner_a)
    other = client.get(reverse("partners:firm_detail", args=[firms["b"].pk]))
    missing = client.get(reverse("partners:firm_detail", args=[999999]))
    assert other.status_code == missing.status_code == 404
    assert "Firm B" not in other.content.decode()


@pytest.mark.parametrize("name", EDIT_PAGES)
def test_partner_posting_to_another_firm_changes_nothing(name: str, partner_a: Any, firms: dict[str, Any]) -> None:
    firm_b = firms["b"]
    before = fresh(firm_b).updated_at
    counts = (
        FirmSkill.objects.count(),
        Attestation.objects.count(),
        Reference.objects.count(),
        Contact.objects.count(),
    )
    data = {
        **identity_data(firm_b, name="Pwned"),
        **formset_data("skills", []),
        **formset_data("attestations", []),
        **formset_data("references", []),
        **formset_data("contacts", []),
    }
    response = client_for(partner_a).post(reverse(name, args=[firm_b.pk]), data)
    assert response.status_code == 404
    assert fresh(firm_b).updated_at == before and fresh(firm_b).name == "Firm B"
    assert counts == (
        FirmSkill.objects.count(),
        Attestation.objects.count(),
        Reference.objects.count(),
        Contact.objects.count(),
    )


def test_finance_reads_but_cannot_post_an_edit(finance: Any, firms: dict[str, Any]) -> None:
    response = client_for(finance).post(reverse("partners:firm_edit", args=[firms["a"].pk]), identity_data(firms["a"]))
    assert response.status_code == 403
    assert fresh(firms["a"]).name == "Firm A"


def test_my_firm_sends_each_user_to_the_right_page(partner_a: Any, bid_manager: Any, firms: dict[str, Any]) -> None:
    me = reverse("partners:my_firm")
    assert client_for(partner_a).get(me)["Location"] == reverse("partners:firm_detail", args=[firms["a"].pk])
    assert client_for(bid_manager).get(me)["Location"] == reverse("partners:firm_list")
    assert client_for(make_user("lonely", "partner")).get(me).status_code == 404


def test_partner_without_firm_sees_an_empty_directory(firms: dict[str, Any]) -> None:
    body = client_for(make_user("lonely", "partner")).get(reverse("partners:firm_list")).content.decode()
    assert "Firm A" not in body and "Firm B" not in body


# --- The profile page ----------------------------------------------------------------------------------


def test_detail_shows_the_whole_profile(bid_manager: Any, firms: dict[str, Any]) -> None:
    firm_a = firms["a"]
    LevelRate.objects.create(firm=firm_a, level=SkillLevel.EXPERT, daily_rate=Decimal("900.00"))
    Contact.objects.create(firm=firm_a, name="Alice Martin", email="alice@example.org", is_primary=True)
    body = client_for(bid_manager).get(reverse("partners:firm_detail", args=[firm_a.pk])).content.decode()
    for text in ("PostgreSQL", "mainteneur", "https://git.postgresql.org/x", "Alice Martin", "partner-a", "900,00"):
        assert text in body
    assert "15,5 jours libres" in body  # 10 + 5.5 over the next three months
    assert "à justifier" not in body


def test_upper_level_without_evidence_is_marked(bid_manager: Any, firms: dict[str, Any]) -> None:
    FirmSkill.objects.create(firm=firms["a"], skill=firms["drupal"], level=SkillLevel.CONTRIBUTOR)
    body = client_for(bid_manager).get(reverse("partners:firm_detail", args=[firms["a"].pk])).content.decode()
    assert "à justifier" in body


def test_attestation_states(bid_manager: Any, firms: dict[str, Any]) -> None:
    today = timezone.localdate()
    Attestation.objects.filter(firm=firms["a"], kind=AttestationKind.KBIS).update(
        valid_until=today + dt.timedelta(days=10)
    )
    body = client_for(bid_manager).get(reverse("partners:firm_detail", args=[firms["a"].pk])).content.decode()
    assert "expire dans 10 jours" in body
    body_b = client_for(bid_manager).get(reverse("partners:firm_detail", args=[firms["b"].pk])).content.decode()
    assert "expirée" in body_b
    assert "extrait Kbis" in body_b  # listed among the missing ones


# --- Editing -------------------------------------------------------------------------------------------


def test_identity_edit_saves_derives_siren_and_writes_audit(partner_a: Any, firms: dict[str, Any]) -> None:
    firm_a = firms["a"]
    data = identity_data(
        firm_a,
        siret="732 829 320 00074",
        vat_number=vat_for_siren(SIREN_A).lower(),
        departments="75, 92 2a",
        website="firm-a.example",
    )
    response = client_for(partner_a).post(reverse("partners:firm_edit", args=[firm_a.pk]), data)
    assert response.status_code == 302
    saved = fresh(firm_a)
    assert (saved.siret, saved.siren, saved.vat_number) == (SIRET_A, SIREN_A, vat_for_siren(SIREN_A))
    assert saved.departments == ["75", "92", "2A"]
    assert saved.website == "https://firm-a.example"
    assert "partners.firm_identity_updated" in audit_actions(firm_a)
    event = AuditEvent.objects.get(action="partners.firm_identity_updated")
    assert event.actor == partner_a and "siret" in event.details["fields"]
    assert saved.publishes_contributions is False


def test_the_firm_agrees_to_publish_its_contributions_then_withdraws(partner_a: Any, firms: dict[str, Any]) -> None:
    firm_a, client = firms["a"], client_for(partner_a)
    url = reverse("partners:firm_edit", args=[firm_a.pk])
    assert client.post(url, identity_data(firm_a, publishes_contributions="on")).status_code == 302
    assert fresh(firm_a).publishes_contributions is True
    assert client.post(url, identity_data(fresh(firm_a))).status_code == 302  # an unticked box is a refusal
    assert fresh(firm_a).publishes_contributions is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"siret": "73282932000075"}, "clé de contrôle"),
        ({"siret": "1234"}, "14 chiffres attendus"),
        ({"siret": SIRET_A, "vat_number": vat_for_siren("404833048")}, "ne correspond pas au SIREN"),
        ({"vat_number": "FR00732829320"}, "invalide"),
        ({"departments": "75, 20, 99"}, "Département inconnu : 20, 99"),
        ({"name": "Firm B"}, "existe déjà"),
        ({"daily_rate": "-5"}, "supérieure ou égale à 0"),
    ],
)
def test_identity_errors_are_shown_and_nothing_is_saved(
    partner_a: Any, firms: dict[str, Any], changes: dict[str, str], message: str
) -> None:
    firm_a = firms["a"]
    before = fresh(firm_a).updated_at
    response = client_for(partner_a).post(
        reverse("partners:firm_edit", args=[firm_a.pk]), identity_data(firm_a, **changes)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert fresh(firm_a).updated_at == before and fresh(firm_a).siret == ""


def test_stale_form_is_refused(partner_a: Any, bid_manager: Any, firms: dict[str, Any]) -> None:
    firm_a = firms["a"]
    page = client_for(partner_a).get(reverse("partners:firm_edit", args=[firm_a.pk])).content.decode()
    shown_version = version_of(firm_a)
    assert shown_version in page
    # Meanwhile a bid manager changes the skills: the firm's version moves on.
    client_for(bid_manager).post(
        reverse("partners:firm_capacity", args=[firm_a.pk]), {"version": shown_version, "rate_3": "700"}
    )
    assert version_of(firm_a) != shown_version
    client = client_for(partner_a)
    response = client.post(
        reverse("partners:firm_edit", args=[firm_a.pk]), identity_data(firm_a, city="Lyon", version=shown_version)
    )
    assert response.status_code == 302 and response["Location"] == reverse("partners:firm_edit", args=[firm_a.pk])
    assert fresh(firm_a).city == "Paris"
    assert "modifiée par quelqu&#x27;un d&#x27;autre" in client.get(response["Location"]).content.decode()


def skill_rows(*rows: dict[str, Any]) -> dict[str, Any]:
    return formset_data("skills", list(rows))


def test_skills_edit_adds_changes_and_removes(partner_a: Any, firms: dict[str, Any]) -> None:
    firm_a = firms["a"]
    data = {
        "version": version_of(firm_a),
        **skill_rows(
            {"skill": "postgresql", "level": "6", "evidence_url": "https://postgresql.org/ed", "years": "15"},
            {"skill": "drupal cms", "level": "2", "daily_rate": "650"},
            {"skill": "", "level": "", "years": ""},  # an untouched extra row is ignored
        ),
    }
    response = client_for(partner_a).post(reverse("partners:firm_skills", args=[firm_a.pk]), data)
    assert response.status_code == 302
    skills = {item.skill.name: item for item in FirmSkill.objects.filter(firm=firm_a).select_related("skill")}
    assert skills["PostgreSQL"].level == SkillLevel.EDITOR and skills["PostgreSQL"].years == 15
    assert skills["Drupal"].daily_rate == Decimal("650.00")
    event = AuditEvent.objects.get(action="partners.firm_skills_updated")
    assert event.details == {"added": ["Drupal"], "removed": [], "changed": ["PostgreSQL"]}
    data = {
        "version": version_of(firm_a),
        **skill_rows({"skill": "PostgreSQL", "level": "3"}, {"skill": "Drupal", "level": "2", "DELETE": "on"}),
    }
    client_for(partner_a).post(reverse("partners:firm_skills", args=[firm_a.pk]), data)
    assert list(FirmSkill.objects.filter(firm=firm_a).values_list("skill__name", "level")) == [("PostgreSQL", 3)]


@pytest.mark.parametrize("level", [SkillLevel.CONTRIBUTOR, SkillLevel.MAINTAINER, SkillLevel.EDITOR])
def test_upper_levels_need_evidence(partner_a: Any, firms: dict[str, Any], level: int) -> None:
    firm_a = firms["a"]
    data = {"version": version_of(firm_a), **skill_rows({"skill": "Drupal", "level": str(level)})}
    response = client_for(partner_a).post(reverse("partners:firm_skills", args=[firm_a.pk]), data)
    assert response.status_code == 200
    assert "demande un lien de preuve" in response.content.decode()
    assert not FirmSkill.objects.filter(firm=firm_a, skill=firms["drupal"]).exists()


def test_unknown_and_duplicate_skills_are_refused(partner_a: Any, firms: dict[str, Any]) -> None:
    firm_a = firms["a"]
    client = client_for(partner_a)
    page = reverse("partners:firm_skills", args=[firm_a.pk])
    unknown = client.post(page, {"version": version_of(firm_a), **skill_rows({"skill": "Nope", "level": "1"})})
    assert "« Nope » n&#x27;est pas dans le catalogue" in unknown.content.decode()
    twice = skill_rows({"skill": "Drupal", "level": "1"}, {"skill": "drupal", "level": "2"})
    duplicate = client.post(page, {"version": version_of(firm_a), **twice})
    assert "figure déjà plus haut" in duplicate.content.decode()
    assert list(FirmSkill.objects.filter(firm=firm_a).values_list("skill__name", flat=True)) == ["PostgreSQL"]


def test_capacity_and_level_rates(partner_a: Any, firms: dict[str, Any]) -> None:
    firm_a = firms["a"]
    months = month_starts(timezone.localdate(), 12)
    page = reverse("partners:firm_capacity", args=[firm_a.pk])
    assert client_for(partner_a).get(page).context["form"].initial[f"month_{months[0]:%Y_%m}"] == Decimal("10")
    data = {
        "version": version_of(firm_a),
        f"month_{months[0]:%Y_%m}": "",  # cleared
        f"month_{months[1]:%Y_%m}": "8",
        f"month_{months[11]:%Y_%m}": "20.5",
        "rate_2": "600",
        "rate_6": "1200.50",
    }
    assert client_for(partner_a).post(page, data).status_code == 302
    assert dict(CapacityMonth.objects.filter(firm=firm_a).values_list("month", "days")) == {
        months[1]: Decimal("8.0"),
        months[11]: Decimal("20.5"),
    }
    assert dict(LevelRate.objects.filter(firm=firm_a).values_list("level", "daily_rate")) == {
        2: Decimal("600.00"),
        6: Decimal("1200.50"),
    }
    assert "partners.firm_capacity_updated" in audit_actions(firm_a)


def test_capacity_refuses_negative_days(partner_a: Any, firms: dict[str, Any]) -> None:
    firm_a = firms["a"]
    month = month_starts(timezone.localdate(), 1)[0]
    response = client_for(partner_a).post(
        reverse("partners:firm_capacity", args=[firm_a.pk]),
        {"version": version_of(firm_a), f"month_{month:%Y_%m}": "-3"},
    )
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert CapacityMonth.objects.get(firm=firm_a, month=month).days == Decimal("10")


def test_attestations_edit(partner_a: Any, firms: dict[str, Any]) -> None:
    firm_a = firms["a"]
    page = reverse("partners:firm_attestations", args=[firm_a.pk])
    twice = formset_data(
        "attestations",
        [{"kind": "urssaf", "valid_until": "2030-01-01"}, {"kind": "urssaf", "valid_until": "2031-01-01"}],
    )
    response = client_for(partner_a).post(page, {"version": version_of(firm_a), **twice})
    assert "Une seule attestation de ce type" in response.content.decode()
    assert Attestation.objects.filter(firm=firm_a).count() == 4
    rows = formset_data(
        "attestations",
        [{"kind": "kbis", "reference": "K-1", "issued_on": "2025-01-02", "valid_until": "2030-01-01"}],
    )
    assert client_for(partner_a).post(page, {"version": version_of(firm_a), **rows}).status_code == 302
    assert list(Attestation.objects.filter(firm=firm_a).values_list("kind", "reference")) == [("kbis", "K-1")]
    assert "partners.firm_attestations_updated" in audit_actions(firm_a)


def test_references_edit(partner_a: Any, firms: dict[str, Any]) -> None:
    firm_a = firms["a"]
    page = reverse("partners:firm_references", args=[firm_a.pk])
    row = {"title": "TMA", "buyer": "Région", "year": "2022", "amount": "120000", "cpv_codes": "72000000-5, 7226"}
    response = client_for(partner_a).post(page, {"version": version_of(firm_a), **formset_data("references", [row])})
    assert "Code CPV invalide : 7226" in response.content.decode()
    row["cpv_codes"] = "72000000-5; 72260000"
    response = client_for(partner_a).post(page, {"version": version_of(firm_a), **formset_data("references", [row])})
    assert response.status_code == 302
    reference = Reference.objects.get(firm=firm_a)
    assert (reference.amount, reference.cpv_codes) == (Decimal("120000.00"), ["72000000", "72260000"])


def test_contacts_edit(partner_a: Any, firms: dict[str, Any]) -> None:
    firm_a = firms["a"]
    page = reverse("partners:firm_contacts", args=[firm_a.pk])
    rows = [{"name": "Alice", "is_primary": "on"}, {"name": "Bob", "email": "bob@example.org", "is_primary": "on"}]
    response = client_for(partner_a).post(page, {"version": version_of(firm_a), **formset_data("contacts", rows)})
    assert "Un seul contact principal" in response.content.decode()
    rows[1].pop("is_primary")
    response = client_for(partner_a).post(page, {"version": version_of(firm_a), **formset_data("contacts", rows)})
    assert response.status_code == 302
    assert list(Contact.objects.filter(firm=firm_a).values_list("name", "is_primary")) == [
        ("Alice", True),
        ("Bob", False),
    ]


def test_bid_manager_edits_any_firm(bid_manager: Any, firms: dict[str, Any]) -> None:
    firm_b = firms["b"]
    data = identity_data(firm_b, city="Albi")
    assert client_for(bid_manager).post(reverse("partners:firm_edit", args=[firm_b.pk]), data).status_code == 302
    assert fresh(firm_b).city == "Albi"


def test_garbage_management_form_is_not_a_500(partner_a: Any, firms: dict[str, Any]) -> None:
    response = client_for(partner_a).post(
        reverse("partners:firm_skills", args=[firms["a"].pk]), {"skills-TOTAL_FORMS": "x", "version": "?"}
    )
    assert response.status_code == 200


# --- Directory filters and query count ------------------------------------------------------------------


def listed(client: Any, **params: str) -> set[str]:
    response = client.get(reverse("partners:firm_list"), params)
    assert response.status_code == 200
    return {firm.name for firm in response.context["page"].object_list}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"Firm A", "Firm B"}),
        ({"skill": "postgresql"}, {"Firm A"}),
        ({"skill": "Drupal CMS"}, {"Firm B"}),  # an alias
        ({"min_level": "4"}, {"Firm A"}),
        ({"skill": "Drupal", "min_level": "4"}, set()),
        ({"cpv": "7226"}, {"Firm A"}),  # through the skill's CPV codes
        ({"cpv": "48000000"}, {"Firm B"}),  # through a reference
        ({"cpv": "72"}, {"Firm A", "Firm B"}),
        ({"region": "76"}, {"Firm B"}),
        ({"min_days": "15"}, {"Firm A"}),
        ({"min_days": "16"}, set()),
        ({"q": "toul"}, {"Firm B"}),
    ],
)
def test_directory_filters(bid_manager: Any, firms: dict[str, Any], params: dict[str, str], expected: set[str]) -> None:
    assert listed(client_for(bid_manager), **params) == expected


def test_bad_filter_is_an_error_not_a_wrong_list(bid_manager: Any, firms: dict[str, Any]) -> None:
    response = client_for(bid_manager).get(reverse("partners:firm_list"), {"skill": "COBOL", "cpv": "x"})
    body = response.content.decode()
    assert "absente du catalogue" in body and "de 2 à 8 chiffres" in body
    assert not response.context["page"].object_list


def test_directory_row_shows_skills_capacity_and_attestations(bid_manager: Any, firms: dict[str, Any]) -> None:
    body = client_for(bid_manager).get(reverse("partners:firm_list")).content.decode()
    assert "PostgreSQL · mainteneur" in body and "15,5" in body and "800,00 EUR" in body
    assert "status expired" in body and "status valid" in body


def test_directory_query_count_does_not_grow(bid_manager: Any, firms: dict[str, Any]) -> None:
    client = client_for(bid_manager)
    page = reverse("partners:firm_list")

    def queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get(page, {"min_days": "0"}).status_code == 200
        return len(captured)

    few = queries()
    months = month_starts(timezone.localdate(), 3)
    for number in range(30):
        firm = PartnerFirm.objects.create(name=f"Extra {number:02d}", region="53")
        FirmSkill.objects.create(firm=firm, skill=firms["drupal"], level=SkillLevel.EXPERT)
        FirmSkill.objects.create(firm=firm, skill=firms["postgres"], level=SkillLevel.USER)
        CapacityMonth.objects.create(firm=firm, month=months[1], days=Decimal(3))
        Attestation.objects.create(firm=firm, kind=AttestationKind.TAX, valid_until=timezone.localdate())
    assert queries() == few


def test_directory_query_count_is_small(
    bid_manager: Any, firms: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = client_for(bid_manager)
    with django_assert_max_num_queries(8):
        client.get(reverse("partners:firm_list"), {"skill": "drupal", "cpv": "72", "min_days": "0"})


# --- Skill catalogue -----------------------------------------------------------------------------------


def test_skill_catalogue_search_and_staff_counts(bid_manager: Any, partner_a: Any, firms: dict[str, Any]) -> None:
    page = reverse("partners:skill_list")
    staff = client_for(bid_manager).get(page, {"q": "cms"})
    assert [skill.name for skill in staff.context["page"].object_list] == ["Drupal"]
    assert staff.context["counts"] == {firms["drupal"].pk: [0, 0, 1, 0, 0, 0]}
    partner = client_for(partner_a).get(page)
    assert partner.context["counts"] == {}
    assert "GPL-2.0" in partner.content.decode()
