"""Invitations through the API: the same scoping as the portal, exact Decimal prices, clear refusals."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bids.models import Invitation, InvitationPrice, InvitationSource, InvitationStatus, Tender, WorkPackage
from bids.services.invitations import accept_invitation, default_deadline, invite_firm, send_invitations
from consortium.models import AuditEvent
from tests.conftest import client_for
from tests.invitations.conftest import MARKER_PRICE, Market, build_market, invitation_of

pytestmark = pytest.mark.django_db

PERSONAS = ("bid_manager", "partner_a", "partner_b", "finance", "outsider", "anonymous")
# Firm A's invitation, answered by each persona: B cannot even see it, finance reads but may not answer.
ANSWER_A = {"bid_manager": 200, "partner_a": 200, "partner_b": 404, "finance": 403, "outsider": 403, "anonymous": 403}
READ_A = {**ANSWER_A, "finance": 200}
DETAIL_FIELDS = {
    "id",
    "tender",
    "lot",
    "package",
    "firm",
    "status",
    "source",
    "deadline",
    "sent_at",
    "viewed_at",
    "answered_at",
    "version",
    "currency",
    "total",
    "note",
    "team",
    "decline_reason",
    "lines",
}


@pytest.fixture
def market(partner_a: Any, partner_b: Any, bid_manager: Any, django_capture_on_commit_callbacks: Any) -> Market:
    """The invitations market, sent: PostgreSQL to Firm A, Nginx to Firm B."""
    market = build_market(partner_a=partner_a, partner_b=partner_b)
    with django_capture_on_commit_callbacks(execute=True):
        send_invitations(actor=bid_manager, tender=market.tender, deadline=default_deadline(market.tender))
    mail.outbox.clear()
    return market


def _post(user: Any, invitation: Invitation, action: str, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client_for(user).post(
        f"/api/invitations/{invitation.pk}/{action}/", data=data, content_type="application/json"
    )


def _prices(market: Market, package: str, values: list[str]) -> list[dict[str, Any]]:
    return [{"line": line.pk, "unit_price": value} for line, value in zip(market.lines[package], values, strict=True)]


def _unchanged(invitation: Invitation) -> None:
    """Nothing was saved: same status and version, no price, no audit row for an answer."""
    fresh = Invitation.objects.get(pk=invitation.pk)
    assert (fresh.status, fresh.version, fresh.total) == (invitation.status, invitation.version, invitation.total)
    assert not InvitationPrice.objects.filter(invitation=invitation).exists()
    assert not AuditEvent.objects.filter(
        action__in=["invitation.accepted", "invitation.declined", "invitation.revised"], object_id=str(invitation.pk)
    ).exists()


# --- Scoping -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_is_scoped(market: Market, personas: dict[str, Any], persona: str) -> None:
    pg_a, ng_b = invitation_of(market, "PostgreSQL", "A"), invitation_of(market, "Nginx", "B")
    expected = {
        "bid_manager": {pg_a.pk, ng_b.pk},
        "finance": {pg_a.pk, ng_b.pk},
        "partner_a": {pg_a.pk},
        "partner_b": {ng_b.pk},
    }
    response = client_for(personas[persona]).get("/api/invitations/")
    if persona in expected:
        assert response.status_code == 200
        assert {row["id"] for row in response.json()["results"]} == expected[persona]
        assert response.json()["count"] == len(expected[persona])
    else:  # as for firms: no role, no list
        assert response.status_code == 403
        assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_detail_is_scoped(market: Market, personas: dict[str, Any], persona: str) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    response = client_for(personas[persona]).get(f"/api/invitations/{pg_a.pk}/")
    assert response.status_code == READ_A[persona]
    if response.status_code == 200:
        assert response.json()["firm"] == {"id": market.firms["A"].pk, "name": "Firm A"}


def test_another_firms_invitation_looks_like_a_missing_one(market: Market, partner_a: Any) -> None:
    ng_b = invitation_of(market, "Nginx", "B")
    client = client_for(partner_a)
    hidden, missing = client.get(f"/api/invitations/{ng_b.pk}/"), client.get("/api/invitations/999999/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


@pytest.mark.parametrize("persona", PERSONAS)
def test_accept_by_persona(market: Market, personas: dict[str, Any], persona: str) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    body = {"version": pg_a.version, "prices": _prices(market, "PostgreSQL", ["100.00", "200.00", "300.00"])}
    response = _post(personas[persona], pg_a, "accept", body)
    assert response.status_code == ANSWER_A[persona]
    if response.status_code == 200:
        assert response.json()["status"] == InvitationStatus.ACCEPTED
        assert response.json()["total"] == "1700.00"
    else:
        _unchanged(pg_a)
        assert "100.00" not in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_decline_by_persona(market: Market, personas: dict[str, Any], persona: str) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    response = _post(personas[persona], pg_a, "decline", {"version": pg_a.version, "reason": "Pas disponible"})
    assert response.status_code == ANSWER_A[persona]
    if response.status_code == 200:
        assert response.json()["status"] == InvitationStatus.DECLINED
    else:
        _unchanged(pg_a)


# --- The representation --------------------------------------------------------------------------------------


def test_detail_shows_the_package_lines_and_no_price_before_the_answer(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    data = client_for(partner_a).get(f"/api/invitations/{pg_a.pk}/").json()
    assert set(data) == DETAIL_FIELDS
    assert data["tender"] == {"id": market.tender.pk, "title": "Support des logiciels libres de la Ville"}
    assert data["lot"] == {"id": market.lot.pk, "source_id": "LOT-1", "title": "Support"}
    assert data["package"] == {"id": market.packages["PostgreSQL"].pk, "name": "PostgreSQL", "required_skills": []}
    assert (data["status"], data["source"], data["version"], data["currency"]) == ("sent", "lead", 1, "EUR")
    assert data["total"] is None
    assert [(row["number"], row["code"], row["unit"], row["quantity"]) for row in data["lines"]] == [
        (1, "PG-1", "jour", "10.0000"),
        (2, "PG-2", "u", "2.0000"),
        (3, "PG-3", "forfait", "1.0000"),
    ]
    assert [row["line"] for row in data["lines"]] == [line.pk for line in market.lines["PostgreSQL"]]
    assert {(row["unit_price"], row["amount"]) for row in data["lines"]} == {(None, None)}


def test_reading_does_not_mark_viewed(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    client_for(partner_a).get("/api/invitations/")
    client_for(partner_a).get(f"/api/invitations/{pg_a.pk}/")
    pg_a.refresh_from_db()
    assert (pg_a.status, pg_a.viewed_at, pg_a.version) == (InvitationStatus.SENT, None, 1)


def test_list_filters(market: Market, bid_manager: Any, partner_a: Any) -> None:
    client = client_for(bid_manager)
    ng_b = invitation_of(market, "Nginx", "B")
    Invitation.objects.filter(pk=ng_b.pk).update(status=InvitationStatus.VIEWED)
    assert [row["id"] for row in client.get("/api/invitations/", {"status": "viewed"}).json()["results"]] == [ng_b.pk]
    assert client.get("/api/invitations/", {"status": ""}).json()["count"] == 2
    assert client.get("/api/invitations/", {"tender": market.tender.pk}).json()["count"] == 2
    other = Tender.objects.create(title="Autre", source_format="eforms", procedure_id="other")
    assert client.get("/api/invitations/", {"tender": other.pk}).json()["count"] == 0
    assert client.get("/api/invitations/", {"status": "nope"}).status_code == 400
    assert client.get("/api/invitations/", {"tender": "abc"}).status_code == 400
    assert client.get("/api/invitations/", {"tender": "9" * 30}).status_code == 400
    # a filter never widens a partner's scope
    assert client_for(partner_a).get("/api/invitations/", {"status": "viewed"}).json()["count"] == 0


def test_list_query_count_does_not_grow(market: Market, bid_manager: Any, partner_a: Any) -> None:
    def count(user: Any) -> tuple[int, int]:
        client = client_for(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/invitations/")
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    before = {"staff": count(bid_manager), "partner": count(partner_a)}
    now = timezone.now()
    for index in range(10):
        package = WorkPackage.objects.create(
            tender=market.tender, lot=market.lot, position=10 + index, name=f"Paquet {index}", basis="skill"
        )
        Invitation.objects.create(
            tender=market.tender,
            package=package,
            firm=market.firms["A"],
            source=InvitationSource.MANUAL,
            deadline=now + dt.timedelta(days=5),
            sent_at=now,
        )
    after = {"staff": count(bid_manager), "partner": count(partner_a)}
    assert (before["staff"][1], after["staff"][1]) == (2, 12)
    assert (before["partner"][1], after["partner"][1]) == (1, 11)
    assert after["staff"][0] == before["staff"][0]
    assert after["partner"][0] == before["partner"][0]


# --- Accepting -----------------------------------------------------------------------------------------------


def test_accept_keeps_exact_decimals_from_strings_and_numbers(
    market: Market, partner_a: Any, bid_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    bid_manager.email = "claude@guichet.test"
    bid_manager.save(update_fields=["email"])
    pg_a = invitation_of(market, "PostgreSQL", "A")
    first, second, third = (line.pk for line in market.lines["PostgreSQL"])
    # Raw JSON: 99.99 and 0.1 are numbers, which a float parser would not keep exact.
    body = (
        f'{{"version": 1, "prices": [{{"line": {first}, "unit_price": "1250.50"}}, '
        f'{{"line": {second}, "unit_price": 99.99}}, {{"line": {third}, "unit_price": 0.1}}], '
        f'"note": "  Astreinte incluse ", "team": "Anna, Paul"}}'
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(partner_a, pg_a, "accept", body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["version"], data["total"]) == ("accepted", 2, "12705.08")
    assert (data["note"], data["team"]) == ("Astreinte incluse", "Anna, Paul")
    assert [(row["unit_price"], row["amount"]) for row in data["lines"]] == [
        ("1250.50", "12505.00"),
        ("99.99", "199.98"),
        ("0.10", "0.10"),
    ]
    stored = dict(InvitationPrice.objects.filter(invitation=pg_a).values_list("line_id", "unit_price"))
    assert stored == {first: Decimal("1250.50"), second: Decimal("99.99"), third: Decimal("0.10")}
    assert Invitation.objects.get(pk=pg_a.pk).total == Decimal("12705.08")
    assert AuditEvent.objects.filter(action="invitation.accepted", object_id=str(pg_a.pk), actor=partner_a).exists()
    assert [m.to for m in mail.outbox] == [["claude@guichet.test"]]  # the bid manager is told, after commit


def test_integer_and_exponent_numbers_are_exact(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    first, second, third = (line.pk for line in market.lines["PostgreSQL"])
    body = (
        f'{{"version": 1, "prices": [{{"line": {first}, "unit_price": 1250}}, '
        f'{{"line": {second}, "unit_price": 1e2}}, {{"line": {third}, "unit_price": "1 234,56"}}]}}'
    )
    response = _post(partner_a, pg_a, "accept", body)
    assert response.status_code == 200, response.content
    assert [row["unit_price"] for row in response.json()["lines"]] == ["1250.00", "100.00", "1234.56"]
    assert response.json()["total"] == "13934.56"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('"-5"', "négatif"),
        ('"abc"', "n'est pas un nombre"),
        ('"1.001"', "plus de deux décimales"),
        ("1.005", "plus de deux décimales"),  # a float would have rounded this one silently
        ("null", "prix manquant"),
        ('""', "prix manquant"),
    ],
)
def test_bad_price_is_400_naming_the_entry(market: Market, partner_a: Any, raw: str, message: str) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    first, second, third = (line.pk for line in market.lines["PostgreSQL"])
    body = (
        f'{{"version": 1, "prices": [{{"line": {first}, "unit_price": "10.00"}}, '
        f'{{"line": {second}, "unit_price": {raw}}}, {{"line": {third}, "unit_price": "30.00"}}]}}'
    )
    response = _post(partner_a, pg_a, "accept", body)
    assert response.status_code == 400
    data = response.json()
    assert set(data) == {"detail", "errors"}
    assert len(data["errors"]) == 1
    assert data["errors"][0].startswith("prices[1], « PG-2 Montée de version » : ")
    assert message in data["errors"][0]
    _unchanged(pg_a)


def test_missing_foreign_and_repeated_lines_are_all_named(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    first, _second, third = market.lines["PostgreSQL"]
    nginx_line = market.lines["Nginx"][0]
    prices = [
        {"line": first.pk, "unit_price": "10.00"},
        {"line": nginx_line.pk, "unit_price": "20.00"},
        {"line": first.pk, "unit_price": "11.00"},
        {"line": third.pk, "unit_price": "30.00"},
    ]
    response = _post(partner_a, pg_a, "accept", {"version": 1, "prices": prices})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0] == "prices[1] : cette ligne n'appartient pas au lot de travaux"
    assert errors[1].startswith("prices[2] : « PG-1 Support PostgreSQL niveau 3 » est déjà chiffrée (prices[0])")
    assert errors[2] == "« PG-2 Montée de version » : prix manquant"
    assert len(errors) == 3
    _unchanged(pg_a)


def test_huge_price_is_400_not_500(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    prices = _prices(market, "PostgreSQL", ["1e30", "1.00", "1.00"])
    response = _post(partner_a, pg_a, "accept", {"version": 1, "prices": prices})
    assert response.status_code == 400
    assert response.json()["errors"][0].startswith("prices[0]")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"prices": []}, "version : "),
        ({"version": 1}, "prices : "),
        ({"version": "x", "prices": []}, "version : "),
        ({"version": 1, "prices": "100"}, "prices : "),
        ({"version": 1, "prices": [{"unit_price": "1.00"}]}, "prices[0].line : "),
        ({"version": 1, "prices": [{"line": 1, "unit_price": {"amount": "1.00"}}]}, "prices[0].unit_price : "),
        ({"version": 1, "prices": [{"line": 1, "unit_price": True}]}, "prices[0].unit_price : "),
        ({"version": 1, "prices": [{"line": 1, "unit_price": "1" * 41}]}, "prices[0].unit_price : "),
        ([1, 2], "Donnée non valide"),
    ],
)
def test_malformed_body_is_400_naming_the_field(market: Market, partner_a: Any, body: Any, named: str) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    response = _post(partner_a, pg_a, "accept", body)
    assert response.status_code == 400
    assert any(error.startswith(named) for error in response.json()["errors"]), response.json()
    _unchanged(pg_a)


@pytest.mark.parametrize(
    "text",
    ['{"version": 1, "prices": [{"line": 1, "unit_price": NaN}]}', '{"version": 1,', "[" * 100_000, '{"version": 1e'],
)
def test_unreadable_json_is_400(market: Market, partner_a: Any, text: str) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    response = _post(partner_a, pg_a, "accept", text)
    assert response.status_code == 400
    assert "detail" in response.json()
    _unchanged(pg_a)


def test_body_too_large_is_400(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    response = _post(partner_a, pg_a, "accept", {"version": 1, "prices": [], "note": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 400
    assert "trop volumineux" in response.json()["detail"]
    _unchanged(pg_a)


def test_stale_version_is_409(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    body = {"version": 7, "prices": _prices(market, "PostgreSQL", ["1.00", "2.00", "3.00"])}
    response = _post(partner_a, pg_a, "accept", body)
    assert response.status_code == 409
    assert response.json()["errors"] == []
    assert "a changé" in response.json()["detail"]
    _unchanged(pg_a)


def test_double_accept_is_409_and_keeps_the_first_answer(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    body = {"version": 1, "prices": _prices(market, "PostgreSQL", ["1.00", "2.00", "3.00"])}
    assert _post(partner_a, pg_a, "accept", body).status_code == 200
    again = {"version": 1, "prices": _prices(market, "PostgreSQL", ["9.00", "9.00", "9.00"])}
    response = _post(partner_a, pg_a, "accept", again)
    assert response.status_code == 409
    pg_a.refresh_from_db()
    assert (pg_a.version, pg_a.total) == (2, Decimal("17.00"))
    assert AuditEvent.objects.filter(action="invitation.accepted", object_id=str(pg_a.pk)).count() == 1


def test_revising_with_the_current_version_replaces_the_prices(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    assert _post(partner_a, pg_a, "accept", {"version": 1, "prices": _prices(market, "PostgreSQL", ["1", "2", "3"])})
    response = _post(
        partner_a, pg_a, "accept", {"version": 2, "prices": _prices(market, "PostgreSQL", ["2", "2", "2"])}
    )
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["total"]) == (3, "26.00")


def test_package_won_by_another_firm_is_409(market: Market, bid_manager: Any, partner_a: Any, partner_b: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    pg_b = invite_firm(
        actor=bid_manager, package=market.packages["PostgreSQL"], firm=market.firms["B"], deadline=pg_a.deadline
    )
    assert _post(partner_b, pg_b, "accept", {"version": 1, "prices": _prices(market, "PostgreSQL", ["5", "5", "5"])})
    pg_a.refresh_from_db()
    assert pg_a.status == InvitationStatus.SUPERSEDED
    body = {"version": pg_a.version, "prices": _prices(market, "PostgreSQL", ["1", "1", "1"])}
    response = _post(partner_a, pg_a, "accept", body)
    assert response.status_code == 409
    assert "déjà été attribué" in response.json()["detail"]
    assert not InvitationPrice.objects.filter(invitation=pg_a).exists()


def test_past_deadline_and_frozen_offer_are_409(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    body = {"version": 1, "prices": _prices(market, "PostgreSQL", ["1", "1", "1"])}
    Tender.objects.filter(pk=market.tender.pk).update(offer_frozen_at=timezone.now())
    response = _post(partner_a, pg_a, "accept", body)
    assert (response.status_code, "figée" in response.json()["detail"]) == (409, True)
    Tender.objects.filter(pk=market.tender.pk).update(offer_frozen_at=None)
    Invitation.objects.filter(pk=pg_a.pk).update(deadline=timezone.now() - dt.timedelta(minutes=1))
    response = _post(partner_a, pg_a, "accept", body)
    assert (response.status_code, "est passée" in response.json()["detail"]) == (409, True)
    _unchanged(Invitation.objects.get(pk=pg_a.pk))


def test_answering_needs_the_csrf_token(market: Market, partner_a: Any) -> None:
    from django.test import Client

    pg_a = invitation_of(market, "PostgreSQL", "A")
    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_a)
    body = json.dumps({"version": 1, "prices": _prices(market, "PostgreSQL", ["1", "1", "1"])})
    response = client.post(f"/api/invitations/{pg_a.pk}/accept/", data=body, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    _unchanged(pg_a)


# --- Declining -----------------------------------------------------------------------------------------------


def test_decline_invites_the_next_firm(market: Market, partner_b: Any, django_capture_on_commit_callbacks: Any) -> None:
    ng_b = invitation_of(market, "Nginx", "B")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(partner_b, ng_b, "decline", {"version": 1, "reason": "  Équipe prise ailleurs  "})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["decline_reason"], data["version"]) == ("declined", "Équipe prise ailleurs", 2)
    successor = invitation_of(market, "Nginx", "C")
    assert (successor.status, successor.source, successor.replaces_id) == ("sent", "backup", ng_b.pk)
    assert "claire@firm-c.test" in [m.to[0] for m in mail.outbox]
    # B sees its own declined invitation, never the successor given to Firm C
    seen = client_for(partner_b).get("/api/invitations/").json()["results"]
    assert successor.pk not in {row["id"] for row in seen}


def test_decline_needs_a_reason_and_a_version(market: Market, partner_b: Any) -> None:
    ng_b = invitation_of(market, "Nginx", "B")
    for body, named in (({"version": 1, "reason": "   "}, "reason : "), ({"reason": "Non"}, "version : ")):
        response = _post(partner_b, ng_b, "decline", body)
        assert response.status_code == 400
        assert any(error.startswith(named) for error in response.json()["errors"])
    _unchanged(ng_b)
    assert not Invitation.objects.filter(firm=market.firms["C"]).exists()


def test_decline_twice_or_stale_is_409(market: Market, partner_b: Any) -> None:
    ng_b = invitation_of(market, "Nginx", "B")
    assert _post(partner_b, ng_b, "decline", {"version": 1, "reason": "Non"}).status_code == 200
    assert _post(partner_b, ng_b, "decline", {"version": 1, "reason": "Non"}).status_code == 409
    response = _post(partner_b, ng_b, "decline", {"version": 2, "reason": "Non"})
    assert response.status_code == 409
    assert "ne peut plus être déclinée" in response.json()["detail"]


# --- Confidentiality -----------------------------------------------------------------------------------------


def test_firm_b_prices_never_reach_firm_a(market: Market, bid_manager: Any, partner_a: Any, partner_b: Any) -> None:
    """Firm B wins PostgreSQL (also offered to A) and answers Nginx, with a marker price: A never sees it."""
    marker = str(MARKER_PRICE)
    pg_a = invitation_of(market, "PostgreSQL", "A")
    pg_b = invite_firm(
        actor=bid_manager, package=market.packages["PostgreSQL"], firm=market.firms["B"], deadline=pg_a.deadline
    )
    ng_b = invitation_of(market, "Nginx", "B")
    won = _post(
        partner_b,
        pg_b,
        "accept",
        {"version": 1, "prices": _prices(market, "PostgreSQL", [marker, "1.00", "1.00"]), "note": "Note secrète B"},
    )
    assert won.status_code == 200
    accept_invitation(
        actor=partner_b, invitation_id=ng_b.pk, entries=market.entries("Nginx", [marker, marker]), version=1
    )
    secrets = [marker, won.json()["total"], str(Invitation.objects.get(pk=ng_b.pk).total), "Note secrète B", "Firm B"]
    client = client_for(partner_a)
    answers = [
        client.get("/api/invitations/"),
        client.get("/api/invitations/", {"status": "accepted"}),
        client.get("/api/invitations/", {"tender": market.tender.pk}),
        client.get(f"/api/invitations/{pg_a.pk}/"),
        client.get(f"/api/invitations/{pg_b.pk}/"),
        client.get(f"/api/invitations/{ng_b.pk}/"),
        client.post(f"/api/invitations/{pg_b.pk}/accept/", data={"version": 2}, content_type="application/json"),
        client.post(f"/api/invitations/{ng_b.pk}/decline/", data={"version": 2}, content_type="application/json"),
        client.get("/api/schema/"),
        client.get("/api/schema/", {"format": "json"}),
        client.get("/api/"),
    ]
    for response in answers:
        text = response.content.decode()
        assert not [secret for secret in secrets if secret in text], response.request["PATH_INFO"]
    assert [row["id"] for row in answers[0].json()["results"]] == [pg_a.pk]
    own = answers[3].json()
    assert (own["status"], own["total"], own["firm"]["name"]) == ("superseded", None, "Firm A")
    assert {row["unit_price"] for row in own["lines"]} == {None}
    assert [response.status_code for response in answers[4:8]] == [404, 404, 404, 404]
    # the bid manager does see Firm B's answer, as the dashboard does
    staff = client_for(bid_manager).get(f"/api/invitations/{pg_b.pk}/").json()
    assert staff["lines"][0]["unit_price"] == marker


def test_answers_are_json_only(market: Market, partner_a: Any) -> None:
    pg_a = invitation_of(market, "PostgreSQL", "A")
    response = client_for(partner_a).post(f"/api/invitations/{pg_a.pk}/accept/", data={"version": "1"})
    assert response.status_code == 415
    _unchanged(pg_a)
