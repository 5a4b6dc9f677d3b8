"""The groupement table (what a DC1 says) and one subcontracting declaration (DC4) per subcontractor.

A partner gets the same document cut to its own firm: the mandataire, the form, its own rows
and its own DC4; no other firm, and no share that would let it work out another firm's amount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.text import slugify

from consortium.money import percent_shares
from consortium.offer_pricing import Totals
from consortium.pdf import inline_stylesheet, render_pdf

from ..offer_snapshot import DIRECT_PAYMENT_THRESHOLD, OfferSnapshot, SnapshotFirm, SnapshotLot, SnapshotPackage
from . import Rendered
from .memo import FORM_MEANINGS, PDF, document_slug, procedure_label

SUBCONTRACTOR = "soustraitant"


@dataclass(frozen=True)
class MemberRow:
    firm: SnapshotFirm
    share: Decimal | None


@dataclass(frozen=True)
class LotRow:
    lot: SnapshotLot
    firm: SnapshotFirm
    packages: str
    totals: Totals
    share: Decimal | None
    first: bool  # the lot's first row: it carries the lot's name


@dataclass(frozen=True)
class Subcontract:
    firm: SnapshotFirm
    totals: Totals
    lots: list[tuple[SnapshotLot, list[SnapshotPackage]]] = field(default_factory=list)

    @property
    def direct_payment_required(self) -> bool:
        return self.totals.amount_with_vat >= DIRECT_PAYMENT_THRESHOLD


def _member_rows(snapshot: OfferSnapshot, *, with_shares: bool) -> list[MemberRow]:
    """Shares recomputed so the column adds up to 100.00 % on the page."""
    amounts = [firm.totals.amount if firm.totals else Decimal("0.00") for firm in snapshot.firms]
    shares: list[Decimal | None] = list(percent_shares(amounts)) if with_shares else [None] * len(amounts)
    return [MemberRow(firm, share) for firm, share in zip(snapshot.firms, shares, strict=True)]


def _lot_rows(snapshot: OfferSnapshot, *, with_shares: bool) -> list[LotRow]:
    firms = {firm.id: firm for firm in snapshot.firms}
    rows = []
    for lot in snapshot.lots:
        in_order = dict.fromkeys(package.firm_id for package in lot.packages)
        firm_ids = [firm_id for firm_id in in_order if firm_id in firms and firm_id in lot.firm_totals]
        amounts = [lot.firm_totals[firm_id].amount for firm_id in firm_ids]
        shares: list[Decimal | None] = list(percent_shares(amounts)) if with_shares else [None] * len(amounts)
        for index, (firm_id, share) in enumerate(zip(firm_ids, shares, strict=True)):
            names = [package.name for package in lot.packages if package.firm_id == firm_id]
            rows.append(LotRow(lot, firms[firm_id], ", ".join(names), lot.firm_totals[firm_id], share, index == 0))
    return rows


def _subcontracts(snapshot: OfferSnapshot) -> list[Subcontract]:
    contracts = []
    for firm in snapshot.firms:
        if firm.role != SUBCONTRACTOR or firm.totals is None:
            continue
        lots = []
        for lot in snapshot.lots:
            packages = [package for package in lot.packages if package.firm_id == firm.id]
            if packages:
                lots.append((lot, packages))
        contracts.append(Subcontract(firm, firm.totals, lots))
    return contracts


def _html(snapshot: OfferSnapshot, *, partner: bool) -> str:
    with translation.override("fr"):
        return render_to_string(
            "bids/offer_pdf/groupement.html",
            {
                "css": inline_stylesheet("pdf/offer.css"),
                "s": snapshot,
                "partner": partner,
                "procedure": procedure_label(snapshot),
                "form_meaning": FORM_MEANINGS.get(snapshot.form, ""),
                "members": _member_rows(snapshot, with_shares=not partner),
                "lot_rows": _lot_rows(snapshot, with_shares=not partner),
                "subcontracts": _subcontracts(snapshot),
                "floor": DIRECT_PAYMENT_THRESHOLD,
            },
        )


def groupement_html(snapshot: OfferSnapshot) -> str:
    return _html(snapshot, partner=False)


def partner_groupement_html(snapshot_for_firm: OfferSnapshot) -> str:
    if len(snapshot_for_firm.firms) != 1:
        raise ValueError("a partner's part needs a snapshot cut to its firm (OfferSnapshot.for_firm)")
    return _html(snapshot_for_firm, partner=True)


def render_groupement(snapshot: OfferSnapshot) -> Rendered:
    return f"groupement-dc1-dc4-{document_slug(snapshot)}.pdf", PDF, render_pdf(groupement_html(snapshot))


def render_partner_groupement(snapshot_for_firm: OfferSnapshot) -> Rendered:
    html = partner_groupement_html(snapshot_for_firm)
    firm_slug = slugify(snapshot_for_firm.firms[0].name)[:40].strip("-") or str(snapshot_for_firm.firms[0].id)
    return f"groupement-dc1-dc4-{document_slug(snapshot_for_firm)}-{firm_slug}.pdf", PDF, render_pdf(html)
