"""Invitations in a real browser: the bid manager sends them, partner A accepts with its prices, partner B
declines and the next firm is invited, and the dashboard shows it all; A never sees B's answer."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from bids.models import Invitation, InvitationStatus
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import ARTIFACTS, Shot, log_in
from tests.invitations.conftest import Market, build_market

pytestmark = pytest.mark.e2e


@pytest.fixture
def market(transactional_db: None) -> Market:
    make_user("chargee", "bid_manager")
    alice = make_user("alice", "partner", firm="Firm A")
    bruno = make_user("bruno", "partner", firm="Firm B")
    return build_market(partner_a=alice, partner_b=bruno)


def expect_message(page: Any, text: str) -> None:
    expect(page.locator("ul.messages")).to_contain_text(text)


def as_user(browser: Any, live_server: Any, username: str) -> Any:
    context = browser.new_context(base_url=live_server.url, locale="fr-FR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, username, PASSWORD)
    return page


def test_invite_accept_decline_and_follow_on_the_dashboard(
    market: Market, page: Any, browser: Any, live_server: Any, shot: Shot
) -> None:
    tender = market.tender
    log_in(page, "chargee", PASSWORD)
    page.goto(f"/tenders/{tender.pk}/invitations/")
    expect(page.locator("h1")).to_contain_text("Invitations des partenaires")
    expect(page.locator("#id_deadline")).not_to_have_value("")
    shot("01-dashboard-before")
    page.get_by_role("button", name="Envoyer les invitations").click()
    expect_message(page, "2 invitation(s) envoyée(s)")
    expect(page.locator("table.dashboard")).to_contain_text("Firm A")
    expect(page.locator("table.dashboard")).to_contain_text("Firm B")
    shot("02-dashboard-sent")

    alice = as_user(browser, live_server, "alice")
    expect(alice).to_have_url(re.compile(r"/invitations/$"))
    expect(alice.locator("table.invitations")).to_contain_text("PostgreSQL")
    expect(alice.locator("main")).not_to_contain_text("Nginx")
    alice.get_by_role("link", name="PostgreSQL").click()
    expect(alice.locator("h1")).to_contain_text("PostgreSQL")
    prices = alice.locator("#accept-form input.price")
    expect(prices).to_have_count(3)
    prices.nth(0).fill("650")
    prices.nth(1).fill("1 200,50")
    prices.nth(2).fill("-3")
    alice.get_by_role("button", name="Accepter avec ces prix").click()
    expect_message(alice, "prix négatif")
    expect(prices.nth(1)).to_have_value("1 200,50")  # what was typed is kept
    prices.nth(2).fill("4800")
    alice.fill("#id_team", "Anna, experte PostgreSQL")
    alice.get_by_role("button", name="Accepter avec ces prix").click()
    expect(alice.locator("h1 .status")).to_have_text("acceptée")
    # 10 x 650 + 2 x 1200.50 + 1 x 4800 = 13,701.00
    expect(alice.locator("main")).to_contain_text("13\u202f701,00")
    alice.screenshot(path=str(ARTIFACTS / "invitation-accepted-by-partner.png"), full_page=True)
    accepted = Invitation.objects.get(package=market.packages["PostgreSQL"], status=InvitationStatus.ACCEPTED)
    assert accepted.total == Decimal("13701.00")

    bruno = as_user(browser, live_server, "bruno")
    bruno.get_by_role("link", name="Nginx").click()
    bruno.fill("#id_reason", "Plan de charge complet")
    bruno.get_by_role("button", name="Décliner l'invitation").click()
    expect(bruno.locator("h1 .status")).to_have_text("déclinée")
    expect(bruno.locator("main")).not_to_contain_text("Firm C")  # the next firm is not B's business

    page.goto(f"/tenders/{tender.pk}/invitations/")
    table = page.locator("table.dashboard")
    expect(table).to_contain_text("acceptée")
    expect(table).to_contain_text("13\u202f701,00")
    expect(table).to_contain_text("Firm C")  # Nginx went to the backup
    expect(page.locator("figure, .status-bar").first).to_be_visible()
    shot("03-dashboard-after")

    for other in (alice, bruno):
        other.context.close()
