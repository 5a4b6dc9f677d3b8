"""A demo tender taken all the way to a frozen group offer, with its documents rendered.

Rouen Habitat's notice (a real eForms sample) gets a small support schedule over its two lots; the
lines are split and matched, every package is offered to a firm and accepted (alice's and bruno's
firms take one each, so both can download their own part), and version 1 of the offer is frozen.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from consortium.money import round_money
from partners.models import Attestation, AttestationKind, PartnerFirm

from .models import GroupOffer, Invitation, InvitationStatus, Line, Tender
from .prices import PriceEntry
from .schedule_samples import write_support_schedule
from .services.imports import import_file
from .services.invitations import accept_invitation, default_deadline, invite_firm, send_invitations
from .services.matching import run_match
from .services.offers import freeze_version, render_documents, start_offer
from .services.packages import split_tender

OFFER_SCHEDULE_LINES = 80
DEMO_SIRETS = ("73282932000074", "44306184100047", "55210055400013", "38012986600006", "54205118000066")


def build_demo_offer(*, actor: object, tender: Tender, partner_firms: list[str]) -> dict[str, int]:
    """Idempotent: a tender that already has a group offer is left as it is. The tender's deadline must
    lie ahead (see `bids.demo.move_to_coming_year`)."""
    if GroupOffer.objects.filter(tender=tender).exists():
        return {"offer_versions": tender.group_offer.versions.count()}
    _attach_schedule(actor, tender)
    split_tender(actor=actor, tender=tender)
    run_match(actor=actor, tender=tender)
    tender.refresh_from_db()
    send_invitations(actor=actor, tender=tender, deadline=default_deadline(tender))
    _accept_everything(actor, tender, partner_firms)
    _renew_attestations(tender)
    version = start_offer(actor=actor, tender=tender)
    version = freeze_version(actor=actor, version_id=version.pk, revision=version.revision, queue_rendering=False)
    render_documents(version_id=version.pk)
    return {"offer_versions": 1, "offer_lines": version.lines.count()}


def _attach_schedule(actor: object, tender: Tender) -> None:
    lots = [(lot.source_id, lot.title) for lot in tender.lots.order_by("position")]
    buffer = io.BytesIO()
    write_support_schedule(buffer, lines=OFFER_SCHEDULE_LINES, lots=lots, seed=2027)
    import_file(actor=actor, data=buffer.getvalue(), source="bpu-rouen-habitat.xlsx", target=tender)


def _prices(invitation: Invitation) -> list[PriceEntry]:
    rate = invitation.firm.daily_rate or Decimal("650")
    lines = Line.objects.filter(work_package=invitation.package).order_by("position")
    return [
        PriceEntry(
            line_id=line.pk,
            raw=round_money(line.unit_price * Decimal("0.92")) if line.unit_price else rate,
            where=f"ligne {number}",
        )
        for number, line in enumerate(lines, 1)
    ]


def _accept(actor: object, invitation: Invitation) -> None:
    member = invitation.firm.memberships.select_related("user").first()
    accept_invitation(
        actor=member.user if member else actor,
        invitation_id=invitation.pk,
        entries=_prices(invitation),
        version=invitation.version,
        note="Équipe du partenaire, mainteneurs amont associés.",
        team="2 ingénieurs",
    )


def _accept_everything(actor: object, tender: Tender, partner_firms: list[str]) -> None:
    """The demo partners (alice's, bruno's firms) answer first, one package each; the rest accept theirs."""
    packages = list(tender.work_packages.order_by("lot__position", "position"))
    for package, name in zip(packages, partner_firms, strict=False):
        firm = PartnerFirm.objects.get(name=name)
        invitation = Invitation.objects.filter(package=package, firm=firm, status=InvitationStatus.SENT).first()
        if invitation is None:
            invitation = invite_firm(actor=actor, package=package, firm=firm, deadline=default_deadline(tender))
        _accept(actor, invitation)
    for package in tender.work_packages.exclude(invitations__status=InvitationStatus.ACCEPTED):
        invitation = package.invitations.filter(status=InvitationStatus.SENT).first()
        if invitation is not None:
            _accept(actor, invitation)


def _renew_attestations(tender: Tender) -> None:
    """Members' papers valid on the deadline, and a SIRET each: the demo's firms are made up."""
    valid_until = (tender.tender_deadline or tender.created_at).date() + timedelta(days=180)
    firms = PartnerFirm.objects.filter(invitations__tender=tender, invitations__status=InvitationStatus.ACCEPTED)
    for number, firm in enumerate(firms.distinct().order_by("pk")):
        if not firm.siret:
            siret = DEMO_SIRETS[number % len(DEMO_SIRETS)]
            PartnerFirm.objects.filter(pk=firm.pk).update(siret=siret, siren=siret[:9])
        for kind in AttestationKind:
            Attestation.objects.update_or_create(firm=firm, kind=kind, defaults={"valid_until": valid_until})
