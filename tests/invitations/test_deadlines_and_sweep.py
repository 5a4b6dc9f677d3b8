"""Deadlines, expiry, fallback to the next firm and reminders, with a frozen clock that the tests move."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from bids.models import (
    Invitation,
    InvitationSource,
    InvitationStatus,
    Lot,
    MatchCandidate,
    Tender,
    TenderExclusion,
)
from bids.services.invitations import (
    InvitationRefused,
    accept_invitation,
    check_deadline,
    decline_invitation,
    default_deadline,
    invite_firm,
    send_invitations,
    sweep_invitations,
    withdraw_invitation,
)
from consortium.models import AuditEvent
from partners.models import Contact, PartnerFirm

from .conftest import Market, build_market, invitation_of

pytestmark = pytest.mark.django_db

START = dt.datetime(2030, 3, 4, 9, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in Paris
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
MANAGER = "chef@guichet.test"


@pytest.fixture(autouse=True)
def rules(settings: Any) -> None:
    settings.INVITATION_SAFETY_MARGIN_DAYS = 3
    settings.INVITATION_REMINDER_HOURS = 48
    settings.INVITATION_FALLBACK_HOURS = 72
    settings.INVITATION_MIN_RESPONSE_HOURS = 24


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def market(clock: time_machine.Traveller, partner_a: Any, partner_b: Any, bid_manager: Any) -> Market:
    """The shared market, built at START: tender deadline START + 30 days, questions cut-off START + 20 days."""
    bid_manager.email = MANAGER
    bid_manager.save(update_fields=["email"])
    return build_market(partner_a=partner_a, partner_b=partner_b)


def send(market: Market, actor: Any, deadline: dt.datetime, *packages: str) -> list[Invitation]:
    chosen = [market.packages[name] for name in packages] if packages else None
    return send_invitations(actor=actor, tender=market.tender, deadline=deadline, packages=chosen).sent


def sweep(capture: Any) -> dict[str, int]:
    with capture(execute=True):
        return sweep_invitations()


def live(market: Market, package: str) -> list[tuple[str, str]]:
    rows = Invitation.objects.filter(package=market.packages[package], status__in=["sent", "viewed", "accepted"])
    return list(rows.values_list("firm__name", "status"))


def manager_mails() -> list[Any]:
    return [m for m in mail.outbox if m.to == [MANAGER]]


def firm_mails(address: str) -> list[Any]:
    return [m for m in mail.outbox if m.to == [address]]


def accept(market: Market, user: Any, invitation: Invitation, prices: list[str] | None = None) -> Invitation:
    return accept_invitation(
        actor=user,
        invitation_id=invitation.pk,
        entries=market.entries(invitation.package.name, prices),
        version=invitation.version,
    )


# --- check_deadline and default_deadline --------------------------------------------------------------------


def test_deadline_errors(clock: time_machine.Traveller) -> None:
    tender_deadline = START + 30 * DAY
    future = "La date limite de réponse doit être dans le futur."
    before = "La date limite de réponse doit précéder la remise des offres"
    for deadline, expected in [
        (START - dt.timedelta(seconds=1), [future]),
        (START, [future]),
        (tender_deadline, [before]),
        (tender_deadline + DAY, [before]),
    ]:
        check = check_deadline(tender_deadline=tender_deadline, questions_deadline=None, deadline=deadline)
        assert [error[: len(e)] for error, e in zip(check.errors, expected, strict=True)] == expected, deadline
    both = check_deadline(tender_deadline=START - DAY, questions_deadline=None, deadline=START - HOUR)
    assert len(both.errors) == 2


def test_deadline_warnings(clock: time_machine.Traveller) -> None:
    tender_deadline = START + 30 * DAY
    good = check_deadline(
        tender_deadline=tender_deadline, questions_deadline=START + 20 * DAY, deadline=START + 5 * DAY
    )
    assert (good.errors, good.warnings) == ([], [])
    at_margin = check_deadline(tender_deadline=tender_deadline, questions_deadline=None, deadline=START + 27 * DAY)
    assert (at_margin.errors, at_margin.warnings) == ([], [])
    short = check_deadline(tender_deadline=tender_deadline, questions_deadline=None, deadline=START + 28 * DAY)
    assert short.errors == []
    assert short.warnings == ["Marge courte : 48 h entre les réponses et la remise des offres (3 jours conseillés)."]
    late = check_deadline(
        tender_deadline=tender_deadline, questions_deadline=START + 20 * DAY, deadline=START + 21 * DAY
    )
    assert late.errors == []
    assert len(late.warnings) == 1 and "après la date limite des questions" in late.warnings[0]
    questions_over = check_deadline(
        tender_deadline=tender_deadline, questions_deadline=START - DAY, deadline=START + 5 * DAY
    )
    assert questions_over.warnings == []
    open_ended = check_deadline(tender_deadline=None, questions_deadline=None, deadline=START + 5 * DAY)
    assert open_ended.errors == []
    assert open_ended.warnings == ["L'appel d'offres n'a pas de date limite de remise : vérifiez la date choisie."]


def check_of(tender: Tender, deadline: dt.datetime) -> Any:
    return check_deadline(
        tender_deadline=tender.tender_deadline, questions_deadline=tender.questions_deadline, deadline=deadline
    )


def test_default_deadline_leaves_the_questions_cut_off_and_the_margin(market: Market) -> None:
    tender = market.tender
    assert tender.tender_deadline is not None and tender.questions_deadline is not None
    deadline = default_deadline(tender)
    assert timezone.localtime(deadline).time() == dt.time(12, 0)
    assert START + DAY < deadline <= tender.questions_deadline - DAY
    assert deadline <= tender.tender_deadline - 3 * DAY
    check = check_of(tender, deadline)
    assert (check.errors, check.warnings) == ([], [])


def test_default_deadline_without_room_before_the_questions_keeps_the_whole_margin(market: Market) -> None:
    tender = market.tender
    tender.questions_deadline = START + 2 * DAY  # too close to answer before it
    assert tender.tender_deadline is not None
    deadline = default_deadline(tender)
    assert timezone.localtime(deadline).time() == dt.time(12, 0)
    assert tender.tender_deadline - 4 * DAY < deadline <= tender.tender_deadline - 3 * DAY
    check = check_of(tender, deadline)
    assert check.errors == []
    assert all("Marge courte" not in warning for warning in check.warnings)


def test_default_deadline_without_tender_deadline_or_when_it_is_close(market: Market) -> None:
    tender = market.tender
    tender.tender_deadline = tender.questions_deadline = None
    open_ended = default_deadline(tender)
    assert START + 6 * DAY <= open_ended <= START + 7 * DAY
    tender.tender_deadline = START + 2 * DAY
    hurried = default_deadline(tender)
    assert START + DAY <= hurried < tender.tender_deadline
    assert check_of(tender, hurried).errors == []


@pytest.mark.parametrize(
    "deadline",
    [START - HOUR, START, START + 30 * DAY, START + 31 * DAY],
    ids=["past", "now", "at-tender-deadline", "after-tender-deadline"],
)
def test_send_refuses_a_bad_deadline_and_sends_nothing(
    market: Market, bid_manager: Any, django_capture_on_commit_callbacks: Any, deadline: dt.datetime
) -> None:
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvitationRefused) as refused:
        send(market, bid_manager, deadline)
    assert refused.value.errors
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="invitation.").exists()
    assert mail.outbox == []
    with pytest.raises(InvitationRefused):
        invite_firm(actor=bid_manager, package=market.packages["Nginx"], firm=market.firms["A"], deadline=deadline)
    assert not Invitation.objects.exists()


def test_send_follows_the_lots_own_deadline(market: Market, bid_manager: Any) -> None:
    Lot.objects.filter(pk=market.lot.pk).update(tender_deadline=START + 5 * DAY)
    with pytest.raises(InvitationRefused, match="doit précéder la remise des offres"):
        send(market, bid_manager, START + 10 * DAY)
    assert not Invitation.objects.exists()


def test_send_warns_about_a_short_margin_but_sends(market: Market, bid_manager: Any) -> None:
    summary = send_invitations(actor=bid_manager, tender=market.tender, deadline=START + 28 * DAY)
    assert len(summary.sent) == 2
    assert [w[:12] for w in summary.warnings] == ["La réponse t", "Marge courte"]


# --- Expiry and fallback ------------------------------------------------------------------------------------


def test_expiry_invites_the_backup_then_the_next_ranked_candidate_then_nobody(
    market: Market, clock: time_machine.Traveller, bid_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    deadline = START + 5 * DAY
    (first,) = send(market, bid_manager, deadline, "PostgreSQL")
    assert (first.firm.name, first.source) == ("Firm A", InvitationSource.LEAD)

    clock.move_to(deadline + dt.timedelta(minutes=1))
    mail.outbox.clear()
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 1, "reminded": 0}
    first.refresh_from_db()
    assert (first.status, first.closed_at) == (InvitationStatus.EXPIRED, timezone.now())
    backup = invitation_of(market, "PostgreSQL", "B")
    assert (backup.source, backup.candidate_rank, backup.replaces_id) == (InvitationSource.BACKUP, None, first.pk)
    assert backup.deadline == timezone.now() + 72 * HOUR  # the lead's deadline is over: a fresh delay
    assert backup.created_by == bid_manager  # the bid manager who sent the first one is told about this one
    expired = AuditEvent.objects.get(action="invitation.expired", object_id=str(first.pk))
    assert expired.actor is None
    (notice,) = manager_mails()
    assert notice.subject == "Sans réponse : PostgreSQL (Firm A)"
    assert (
        "Firm A n'a pas répondu" in notice.body
        and "Entreprise suivante invitée automatiquement : Firm B" in notice.body
    )
    assert len(firm_mails("bob@firm-b.test")) == 1

    clock.move_to(backup.deadline + dt.timedelta(minutes=1))
    mail.outbox.clear()
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 1, "reminded": 0}
    # A (rank 1) and B (rank 2) were asked already: the next ranked candidate is C, rank 3.
    third = invitation_of(market, "PostgreSQL", "C")
    assert (third.source, third.candidate_rank, third.replaces_id) == (InvitationSource.CANDIDATE, 3, backup.pk)
    assert "Entreprise suivante invitée automatiquement : Firm C" in manager_mails()[0].body
    assert len(firm_mails("claire@firm-c.test")) == 1

    clock.move_to(third.deadline + dt.timedelta(minutes=1))
    mail.outbox.clear()
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 1, "reminded": 0}
    assert live(market, "PostgreSQL") == []
    assert Invitation.objects.filter(package=market.packages["PostgreSQL"]).count() == 3
    nobody = AuditEvent.objects.get(action="invitation.no_successor")
    assert nobody.object_id == str(third.pk)
    assert nobody.details["reason"] == "no candidate left"
    assert [m.to for m in mail.outbox] == [[MANAGER]]
    assert "Aucune autre entreprise n'a pu être invitée" in mail.outbox[0].body
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "reminded": 0}


def test_fallback_skips_excluded_firms(
    market: Market,
    clock: time_machine.Traveller,
    bid_manager: Any,
    partner_a: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """C (rank 3) is excluded from the tender: after A declines and B lets its invitation expire, D (rank 4)."""
    assert market.run is not None
    firm_d = PartnerFirm.objects.create(name="Firm D")
    Contact.objects.create(firm=firm_d, name="Dora", email="dora@firm-d.test")
    MatchCandidate.objects.create(
        run=market.run,
        package=market.packages["PostgreSQL"],
        firm=firm_d,
        rank=4,
        score=Decimal(80),
        days_needed=Decimal(5),
    )
    TenderExclusion.objects.create(tender=market.tender, firm=market.firms["C"], reason="Conflit d'intérêts")
    pg = market.packages["PostgreSQL"]
    decline = "Pas disponible"
    (first,) = send(market, bid_manager, START + 10 * DAY, "PostgreSQL")
    decline_invitation(actor=partner_a, invitation_id=first.pk, reason=decline, version=1)
    backup = Invitation.objects.get(package=pg, status=InvitationStatus.SENT)
    assert backup.firm.name == "Firm B"
    clock.move_to(backup.deadline + HOUR)
    assert sweep(django_capture_on_commit_callbacks)["expired"] == 1
    after = Invitation.objects.get(package=pg, status=InvitationStatus.SENT)
    assert (after.firm, after.source, after.candidate_rank) == (firm_d, InvitationSource.CANDIDATE, 4)
    assert not Invitation.objects.filter(firm=market.firms["C"]).exists()


def test_decline_invites_the_next_firm_at_once_keeping_the_deadline_when_there_is_time(
    market: Market,
    clock: time_machine.Traveller,
    bid_manager: Any,
    partner_b: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    deadline = START + 10 * DAY
    send(market, bid_manager, deadline)
    clock.move_to(START + DAY)
    ng = invitation_of(market, "Nginx", "B")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decline_invitation(actor=partner_b, invitation_id=ng.pk, reason="Équipe complète", version=ng.version)
    successor = invitation_of(market, "Nginx", "C")
    assert (successor.source, successor.deadline, successor.sent_at) == (InvitationSource.BACKUP, deadline, START + DAY)
    (notice,) = manager_mails()
    assert notice.subject == "Firm B décline Nginx"
    assert "Motif du refus : Équipe complète" in notice.body
    assert "Entreprise suivante invitée automatiquement : Firm C" in notice.body


def test_late_decline_gives_the_next_firm_a_fresh_delay(
    market: Market, clock: time_machine.Traveller, bid_manager: Any, partner_b: Any
) -> None:
    send(market, bid_manager, START + 10 * DAY)
    clock.move_to(START + 9 * DAY)
    ng = invitation_of(market, "Nginx", "B")
    decline_invitation(actor=partner_b, invitation_id=ng.pk, reason="Pas disponible", version=ng.version)
    assert invitation_of(market, "Nginx", "C").deadline == START + 12 * DAY  # now + 72 h


def test_successor_deadline_stays_before_the_tender_deadline(
    market: Market, clock: time_machine.Traveller, bid_manager: Any, partner_b: Any
) -> None:
    Tender.objects.filter(pk=market.tender.pk).update(tender_deadline=START + 11 * DAY)
    send(market, bid_manager, START + 9 * DAY)
    clock.move_to(START + 10 * DAY - 2 * HOUR)  # now + 72 h would fall after the tender deadline
    ng = invitation_of(market, "Nginx", "B")
    decline_invitation(actor=partner_b, invitation_id=ng.pk, reason="Pas disponible", version=ng.version)
    assert invitation_of(market, "Nginx", "C").deadline == START + 11 * DAY - HOUR


@pytest.mark.parametrize(("left", "invited"), [(25 * HOUR, True), (25 * HOUR - dt.timedelta(seconds=1), False)])
def test_no_successor_when_less_than_the_minimum_response_time_remains(
    market: Market,
    clock: time_machine.Traveller,
    bid_manager: Any,
    django_capture_on_commit_callbacks: Any,
    left: dt.timedelta,
    invited: bool,
) -> None:
    """The successor would answer by the tender deadline less one hour: it needs 24 hours of that."""
    tender_deadline = START + 8 * DAY
    Tender.objects.filter(pk=market.tender.pk).update(tender_deadline=tender_deadline)
    send(market, bid_manager, START + 5 * DAY, "Nginx")
    clock.move_to(tender_deadline - left)
    mail.outbox.clear()
    assert sweep(django_capture_on_commit_callbacks)["expired"] == 1
    if invited:
        assert invitation_of(market, "Nginx", "C").deadline == tender_deadline - HOUR
        assert not AuditEvent.objects.filter(action="invitation.no_successor").exists()
        return
    assert live(market, "Nginx") == []
    assert AuditEvent.objects.get(action="invitation.no_successor").details["reason"] == "no time left"
    (notice,) = manager_mails()
    assert "Aucune autre entreprise n'a pu être invitée" in notice.body
    assert mail.outbox == [notice]


def test_accepting_after_the_deadline_is_refused_before_the_sweep_runs(
    market: Market, clock: time_machine.Traveller, bid_manager: Any, partner_a: Any
) -> None:
    deadline = START + 5 * DAY
    send(market, bid_manager, deadline)
    pg = invitation_of(market, "PostgreSQL", "A")
    for moment in (deadline, deadline + dt.timedelta(seconds=1)):
        clock.move_to(moment)
        with pytest.raises(InvitationRefused, match="est passée"):
            accept(market, partner_a, pg)
    pg.refresh_from_db()
    assert (pg.status, pg.total, pg.version) == (InvitationStatus.SENT, None, 1)
    assert not pg.prices.exists()
    clock.move_to(deadline - dt.timedelta(seconds=1))
    assert accept(market, partner_a, pg).status == InvitationStatus.ACCEPTED


def test_withdraw_with_or_without_a_successor(
    market: Market, bid_manager: Any, partner_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    send(market, bid_manager, START + 10 * DAY)
    pg = accept(market, partner_a, invitation_of(market, "PostgreSQL", "A"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        withdraw_invitation(actor=bid_manager, invitation_id=pg.pk, invite_successor=True)
    successor = invitation_of(market, "PostgreSQL", "B")
    assert (successor.source, successor.replaces_id) == (InvitationSource.BACKUP, pg.pk)
    assert AuditEvent.objects.get(action="invitation.sent", object_id=str(successor.pk)).actor == bid_manager
    assert [m.subject for m in firm_mails("anna@firm-a.test")] == ["Invitation retirée : PostgreSQL"]
    assert [m.subject for m in firm_mails("bob@firm-b.test")] == ["Invitation à chiffrer : PostgreSQL"]

    ng = invitation_of(market, "Nginx", "B")
    withdraw_invitation(actor=bid_manager, invitation_id=ng.pk)
    assert live(market, "Nginx") == []


def test_an_accepted_package_is_never_invited_again_by_the_sweep(
    market: Market,
    clock: time_machine.Traveller,
    bid_manager: Any,
    partner_a: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    deadline = START + 5 * DAY
    send(market, bid_manager, deadline)
    accept(market, partner_a, invitation_of(market, "PostgreSQL", "A"))
    for moment in (deadline + HOUR, deadline + 10 * DAY, deadline + 20 * DAY):
        clock.move_to(moment)
        sweep(django_capture_on_commit_callbacks)
    assert live(market, "PostgreSQL") == [("Firm A", "accepted")]
    assert Invitation.objects.filter(package=market.packages["PostgreSQL"]).count() == 1


def test_a_frozen_offer_refuses_answers_and_falls_back_to_nobody(
    market: Market,
    clock: time_machine.Traveller,
    bid_manager: Any,
    partner_a: Any,
    partner_b: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    deadline = START + 5 * DAY
    send(market, bid_manager, deadline)
    pg = accept(market, partner_a, invitation_of(market, "PostgreSQL", "A"))
    ng = invitation_of(market, "Nginx", "B")
    Tender.objects.filter(pk=market.tender.pk).update(offer_frozen_at=timezone.now())
    market.tender.refresh_from_db()
    frozen = "L'offre du groupement est figée"
    with pytest.raises(InvitationRefused, match=frozen):
        accept(market, partner_a, pg, ["1.00", "1.00", "1.00"])  # revising
    with pytest.raises(InvitationRefused, match=frozen):
        accept(market, partner_b, ng)
    with pytest.raises(InvitationRefused, match=frozen):
        decline_invitation(actor=partner_b, invitation_id=ng.pk, reason="Non", version=ng.version)
    with pytest.raises(InvitationRefused, match=frozen):
        withdraw_invitation(actor=bid_manager, invitation_id=pg.pk, invite_successor=True)
    with pytest.raises(InvitationRefused, match="figée"):
        invite_firm(actor=bid_manager, package=market.packages["Nginx"], firm=market.firms["A"], deadline=deadline)
    with pytest.raises(InvitationRefused, match="figée"):
        send(market, bid_manager, deadline)
    pg.refresh_from_db()
    assert (pg.status, pg.total, pg.version) == (InvitationStatus.ACCEPTED, Decimal("1700.00"), 2)
    clock.move_to(deadline + HOUR)
    assert sweep(django_capture_on_commit_callbacks)["expired"] == 1
    assert live(market, "Nginx") == []
    assert Invitation.objects.filter(package=market.packages["Nginx"]).count() == 1


# --- Reminders ----------------------------------------------------------------------------------------------


def test_reminders_once_within_the_window_and_only_for_unanswered_ones(
    market: Market,
    clock: time_machine.Traveller,
    bid_manager: Any,
    partner_a: Any,
    partner_b: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    deadline = START + 10 * DAY
    send(market, bid_manager, deadline)
    accept(market, partner_a, invitation_of(market, "PostgreSQL", "A"))
    ng = invitation_of(market, "Nginx", "B")
    decline_invitation(actor=partner_b, invitation_id=ng.pk, reason="Pas disponible", version=ng.version)
    successor = invitation_of(market, "Nginx", "C")
    assert successor.deadline == deadline
    mail.outbox.clear()
    for moment in (START + HOUR, deadline - 48 * HOUR - dt.timedelta(seconds=1)):
        clock.move_to(moment)
        assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "reminded": 0}
    clock.move_to(deadline - 48 * HOUR)
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "reminded": 1}
    successor.refresh_from_db()
    assert successor.reminded_at == deadline - 48 * HOUR
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["claire@firm-c.test"], "Rappel : réponse attendue pour Nginx")
    ]
    assert AuditEvent.objects.filter(action="invitation.reminded", object_id=str(successor.pk)).count() == 1
    for moment in (deadline - 48 * HOUR, deadline - HOUR):
        clock.move_to(moment)
        assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "reminded": 0}
    assert len(mail.outbox) == 1


def test_each_invitation_gets_its_own_reminder_and_none_after_its_deadline(
    market: Market, clock: time_machine.Traveller, bid_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    deadline = START + 10 * DAY
    send(market, bid_manager, deadline, "PostgreSQL")
    clock.move_to(deadline + HOUR)  # never swept while the reminder was due: expired, not reminded
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 1, "reminded": 0}
    backup = invitation_of(market, "PostgreSQL", "B")
    clock.move_to(backup.deadline - 47 * HOUR)
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "reminded": 1}
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "reminded": 0}
    assert AuditEvent.objects.filter(action="invitation.reminded").count() == 1
