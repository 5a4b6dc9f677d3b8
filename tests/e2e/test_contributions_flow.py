"""Contribution commitments in a real browser: partner A opens its late commitment from the menu, records work with
a link (a link that shows nothing is refused first, nothing saved), and sees the status turn from late to on track;
partner B gets a 404 on it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from pricing.models import Commitment, WorkDelivery
from tests.conftest import PASSWORD, make_user
from tests.contributions.test_commitment_pages import days_commitment
from tests.e2e.conftest import Shot, log_in
from tests.ledger.conftest import build_ledger_contract

pytestmark = pytest.mark.e2e

TITLE = "Correctifs du planificateur"
MERGED = "https://github.com/postgres/postgres/pull/123"


@pytest.fixture
def late_commitment(transactional_db: None) -> Commitment:
    """Firm A's 5 days promised to PostgreSQL on a contract of firms A and B: 2 were due ten days ago."""
    bid_manager = make_user("bid-manager", "bid_manager")
    contract = build_ledger_contract(
        bid_manager=bid_manager,
        partner_a=make_user("partner-a", "partner", firm="Firm A"),
        partner_b=make_user("partner-b", "partner", firm="Firm B"),
        finance=make_user("finance", "finance"),
    )
    return days_commitment(contract, bid_manager, title=TITLE)


def expect_message(page: Any, text: str) -> None:
    expect(page.locator("ul.messages")).to_contain_text(text)


def open_commitment(page: Any, shot: Shot) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Contributions").click()
    expect(page.locator("h1")).to_have_text("Engagements de contribution")
    expect(page.locator("#status-chart svg")).to_be_visible()
    row = page.locator("table.commit-list tbody tr", has_text=TITLE)
    expect(row.locator(".status")).to_have_text("en retard")
    shot("01-list")
    row.get_by_role("link", name=TITLE).click()
    expect(page.locator("h1")).to_contain_text(TITLE)
    expect(page.locator("h1 .status")).to_have_text("en retard")
    expect(page.locator("#status-reason")).to_contain_text("En retard : l'échéance du")


def record_work(page: Any, links: str) -> None:
    form = page.locator("#work-form")
    form.locator("#id_work-days").fill("2")
    form.locator("#id_work-description").fill("Correctif du planificateur de requêtes, fusionné en amont")
    form.locator("#id_work-links").fill(links)
    form.get_by_role("button", name="Enregistrer le travail").click()


def test_partner_a_records_work_and_sees_the_status_change(late_commitment: Commitment, page: Any, shot: Shot) -> None:
    log_in(page, "partner-a", PASSWORD)
    open_commitment(page, shot)

    record_work(page, "https://example.org/about")
    expect(page.locator("#work-form")).to_contain_text("Lien non reconnu : https://example.org/about")
    expect(page.locator("#id_work-days")).to_have_value("2")  # what was typed is kept
    expect(page.locator("h1 .status")).to_have_text("en retard")
    assert not WorkDelivery.objects.exists()
    shot("02-link-refused")

    record_work(page, MERGED)
    expect_message(page, "Travail enregistré : 2 j, 1 lien(s).")
    expect(page.locator("h1 .status")).to_have_text("en bonne voie")
    expect(page.locator("#status-reason")).to_contain_text("En bonne voie")
    expect(page.locator("#fig-delivered")).to_have_text("2 j")
    expect(page.get_by_role("progressbar", name="Livré / promis")).to_have_attribute("aria-valuenow", "40.0")
    link = page.locator("table.commit-work").get_by_role("link", name=MERGED)
    expect(link).to_have_attribute("href", MERGED)
    expect(link).to_have_attribute("rel", "noopener nofollow")
    expect(page.locator("table.commit-work")).to_contain_text("modification fusionnée")
    shot("03-after-work")
    assert WorkDelivery.objects.get().links == [{"url": MERGED, "kind": "change"}]

    page.context.clear_cookies()
    log_in(page, "partner-b", PASSWORD)
    response = page.goto(f"/contributions/{late_commitment.pk}/")
    assert response is not None and response.status == 404
    expect(page.locator("main")).not_to_contain_text(TITLE)
    page.goto("/contributions/")
    expect(page.locator("main")).not_to_contain_text(TITLE)
    shot("04-partner-b-list")
