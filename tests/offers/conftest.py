"""A tender whose every work package is accepted with prices: where a group offer starts from.

Firm A accepts PostgreSQL (3 lines: 10 x 100.00, 2 x 200.00, 1 x 300.00 = 1,700.00), firm B accepts
Nginx (5 x MARKER_PRICE = 21,210.85, plus a line without quantity at 300.00). Both firms have a SIRET,
the four attestations valid a year past the deadline, a skill, a reference and an explained match.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from bids.models import Invitation, Lot, MatchCandidate, PackageSkill, Tender, WorkPackage
from bids.offer_models import OfferVersion
from bids.services.invitations import accept_invitation, default_deadline, send_invitations
from bids.services.offers import freeze_version, start_offer
from partners.models import Attestation, AttestationKind, FirmSkill, PartnerFirm, Reference, Skill, SkillLevel
from tests.invitations.conftest import MARKER_PRICE, Market, build_market, invitation_of

SIRET_A = "73282932000074"
SIRET_B = "44306184100047"
PRICES = {"PostgreSQL": ["100.00", "200.00", "300.00"], "Nginx": [str(MARKER_PRICE), "300.00"]}
# What the invitations record: a line without quantity counts once there (bids.prices.line_amount).
INVITATION_TOTALS = {"PostgreSQL": Decimal("1700.00"), "Nginx": Decimal("21510.85")}


@dataclass
class OfferMarket:
    market: Market
    tender: Tender
    lot: Lot
    firm_a: PartnerFirm
    firm_b: PartnerFirm
    packages: dict[str, WorkPackage]
    invitations: dict[str, Invitation]  # package name -> its accepted invitation
    bid_manager: Any
    partner_a: Any
    partner_b: Any

    @property
    def deadline_date(self) -> dt.date:
        assert self.tender.tender_deadline is not None
        return self.tender.tender_deadline.date()


def _skill(name: str, upstream: str, cpv: str) -> Skill:
    skill, _ = Skill.objects.get_or_create(
        name=name, defaults={"slug": f"offer-{name.lower()}", "upstream_project": upstream, "cpv_codes": [cpv]}
    )
    if not skill.upstream_project:
        skill.upstream_project = upstream
        skill.save(update_fields=["upstream_project"])
    return skill


def build_offer_market(*, bid_manager: Any, partner_a: Any, partner_b: Any, days_to_deadline: int = 30) -> OfferMarket:
    market = build_market(partner_a=partner_a, partner_b=partner_b, days_to_deadline=days_to_deadline)
    tender = market.tender
    firm_a, firm_b = market.firms["A"], market.firms["B"]
    for firm, siret in ((firm_a, SIRET_A), (firm_b, SIRET_B)):
        firm.siret, firm.siren = siret, siret[:9]
        firm.address, firm.postcode, firm.city = "1 rue du Logiciel Libre", "76000", "Rouen"
        firm.save(update_fields=["siret", "siren", "address", "postcode", "city"])
    assert tender.tender_deadline is not None
    valid_until = tender.tender_deadline.date() + dt.timedelta(days=365)
    for firm in (firm_a, firm_b):
        for kind in AttestationKind.values:
            Attestation.objects.update_or_create(firm=firm, kind=kind, defaults={"valid_until": valid_until})
    skills = {
        "PostgreSQL": (_skill("PostgreSQL", "PostgreSQL Global Development Group", "72267000"), firm_a),
        "Nginx": (_skill("Nginx", "nginx", "72267000"), firm_b),
    }
    for package_name, (skill, firm) in skills.items():
        PackageSkill.objects.create(package=market.packages[package_name], skill=skill, weight=10)
        FirmSkill.objects.update_or_create(firm=firm, skill=skill, defaults={"level": SkillLevel.MAINTAINER})
        Reference.objects.create(
            firm=firm, title=f"Support {skill.name} du Département", buyer="Département de l'Eure", year=2024
        )
        MatchCandidate.objects.filter(run=market.run, package=market.packages[package_name], firm=firm).update(
            components=[
                {"key": "skills", "weight": 35, "value": 0.9, "points": 31.5, "text": f"mainteneur de {skill.name}"},
                {"key": "references", "weight": 10, "value": 0.5, "points": 5.0, "text": "1 référence proche"},
            ]
        )
    send_invitations(actor=bid_manager, tender=tender, deadline=default_deadline(tender))
    invitations: dict[str, Invitation] = {}
    for package_name, key, user in (("PostgreSQL", "A", partner_a), ("Nginx", "B", partner_b)):
        invitation = invitation_of(market, package_name, key)
        invitations[package_name] = accept_invitation(
            actor=user,
            invitation_id=invitation.pk,
            entries=market.entries(package_name, PRICES[package_name]),
            version=None,
            note=f"Note de {invitation.firm.name}",
            team=f"Équipe de {invitation.firm.name}",
        )
    tender.refresh_from_db()
    return OfferMarket(
        market=market,
        tender=tender,
        lot=market.lot,
        firm_a=firm_a,
        firm_b=firm_b,
        packages=market.packages,
        invitations=invitations,
        bid_manager=bid_manager,
        partner_a=partner_a,
        partner_b=partner_b,
    )


@pytest.fixture
def offer_market(bid_manager: Any, partner_a: Any, partner_b: Any) -> OfferMarket:
    return build_offer_market(bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b)


def start_draft(offer_market: OfferMarket) -> OfferVersion:
    return start_offer(actor=offer_market.bid_manager, tender=offer_market.tender)


def freeze(offer_market: OfferMarket, version: OfferVersion | None = None) -> OfferVersion:
    """Freeze the draft (the rendering task only runs if the caller executes the on-commit callbacks)."""
    version = version or start_draft(offer_market)
    return freeze_version(actor=offer_market.bid_manager, version_id=version.pk, revision=version.revision)


def texts_of(filename: str, data: bytes) -> str:
    """What a reader of the document sees: a PDF's text, a workbook's cells (any sheet), else the bytes."""
    if filename.endswith(".pdf"):
        import pypdfium2

        document = pypdfium2.PdfDocument(data)
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    if filename.endswith(".xlsx"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return data.decode("utf-8", "replace")
