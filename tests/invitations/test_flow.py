from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from bids.models import Invitation, InvitationStatus
from bids.services.invitations import (
    accept_invitation,
    decline_invitation,
    default_deadline,
    invite_firm,
    send_invitations,
)

from .conftest import Market, invitation_of

pytestmark = pytest.mark.django_db


def test_send_accept_decline_fallback(
    market: Market, bid_manager: Any, partner_a: Any, partner_b: Any, django_capture_on_commit_callbacks: Any
) -> None:
    deadline = default_deadline(market.tender)
    with django_capture_on_commit_callbacks(execute=True):
        summary = send_invitations(actor=bid_manager, tender=market.tender, deadline=deadline)
    assert len(summary.sent) == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["anna@firm-a.test", "bob@firm-b.test"]
    pg = invitation_of(market, "PostgreSQL", "A")
    with django_capture_on_commit_callbacks(execute=True):
        accepted = accept_invitation(
            actor=partner_a, invitation_id=pg.pk, entries=market.entries("PostgreSQL"), version=pg.version
        )
    assert accepted.status == InvitationStatus.ACCEPTED
    assert accepted.total == Decimal("10.00") * 100 + 2 * 200 + 300
    ng = invitation_of(market, "Nginx", "B")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decline_invitation(actor=partner_b, invitation_id=ng.pk, reason="Pas disponible", version=ng.version)
    nxt = invitation_of(market, "Nginx", "C")
    assert nxt.status == InvitationStatus.SENT
    assert nxt.deadline >= timezone.now() + dt.timedelta(hours=24)
    assert "claire@firm-c.test" in [m.to[0] for m in mail.outbox]


def test_decline_while_another_firm_is_still_asked_invites_nobody_and_says_so(
    market: Market, bid_manager: Any, partner_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    bid_manager.email = "chargee@guichet.test"
    bid_manager.save(update_fields=["email"])
    deadline = default_deadline(market.tender)
    send_invitations(actor=bid_manager, tender=market.tender, deadline=deadline)
    invite_firm(actor=bid_manager, package=market.packages["PostgreSQL"], firm=market.firms["B"], deadline=deadline)
    pg_a = invitation_of(market, "PostgreSQL", "A")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decline_invitation(actor=partner_a, invitation_id=pg_a.pk, reason="Indisponible", version=pg_a.version)
    assert not Invitation.objects.filter(package=market.packages["PostgreSQL"], firm=market.firms["C"]).exists()
    [to_manager] = [m for m in mail.outbox if m.to == ["chargee@guichet.test"]]
    assert "Une autre invitation est encore en cours" in to_manager.body
