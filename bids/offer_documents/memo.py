"""The technical memo (mémoire technique) of a group offer, as PDF.

Prose and short lists only: the offer's lines belong in the workbook, and a big table costs
WeasyPrint megabytes per page.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from consortium.pdf import inline_stylesheet, render_pdf

from ..offer_snapshot import OfferSnapshot, SnapshotFirm, SnapshotLot, SnapshotPackage
from . import Rendered
from .charts import bar_chart_svg

PDF = "application/pdf"
REASONS_PER_FIRM = 6

PROCEDURES = {
    "open": _("procédure ouverte"),
    "restricted": _("procédure restreinte"),
    "neg-w-call": _("procédure avec négociation"),
    "comp-dial": _("dialogue compétitif"),
    "innovation": _("partenariat d'innovation"),
    "oth-single": _("procédure adaptée"),
    "oth-mult": _("procédure adaptée en plusieurs étapes"),
}

FORM_MEANINGS = {
    "joint": _(
        "Chaque membre du groupement s'engage à exécuter les prestations qui lui sont attribuées ; "
        "le mandataire est solidaire de chacun des membres pour ses obligations contractuelles."
    ),
    "several": _(
        "Chaque membre du groupement est engagé financièrement pour la totalité du marché ; "
        "le mandataire représente l'ensemble des membres auprès de l'acheteur."
    ),
    "sole": _(
        "Le mandataire est seul titulaire du marché ; les entreprises partenaires interviennent "
        "en sous-traitance déclarée, avec paiement direct lorsque la loi l'impose."
    ),
}


@dataclass(frozen=True)
class FirmStory:
    firm: SnapshotFirm
    lot_count: int
    package_count: int
    reasons: list[str]
    upstream_projects: list[str]


@dataclass(frozen=True)
class LotStory:
    lot: SnapshotLot
    packages: list[tuple[SnapshotPackage, str]]  # the package and its firm's name


def document_slug(snapshot: OfferSnapshot) -> str:
    return f"{slugify(snapshot.tender_title)[:50].strip('-') or 'offre'}-v{snapshot.version_number}"


def procedure_label(snapshot: OfferSnapshot) -> str:
    return str(PROCEDURES.get(snapshot.procedure_type, snapshot.procedure_type))


def _firm_stories(snapshot: OfferSnapshot) -> list[FirmStory]:
    packages: dict[int, list[SnapshotPackage]] = {firm.id: [] for firm in snapshot.firms}
    for lot in snapshot.lots:
        for package in lot.packages:
            packages.setdefault(package.firm_id, []).append(package)
    stories = []
    for firm in snapshot.firms:
        own = packages[firm.id]
        reasons = list(dict.fromkeys(reason for package in own for reason in package.reasons))
        projects = sorted({project for package in own for project in package.upstream_projects})
        stories.append(
            FirmStory(
                firm=firm,
                lot_count=len({package.lot_id for package in own}),
                package_count=len(own),
                reasons=reasons[:REASONS_PER_FIRM],
                upstream_projects=projects,
            )
        )
    return stories


def _upstream_projects(snapshot: OfferSnapshot) -> list[tuple[str, int]]:
    """Each upstream project the offer builds on, with how many work packages name it."""
    counts: dict[str, int] = {}
    for lot in snapshot.lots:
        for package in lot.packages:
            for project in package.upstream_projects:
                counts[project] = counts.get(project, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0].lower()))


def memo_context(snapshot: OfferSnapshot) -> dict[str, object]:
    names = {firm.id: firm.name for firm in snapshot.firms}
    firm_amounts = [(firm.name, firm.totals.amount if firm.totals else Decimal("0.00")) for firm in snapshot.firms]
    return {
        "css": inline_stylesheet("pdf/offer.css"),
        "s": snapshot,
        "procedure": procedure_label(snapshot),
        "form_meaning": FORM_MEANINGS.get(snapshot.form, ""),
        "firms": _firm_stories(snapshot),
        "lots": [
            LotStory(lot, [(package, names.get(package.firm_id, "")) for package in lot.packages])
            for lot in snapshot.lots
        ],
        "line_count": len(snapshot.lines),
        "upstream_projects": _upstream_projects(snapshot),
        "lot_chart": bar_chart_svg(
            [(f"{lot.source_id} {lot.title}", lot.totals.amount) for lot in snapshot.lots],
            title=str(_("Montant HT par lot")),
        ),
        "firm_chart": bar_chart_svg(firm_amounts, title=str(_("Montant HT par entreprise"))),
    }


def memo_html(snapshot: OfferSnapshot) -> str:
    with translation.override("fr"):
        return render_to_string("bids/offer_pdf/memo.html", memo_context(snapshot))


def render_memo(snapshot: OfferSnapshot) -> Rendered:
    return f"memoire-technique-{document_slug(snapshot)}.pdf", PDF, render_pdf(memo_html(snapshot))
