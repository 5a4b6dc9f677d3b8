"""Partner B's prices, note and team carry marker values; nothing partner A receives may contain them:
no page, download, API answer, e-mail or task result, on A's objects or on B's."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from bids import tasks
from bids.services.invitations import accept_invitation, default_deadline, invite_firm, send_invitations
from tests.conftest import client_for
from tests.invitations.conftest import MARKER_PRICE, build_market, invitation_of
from tests.test_permissions import MATRIX, PER_FIRM, _url

pytestmark = pytest.mark.django_db

NOTE_MARKER = "NOTE-SECRETE-DE-B"
TEAM_MARKER = "EQUIPE-SECRETE-DE-B"


def spellings(amount: Decimal) -> set[str]:
    """How an amount may be written: raw, French and English grouping, any kind of space."""
    text = f"{amount:.2f}"
    whole, cents = text.split(".")
    grouped = f"{int(whole):,}"
    found = {text, f"{whole},{cents}", f"{grouped}.{cents}"}
    for space in (" ", "\xa0", "\u202f", "&nbsp;", "&#8239;"):
        found.add(f"{grouped.replace(',', space)},{cents}")
    return found


def readable(body: bytes) -> str:
    """The text of a response: an XLSX (a zip) is opened and its XML parts read."""
    if body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return body.decode("utf-8", "replace")


@pytest.fixture
def secret(personas: dict[str, Any], bid_manager: Any, django_capture_on_commit_callbacks: Any) -> dict[str, Any]:
    market = build_market(partner_a=personas["partner_a"], partner_b=personas["partner_b"])
    deadline = default_deadline(market.tender)
    with django_capture_on_commit_callbacks(execute=True):
        send_invitations(actor=bid_manager, tender=market.tender, deadline=deadline)
        # Both firms are asked for PostgreSQL too, so that A's and B's invitations share a package.
        invite_firm(actor=bid_manager, package=market.packages["PostgreSQL"], firm=market.firms["B"], deadline=deadline)
    nginx_b = invitation_of(market, "Nginx", "B")
    with django_capture_on_commit_callbacks(execute=True):
        accepted = accept_invitation(
            actor=personas["partner_b"],
            invitation_id=nginx_b.pk,
            entries=market.entries("Nginx", [str(MARKER_PRICE)] * 2),
            version=nginx_b.version,
            note=NOTE_MARKER,
            team=TEAM_MARKER,
        )
    assert accepted.total is not None
    markers = spellings(MARKER_PRICE) | spellings(accepted.total) | spellings(MARKER_PRICE * 5)
    return {
        "market": market,
        "markers": markers | {NOTE_MARKER, TEAM_MARKER},
        "a": invitation_of(market, "PostgreSQL", "A"),
        "b": accepted,
        "b_open": invitation_of(market, "PostgreSQL", "B"),
    }


def _leaks(text: str, markers: set[str]) -> list[str]:
    return sorted(marker for marker in markers if marker in text)


def test_the_markers_are_visible_to_partner_b_and_the_bid_manager(
    secret: dict[str, Any], personas: dict[str, Any]
) -> None:
    """The check below can fail: the same pages do show the markers to those allowed to see them."""
    url = reverse("bids:invitation_detail", args=[secret["b"].pk])
    for persona in ("partner_b", "bid_manager"):
        body = readable(client_for(personas[persona]).get(url).content)
        assert NOTE_MARKER in body
        assert _leaks(body, secret["markers"] - {NOTE_MARKER, TEAM_MARKER}), persona


def test_nothing_partner_a_receives_contains_b_markers(
    secret: dict[str, Any], personas: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(personas["partner_a"])
    objects = {
        "firm": secret["market"].firms["A"].pk,
        "firm_b": secret["market"].firms["B"].pk,
        "invitation": secret["a"].pk,
        "invitation_b": secret["b"].pk,
        "market_tender": secret["market"].tender.pk,
        "market_package": secret["market"].packages["Nginx"].pk,
        "tender": secret["market"].tender.pk,
        "package": secret["market"].packages["Nginx"].pk,
        "job": 0,
    }
    urls = set()
    for name in MATRIX:
        if name.startswith("bids:import_") and name not in {"bids:import_list", "bids:import_new"}:
            continue
        urls.add((MATRIX[name][0], _url(name, objects, "A")))
        if name in PER_FIRM:
            urls.add((MATRIX[name][0], _url(name, objects, "B")))
    for invitation in (secret["a"], secret["b"], secret["b_open"]):
        urls.add(("get", reverse("bids:invitation_detail", args=[invitation.pk])))
        urls.add(("get", reverse("bids:invitation_sheet", args=[invitation.pk])))
        urls.add(("get", f"/api/invitations/{invitation.pk}/"))
    urls |= {("get", "/api/invitations/"), ("get", "/api/invitations/?status=accepted"), ("get", "/api/schema/")}
    urls |= {("get", "/api/firms/"), ("get", f"/api/firms/{objects['firm_b']}/")}
    seen = 0
    with django_capture_on_commit_callbacks(execute=True):
        for method, url in sorted(urls):
            response = getattr(client, method)(url, follow=method == "get")
            assert response.status_code < 500, url
            body = readable(response.content)
            assert not _leaks(body, secret["markers"]), (
                f"{method.upper()} {url} leaks {_leaks(body, secret['markers'])}"
            )
            seen += 1
    assert seen >= 40
    result = tasks.sweep.apply().get()
    assert not _leaks(repr(result), secret["markers"])


def test_no_mail_to_partner_a_carries_b_markers(secret: dict[str, Any], personas: dict[str, Any]) -> None:
    address = personas["partner_a"].email
    to_a = [message for message in mail.outbox if address in message.to]
    assert to_a, "partner A was invited: it must have had mail"
    for message in to_a:
        assert message.to == [address]
        text = message.subject + message.body
        assert not _leaks(text, secret["markers"])
        assert "Firm B" not in text
