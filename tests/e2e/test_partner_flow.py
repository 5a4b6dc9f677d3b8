"""Partner firms in a real browser: a partner keeps its own profile, sees no competitor; a bid manager searches."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from consortium.regions import Region
from partners.catalogue import load_skill_catalogue
from partners.demo import load_demo_network
from partners.models import CapacityMonth, FirmSkill, PartnerFirm, SkillLevel
from partners.selectors import PLANNING_MONTHS, month_starts
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import Shot, log_in

pytestmark = pytest.mark.e2e

OWN_FIRM = "Libre Expertise SARL"
COMPETITOR = "Coopérative Code Commun"
NEW_SKILL = "Keycloak"
EVIDENCE = "https://github.com/keycloak/keycloak/pull/31415"


@pytest.fixture
def network(transactional_db: None) -> None:
    """The skill catalogue and the 72 demo firms."""
    load_skill_catalogue()
    load_demo_network()


def expect_message(page: Any, text: str) -> None:
    expect(page.locator("ul.messages")).to_contain_text(text)


def directory_names(page: Any) -> list[str]:
    return [name.strip() for name in page.locator("table.grid tbody tr td:first-child strong").all_inner_texts()]


def add_maintainer_skill(page: Any, shot: Shot, firm: PartnerFirm) -> None:
    """A maintainer level needs an evidence link: refused without one, saved with it."""
    page.locator("nav.tabs").get_by_role("link", name="Compétences").click()
    expect(page.locator("h1")).to_have_text("Compétences")
    row = int(page.locator("#id_skills-INITIAL_FORMS").input_value())  # the first blank row
    assert row == firm.skills.count()
    page.fill(f"#id_skills-{row}-skill", NEW_SKILL)
    page.select_option(f"#id_skills-{row}-level", label=str(SkillLevel.MAINTAINER.label))
    page.fill(f"#id_skills-{row}-years", "4")
    page.get_by_role("button", name="Enregistrer").click()
    refused = page.locator("tr.invalid")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("Le niveau « mainteneur » demande un lien de preuve")
    expect(page.locator(f"#id_skills-{row}-skill")).to_have_value(NEW_SKILL)  # the typed row is kept
    assert not firm.skills.filter(skill__name=NEW_SKILL).exists()
    shot("03-skill-needs-evidence")

    page.fill(f"#id_skills-{row}-evidence_url", EVIDENCE)
    page.get_by_role("button", name="Enregistrer").click()
    expect_message(page, f"Fiche de {OWN_FIRM} enregistrée.")
    expect(page).to_have_url(re.compile(rf"/partners/{firm.pk}/$"))
    skill_name = page.locator("td:first-child", has_text=re.compile(rf"^{NEW_SKILL}\b"))
    skill_row = page.locator("table.grid tbody tr").filter(has=skill_name)
    expect(skill_row).to_have_count(1)
    expect(skill_row.locator("span.level")).to_have_text("mainteneur")
    expect(skill_row.get_by_role("link")).to_have_attribute("href", EVIDENCE)
    expect(skill_row).not_to_contain_text("à justifier")
    held = FirmSkill.objects.get(firm=firm, skill__name=NEW_SKILL)
    assert (held.level, held.years, held.evidence_url) == (SkillLevel.MAINTAINER, 4, EVIDENCE)
    shot("04-skill-saved")


def offer_capacity(page: Any, shot: Shot, firm: PartnerFirm) -> None:
    """Days offered next month, then seen on the firm page's capacity chart."""
    month = month_starts(timezone.localdate(), PLANNING_MONTHS)[1]
    page.locator("nav.tabs").get_by_role("link", name="Disponibilités et tarifs").click()
    expect(page.locator("h1")).to_have_text("Disponibilités et tarifs")
    field = page.locator(f"#id_month_{month:%Y_%m}")
    field.fill("17.5")
    shot("05-capacity-form")
    page.get_by_role("button", name="Enregistrer").click()
    expect_message(page, f"Fiche de {OWN_FIRM} enregistrée.")
    bar = page.locator("figure.chart.capacity .month").nth(1)
    expect(bar.locator(".label")).to_have_text(f"{month:%m/%y}")
    expect(bar.locator(".value")).to_have_text("17,5")
    assert CapacityMonth.objects.get(firm=firm, month=month).days == Decimal("17.5")
    shot("06-capacity-chart")


def test_partner_keeps_its_own_profile_and_sees_no_competitor(network: None, page: Any, shot: Shot) -> None:
    make_user("alice", "partner", firm=OWN_FIRM)
    firm = PartnerFirm.objects.get(name=OWN_FIRM)
    competitor = PartnerFirm.objects.get(name=COMPETITOR)
    log_in(page, "alice", PASSWORD)
    shot("01-home")

    page.locator("nav.mainnav").get_by_role("link", name="Mon entreprise").click()
    expect(page).to_have_url(re.compile(rf"/partners/{firm.pk}/$"))
    expect(page.locator("h1")).to_contain_text(OWN_FIRM)
    identity = page.locator("section.facts").first
    expect(identity).to_contain_text("Toulouse")
    expect(identity).to_contain_text("alice")
    expect(page.locator("nav.mainnav")).not_to_contain_text("Entreprises partenaires")
    shot("02-own-firm")

    add_maintainer_skill(page, shot, firm)
    offer_capacity(page, shot, firm)

    for url in (f"/partners/{competitor.pk}/", f"/partners/{competitor.pk}/skills/"):
        response = page.goto(url)
        assert response is not None
        assert response.status == 404, url
        expect(page.get_by_role("heading", name="Page introuvable")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text(COMPETITOR)
    shot("07-competitor-404")

    page.goto("/partners/")
    expect(page.locator("h1")).to_have_text("Entreprises partenaires")
    assert directory_names(page) == [OWN_FIRM]
    page.fill("#id_q", "Coopérative")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("p.empty")).to_have_text("Aucune entreprise ne correspond à ces critères.")
    shot("08-directory-own-firm-only")


def test_bid_manager_filters_the_directory_and_exports_it(network: None, page: Any, shot: Shot, tmp_path: Path) -> None:
    make_user("bid-manager", "bid_manager")
    javascript = FirmSkill.objects.filter(skill__name="JavaScript")
    in_region = javascript.filter(firm__region=Region.NOUVELLE_AQUITAINE)
    expected = sorted(in_region.filter(level__gte=SkillLevel.EXPERT).values_list("firm__name", flat=True))
    assert len(expected) >= 2
    # Each filter removes someone: a beginner of the region, experts elsewhere.
    assert in_region.filter(level__lt=SkillLevel.EXPERT).exists()
    assert javascript.filter(level__gte=SkillLevel.EXPERT).exclude(firm__region=Region.NOUVELLE_AQUITAINE).exists()
    log_in(page, "bid-manager", PASSWORD)

    page.locator("nav.mainnav").get_by_role("link", name="Entreprises partenaires").click()
    expect(page.locator("h1")).to_have_text("Entreprises partenaires")
    assert len(directory_names(page)) == 25  # a full first page of the 72 firms
    page.fill("#id_skill", "javascript")
    page.select_option("#id_min_level", label=str(SkillLevel.EXPERT.label))
    page.select_option("#id_region", label=Region.NOUVELLE_AQUITAINE.label)
    page.get_by_role("button", name="Filtrer").click()
    expect(page).to_have_url(re.compile(r"/partners/\?.*min_level=3"))
    expect(page.locator("table.grid tbody tr")).to_have_count(len(expected))
    assert directory_names(page) == expected
    for row in page.locator("table.grid tbody tr").all():
        expect(row).to_contain_text(Region.NOUVELLE_AQUITAINE.label)
        expect(row).to_contain_text("JavaScript")
    shot("01-directory-filtered")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Exporter (XLSX)").click()
    download = download_info.value
    assert re.fullmatch(r"entreprises-partenaires-\d{4}-\d{2}-\d{2}\.xlsx", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    sheet = openpyxl.load_workbook(saved, read_only=True)["Entreprises"]
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header[0] == "Raison sociale"
    assert header[6] == "Région"
    assert [row[0] for row in rows] == expected
    assert {row[6] for row in rows} == {Region.NOUVELLE_AQUITAINE.label}

    page.fill("#id_skill", "Java Script inconnu")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator(".errorlist")).to_contain_text("Compétence « Java Script inconnu » absente du catalogue.")
    expect(page.locator("p.empty")).to_have_text("Corrigez les filtres pour afficher les entreprises.")
    shot("02-directory-bad-skill")
