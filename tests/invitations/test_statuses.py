"""The declared table of moves: every move it does not list is refused, leaves the row as it was and writes
nothing; every move it lists is made once and written to the audit log with its actor."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from bids.models import ALLOWED_MOVES, Invitation, InvitationPrice, InvitationSource, InvitationStatus
from bids.services.invitations import (
    InvitationRefused,
    _move,
    accept_invitation,
    decline_invitation,
    default_deadline,
    expire_due,
    invite_firm,
    mark_viewed,
    send_invitations,
    withdraw_invitation,
)
from consortium.models import AuditEvent

from .conftest import Market, invitation_of

pytestmark = pytest.mark.django_db

STATUSES = list(InvitationStatus)
PAIRS = list(itertools.product(STATUSES, STATUSES))


def snapshot(invitation: Invitation) -> dict[str, Any]:
    """Everything stored about an invitation: its row, its prices and its audit trail."""
    return {
        "row": Invitation.objects.filter(pk=invitation.pk).values().get(),
        "prices": sorted(InvitationPrice.objects.filter(invitation=invitation).values_list("line_id", "unit_price")),
        "events": AuditEvent.objects.filter(object_type="bids.invitation", object_id=str(invitation.pk)).count(),
    }


def in_status(market: Market, status: str) -> Invitation:
    now = timezone.now()
    return Invitation.objects.create(
        tender=market.tender,
        package=market.packages["PostgreSQL"],
        firm=market.firms["A"],
        status=status,
        source=InvitationSource.LEAD,
        deadline=now + dt.timedelta(days=5),
        sent_at=now - dt.timedelta(days=1),
        version=3,
    )


def test_the_table_names_every_status_and_closed_statuses_are_final() -> None:
    assert set(ALLOWED_MOVES) == set(STATUSES)
    for status in (InvitationStatus.DECLINED, InvitationStatus.EXPIRED, InvitationStatus.WITHDRAWN):
        assert ALLOWED_MOVES[status] == frozenset()
    assert ALLOWED_MOVES[InvitationStatus.SUPERSEDED] == frozenset()
    assert ALLOWED_MOVES[InvitationStatus.ACCEPTED] == frozenset({InvitationStatus.WITHDRAWN})
    assert all(status not in moves for status, moves in ALLOWED_MOVES.items())


class Undo(Exception):
    """Raised at the end of each pair so the pair's rows roll back and the next pair starts clean."""


def check_move(market: Market, actor: Any, old: InvitationStatus, new: InvitationStatus) -> str:
    invitation = in_status(market, old)
    before = snapshot(invitation)
    if new not in ALLOWED_MOVES[old]:
        with pytest.raises(InvitationRefused, match="Impossible de passer une invitation"):
            _move(invitation, new, actor=actor)
        assert snapshot(invitation) == before, "a refused move changed something"
        return "refused"
    moved = _move(invitation, new, actor=actor)
    row = Invitation.objects.get(pk=invitation.pk)
    assert (moved.status, row.status, row.version) == (new, new, 4)
    event = AuditEvent.objects.filter(object_type="bids.invitation", object_id=str(invitation.pk)).get()
    assert (event.action, event.actor) == ("invitation." + new.value, actor)
    assert (event.details["previous"], event.details["firm"]) == (old.value, market.firms["A"].pk)
    if new in (InvitationStatus.ACCEPTED, InvitationStatus.DECLINED):
        assert row.answered_at is not None
    assert (row.closed_at is None) == (new in (InvitationStatus.VIEWED, InvitationStatus.ACCEPTED))
    return "made"


def test_every_move_follows_the_table(market: Market, bid_manager: Any) -> None:
    """All 49 (from, to) pairs, each in its own rolled-back savepoint; every pair that breaks a rule is listed."""
    outcomes: dict[str, int] = {"made": 0, "refused": 0}
    problems = []
    for old, new in PAIRS:
        try:
            with transaction.atomic():
                outcomes[check_move(market, bid_manager, old, new)] += 1
                raise Undo
        except Undo:
            pass
        except (AssertionError, pytest.fail.Exception) as error:
            problems.append(f"{old.value} -> {new.value}: {error}")
    assert problems == []
    assert outcomes == {"made": 12, "refused": 37}
    assert not Invitation.objects.exists()


def test_a_stale_copy_cannot_move(market: Market, bid_manager: Any) -> None:
    """Two writers holding the same copy: the second finds the row changed and is refused."""
    invitation = in_status(market, InvitationStatus.SENT)
    stale = Invitation.objects.get(pk=invitation.pk)
    _move(invitation, InvitationStatus.VIEWED, actor=None)
    before = snapshot(invitation)
    with pytest.raises(InvitationRefused, match="vient de changer"):
        _move(stale, InvitationStatus.WITHDRAWN, actor=bid_manager)
    assert snapshot(invitation) == before


# --- The same rules through the public services -------------------------------------------------------------


@pytest.fixture
def sent(market: Market, bid_manager: Any) -> Market:
    send_invitations(actor=bid_manager, tender=market.tender, deadline=default_deadline(market.tender))
    return market


def accept(market: Market, user: Any, invitation: Invitation, prices: list[str] | None = None) -> Invitation:
    return accept_invitation(
        actor=user,
        invitation_id=invitation.pk,
        entries=market.entries(invitation.package.name, prices),
        version=invitation.version,
    )


def refused(call: Any, invitation: Invitation, match: str) -> None:
    before = snapshot(invitation)
    with pytest.raises(InvitationRefused, match=match):
        call()
    assert snapshot(invitation) == before


def test_allowed_moves_through_the_services_are_audited_with_their_actor(
    sent: Market, bid_manager: Any, partner_a: Any, partner_b: Any
) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    assert AuditEvent.objects.get(action="invitation.sent", object_id=str(pg.pk)).actor == bid_manager
    pg = mark_viewed(actor=partner_a, invitation=pg)
    pg = accept(sent, partner_a, pg)
    ng = invitation_of(sent, "Nginx", "B")
    decline_invitation(actor=partner_b, invitation_id=ng.pk, reason="Équipe complète", version=ng.version)
    withdraw_invitation(actor=bid_manager, invitation_id=pg.pk)
    trail = list(
        AuditEvent.objects.filter(object_type="bids.invitation", object_id__in=[str(pg.pk), str(ng.pk)])
        .order_by("id")
        .values_list("object_id", "action", "actor__username", "details__previous")
    )
    assert trail == [
        (str(pg.pk), "invitation.sent", "bid-manager", None),
        (str(ng.pk), "invitation.sent", "bid-manager", None),
        (str(pg.pk), "invitation.viewed", "partner-a", "sent"),
        (str(pg.pk), "invitation.accepted", "partner-a", "viewed"),
        (str(ng.pk), "invitation.declined", "partner-b", "sent"),
        (str(pg.pk), "invitation.withdrawn", "bid-manager", "accepted"),
    ]


def test_viewing_twice_or_by_staff_changes_nothing(sent: Market, bid_manager: Any, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    assert mark_viewed(actor=bid_manager, invitation=pg).status == InvitationStatus.SENT
    pg = mark_viewed(actor=partner_a, invitation=pg)
    before = snapshot(pg)
    assert mark_viewed(actor=partner_a, invitation=pg).status == InvitationStatus.VIEWED
    assert snapshot(pg) == before


def test_accept_after_decline_is_refused(sent: Market, partner_b: Any) -> None:
    ng = invitation_of(sent, "Nginx", "B")
    ng = decline_invitation(actor=partner_b, invitation_id=ng.pk, reason="Pas disponible", version=ng.version)
    refused(lambda: accept(sent, partner_b, ng), ng, "« déclinée » : elle ne peut plus être acceptée")


def test_decline_after_accept_is_refused(sent: Market, partner_a: Any) -> None:
    pg = accept(sent, partner_a, invitation_of(sent, "PostgreSQL", "A"))
    refused(
        lambda: decline_invitation(actor=partner_a, invitation_id=pg.pk, reason="Finalement non", version=pg.version),
        pg,
        "« acceptée » : elle ne peut plus être déclinée",
    )


def test_accept_after_expiry_is_refused(sent: Market, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    Invitation.objects.filter(pk=pg.pk).update(deadline=timezone.now() - dt.timedelta(minutes=1))
    assert expire_due() == 1
    pg.refresh_from_db()
    assert pg.status == InvitationStatus.EXPIRED
    refused(lambda: accept(sent, partner_a, pg), pg, "« expirée » : elle ne peut plus être acceptée")


def test_accept_or_decline_a_superseded_invitation_is_refused(
    market: Market, bid_manager: Any, partner_a: Any, partner_b: Any
) -> None:
    deadline = default_deadline(market.tender)
    a = invite_firm(actor=bid_manager, package=market.packages["PostgreSQL"], firm=market.firms["A"], deadline=deadline)
    b = invite_firm(actor=bid_manager, package=market.packages["PostgreSQL"], firm=market.firms["B"], deadline=deadline)
    accept(market, partner_a, a)
    b.refresh_from_db()
    assert b.status == InvitationStatus.SUPERSEDED
    refused(lambda: accept(market, partner_b, b, ["1.00", "2.00", "3.00"]), b, "déjà été attribué")
    refused(
        lambda: decline_invitation(actor=partner_b, invitation_id=b.pk, reason="Trop tard", version=b.version),
        b,
        "« remplacée » : elle ne peut plus être déclinée",
    )


@pytest.mark.parametrize("how", ["declined", "expired", "withdrawn"])
def test_withdraw_a_closed_invitation_is_refused(sent: Market, bid_manager: Any, partner_b: Any, how: str) -> None:
    ng = invitation_of(sent, "Nginx", "B")
    if how == "declined":
        decline_invitation(actor=partner_b, invitation_id=ng.pk, reason="Pas disponible", version=ng.version)
    elif how == "expired":
        Invitation.objects.filter(pk=ng.pk).update(deadline=timezone.now() - dt.timedelta(minutes=1))
        expire_due()
    else:
        withdraw_invitation(actor=bid_manager, invitation_id=ng.pk)
    ng.refresh_from_db()
    assert ng.status == how
    refused(
        lambda: withdraw_invitation(actor=bid_manager, invitation_id=ng.pk, invite_successor=True),
        ng,
        "Impossible de passer une invitation",
    )


def test_accept_a_withdrawn_invitation_is_refused(sent: Market, bid_manager: Any, partner_a: Any) -> None:
    pg = withdraw_invitation(actor=bid_manager, invitation_id=invitation_of(sent, "PostgreSQL", "A").pk)
    refused(lambda: accept(sent, partner_a, pg), pg, "« retirée » : elle ne peut plus être acceptée")


def test_a_stale_version_or_another_firm_is_refused(sent: Market, partner_a: Any, partner_b: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    refused(
        lambda: accept_invitation(
            actor=partner_a, invitation_id=pg.pk, entries=sent.entries("PostgreSQL"), version=pg.version + 1
        ),
        pg,
        "a changé depuis que vous l'avez ouverte",
    )
    refused(lambda: accept(sent, partner_b, pg), pg, "Vous ne pouvez pas répondre pour cette entreprise")
    refused(
        lambda: decline_invitation(actor=partner_b, invitation_id=pg.pk, reason="Non", version=pg.version),
        pg,
        "Vous ne pouvez pas répondre pour cette entreprise",
    )


def test_revising_an_acceptance_is_not_a_move(sent: Market, partner_a: Any) -> None:
    pg = accept(sent, partner_a, invitation_of(sent, "PostgreSQL", "A"))
    revised = accept(sent, partner_a, pg, ["90.00", "200.00", "300.00"])
    assert (revised.status, revised.version, revised.total) == (InvitationStatus.ACCEPTED, 3, Decimal("1600.00"))
    actions = list(
        AuditEvent.objects.filter(object_id=str(pg.pk), object_type="bids.invitation")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["invitation.sent", "invitation.accepted", "invitation.revised"]
