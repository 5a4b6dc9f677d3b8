"""The demo network: enough firms, valid identifiers, all regions, and skills spread like a real ecosystem."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.db.models import Count, Q

from partners.catalogue import known_cpv_codes, load_skill_catalogue
from partners.demo import load_demo_network
from partners.demo_data import CLUSTERS, FIRMS, FIXED_SKILLS, STACKS
from partners.identifiers import siren_is_valid, siret_is_valid, vat_is_valid
from partners.models import (
    Attestation,
    CapacityMonth,
    FirmSkill,
    Membership,
    PartnerFirm,
    Reference,
    Skill,
    SkillKind,
    SkillLevel,
)
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 15)
DEMO_PARTNERS = ("Libre Expertise SARL", "Coopérative Code Commun")


@pytest.fixture
def network() -> int:
    load_skill_catalogue()
    return load_demo_network(today=TODAY)


def snapshot() -> list[tuple[object, ...]]:
    firms = PartnerFirm.objects.order_by("name").values_list("name", "siret", "vat_number", "daily_rate", "city")
    skills = FirmSkill.objects.order_by("firm__name", "skill__name").values_list(
        "firm__name", "skill__name", "level", "years", "evidence_url"
    )
    capacity = CapacityMonth.objects.order_by("firm__name", "month").values_list("firm__name", "month", "days")
    references = Reference.objects.order_by("firm__name", "title", "year").values_list("firm__name", "title", "amount")
    return [*firms, *skills, *capacity, *references]


def test_every_name_the_generator_uses_is_in_the_catalogue() -> None:
    load_skill_catalogue()
    names = set(Skill.objects.values_list("name", flat=True))
    used = {name for group in (*CLUSTERS.values(), *STACKS.values()) for name in group}
    used |= {name for skills in FIXED_SKILLS.values() for name in skills}
    assert used <= names, used - names
    assert len({firm.name for firm in FIRMS}) == len(FIRMS)


def test_at_least_sixty_firms_with_valid_identifiers(network: int) -> None:
    assert network == PartnerFirm.objects.count() >= 60
    sirets = set()
    for firm in PartnerFirm.objects.all():
        assert siret_is_valid(firm.siret), firm.name
        assert firm.siren == firm.siret[:9]
        assert siren_is_valid(firm.siren)
        assert vat_is_valid(firm.vat_number, siren=firm.siren)
        assert firm.postcode.isdigit() and len(firm.postcode) == 5
        assert Decimal(550) <= firm.daily_rate <= Decimal(1200)  # type: ignore[operator]
        home = firm.departments[0]
        assert firm.postcode.startswith("20" if home in {"2A", "2B"} else home)
        sirets.add(firm.siret)
    assert len(sirets) == network


def test_the_firms_span_the_metropolitan_regions_and_overseas(network: int) -> None:
    regions = Counter(PartnerFirm.objects.values_list("region", flat=True))
    assert len(regions) >= 12
    metropolitan = {"11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94"}
    assert metropolitan <= set(regions)
    assert len(set(regions) - metropolitan) >= 2
    assert PartnerFirm.objects.filter(is_sme=True).count() > network * 0.8


def test_skills_are_spread_like_an_open_source_ecosystem(network: int) -> None:
    levels = Counter(FirmSkill.objects.values_list("level", flat=True))
    upstream = levels[SkillLevel.MAINTAINER] + levels[SkillLevel.EDITOR]
    assert levels[SkillLevel.INTEGRATOR] + levels[SkillLevel.EXPERT] > 3 * upstream
    assert levels[SkillLevel.CONTRIBUTOR] > levels[SkillLevel.MAINTAINER] > levels[SkillLevel.EDITOR] > 0
    per_skill = FirmSkill.objects.values("skill__name").annotate(
        editors=Count("pk", filter=Q(level=SkillLevel.EDITOR)),
        maintainers=Count("pk", filter=Q(level=SkillLevel.MAINTAINER)),
        others=Count("pk", filter=Q(level__lte=SkillLevel.EXPERT)),
    )
    for row in per_skill:
        assert row["editors"] <= 1, row
        assert row["maintainers"] <= 2, row
    for name in ("PostgreSQL", "Nextcloud", "GLPI", "Drupal"):
        row = next(row for row in per_skill if row["skill__name"] == name)
        assert row["maintainers"] >= 1
        assert row["others"] >= row["maintainers"] + row["editors"]


def test_upstream_levels_carry_evidence_on_the_skills_repository(network: int) -> None:
    evidenced = FirmSkill.objects.filter(level__gte=SkillLevel.CONTRIBUTOR).select_related("skill")
    assert evidenced.count() > 20
    for item in evidenced:
        assert item.evidence_url.startswith("https://"), item
        host = item.skill.repository_url.split("/")[2].removeprefix("git.")
        assert host in item.evidence_url, item.evidence_url
    assert not FirmSkill.objects.filter(level__lte=SkillLevel.EXPERT).exclude(evidence_url="").exists()


def test_every_firm_knows_languages_or_platforms_and_some_software(network: int) -> None:
    for firm in PartnerFirm.objects.prefetch_related("skills__skill"):
        kinds = Counter(item.skill.kind for item in firm.skills.all())
        assert kinds[SkillKind.LANGUAGE] + kinds[SkillKind.PLATFORM] >= 1, firm.name
        assert kinds[SkillKind.SOFTWARE] >= 1, firm.name
        assert sum(kinds.values()) >= 4, firm.name


def test_the_two_demo_partners_compete_on_postgresql_and_nextcloud(network: int) -> None:
    for name in DEMO_PARTNERS:
        firm = PartnerFirm.objects.get(name=name)
        levels = dict(firm.skills.values_list("skill__name", "level"))
        assert levels["PostgreSQL"] >= SkillLevel.CONTRIBUTOR
        assert levels["Nextcloud"] >= SkillLevel.CONTRIBUTOR
        assert firm.region == "76"
        assert firm.contacts.exists() and firm.attestations.count() == 4


def test_capacity_attestations_contacts_and_references(network: int) -> None:
    for firm in PartnerFirm.objects.all():
        days = list(firm.capacity.values_list("days", flat=True))
        assert len(days) == 12
        assert all(Decimal(5) <= value <= Decimal(60) for value in days)
        assert len(set(days)) > 1  # it varies from month to month
        contacts = list(firm.contacts.all())
        assert 1 <= len(contacts) <= 2
        assert sum(contact.is_primary for contact in contacts) == 1
        assert firm.references.count() <= 5
    valid_until = list(Attestation.objects.values_list("valid_until", flat=True))
    assert len(valid_until) == 4 * network
    expired = sum(day < TODAY for day in valid_until)
    expiring = sum(TODAY <= day <= TODAY + dt.timedelta(days=30) for day in valid_until)
    assert 0 < expired < len(valid_until) * 0.2
    assert 0 < expiring < len(valid_until) * 0.2
    known = known_cpv_codes()
    for reference in Reference.objects.all():
        assert 2019 <= reference.year <= 2026
        assert reference.amount and reference.amount > 0
        assert reference.cpv_codes
        assert all(code in known and code[:2] in {"48", "72"} for code in reference.cpv_codes)
    assert Reference.objects.count() > network


def test_loading_twice_is_idempotent_and_deterministic(network: int) -> None:
    first = snapshot()
    assert load_demo_network(today=TODAY) == network
    assert snapshot() == first
    assert PartnerFirm.objects.count() == network


def test_existing_demo_firms_are_completed_not_duplicated() -> None:
    load_skill_catalogue()
    alice = make_user("alice-demo", "partner", firm="Libre Expertise SARL")
    firm = PartnerFirm.objects.get(name="Libre Expertise SARL")
    load_demo_network(today=TODAY)
    assert PartnerFirm.objects.filter(name="Libre Expertise SARL").get().pk == firm.pk
    assert Membership.objects.get(user=alice).firm_id == firm.pk
    firm.refresh_from_db()
    assert firm.siret and firm.skills.count() >= 5


def test_the_admin_shows_firms_with_their_profile_and_the_catalogue(network: int) -> None:
    from django.contrib.auth import get_user_model

    from tests.conftest import client_for

    admin = get_user_model().objects.create_superuser("root", "root@example.org", "x-long-password-1")
    client = client_for(admin)
    firm = PartnerFirm.objects.get(name="Libre Expertise SARL")
    assert client.get("/admin/partners/partnerfirm/").status_code == 200
    page = client.get(f"/admin/partners/partnerfirm/{firm.pk}/change/")
    assert page.status_code == 200
    assert "PostgreSQL" in page.content.decode()
    assert client.get(f"/admin/partners/partnerfirm/{firm.pk}/permissions/").status_code == 200
    assert client.get("/admin/partners/skill/?q=postgres").status_code == 200
    assert client.get("/admin/partners/membership/").status_code == 200
