"""The group offer in a real browser: the bid manager assembles it, freezes it, watches the documents being
rendered and finds them listed; partner A opens "Mes offres" and downloads its own part, and nothing of B's."""

from __future__ import annotations

import re
import zipfile
from typing import Any

import pytest
from playwright.sync_api import expect

from bids.models import JobStatus
from bids.offer_models import OfferDocument, OfferStatus, OfferVersion
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import ARTIFACTS, Shot, log_in
from tests.offers.conftest import OfferMarket, build_offer_market

pytestmark = pytest.mark.e2e


@pytest.fixture
def offer_market(transactional_db: None) -> OfferMarket:
    chargee = make_user("chargee", "bid_manager")
    alice = make_user("alice", "partner", firm="Firm A")
    bruno = make_user("bruno", "partner", firm="Firm B")
    return build_offer_market(bid_manager=chargee, partner_a=alice, partner_b=bruno)


def expect_message(page: Any, text: str) -> None:
    expect(page.locator("ul.messages")).to_contain_text(text)


def watch_the_rendering(page: Any, version: OfferVersion, shot: Shot) -> None:
    """The eager task already rendered everything inside the freeze request: replay a running job so that
    progress.js drives the bar, then let the poll see the end and reload the page."""
    versions = OfferVersion.objects.filter(pk=version.pk)
    done = versions.values_list("render_done", flat=True).get()
    versions.update(render_status=JobStatus.RUNNING, render_stage="mémoire technique", render_done=1, render_total=5)
    page.reload()
    expect(page.locator("#job")).to_have_attribute("data-finished", "0")
    expect(page.locator("#job-status")).to_have_text("en cours")
    expect(page.locator("#job-stage")).to_have_text("mémoire technique 1 / 5")  # written by the first poll
    expect(page.locator("#job-progress")).to_have_attribute("value", "20")
    shot("03-rendering")
    versions.update(render_status=JobStatus.SUCCEEDED, render_stage="", render_done=done, render_total=done)
    expect(page.locator("#job")).to_have_attribute("data-finished", "1")  # reloaded by the poll
    expect(page.locator("#job-status")).to_have_text("terminé")


def test_bid_manager_assembles_freezes_and_partner_a_downloads_its_part(
    offer_market: OfferMarket, page: Any, browser: Any, live_server: Any, shot: Shot
) -> None:
    tender = offer_market.tender
    log_in(page, "chargee", PASSWORD)
    page.goto(f"/tenders/{tender.pk}/")
    page.get_by_role("link", name="Offre du groupement").click()
    expect(page).to_have_url(re.compile(rf"/tenders/{tender.pk}/offer/$"))
    expect(page.locator("h1")).to_contain_text("Offre du groupement")
    expect(page.locator("main")).to_contain_text("Prêt pour l'assemblage")
    shot("01-no-offer")

    page.get_by_role("button", name="Assembler l'offre").click()
    expect_message(page, "version 1 en brouillon")
    expect(page.locator("#readiness")).to_contain_text("Prête à figer")
    expect(page.locator("table.members")).to_contain_text("Firm A")
    expect(page.locator("table.members")).to_contain_text("Firm B")
    expect(page.locator("#offer-total")).to_have_text("25\u202f201,95 EUR")
    page.fill("#id_mandataire_name", "Guichet Libre SAS")
    page.get_by_role("button", name="Enregistrer la composition").click()
    expect_message(page, "Composition du groupement enregistrée.")
    shot("02-draft")

    page.get_by_role("button", name="Figer la version").click()
    expect_message(page, "Version 1 figée")
    version = OfferVersion.objects.get(offer__tender=tender)
    assert version.status == OfferStatus.FROZEN and version.mandataire_name == "Guichet Libre SAS"
    watch_the_rendering(page, version, shot)
    documents = page.locator("table.documents tbody tr")
    expect(documents).to_have_count(OfferDocument.objects.filter(version=version).count())
    expect(page.locator("table.documents")).to_contain_text("Mémoire technique")
    expect(page.get_by_role("link", name="Tout télécharger (zip)")).to_be_visible()
    expect(page.get_by_role("button", name="Marquer comme remise")).to_be_visible()
    shot("04-frozen-with-documents")

    alice = browser.new_context(base_url=live_server.url, locale="fr-FR", viewport={"width": 1280, "height": 900})
    alice.set_default_timeout(10_000)
    partner = alice.new_page()
    try:
        log_in(partner, "alice", PASSWORD)
        partner.get_by_role("link", name="Mes offres").click()
        expect(partner).to_have_url(re.compile(r"/offers/$"))
        expect(partner.locator("h1")).to_have_text("Mes offres")
        main = partner.locator("main")
        expect(main).to_contain_text(tender.title)
        expect(main).to_contain_text("PostgreSQL")
        expect(main).to_contain_text("1\u202f700,00 EUR")
        for secret in ("Nginx", "Firm B", "4\u202f242,17", "Mémoire"):
            expect(main).not_to_contain_text(secret)
        partner.screenshot(path=str(ARTIFACTS / "offer-partner-a-my-offers.png"), full_page=True)
        with partner.expect_download() as download_info:
            partner.get_by_role("link", name="Télécharger ma part (zip)").click()
        download = download_info.value
        assert download.suggested_filename.endswith(".zip") and "firm-a" in download.suggested_filename
        archive = zipfile.ZipFile(download.path())
        own = OfferDocument.objects.filter(version=version, firm=offer_market.firm_a)
        assert sorted(archive.namelist()) == sorted(document.filename for document in own)
    finally:
        alice.close()
