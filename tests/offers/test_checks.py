"""The checks before freezing: each problem appears with its fix, and goes away once fixed."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from bids.models import ExclusionKind, Invitation, Line, TenderExclusion, WorkPackage
from bids.offer_models import GroupementForm, MemberRole, OfferVersion
from bids.prices import PriceEntry
from bids.selectors import offers as offer_selectors
from bids.selectors.offers import ProposedMember, offer_problems
from bids.services.invitations import accept_invitation, invite_firm
from bids.services.offers import MemberChoice, update_composition
from consortium.offer_pricing import PricedOffer, Totals, offer_pricing
from partners.models import Attestation

from .conftest import INVITATION_TOTALS, OfferMarket, start_draft


def problems_of(version: OfferVersion) -> list[str]:
    fresh = OfferVersion.objects.select_related("offer__tender").get(pk=version.pk)  # as a new request reads it
    return [f"{problem.what} | {problem.fix}" for problem in offer_problems(fresh)]


def only_problem(version: OfferVersion, *words: str) -> str:
    found = problems_of(version)
    assert len(found) == 1, found
    for word in words:
        assert word in found[0], found[0]
    return found[0]


def test_a_complete_offer_has_no_problem(offer_market: OfferMarket) -> None:
    assert problems_of(start_draft(offer_market)) == []


def test_a_package_without_accepted_firm(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    package = WorkPackage.objects.create(
        tender=offer_market.tender, lot=offer_market.lot, position=5, name="Debian", basis="skill", line_count=1
    )
    line = Line.objects.create(
        tender=offer_market.tender,
        lot=offer_market.lot,
        position=99,
        origin="schedule",
        code="DEB-1",
        designation="Support Debian",
        quantity=Decimal("3"),
        work_package=package,
    )
    problem = only_problem(version, "« Debian »", "LOT-1", "aucune entreprise retenue", "Invitations")

    invitation = invite_firm(
        actor=offer_market.bid_manager,
        package=package,
        firm=offer_market.firm_a,
        deadline=timezone.now() + dt.timedelta(days=5),
    )
    accept_invitation(
        actor=offer_market.partner_a,
        invitation_id=invitation.pk,
        entries=[PriceEntry(line_id=line.pk, raw="50.00", where="ligne 1")],
        version=None,
    )
    assert problem not in problems_of(version)
    assert problems_of(version) == []


def test_a_line_without_price_then_the_revised_answer(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    market = offer_market.market
    added = Line.objects.create(
        tender=offer_market.tender,
        lot=offer_market.lot,
        position=50,
        origin="schedule",
        code="PG-4",
        designation="Formation",
        quantity=Decimal("1"),
        work_package=offer_market.packages["PostgreSQL"],
    )
    only_problem(version, "Firm A", "pas chiffré 1 ligne", "« PostgreSQL »", "réviser sa réponse")

    market.lines["PostgreSQL"].append(added)
    accept_invitation(
        actor=offer_market.partner_a,
        invitation_id=offer_market.invitations["PostgreSQL"].pk,
        entries=market.entries("PostgreSQL", ["100.00", "200.00", "300.00", "400.00"]),
        version=None,
    )
    assert problems_of(version) == []


def test_a_line_in_no_package(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    loose = Line.objects.create(
        tender=offer_market.tender,
        lot=offer_market.lot,
        position=60,
        origin="schedule",
        designation="Ligne oubliée",
        quantity=Decimal("1"),
    )
    only_problem(version, "1 ligne(s) du lot LOT-1", "aucun lot de travaux", "Rattachez-les")

    loose.delete()
    assert problems_of(version) == []


def test_an_attestation_expiring_before_the_deadline_or_missing(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    deadline_day = timezone.localdate(offer_market.tender.tender_deadline)
    urssaf = Attestation.objects.get(firm=offer_market.firm_a, kind="urssaf")
    urssaf.valid_until = deadline_day - dt.timedelta(days=1)
    urssaf.save()
    only_problem(version, "Firm A", "attestation de vigilance URSSAF", "valable jusqu'au", "Attestations")

    urssaf.valid_until = deadline_day  # valid on the deadline day itself is enough
    urssaf.save()
    assert problems_of(version) == []

    Attestation.objects.filter(firm=offer_market.firm_b, kind="kbis").delete()
    only_problem(version, "Firm B", "extrait Kbis manquante")


def test_a_firm_in_a_competing_consortium(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    TenderExclusion.objects.create(tender=offer_market.tender, firm=offer_market.firm_b, kind=ExclusionKind.MANUAL)
    assert problems_of(version) == []  # set aside by hand later is not a conflict of interest

    TenderExclusion.objects.filter(firm=offer_market.firm_b).update(kind=ExclusionKind.COMPETING)
    only_problem(version, "Firm B", "groupement concurrent", "Retirez son acceptation")

    TenderExclusion.objects.filter(firm=offer_market.firm_b).delete()
    assert problems_of(version) == []


def test_a_passed_deadline_of_the_tender_or_of_a_lot(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    tender, lot = offer_market.tender, offer_market.lot
    tender.tender_deadline = timezone.now() - dt.timedelta(minutes=1)
    tender.save(update_fields=["tender_deadline"])
    assert any("l'appel d'offres" in found and "est passée" in found for found in problems_of(version))

    tender.tender_deadline = timezone.now() + dt.timedelta(days=3)
    tender.save(update_fields=["tender_deadline"])
    lot.tender_deadline = timezone.now() - dt.timedelta(hours=1)
    lot.save(update_fields=["tender_deadline"])
    found = problems_of(version)
    assert any("lot LOT-1" in problem and "est passée" in problem for problem in found), found

    lot.tender_deadline = None
    lot.save(update_fields=["tender_deadline"])
    assert problems_of(version) == []


def test_an_answer_total_that_disagrees_with_its_lines(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    invitation = offer_market.invitations["Nginx"]
    Invitation.objects.filter(pk=invitation.pk).update(total=Decimal("21510.86"))
    only_problem(version, "Firm B", "21510.86", "21510.85", "réviser sa réponse")

    Invitation.objects.filter(pk=invitation.pk).update(total=INVITATION_TOTALS["Nginx"])
    assert problems_of(version) == []


def test_lot_totals_that_do_not_add_up(offer_market: OfferMarket, monkeypatch: pytest.MonkeyPatch) -> None:
    version = start_draft(offer_market)
    real = offer_pricing()

    class Skewed:
        """The real pricing, with one cent too many on the tender's total."""

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def price(self, policy: Any, lines: Any) -> PricedOffer:
            priced = real.price(policy, lines)
            total = priced.total
            return PricedOffer(priced.policy, priced.lines, priced.groups, replace(total, amount=total.amount + 1))

    monkeypatch.setattr(offer_selectors, "offer_pricing", lambda: Skewed())
    only_problem(version, "ne correspond pas à la somme des lots", "administrateur")

    monkeypatch.undo()
    assert problems_of(version) == []


def test_a_subcontractor_over_600_euros_without_direct_payment(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    a, b = offer_market.firm_a.pk, offer_market.firm_b.pk
    version = update_composition(
        actor=offer_market.bid_manager,
        version_id=version.pk,
        revision=version.revision,
        form=GroupementForm.SOLE,
        members={b: MemberChoice(MemberRole.SUBCONTRACTOR, direct_payment=False)},
        mandataire_name="Guichet",
        mandataire_siret="",
        mandataire_address="",
    )
    # Firm A has no choice of its own: the default is compliant (direct payment on, 2,244.00 € TTC).
    only_problem(version, "Firm B", "sous-traitant", "27998.34", "600 € TTC")

    version = update_composition(
        actor=offer_market.bid_manager,
        version_id=version.pk,
        revision=version.revision,
        form=GroupementForm.SOLE,
        members={a: MemberChoice(MemberRole.SUBCONTRACTOR, True), b: MemberChoice(MemberRole.SUBCONTRACTOR, True)},
        mandataire_name="Guichet",
        mandataire_siret="",
        mandataire_address="",
    )
    assert problems_of(version) == []


def test_direct_payment_is_compulsory_from_600_euros_incl_vat(offer_market: OfferMarket) -> None:
    def member(amount_with_vat: str, role: str = MemberRole.SUBCONTRACTOR) -> ProposedMember:
        value = Decimal(amount_with_vat)
        return ProposedMember(offer_market.firm_a, role, False, True, Totals(value, value, value, value, value, value))

    assert not member("599.99").needs_direct_payment
    assert member("600.00").needs_direct_payment
    assert not member("90000.00", MemberRole.COCONTRACTOR).needs_direct_payment


def test_a_member_without_siret(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    firm = offer_market.firm_a
    firm.siret = ""
    firm.save(update_fields=["siret"])
    only_problem(version, "Firm A", "SIRET", "fiche de l'entreprise")

    firm.siret = "73282932000074"
    firm.save(update_fields=["siret"])
    assert problems_of(version) == []


def test_a_line_pricing_refuses_is_a_problem_not_an_error(offer_market: OfferMarket, client: Any) -> None:
    from bids.services.offers import OfferRefused, freeze_version

    version = start_draft(offer_market)
    Line.objects.filter(tender=offer_market.tender, code="PG-2").update(quantity=Decimal("-2"))
    found = [problem for problem in problems_of(version) if "quantité négative (-2)" in problem]
    assert len(found) == 1 and "« PG-2 »" in found[0] and "bordereau" in found[0]
    with pytest.raises(OfferRefused):
        freeze_version(actor=None, version_id=version.pk, revision=version.revision)
    assert not version.lines.exists()
