"""The group offer's pages: the bid manager assembles, composes, prices, freezes and downloads; each partner sees
and downloads only its own part; refusals come back as messages, never as a 500; the offer page's query count
does not grow with the offer."""

from __future__ import annotations

import datetime as dt
import html
import io
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bids.models import Line, Lot, WorkPackage
from bids.offer_models import DocumentKind, GroupOffer, MemberRole, OfferDocument, OfferStatus, OfferVersion
from bids.prices import PriceEntry
from bids.services.invitations import accept_invitation, default_deadline, invite_firm
from consortium.templatetags.guichet import money
from partners.models import Attestation
from tests.conftest import client_for
from tests.invitations.conftest import MARKER_PRICE

from .conftest import OfferMarket

pytestmark = pytest.mark.django_db

# Firm A: 1,700.00 at its own prices; firm B: 5 x 4,242.17 = 21,210.85 (its line without quantity has no amount).
# Default policy: fee 8 % + levy 2 %, so the offered unit price is the firm's x 1.10, rounded once.
TOTAL_HT = Decimal("25201.95")  # 10 x 110.00 + 2 x 220.00 + 1 x 330.00 + 5 x 4,666.39 (4,242.17 x 1.1)


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def offer_url(market: OfferMarket) -> str:
    return reverse("bids:offer_detail", args=[market.tender.pk])


def start(market: OfferMarket) -> OfferVersion:
    response = client_for(market.bid_manager).post(reverse("bids:offer_start", args=[market.tender.pk]))
    assert response.status_code == 302
    return OfferVersion.objects.get(offer__tender=market.tender, status=OfferStatus.DRAFT)


def freeze(market: OfferMarket, version: OfferVersion, capture: Any) -> Any:
    client = client_for(market.bid_manager)
    with capture(execute=True):
        return client.post(reverse("bids:offer_freeze", args=[version.pk]), {"revision": version.revision}, follow=True)


@pytest.fixture
def frozen(offer_market: OfferMarket, django_capture_on_commit_callbacks: Any) -> OfferVersion:
    version = start(offer_market)
    response = freeze(offer_market, version, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    version.refresh_from_db()
    assert version.status == OfferStatus.FROZEN, messages_of(response)
    return version


# --- Assembling a draft -------------------------------------------------------------------------------------


def test_without_an_offer_the_page_explains_and_assembles(offer_market: OfferMarket) -> None:
    client = client_for(offer_market.bid_manager)
    response = client.get(offer_url(offer_market))
    assert response.status_code == 200
    body = text(response)
    assert "Assembler l'offre" in body and "Prêt pour l'assemblage" in body
    assert not GroupOffer.objects.exists()

    response = client.post(reverse("bids:offer_start", args=[offer_market.tender.pk]), follow=True)
    assert response.status_code == 200
    assert any("version 1 en brouillon" in message for message in messages_of(response))
    body = text(response)
    for expected in ("Firm A", "Firm B", "Composition du groupement", "Politique de prix", "Prête à figer"):
        assert expected in body
    assert money(TOTAL_HT, "EUR") in body
    assert OfferVersion.objects.get().number == 1


def test_composition_is_saved_and_a_stale_revision_is_refused(offer_market: OfferMarket) -> None:
    version = start(offer_market)
    client = client_for(offer_market.bid_manager)
    url = reverse("bids:offer_composition", args=[version.pk])
    firm_a, firm_b = offer_market.firm_a, offer_market.firm_b
    data = {
        "revision": version.revision,
        "form": "joint",
        "mandataire_name": "Guichet Libre SAS",
        "mandataire_siret": "732 829 320 00074",
        "mandataire_address": "2 place du Marché, Rouen",
        f"role_{firm_a.pk}": MemberRole.COCONTRACTOR,
        f"role_{firm_b.pk}": MemberRole.SUBCONTRACTOR,
        f"direct_payment_{firm_b.pk}": "on",
    }
    response = client.post(url, data, follow=True)
    assert "Composition du groupement enregistrée." in messages_of(response)
    version.refresh_from_db()
    assert (version.mandataire_name, version.mandataire_siret) == ("Guichet Libre SAS", "73282932000074")
    b = version.members.get(firm=firm_b)
    assert (b.role, b.direct_payment) == (MemberRole.SUBCONTRACTOR, True)

    stale = {**data, "mandataire_name": "Quelqu'un d'autre"}  # the revision the page showed before the save
    response = client.post(url, stale, follow=True)
    assert response.status_code == 200
    assert any("rechargez la page" in message for message in messages_of(response))
    version.refresh_from_db()
    assert version.mandataire_name == "Guichet Libre SAS"

    bad = {**data, "revision": version.revision, "mandataire_siret": "12345678901234", "form": "nope"}
    response = client.post(url, bad, follow=True)
    assert response.status_code == 200
    errors = messages_of(response)
    assert any("SIRET du mandataire" in message for message in errors)
    assert any("Forme du groupement" in message for message in errors)


def test_policy_with_a_bad_rate_is_a_form_error_and_a_good_one_reprices(offer_market: OfferMarket) -> None:
    version = start(offer_market)
    client = client_for(offer_market.bid_manager)
    url = reverse("bids:offer_policy", args=[version.pk])
    for fee in ("150", "abc", "-1", "1,123456"):
        response = client.post(
            url, {"revision": version.revision, "fee_rate": fee, "levy_rate": "2", "vat_rate": "20"}, follow=True
        )
        assert response.status_code == 200
        assert any("Frais de coordination" in message for message in messages_of(response)), fee
    response = client.post(url, {"revision": version.revision, "levy_rate": "2"}, follow=True)
    assert response.status_code == 200 and any("TVA" in message for message in messages_of(response))

    response = client.post(
        url, {"revision": version.revision, "fee_rate": "0", "levy_rate": "0", "vat_rate": "5,5"}, follow=True
    )
    assert any("Politique de prix appliquée" in message for message in messages_of(response))
    body = text(response)
    # At the firms' own prices: 1,700.00 + 21,210.85 = 22,910.85; VAT 5.5 % = 1,260.10.
    assert money(Decimal("22910.85"), "EUR") in body
    assert money(Decimal("24170.95"), "EUR") in body


def test_freezing_with_problems_lists_them_and_keeps_the_draft(
    offer_market: OfferMarket, django_capture_on_commit_callbacks: Any
) -> None:
    version = start(offer_market)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    Attestation.objects.filter(firm=offer_market.firm_a).update(valid_until=yesterday)
    body = text(client_for(offer_market.bid_manager).get(offer_url(offer_market)))
    assert "points à régler avant de figer" in body and "Firm A" in body
    assert "Figer la version" not in body

    response = freeze(offer_market, version, django_capture_on_commit_callbacks)
    errors = messages_of(response)
    assert errors[0] == "L'offre ne peut pas être figée :"
    assert any(message.startswith("Firm A :") and "attestation" in message for message in errors)
    version.refresh_from_db()
    assert version.status == OfferStatus.DRAFT
    assert not OfferDocument.objects.exists()


def test_freezing_a_stale_revision_is_refused(
    offer_market: OfferMarket, django_capture_on_commit_callbacks: Any
) -> None:
    version = start(offer_market)
    version.revision += 5
    response = freeze(offer_market, version, django_capture_on_commit_callbacks)
    assert any("rechargez la page" in message for message in messages_of(response))
    response = client_for(offer_market.bid_manager).post(reverse("bids:offer_freeze", args=[version.pk]), {})
    assert response.status_code == 302
    assert OfferVersion.objects.get().status == OfferStatus.DRAFT


# --- A frozen version: documents, downloads, progress ------------------------------------------------------


def test_freezing_renders_the_documents_and_lists_them(offer_market: OfferMarket, frozen: OfferVersion) -> None:
    client = client_for(offer_market.bid_manager)
    response = client.get(offer_url(offer_market))
    body = text(response)
    assert "Documents de l'offre" in body and "Tout télécharger (zip)" in body and "Marquer comme remise" in body
    documents = list(OfferDocument.objects.filter(version=frozen))
    kinds = {(document.kind, document.firm_id) for document in documents}
    assert {(DocumentKind.SCHEDULE, None), (DocumentKind.MEMO, None), (DocumentKind.GROUPEMENT, None)} <= kinds
    for document in documents:
        assert document.filename in body and document.sha256[:16] in body
    assert frozen.content_hash in body
    assert money(TOTAL_HT, "EUR") in body

    status = client.get(reverse("bids:offer_status", args=[frozen.pk])).json()
    assert status == {
        "status": "succeeded",
        "status_label": "terminé",
        "stage": "",
        "percent": 100,
        "done": len(documents),
        "total": len(documents),
        "finished": True,
    }


def test_document_and_zip_downloads_are_attachments(offer_market: OfferMarket, frozen: OfferVersion) -> None:
    client = client_for(offer_market.bid_manager)
    memo = OfferDocument.objects.get(version=frozen, kind=DocumentKind.MEMO)
    response = client.get(reverse("bids:offer_document", args=[frozen.pk, memo.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert memo.filename in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.startswith(b"%PDF")

    response = client.get(reverse("bids:offer_zip", args=[frozen.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert len(names) == OfferDocument.objects.filter(version=frozen).count()
    assert any(name.endswith(memo.filename) for name in names)
    assert any(name.startswith("firm-a/") for name in names) and any(name.startswith("firm-b/") for name in names)


def test_partner_a_sees_and_downloads_only_its_own_part(offer_market: OfferMarket, frozen: OfferVersion) -> None:
    client = client_for(offer_market.partner_a)
    response = client.get(reverse("bids:partner_offers"))
    assert response.status_code == 200
    body = text(response)
    assert offer_market.tender.title in body and "PostgreSQL" in body
    assert money(Decimal("1700.00"), "EUR") in body  # its own price
    for secret in ("Nginx", "Firm B", "4242", money(MARKER_PRICE, "EUR"), money(TOTAL_HT, "EUR"), "Mémoire"):
        assert secret not in body, secret
    own = OfferDocument.objects.filter(version=frozen, firm=offer_market.firm_a)
    assert own.count() == 2
    for document in own:
        assert document.filename in body
    for document in OfferDocument.objects.filter(version=frozen).exclude(firm=offer_market.firm_a):
        assert document.filename not in body

    response = client.get(reverse("bids:offer_zip", args=[frozen.pk]))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == sorted(document.filename for document in own)
    assert "firm-a" in response["Content-Disposition"]
    contents = b"".join(archive.read(name) for name in archive.namelist())
    assert b"Firm B" not in contents

    # The bid manager's page is not for partners; their part's page is.
    assert client.get(offer_url(offer_market)).status_code == 403


def test_partner_b_cannot_download_partner_a_documents(offer_market: OfferMarket, frozen: OfferVersion) -> None:
    client = client_for(offer_market.partner_b)
    for document in OfferDocument.objects.filter(version=frozen).exclude(firm=offer_market.firm_b):
        response = client.get(reverse("bids:offer_document", args=[frozen.pk, document.pk]))
        assert response.status_code == 404, document
    mine = OfferDocument.objects.filter(version=frozen, firm=offer_market.firm_b).first()
    assert mine is not None
    assert client.get(reverse("bids:offer_document", args=[frozen.pk, mine.pk])).status_code == 200
    # A document id of this version under another version's URL is not found either.
    assert client.get(reverse("bids:offer_document", args=[frozen.pk + 1000, mine.pk])).status_code == 404


def test_submit_result_and_new_version(offer_market: OfferMarket, frozen: OfferVersion) -> None:
    client = client_for(offer_market.bid_manager)
    response = client.post(reverse("bids:offer_result", args=[frozen.pk]), {"result": "won"}, follow=True)
    assert response.status_code == 200 and any("Impossible" in message for message in messages_of(response))

    response = client.post(reverse("bids:offer_submit", args=[frozen.pk]), follow=True)
    assert "Version 1 marquée comme remise." in messages_of(response)
    assert "Gagnée" in text(response) and "Perdue" in text(response)
    response = client.post(reverse("bids:offer_result", args=[frozen.pk]), {"result": "maybe"}, follow=True)
    assert any("Résultat refusé" in message for message in messages_of(response))

    response = client.post(reverse("bids:offer_new_version", args=[frozen.pk]), follow=True)
    assert any("Version 2 créée en brouillon" in message for message in messages_of(response))
    body = text(response)
    assert "Composition du groupement" in body and "Versions" in body
    draft = OfferVersion.objects.get(status=OfferStatus.DRAFT)
    assert draft.number == 2

    response = client.post(reverse("bids:offer_result", args=[frozen.pk]), {"result": "lost"}, follow=True)
    assert "Offre perdue : le résultat est enregistré." in messages_of(response)
    frozen.refresh_from_db()
    assert frozen.status == OfferStatus.LOST
    old = text(client.get(offer_url(offer_market), {"version": 1}))
    assert "perdue" in old and "voir la version en cours" in old


def test_retry_is_refused_unless_rendering_failed(offer_market: OfferMarket, frozen: OfferVersion) -> None:
    client = client_for(offer_market.bid_manager)
    response = client.post(reverse("bids:offer_retry", args=[frozen.pk]), follow=True)
    assert any("pas en échec" in message for message in messages_of(response))
    OfferVersion.objects.filter(pk=frozen.pk).update(
        render_status="failed", render_errors=[{"where": "mémoire technique", "message": "boom"}]
    )
    body = text(client.get(offer_url(offer_market)))
    assert "Relancer le rendu" in body and "mémoire technique : boom" in body


def test_finance_reads_only_the_sent_version_and_changes_nothing(
    offer_market: OfferMarket, finance: Any, django_capture_on_commit_callbacks: Any
) -> None:
    version = start(offer_market)
    client = client_for(finance)
    body = text(client.get(offer_url(offer_market)))
    assert "Composition du groupement" not in body and money(TOTAL_HT, "EUR") not in body  # a draft is not shown
    assert 'action="/tenders/' not in body  # no "Assembler l'offre" button

    freeze(offer_market, version, django_capture_on_commit_callbacks)
    body = text(client.get(offer_url(offer_market)))
    assert money(TOTAL_HT, "EUR") in body and "Tout télécharger (zip)" in body
    assert 'method="post" action="/offers/' not in body  # no action for finance
    memo = OfferDocument.objects.get(version=version, kind=DocumentKind.MEMO)
    assert client.get(reverse("bids:offer_document", args=[version.pk, memo.pk])).status_code == 200


# --- The query count does not grow with the offer ----------------------------------------------------------


def add_lots(market: OfferMarket, count: int, lines_per_lot: int) -> None:
    """More lots, each with one package accepted by firm A or B, so the offer grows but its firms don't."""
    tender = market.tender
    position = Line.objects.filter(tender=tender).count()
    first = Lot.objects.filter(tender=tender).count() + 1
    for index in range(first, first + count):
        lot = Lot.objects.create(
            tender=tender, source_id=f"LOT-{index}", title=f"Lot {index}", currency="EUR", position=index
        )
        package = WorkPackage.objects.create(
            tender=tender, lot=lot, position=index + 10, name=f"Paquet {index}", basis="skill"
        )
        lines = []
        for row in range(lines_per_lot):
            position += 1
            lines.append(
                Line.objects.create(
                    tender=tender,
                    lot=lot,
                    position=position,
                    origin="schedule",
                    code=f"X-{position}",
                    designation=f"Ligne {position}",
                    unit="u",
                    quantity=Decimal(row + 1),
                    work_package=package,
                )
            )
        firm, user = (market.firm_a, market.partner_a) if index % 2 else (market.firm_b, market.partner_b)
        invitation = invite_firm(
            actor=market.bid_manager, package=package, firm=firm, deadline=default_deadline(tender)
        )
        accept_invitation(
            actor=user,
            invitation_id=invitation.pk,
            entries=[PriceEntry(line_id=line.pk, raw="10.00", where=line.code) for line in lines],
            version=None,
        )


def count_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_offer_page_queries_do_not_grow_with_lots_and_lines(
    offer_market: OfferMarket, django_assert_max_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    start(offer_market)
    client = client_for(offer_market.bid_manager)
    small = count_queries(client, offer_url(offer_market))

    add_lots(offer_market, count=60, lines_per_lot=5)
    with django_assert_max_num_queries(small):
        response = client.get(offer_url(offer_market))
    body = text(response)
    assert "LOT-2" in body and "LOT-55" not in body  # the first page of lots only
    assert body.count("<tr") < 200  # the lots table is paginated: 50 lots a page


def test_frozen_offer_page_queries_do_not_grow_with_lots_and_lines(
    offer_market: OfferMarket,
    frozen: OfferVersion,
    django_assert_max_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_for(offer_market.bid_manager)
    small = count_queries(client, offer_url(offer_market))
    client.post(reverse("bids:offer_new_version", args=[frozen.pk]))
    add_lots(offer_market, count=60, lines_per_lot=5)
    bigger = OfferVersion.objects.get(status=OfferStatus.DRAFT)
    freeze(offer_market, bigger, django_capture_on_commit_callbacks)
    bigger.refresh_from_db()
    assert bigger.status == OfferStatus.FROZEN and bigger.lines.count() == 5 + 300
    with django_assert_max_num_queries(small):
        response = client.get(offer_url(offer_market))
    assert "LOT-61" not in text(response)  # the lots table is paginated
