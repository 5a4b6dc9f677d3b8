"""The bid manager's path from a priced schedule to a team: work packages, their corrections, the matching."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from bids.demo import SAMPLES_DIR, SCHEDULE_NOTICE, move_to_coming_year
from bids.models import Assignment, AssignmentStatus, ExclusionKind, Tender, TenderExclusion
from bids.schedule_samples import write_support_schedule
from bids.services.imports import import_file
from bids.services.packages import split_tender
from partners.catalogue import load_skill_catalogue
from partners.demo import load_demo_network
from partners.models import FirmSkill, SkillLevel
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import Shot, log_in

pytestmark = pytest.mark.e2e

SCHEDULE_LINES = 120
COMPETING_REASON = "Groupement Atos-Sopra sur ce marché"


def support_tender(actor: Any) -> Tender:
    """The demo's support notice with a smaller schedule, moved to the coming months: no packages yet."""
    load_skill_catalogue()
    load_demo_network()
    notice = SAMPLES_DIR / SCHEDULE_NOTICE
    tender = import_file(actor=actor, data=notice.read_bytes(), source=notice.name).saved[0].tender
    schedule = io.BytesIO()
    write_support_schedule(schedule, lines=SCHEDULE_LINES, seed=2026)
    import_file(actor=actor, data=schedule.getvalue(), source="bpu-support.xlsx", target=tender)
    move_to_coming_year(tender)
    assert tender.lines.count() == SCHEDULE_LINES
    assert not tender.work_packages.exists()
    return tender


def package_row(page: Any, name: str) -> Any:
    """The row of a work package in the package list or the assignment table, by its exact link text."""
    link = page.get_by_role("link", name=name, exact=True)
    return page.locator("table.grid tbody tr").filter(has=link)


def expect_message(page: Any, text: str) -> None:
    expect(page.locator("ul.messages")).to_contain_text(text)


def tick_lines(page: Any, count: int) -> list[str]:
    """Tick the first `count` lines of a package page; their codes (designations repeat across lines)."""
    rows = page.locator("#lines-form table tbody tr")
    ticked = []
    for index in range(count):
        row = rows.nth(index)
        row.locator("input[name=lines]").check()
        ticked.append(row.locator("td").nth(1).inner_text().strip())
    return ticked


def split_and_correct_packages(page: Any, shot: Shot) -> None:
    page.get_by_role("link", name="Lots de travaux").click()
    expect(page.locator("h1")).to_have_text("Lots de travaux")
    expect(page.locator("p.empty")).to_contain_text("Aucun lot de travaux")
    page.get_by_role("button", name="Proposer le découpage").click()
    expect_message(page, "Découpage proposé : 21 lot(s) de travaux pour 120 ligne(s), 0 à vérifier.")
    for software in ("PostgreSQL", "MariaDB", "Moodle", "PHP", "Keycloak"):
        expect(package_row(page, software)).to_have_count(1)
    expect(package_row(page, "PostgreSQL")).to_contain_text("PostgreSQL ×")
    expect(package_row(page, "Moodle").locator("td").nth(3)).to_have_text("14")
    expect(package_row(page, "PHP").locator("td").nth(3)).to_have_text("2")
    shot("02-packages-proposed")

    page.get_by_role("link", name="Moodle", exact=True).click()
    expect(page.locator("h1")).to_have_text("Moodle")
    expect(page.locator("#lines-form tbody tr")).to_have_count(14)
    moved = tick_lines(page, 2)
    page.select_option("#move-target", label="PHP (2)")
    shot("03-moodle-lines-ticked")
    page.get_by_role("button", name="Déplacer").click()
    expect_message(page, "2 ligne(s) déplacée(s) vers « PHP ».")
    expect(page.locator("h1")).to_have_text("Moodle")
    expect(page.locator("#lines-form tbody tr")).to_have_count(12)
    for code in moved:
        expect(page.locator("#lines-form tbody")).not_to_contain_text(code)

    divided = tick_lines(page, 2)
    page.fill("#divide-name", "Moodle — formation des formateurs")
    page.get_by_role("button", name="Créer le lot de travaux").click()
    expect_message(page, "Nouveau lot de travaux « Moodle — formation des formateurs » créé.")
    expect(page.locator("h1")).to_have_text("Moodle — formation des formateurs")
    expect(page.locator("#lines-form tbody tr")).to_have_count(2)
    for code in divided:
        expect(page.locator("#lines-form tbody")).to_contain_text(code)
    shot("04-new-package")

    page.locator("p.crumbs").get_by_role("link", name="Lots de travaux").click()
    expect(page.locator("h1")).to_have_text("Lots de travaux")
    expect(page.locator("p.muted").first).to_contain_text("22 lots de travaux")
    expect(package_row(page, "Moodle").locator("td").nth(3)).to_have_text("10")
    expect(package_row(page, "PHP").locator("td").nth(3)).to_have_text("4")
    expect(package_row(page, "Moodle — formation des formateurs").locator("td").nth(3)).to_have_text("2")
    shot("05-packages-corrected")


def lead_of(tender: Tender, package: str) -> Assignment:
    return Assignment.objects.select_related("lead", "backup").get(package__tender=tender, package__name=package)


def test_bid_manager_splits_a_schedule_and_matches_the_network(page: Any, shot: Shot) -> None:
    manager = make_user("bid-manager", "bid_manager")
    tender = support_tender(manager)
    log_in(page, "bid-manager", PASSWORD)

    page.get_by_role("link", name="Appels d'offres").click()
    page.get_by_role("link", name=tender.title[:40]).first.click()
    expect(page).to_have_url(re.compile(rf"/tenders/{tender.pk}/$"))
    shot("01-tender")
    split_and_correct_packages(page, shot)

    page.locator("p.crumbs a").nth(1).click()
    page.get_by_role("link", name="Rapprochement").click()
    expect(page.locator("h1")).to_have_text("Rapprochement avec le réseau")
    expect(package_row(page, "PostgreSQL")).to_contain_text("pas encore calculé")
    page.get_by_role("button", name="Lancer le rapprochement").click()
    expect_message(page, "Rapprochement lancé")
    expect(page.locator("#job-status")).to_have_text("terminé")  # the eager task ran inside the request
    expect(page.locator("section.facts")).to_contain_text("22 · attribués 22 · sans entreprise 0")

    postgres = lead_of(tender, "PostgreSQL")
    assert postgres.lead is not None and postgres.backup is not None
    held = FirmSkill.objects.get(firm=postgres.lead, skill__name="PostgreSQL")
    postgres_row = package_row(page, "PostgreSQL")
    expect(postgres_row.locator("td").nth(2)).to_contain_text(postgres.lead.name)
    expect(postgres_row.locator("td").nth(3)).to_have_text(postgres.backup.name)
    shot("06-assignment")

    # On the overview: MariaDB's lead and backup swapped, from the row's own form.
    mariadb = lead_of(tender, "MariaDB")
    assert mariadb.lead is not None and mariadb.backup is not None
    mariadb_row = package_row(page, "MariaDB")
    mariadb_row.locator("summary", has_text="ajuster").click()
    mariadb_row.locator("select[name=lead]").select_option(str(mariadb.backup_id))
    mariadb_row.locator("select[name=backup]").select_option(str(mariadb.lead_id))
    mariadb_row.get_by_role("button", name="Enregistrer").click()
    expect_message(page, "Attribution ajustée pour « MariaDB ».")
    mariadb_row = package_row(page, "MariaDB")
    expect(mariadb_row.locator("td").nth(2)).to_contain_text(mariadb.backup.name)
    expect(mariadb_row.locator("td").nth(2)).to_contain_text("ajustée")
    expect(mariadb_row.locator("td").nth(3)).to_have_text(mariadb.lead.name)
    assert lead_of(tender, "MariaDB").status == AssignmentStatus.ADJUSTED

    # The candidates of PostgreSQL and why they rank so.
    page.get_by_role("link", name="PostgreSQL", exact=True).click()
    expect(page.locator("h1")).to_have_text("PostgreSQL")
    cards = page.locator("ol > li.card")
    first = cards.first
    expect(first).to_contain_text(f"1. {postgres.lead.name}")
    expect(first.locator("span.tag", has_text="retenue")).to_be_visible()
    expect(first.locator("tr", has_text="Compétences")).to_contain_text(f"PostgreSQL : {SkillLevel(held.level).label}")
    expect(first.locator("tr", has_text="Capacité")).to_contain_text("j libres sur")
    shot("07-candidates")

    second = cards.nth(1)
    second_name = re.sub(r"^2\. ", "", second.locator("strong").first.inner_text().strip())
    second.get_by_role("button", name="Retenir").click()
    expect_message(page, "Attribution ajustée pour « PostgreSQL ».")
    attribution = page.locator("section.facts dd").last
    expect(attribution).to_contain_text(f"{second_name} (ajustée)")
    expect(attribution).to_contain_text(f"secours {postgres.lead.name}")
    adjusted = lead_of(tender, "PostgreSQL")
    assert adjusted.lead is not None and adjusted.lead.name == second_name
    assert adjusted.status == AssignmentStatus.ADJUSTED

    # A competing consortium needs its name; then the firm is set aside with the reason shown.
    third = cards.nth(2)
    third_name = re.sub(r"^3\. ", "", third.locator("strong").first.inner_text().strip())
    third.locator("summary", has_text="écarter").click()
    third.locator("select[name=kind]").select_option(ExclusionKind.COMPETING)
    third.get_by_role("button", name="Écarter de l'appel d'offres").click()
    expect_message(page, "Précisez le groupement concurrent")
    assert not TenderExclusion.objects.exists()
    third = page.locator("ol > li.card").nth(2)
    third.locator("summary", has_text="écarter").click()
    third.locator("select[name=kind]").select_option(ExclusionKind.COMPETING)
    third.get_by_placeholder("précision").fill(COMPETING_REASON)
    third.get_by_role("button", name="Écarter de l'appel d'offres").click()
    expect_message(page, f"{third_name} est écartée de cet appel d'offres.")
    excluded = page.locator("ul.plain li", has_text=third_name)
    expect(excluded).to_contain_text("engagée dans un groupement concurrent")
    expect(excluded).to_contain_text(COMPETING_REASON)
    shot("08-candidates-adjusted-and-excluded")

    # A new run keeps the hand-made choices and leaves the excluded firm out.
    page.locator("p.crumbs").get_by_role("link", name="Rapprochement").click()
    exclusions = page.locator("#exclusions + table")
    expect(exclusions).to_contain_text(third_name)
    expect(exclusions).to_contain_text(COMPETING_REASON)
    page.get_by_role("button", name="Relancer le rapprochement").click()
    expect(page.locator("#job-status")).to_have_text("terminé")
    expect(page.locator("section.facts")).to_contain_text("2 conservé(s), 0 remplacé(s)")
    expect(package_row(page, "PostgreSQL").locator("td").nth(2)).to_contain_text(second_name)
    shot("09-rerun")
    page.get_by_role("link", name="PostgreSQL", exact=True).click()
    expect(page.locator("ol > li.card").first).to_be_visible()
    expect(page.locator("ol > li.card", has_text=third_name)).to_have_count(0)


def test_package_value_bars_follow_the_values(page: Any, shot: Shot) -> None:
    manager = make_user("bid-manager", "bid_manager")
    tender = support_tender(manager)
    split_tender(actor=manager, tender=tender)
    log_in(page, "bid-manager", PASSWORD)
    page.goto(f"/tenders/{tender.pk}/packages/")
    bars = page.locator("figure.chart .bar")
    expect(bars.first).to_contain_text("Moodle")
    expect(bars.last).to_contain_text("Java")
    top, bottom = (bar.locator(".fill").bounding_box() for bar in (bars.first, bars.last))
    shot("01-value-chart")
    assert top is not None and bottom is not None
    assert bottom["width"] < top["width"] / 2, bars.last.locator(".fill").get_attribute("style")
