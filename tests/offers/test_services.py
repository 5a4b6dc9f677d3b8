"""Starting and composing a draft, its policy, the moves of a version, new versions, and who sees what."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from bids.models import InvitationStatus, JobStatus, Tender
from bids.offer_models import GroupementForm, GroupOffer, MemberRole, OfferMember, OfferStatus, OfferVersion
from bids.selectors.offers import (
    can_manage_offers,
    draft_prices,
    offer_composition,
    offer_for_tender,
    partner_versions,
    version_for,
)
from bids.services.invitations import withdraw_invitation
from bids.services.offers import (
    MemberChoice,
    OfferRefused,
    new_version,
    record_result,
    set_policy,
    submit_version,
    sync_draft,
    update_composition,
)
from consortium.models import AuditEvent
from consortium.offer_pricing import Policy

from .conftest import OfferMarket, freeze, start_draft

POLICY = Policy(fee_rate=Decimal("8.5"), levy_rate=Decimal("1.25"), vat_rate=Decimal("20"))
COPIED = Policy(fee_rate=Decimal("9"), levy_rate=Decimal("1"), vat_rate=Decimal("5.5"))


def compose(offer_market: OfferMarket, version: OfferVersion, form: str, **members: MemberChoice) -> OfferVersion:
    firms = {"A": offer_market.firm_a.pk, "B": offer_market.firm_b.pk}
    return update_composition(
        actor=offer_market.bid_manager,
        version_id=version.pk,
        revision=version.revision,
        form=form,
        members={firms[key]: choice for key, choice in members.items()},
        mandataire_name="Guichet Open Source",
        mandataire_siret="732 829 320 00074",
        mandataire_address="1 place du Logiciel Libre, Paris",
    )


def test_start_offer_creates_one_draft_with_the_guichet_as_mandataire(offer_market: OfferMarket, settings: Any) -> None:
    settings.GUICHET_LEGAL_NAME = "Guichet Test"
    settings.GUICHET_SIRET = "73282932000074"
    version = start_draft(offer_market)

    assert (version.number, version.status, version.form) == (1, OfferStatus.DRAFT, GroupementForm.JOINT)
    assert (version.mandataire_name, version.mandataire_siret) == ("Guichet Test", "73282932000074")
    assert start_draft(offer_market).pk == version.pk
    assert GroupOffer.objects.filter(tender=offer_market.tender).count() == 1
    assert AuditEvent.objects.filter(action="offer.started", object_id=str(version.pk)).count() == 1


def test_draft_members_come_from_the_accepted_invitations(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    members = offer_composition(version).members
    assert [(m.firm.name, m.role, m.direct_payment, m.chosen) for m in members] == [
        ("Firm A", MemberRole.COCONTRACTOR, False, False),
        ("Firm B", MemberRole.COCONTRACTOR, False, False),
    ]
    assert members[0].totals.amount == Decimal("1870.00")
    assert not OfferMember.objects.filter(version=version).exists()  # nothing stored until chosen

    version = compose(offer_market, version, GroupementForm.SOLE, B=MemberChoice(MemberRole.COCONTRACTOR, False))
    members = offer_composition(version).members
    # Sole contractor: every firm is a subcontractor; A (no choice) gets direct payment, being over 600 € TTC.
    assert [(m.role, m.direct_payment, m.chosen) for m in members] == [
        (MemberRole.SUBCONTRACTOR, True, False),
        (MemberRole.SUBCONTRACTOR, False, True),
    ]
    assert version.mandataire_siret == "73282932000074"
    assert version.revision == 2


def test_a_stale_or_wrong_composition_is_refused(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    compose(offer_market, version, GroupementForm.JOINT)
    with pytest.raises(OfferRefused, match="rechargez la page"):
        compose(offer_market, version, GroupementForm.JOINT_SEVERAL)  # the revision read before the first change
    fresh = OfferVersion.objects.get(pk=version.pk)
    with pytest.raises(OfferRefused, match="Luhn"):
        update_composition(
            actor=None,
            version_id=fresh.pk,
            revision=fresh.revision,
            form=GroupementForm.JOINT,
            members={},
            mandataire_name="Guichet",
            mandataire_siret="73282932000075",
            mandataire_address="",
        )
    with pytest.raises(OfferRefused, match="ne font pas partie"):
        update_composition(
            actor=None,
            version_id=fresh.pk,
            revision=fresh.revision,
            form=GroupementForm.JOINT,
            members={offer_market.market.firms["C"].pk: MemberChoice(MemberRole.COCONTRACTOR, False)},
            mandataire_name="Guichet",
            mandataire_siret="",
            mandataire_address="",
        )
    assert OfferVersion.objects.get(pk=version.pk).form == GroupementForm.JOINT


def test_the_policy_is_asked_from_pricing(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    version = set_policy(
        actor=offer_market.bid_manager, version_id=version.pk, revision=version.revision, policy=POLICY
    )
    assert version.revision == 2
    priced = draft_prices(version)
    assert priced.policy == POLICY
    # 100.00 x 1.0975 = 109.75; 10 x 109.75 = 1097.50
    assert priced.lines[0].unit_price == Decimal("109.75") and priced.lines[0].amount == Decimal("1097.50")

    with pytest.raises(OfferRefused, match="entre 0 et 100"):
        set_policy(
            actor=offer_market.bid_manager,
            version_id=version.pk,
            revision=version.revision,
            policy=Policy(Decimal("150"), Decimal("2"), Decimal("20")),
        )
    with pytest.raises(OfferRefused, match="rechargez"):
        set_policy(actor=offer_market.bid_manager, version_id=version.pk, revision=1, policy=POLICY)


def test_sync_draft_forgets_the_choices_of_firms_no_longer_involved(offer_market: OfferMarket) -> None:
    version = compose(
        offer_market, start_draft(offer_market), GroupementForm.JOINT, B=MemberChoice(MemberRole.SUBCONTRACTOR, True)
    )
    withdraw_invitation(actor=offer_market.bid_manager, invitation_id=offer_market.invitations["Nginx"].pk)
    assert offer_market.invitations["Nginx"].__class__.objects.get(pk=offer_market.invitations["Nginx"].pk).status == (
        InvitationStatus.WITHDRAWN
    )

    version = sync_draft(actor=offer_market.bid_manager, version_id=version.pk)
    assert not OfferMember.objects.filter(version=version).exists()
    assert [m.firm.name for m in offer_composition(version).members] == ["Firm A"]


def test_submit_then_won_or_lost(offer_market: OfferMarket) -> None:
    version = freeze(offer_market)
    with pytest.raises(OfferRefused, match="pas encore prêts"):
        submit_version(actor=offer_market.bid_manager, version_id=version.pk)
    OfferVersion.objects.filter(pk=version.pk).update(render_status=JobStatus.SUCCEEDED)
    with pytest.raises(OfferRefused, match="« figée » à « gagnée »"):
        record_result(actor=offer_market.bid_manager, version_id=version.pk, won=True)

    version = submit_version(actor=offer_market.bid_manager, version_id=version.pk)
    assert version.status == OfferStatus.SUBMITTED and version.submitted_at is not None
    with pytest.raises(OfferRefused):
        submit_version(actor=offer_market.bid_manager, version_id=version.pk)

    version = record_result(actor=offer_market.bid_manager, version_id=version.pk, won=False)
    assert version.status == OfferStatus.LOST and version.decided_at is not None
    with pytest.raises(OfferRefused, match="« perdue » à « gagnée »"):
        record_result(actor=offer_market.bid_manager, version_id=version.pk, won=True)
    assert list(
        AuditEvent.objects.filter(object_id=str(version.pk), action__in=["offer.submitted", "offer.lost"])
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["offer.submitted", "offer.lost"]


def test_a_draft_cannot_be_submitted_nor_a_late_offer(offer_market: OfferMarket) -> None:
    draft = start_draft(offer_market)
    with pytest.raises(OfferRefused, match="« brouillon » à « remise »"):
        submit_version(actor=offer_market.bid_manager, version_id=draft.pk)
    version = freeze(offer_market)
    OfferVersion.objects.filter(pk=version.pk).update(render_status=JobStatus.SUCCEEDED)
    Tender.objects.filter(pk=offer_market.tender.pk).update(tender_deadline=timezone.now())
    with pytest.raises(OfferRefused, match="date limite de remise est passée"):
        submit_version(actor=offer_market.bid_manager, version_id=version.pk)


def test_a_new_version_copies_the_frozen_one_and_unfreezes_the_tender(offer_market: OfferMarket) -> None:
    first = compose(
        offer_market,
        start_draft(offer_market),
        GroupementForm.JOINT_SEVERAL,
        B=MemberChoice(MemberRole.SUBCONTRACTOR, True),
    )
    first = set_policy(actor=offer_market.bid_manager, version_id=first.pk, revision=first.revision, policy=COPIED)
    offer_id = first.offer_id
    with pytest.raises(OfferRefused, match="brouillon"):
        new_version(actor=offer_market.bid_manager, offer_id=offer_id)
    first = freeze(offer_market, first)

    second = new_version(actor=offer_market.bid_manager, offer_id=offer_id)
    assert (second.number, second.status, second.form) == (2, OfferStatus.DRAFT, GroupementForm.JOINT_SEVERAL)
    assert second.mandataire_siret == "73282932000074"
    assert {(m.firm_id, m.role, m.direct_payment) for m in OfferMember.objects.filter(version=second)} == {
        (offer_market.firm_a.pk, MemberRole.COCONTRACTOR, False),
        (offer_market.firm_b.pk, MemberRole.SUBCONTRACTOR, True),
    }
    assert draft_prices(second).policy == COPIED
    assert Tender.objects.get(pk=offer_market.tender.pk).offer_frozen_at is None
    assert start_draft(offer_market).pk == second.pk
    with pytest.raises(OfferRefused):
        new_version(actor=offer_market.bid_manager, offer_id=offer_id)
    assert OfferVersion.objects.get(pk=first.pk).status == OfferStatus.FROZEN


def test_who_sees_which_version(offer_market: OfferMarket, finance: Any, outsider: Any) -> None:
    draft = start_draft(offer_market)
    partner_a, bid_manager = offer_market.partner_a, offer_market.bid_manager
    assert can_manage_offers(bid_manager) and not can_manage_offers(partner_a) and not can_manage_offers(finance)
    assert version_for(bid_manager, draft.pk) == draft
    assert version_for(partner_a, draft.pk) is None  # a draft is the guichet's own work
    assert version_for(finance, draft.pk) is None

    frozen = freeze(offer_market, draft)
    assert version_for(partner_a, frozen.pk) == frozen
    assert version_for(finance, frozen.pk) == frozen
    assert version_for(outsider, frozen.pk) is None
    assert partner_versions(partner_a) == [frozen]
    assert partner_versions(bid_manager) == []
    assert offer_for_tender(bid_manager, offer_market.tender) is not None
    assert offer_for_tender(partner_a, offer_market.tender) is None
