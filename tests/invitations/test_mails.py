"""E-mails: each goes to one address of the firm concerned, names no other firm and no other firm's price,
and leaves only once the transaction has committed."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from bids.models import Invitation
from bids.services.invitations import (
    accept_invitation,
    decline_invitation,
    default_deadline,
    invite_firm,
    send_invitations,
)
from partners.models import Contact

from ..conftest import make_user
from .conftest import MARKER_PRICE, Market, invitation_of

pytestmark = pytest.mark.django_db

MANAGER = "chef@guichet.test"
FIRM_A = ["anna@firm-a.test", "compta@firm-a.test", "nils@firm-a.test"]
NOT_FOR_A = ["Firm B", "Firm C", "firm-b", "firm-c", "4242", "4 242", "4\xa0242", "43\xa0121"]


@pytest.fixture
def people(market: Market, bid_manager: Any) -> Market:
    """Firm A: two active users, one inactive, a contact, a contact sharing a user's address, one without."""
    bid_manager.email = MANAGER
    bid_manager.save(update_fields=["email"])
    for username, email, active in (("nils", "Nils@Firm-A.test", True), ("gone", "gone@firm-a.test", False)):
        user = make_user(username, "partner", firm="Firm A")
        user.email, user.is_active = email, active
        user.save(update_fields=["email", "is_active"])
    firm_a = market.firms["A"]
    Contact.objects.create(firm=firm_a, name="Comptabilité", email="compta@firm-a.test")
    Contact.objects.create(firm=firm_a, name="Anna", email="anna@firm-a.test")
    Contact.objects.create(firm=firm_a, name="Standard", email="")
    return market


def texts(message: Any) -> str:
    return f"{message.subject}\n{message.body}"


def assert_one_recipient_each(messages: list[Any]) -> None:
    for message in messages:
        assert len(message.to) == 1 and not message.cc and not message.bcc, message.to


def test_each_person_of_the_invited_firm_gets_one_mail(
    people: Market, bid_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        send_invitations(
            actor=bid_manager,
            tender=people.tender,
            deadline=default_deadline(people.tender),
            packages=[people.packages["PostgreSQL"]],
        )
    assert_one_recipient_each(mail.outbox)
    assert sorted(m.to[0] for m in mail.outbox) == FIRM_A
    invitation = invitation_of(people, "PostgreSQL", "A")
    for message in mail.outbox:
        assert message.subject == "Invitation à chiffrer : PostgreSQL"
        assert "Le guichet propose à Firm A le lot de travaux suivant" in message.body
        assert f"http://127.0.0.1:8000/invitations/{invitation.pk}/" in message.body
        assert all(secret not in texts(message) for secret in NOT_FOR_A), message.body


def test_a_superseded_firm_is_not_told_who_won_nor_at_what_price(
    people: Market, bid_manager: Any, partner_b: Any, django_capture_on_commit_callbacks: Any
) -> None:
    package = people.packages["PostgreSQL"]
    deadline = default_deadline(people.tender)
    invite_firm(actor=bid_manager, package=package, firm=people.firms["A"], deadline=deadline)
    b = invite_firm(actor=bid_manager, package=package, firm=people.firms["B"], deadline=deadline)
    with django_capture_on_commit_callbacks(execute=True):
        accepted = accept_invitation(
            actor=partner_b,
            invitation_id=b.pk,
            entries=people.entries("PostgreSQL", [str(MARKER_PRICE), "200.00", "300.00"]),
            version=b.version,
            note="Équipe de 3 personnes",
        )
    assert str(accepted.total) == "43121.70"  # 10 x 4242.17 + 2 x 200 + 300
    assert_one_recipient_each(mail.outbox)
    to_a = [m for m in mail.outbox if m.to[0] in FIRM_A]
    assert sorted(m.to[0] for m in to_a) == FIRM_A
    for message in to_a:
        assert message.subject == "Lot de travaux attribué : PostgreSQL"
        assert all(secret not in texts(message) for secret in NOT_FOR_A), message.body
        assert "Équipe de 3" not in message.body
    (to_manager,) = [m for m in mail.outbox if m.to == [MANAGER]]
    assert to_manager.subject == "Firm B accepte PostgreSQL"
    assert "Montant total HT : 43\xa0121,70 EUR" in to_manager.body
    assert len(mail.outbox) == len(FIRM_A) + 1  # B, the winner, is not mailed about its own answer


def test_the_next_firm_is_not_told_who_declined_nor_why(
    market: Market, bid_manager: Any, partner_b: Any, django_capture_on_commit_callbacks: Any
) -> None:
    send_invitations(actor=bid_manager, tender=market.tender, deadline=default_deadline(market.tender))
    ng = invitation_of(market, "Nginx", "B")
    with django_capture_on_commit_callbacks(execute=True):
        decline_invitation(actor=partner_b, invitation_id=ng.pk, reason="Concurrent direct", version=ng.version)
    to_c = [m for m in mail.outbox if m.to == ["claire@firm-c.test"]]
    assert [m.subject for m in to_c] == ["Invitation à chiffrer : Nginx"]
    assert "Firm B" not in texts(to_c[0]) and "Concurrent direct" not in to_c[0].body
    assert all(m.to != ["bob@firm-b.test"] for m in mail.outbox)


def test_mails_leave_only_after_commit(
    market: Market, bid_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        send_invitations(actor=bid_manager, tender=market.tender, deadline=default_deadline(market.tender))
        assert mail.outbox == []  # still inside the transaction
    assert len(callbacks) == 2  # one mail task per invited firm, queued at commit
    assert sorted(m.to[0] for m in mail.outbox) == ["anna@firm-a.test", "bob@firm-b.test"]


def test_no_mail_when_the_transaction_rolls_back(
    market: Market, bid_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    class Abandon(Exception):
        pass

    def send_then_abandon() -> None:
        with transaction.atomic():
            send_invitations(actor=bid_manager, tender=market.tender, deadline=default_deadline(market.tender))
            raise Abandon

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Abandon):
        send_then_abandon()
    assert callbacks == []
    assert mail.outbox == []
    assert not Invitation.objects.exists()
