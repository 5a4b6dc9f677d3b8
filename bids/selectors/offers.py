"""Reads of the group offer: who may see which version, its composition, its problems, its prices, and the
snapshot its documents are rendered from.

A draft is read live from the accepted invitations (members, packages, prices priced on the fly through
`consortium.offer_pricing`); a frozen version only from its own rows (OfferMember, OfferAllocation,
OfferLine), so what the buyer received can always be shown again exactly.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from consortium.money import percent_shares, round_money
from consortium.offer_pricing import LineToPrice, Policy, PricedOffer, PricingRefused, Totals, offer_pricing
from consortium.roles import Role, user_role
from partners.identifiers import siret_is_valid
from partners.models import Attestation, AttestationKind, FirmSkill, PartnerFirm, Reference, SkillLevel
from partners.selectors import firms_for

from ..matching.scoring import LABELS
from ..models import (
    ExclusionKind,
    ImportJob,
    Invitation,
    InvitationPrice,
    InvitationStatus,
    JobStatus,
    Line,
    Lot,
    MatchCandidate,
    PackageSkill,
    SourceFormat,
    Tender,
    TenderExclusion,
    WorkPackage,
)
from ..offer_models import (
    OFFER_LINE_FIGURES,
    DocumentKind,
    GroupementForm,
    GroupOffer,
    MemberRole,
    OfferAllocation,
    OfferDocument,
    OfferLine,
    OfferMember,
    OfferStatus,
    OfferVersion,
)
from ..offer_snapshot import (
    DIRECT_PAYMENT_THRESHOLD,
    OfferSnapshot,
    ScheduleSource,
    SnapshotFirm,
    SnapshotLine,
    SnapshotLot,
    SnapshotPackage,
    SnapshotReference,
    SnapshotSkill,
)
from ..prices import line_amount
from .matching import latest_result

OFFER_MANAGERS = frozenset({Role.BID_MANAGER, Role.ADMIN})
# Finance records the contract once the offer is won: it reads what was sent, never a draft.
OFFER_READERS = OFFER_MANAGERS | {Role.FINANCE}
SENT_STATUSES = frozenset({OfferStatus.FROZEN, OfferStatus.SUBMITTED, OfferStatus.WON, OfferStatus.LOST})
ZERO = Decimal("0.00")
PART_KINDS = frozenset({DocumentKind.PART_SCHEDULE, DocumentKind.PART_GROUPEMENT})
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the same bytes for the same documents, whenever zipped


# --- Who sees what -----------------------------------------------------------------------------------------


def can_manage_offers(user: Any) -> bool:
    return user_role(user) in OFFER_MANAGERS


def versions_for(user: Any) -> QuerySet[OfferVersion]:
    """The one scoping helper for offer versions: pages, downloads and the command-free API alike."""
    role = user_role(user)
    versions = OfferVersion.objects.select_related("offer", "offer__tender")
    if role in OFFER_MANAGERS:
        return versions
    if role == Role.FINANCE:
        return versions.filter(status__in=SENT_STATUSES)
    if role == Role.PARTNER:
        firms = firms_for(user, action="view").values("pk")
        return versions.filter(status__in=SENT_STATUSES, members__firm__in=firms).distinct()
    return versions.none()


def version_for(user: Any, pk: int) -> OfferVersion | None:
    return versions_for(user).filter(pk=pk).first()


def offer_for_tender(user: Any, tender: Tender) -> GroupOffer | None:
    if user_role(user) not in OFFER_READERS:
        return None
    return GroupOffer.objects.filter(tender=tender).select_related("tender").first()


def current_version(offer: GroupOffer) -> OfferVersion | None:
    """The newest version: the draft if there is one (it always is the newest)."""
    return offer.versions.select_related("offer", "offer__tender").order_by("-number").first()


def versions_of(user: Any, offer: GroupOffer) -> list[OfferVersion]:
    return list(versions_for(user).filter(offer=offer).order_by("-number"))


def partner_versions(user: Any) -> list[OfferVersion]:
    """The sent versions the user's firm takes part in, newest first."""
    if user_role(user) != Role.PARTNER:
        return []
    return list(versions_for(user).order_by("-frozen_at", "-number"))


def partner_parts(user: Any) -> list[dict[str, Any]]:
    """Each sent version the partner's firm is a member of, cut down to the firm's own part: its members'
    row, its packages and amounts, its documents; nothing of another firm."""
    mine = set(firms_for(user, action="view").values_list("pk", flat=True))
    parts = []
    for version in partner_versions(user):
        composition = offer_composition(version)
        members = [member for member in composition.members if member.firm.pk in mine]
        packages = [
            {
                "lot": allocation.package.lot,
                "package": allocation.package,
                "firm": allocation.firm,
                "line_count": composition.figures.line_counts.get(allocation.package.pk, 0),
                "totals": composition.figures.packages.get(allocation.package.pk, composition.figures.empty),
            }
            for allocation in composition.allocations
            if allocation.firm.pk in mine
        ]
        parts.append(
            {
                "version": version,
                "tender": version.offer.tender,
                "members": members,
                "packages": packages,
                "total": Totals.add(member.totals for member in members),
                "documents": documents_for(user, version),
            }
        )
    return parts


def documents_for(user: Any, version: OfferVersion) -> list[OfferDocument]:
    """Staff of the guichet: every document; a partner: only its own firm's parts; anyone else: none."""
    if version_for(user, version.pk) is None:
        return []
    documents = OfferDocument.objects.filter(version=version).select_related("firm").order_by("kind", "firm__name")
    role = user_role(user)
    if role in OFFER_READERS:
        return list(documents)
    if role == Role.PARTNER:
        firms = firms_for(user, action="view").values("pk")
        return list(documents.filter(kind__in=PART_KINDS, firm__in=firms))
    return []


def tender_slug(tender: Tender) -> str:
    return (slugify(tender.procedure_id) or slugify(tender.title)[:50] or f"ao-{tender.pk}").strip("-")


def output_path(filename: str, firm: PartnerFirm | None = None, *, firm_name: str = "") -> str:
    """Where a document goes in a zip or an output folder: a partner's parts in the firm's own folder."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].lstrip(".") or "document"
    folder = slugify(firm.name if firm is not None else firm_name)
    return f"{folder}/{name}" if folder else name


def archive_path(document: OfferDocument) -> str:
    return output_path(document.filename, document.firm)


def offer_zip(user: Any, version: OfferVersion) -> tuple[str, bytes]:
    """The documents the user may see, as one zip whose bytes depend only on the documents."""
    documents = documents_for(user, version)
    name = f"offre-{tender_slug(version.offer.tender)}-v{version.number}"
    if user_role(user) == Role.PARTNER:
        firm_names = sorted({document.firm.name for document in documents if document.firm})
        name += "".join(f"-{slugify(firm)}" for firm in firm_names)
        entries = [(output_path(document.filename), document) for document in documents]
    else:
        entries = [(archive_path(document), document) for document in documents]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, document in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(path, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, read_document(document))
    return f"{name}.zip", buffer.getvalue()


def read_document(document: OfferDocument) -> bytes:
    with document.content.open("rb") as handle:
        data: bytes = handle.read()
    return data


# --- Composition: members and who does which package -------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    package: WorkPackage
    firm: PartnerFirm
    invitation: Invitation | None


@dataclass(frozen=True)
class ProposedMember:
    firm: PartnerFirm
    role: str
    direct_payment: bool
    chosen: bool  # the bid manager's own choice (or a frozen row), not a default
    totals: Totals

    @property
    def role_label(self) -> str:
        return str(MemberRole(self.role).label)

    @property
    def needs_direct_payment(self) -> bool:
        return self.role == MemberRole.SUBCONTRACTOR and self.totals.amount_with_vat >= DIRECT_PAYMENT_THRESHOLD


@dataclass(frozen=True)
class Composition:
    allocations: list[Allocation]
    members: list[ProposedMember]
    figures: Figures


def default_role(form: str) -> str:
    """The guichet as sole contractor declares every firm as a subcontractor; a groupement makes them members."""
    return MemberRole.SUBCONTRACTOR if form == GroupementForm.SOLE else MemberRole.COCONTRACTOR


def accepted_invitations(tender: Tender) -> list[Invitation]:
    """The accepted invitation of each work package of the tender's lots still in the notice."""
    return list(
        Invitation.objects.filter(tender=tender, status=InvitationStatus.ACCEPTED, package__lot__withdrawn=False)
        .select_related("package", "package__lot", "firm")
        .order_by("package__lot__position", "package__lot_id", "package__position", "package_id")
    )


def allocations_of(version: OfferVersion) -> list[Allocation]:
    if version.is_draft:
        return [Allocation(inv.package, inv.firm, inv) for inv in accepted_invitations(version.offer.tender)]
    rows = (
        OfferAllocation.objects.filter(version=version)
        .select_related("package", "package__lot", "firm", "invitation")
        .order_by("package__lot__position", "package__lot_id", "package__position", "package_id")
    )
    return [Allocation(row.package, row.firm, row.invitation) for row in rows]


def offer_composition(version: OfferVersion) -> Composition:
    """Members with their role, direct payment and amounts; a draft's members are the firms of its
    accepted invitations, with the bid manager's choices where made and the form's defaults elsewhere."""
    allocations = allocations_of(version)
    figures = offer_figures(version)
    chosen = {member.firm_id: member for member in OfferMember.objects.filter(version=version)}
    firms: dict[int, PartnerFirm] = {}
    for allocation in allocations:
        firms.setdefault(allocation.firm.pk, allocation.firm)
    if not version.is_draft:  # a frozen version's members are its rows, even a firm left without lines
        for firm in PartnerFirm.objects.filter(pk__in=set(chosen) - set(firms)):
            firms[firm.pk] = firm
    members = []
    for firm in sorted(firms.values(), key=lambda firm: (firm.name, firm.pk)):
        totals = figures.firms.get(firm.pk, figures.empty)
        choice = chosen.get(firm.pk)
        role = choice.role if choice else default_role(version.form)
        if version.form == GroupementForm.SOLE:
            role = MemberRole.SUBCONTRACTOR
        if choice is not None:
            direct = choice.direct_payment and role == MemberRole.SUBCONTRACTOR
        else:
            direct = role == MemberRole.SUBCONTRACTOR and totals.amount_with_vat >= DIRECT_PAYMENT_THRESHOLD
        members.append(ProposedMember(firm, role, direct, choice is not None, totals))
    return Composition(allocations, members, figures)


# --- Figures: prices and totals ----------------------------------------------------------------------------


class _Priced(Protocol):
    @property
    def lot_id(self) -> int: ...
    @property
    def package_id(self) -> int: ...
    @property
    def firm_id(self) -> int: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def firm_amount(self) -> Decimal: ...
    @property
    def fee_amount(self) -> Decimal: ...
    @property
    def levy_amount(self) -> Decimal: ...


@dataclass(frozen=True)
class Figures:
    """The totals of an offer: per lot, per firm, per firm within a lot, per package, and in all."""

    policy: Policy
    lines: list[SnapshotLine]
    lots: dict[int, Totals]
    firms: dict[int, Totals]
    lot_firms: dict[tuple[int, int], Totals]
    packages: dict[int, Totals]
    line_counts: dict[int, int]  # package id -> priced lines
    total: Totals
    priced: PricedOffer | None = None  # the port's own answer, for a draft
    invitation_sums: dict[int, Decimal] = field(default_factory=dict)  # invitation -> its lines at firm prices
    refused: list[str] = field(default_factory=list)  # what pricing/ refused, shown as problems

    @property
    def empty(self) -> Totals:
        return Totals(ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)


def _totals(sums: list[Decimal], policy: Policy) -> Totals:
    """[amount, firm, fee, levy] summed over lines, with the lot rule of the port's Totals."""
    return Totals.of_lot(amount=sums[0], firm=sums[1], fee=sums[2], levy=sums[3], vat_rate=policy.vat_rate)


def _figures(policy: Policy, lines: list[SnapshotLine], **extra: Any) -> Figures:
    # [amount, firm, fee, levy] per key, in one pass: 100,000 lines take a fraction of a second.
    by_package: dict[int, list[Decimal]] = {}
    package_place: dict[int, tuple[int, int]] = {}
    counts: dict[int, int] = defaultdict(int)
    for line in lines:
        sums = by_package.get(line.package_id)
        if sums is None:
            sums = by_package[line.package_id] = [ZERO, ZERO, ZERO, ZERO]
            package_place[line.package_id] = (line.lot_id, line.firm_id)
        sums[0] += line.amount
        sums[1] += line.firm_amount
        sums[2] += line.fee_amount
        sums[3] += line.levy_amount
        counts[line.package_id] += 1
    lot_firm_sums: dict[tuple[int, int], list[Decimal]] = {}
    lot_sums: dict[int, list[Decimal]] = {}
    for package_id, sums in by_package.items():
        lot_id, firm_id = package_place[package_id]
        for target in (
            lot_firm_sums.setdefault((lot_id, firm_id), [ZERO] * 4),
            lot_sums.setdefault(lot_id, [ZERO] * 4),
        ):
            for index in range(4):
                target[index] += sums[index]
    lot_firms = {key: _totals(sums, policy) for key, sums in lot_firm_sums.items()}
    lots = {key: _totals(sums, policy) for key, sums in lot_sums.items()}
    firm_parts: dict[int, list[Totals]] = defaultdict(list)
    for (_lot, firm_id), totals in lot_firms.items():
        firm_parts[firm_id].append(totals)
    return Figures(
        policy=policy,
        lines=lines,
        lots=lots,
        firms={firm_id: Totals.add(parts) for firm_id, parts in firm_parts.items()},
        lot_firms=lot_firms,
        packages={key: _totals(sums, policy) for key, sums in by_package.items()},
        line_counts=dict(counts),
        total=Totals.add(lots.values()),
        **extra,
    )


LINE_DETAILS = (
    "line__position",
    "line__code",
    "line__designation",
    "line__unit",
    "line__section",
    "line__source_sheet",
    "line__source_row",
)


def _draft_figures(version: OfferVersion) -> Figures:
    """Price the accepted answers now, through the port; the lines a package no longer holds are left out."""
    tender = version.offer.tender
    policy = offer_pricing().policy(version.pk)
    rows = list(
        InvitationPrice.objects.filter(
            invitation__tender=tender,
            invitation__status=InvitationStatus.ACCEPTED,
            invitation__package__lot__withdrawn=False,
            line__work_package_id=F("invitation__package_id"),
        )
        .order_by("line__lot__position", "line__lot_id", "line__position", "line_id")
        .values_list(
            "line_id",
            "line__lot_id",
            "invitation__package_id",
            "invitation__firm_id",
            "line__quantity",
            "unit_price",
            "invitation_id",
            *LINE_DETAILS,
        )
    )
    refused = [
        _("Ligne « %(code)s » : quantité négative (%(quantity)s).")
        % {"code": row[8] or row[7], "quantity": f"{row[4].normalize():f}"}
        for row in rows
        if row[4] is not None and row[4] < 0
    ]
    rows = [row for row in rows if row[4] is None or row[4] >= 0]
    try:
        priced = offer_pricing().price(
            policy, (LineToPrice(key=row[0], group=row[1], firm_unit_price=row[5], quantity=row[4]) for row in rows)
        )
    except PricingRefused as refusal:
        return _figures(policy, [], refused=[*refused, str(refusal)])
    sums: dict[int, Decimal] = defaultdict(lambda: ZERO)
    lines = []
    for row, price in zip(rows, priced.lines, strict=True):
        line_id, lot_id, package_id, firm_id, quantity, firm_unit, invitation_id = row[:7]
        sums[invitation_id] += line_amount(quantity, firm_unit)
        lines.append(
            SnapshotLine(
                line_id,
                lot_id,
                package_id,
                firm_id,
                row[7],
                row[8],
                row[9],
                row[10],
                quantity,
                firm_unit,
                price.unit_price,
                price.amount,
                price.firm_amount,
                price.fee_amount,
                price.levy_amount,
                row[11],
                row[12],
                row[13],
            )
        )
    return _figures(
        policy,
        lines,
        priced=priced,
        invitation_sums={key: round_money(value) for key, value in sums.items()},
        refused=refused,
    )


def _frozen_figures(version: OfferVersion) -> Figures:
    policy = Policy(
        fee_rate=version.fee_rate or ZERO, levy_rate=version.levy_rate or ZERO, vat_rate=version.vat_rate or ZERO
    )
    rows = (
        OfferLine.objects.filter(version=version)
        .order_by("lot__position", "lot_id", "line__position", "line_id")
        .values_list(
            "line_id",
            "lot_id",
            "package_id",
            "firm_id",
            *LINE_DETAILS[:4],
            *OFFER_LINE_FIGURES,
            *LINE_DETAILS[4:],
        )
    )
    return _figures(policy, [SnapshotLine(*row) for row in rows])


def offer_figures(version: OfferVersion) -> Figures:
    return _draft_figures(version) if version.is_draft else _frozen_figures(version)


def draft_prices(version: OfferVersion) -> PricedOffer:
    """The prices the version would be frozen with, asked from `pricing` now."""
    figures = _draft_figures(version)
    assert figures.priced is not None
    return figures.priced


# --- Problems before freezing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferProblem:
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what} {self.fix}"


def offer_deadlines(tender: Tender) -> list[tuple[str, dt.datetime]]:
    """The tender's submission deadline and those of its lots still in the notice that set their own."""
    found = []
    if tender.tender_deadline is not None:
        found.append((_("l'appel d'offres"), tender.tender_deadline))
    for lot in Lot.objects.filter(tender=tender, withdrawn=False, tender_deadline__isnull=False).only(
        "source_id", "tender_deadline"
    ):
        if lot.tender_deadline is not None:
            found.append((_("le lot %(lot)s") % {"lot": lot.source_id}, lot.tender_deadline))
    return found


def _when(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M")


def _day(value: dt.date) -> str:
    return value.strftime("%d/%m/%Y")


def offer_problems(version: OfferVersion, composition: Composition | None = None) -> list[OfferProblem]:
    """What stops the version from being frozen, each with what to fix and where; empty when it can be."""
    tender = version.offer.tender
    composition = composition or offer_composition(version)
    problems: list[OfferProblem] = []
    problems += _package_problems(tender, composition)
    problems += _deadline_problems(tender)
    problems += _member_problems(tender, composition)
    problems += _total_problems(composition)
    problems += [
        OfferProblem(message, _("Corrigez le bordereau de prix (import) ou le prix de l'entreprise, puis rechargez."))
        for message in composition.figures.refused
    ]
    if version.mandataire_siret and not siret_is_valid(version.mandataire_siret):
        problems.append(
            OfferProblem(
                _("Le SIRET du mandataire (%(siret)s) n'est pas valide.") % {"siret": version.mandataire_siret},
                _("Corrigez-le dans la composition de l'offre."),
            )
        )
    return problems


def _package_problems(tender: Tender, composition: Composition) -> list[OfferProblem]:
    problems = []
    packages = list(
        WorkPackage.objects.filter(tender=tender, lot__withdrawn=False)
        .select_related("lot")
        .annotate(lines_in=Count("lines"))
        .order_by("lot__position", "lot_id", "position", "id")
    )
    if not packages:
        problems.append(
            OfferProblem(
                _("L'appel d'offres n'a aucun lot de travaux."),
                _("Découpez-le en lots de travaux (page « Lots de travaux »), puis invitez les entreprises."),
            )
        )
    allocated = {allocation.package.pk: allocation for allocation in composition.allocations}
    priced = composition.figures.line_counts
    for package in packages:
        allocation = allocated.get(package.pk)
        if allocation is None:
            problems.append(
                OfferProblem(
                    _("Le lot de travaux « %(package)s » (lot %(lot)s) n'a aucune entreprise retenue.")
                    % {"package": package.name, "lot": package.lot.source_id},
                    _("Invitez une entreprise depuis la page « Invitations » et attendez son acceptation."),
                )
            )
        elif priced.get(package.pk, 0) < package.lines_in:
            problems.append(
                OfferProblem(
                    _("%(firm)s n'a pas chiffré %(count)s ligne(s) du lot de travaux « %(package)s ».")
                    % {
                        "firm": allocation.firm.name,
                        "count": package.lines_in - priced.get(package.pk, 0),
                        "package": package.name,
                    },
                    _(
                        "Demandez-lui de réviser sa réponse (page « Invitations ») avant sa date limite, ou "
                        "retirez l'acceptation et invitez une autre entreprise."
                    ),
                )
            )
    loose = (
        Line.objects.filter(tender=tender, lot__withdrawn=False, work_package__isnull=True)
        .values_list("lot__source_id")
        .annotate(count=Count("id"))
        .order_by("lot__source_id")
    )
    for lot_source_id, count in loose:
        problems.append(
            OfferProblem(
                _("%(count)s ligne(s) du lot %(lot)s ne sont dans aucun lot de travaux : elles n'ont pas de prix.")
                % {"count": count, "lot": lot_source_id},
                _("Rattachez-les à un lot de travaux (page « Lots de travaux »)."),
            )
        )
    return problems


def _deadline_problems(tender: Tender) -> list[OfferProblem]:
    now = timezone.now()
    return [
        OfferProblem(
            _("La date limite de remise des offres de %(what)s (%(when)s) est passée.")
            % {"what": what, "when": _when(deadline)},
            _("L'offre ne peut plus être remise : vérifiez la date auprès de l'acheteur (avis rectificatif)."),
        )
        for what, deadline in offer_deadlines(tender)
        if deadline <= now
    ]


def attestation_date(tender: Tender) -> dt.date:
    """The day the attestations must still be valid: the latest submission deadline, else today."""
    deadlines = [deadline for _what, deadline in offer_deadlines(tender)]
    return timezone.localdate(max(deadlines)) if deadlines else timezone.localdate()


def _member_problems(tender: Tender, composition: Composition) -> list[OfferProblem]:
    problems = []
    firm_ids = [member.firm.pk for member in composition.members]
    day = attestation_date(tender)
    valid: dict[int, dict[str, dt.date]] = defaultdict(dict)
    for firm_id, kind, valid_until in Attestation.objects.filter(firm_id__in=firm_ids).values_list(
        "firm_id", "kind", "valid_until"
    ):
        valid[firm_id][kind] = valid_until
    competing = set(
        TenderExclusion.objects.filter(tender=tender, firm_id__in=firm_ids, kind=ExclusionKind.COMPETING).values_list(
            "firm_id", flat=True
        )
    )
    for member in composition.members:
        firm = member.firm
        for kind in AttestationKind:
            until = valid[firm.pk].get(kind.value)
            if until is None:
                what = _("%(firm)s : %(kind)s manquante.") % {"firm": firm.name, "kind": kind.label}
            elif until < day:
                what = _("%(firm)s : %(kind)s valable jusqu'au %(until)s seulement, avant le %(day)s.") % {
                    "firm": firm.name,
                    "kind": kind.label,
                    "until": _day(until),
                    "day": _day(day),
                }
            else:
                continue
            problems.append(
                OfferProblem(
                    what,
                    _(
                        "Demandez à l'entreprise de déposer une attestation à jour dans sa fiche "
                        "(onglet « Attestations »)."
                    ),
                )
            )
        if firm.pk in competing:
            problems.append(
                OfferProblem(
                    _("%(firm)s est engagée dans un groupement concurrent sur cet appel d'offres.")
                    % {"firm": firm.name},
                    _(
                        "Retirez son acceptation et confiez ses lots de travaux à une autre entreprise "
                        "(page « Invitations »)."
                    ),
                )
            )
        if not siret_is_valid(firm.siret or ""):
            problems.append(
                OfferProblem(
                    _("%(firm)s n'a pas de SIRET valide : il figure au tableau du groupement.") % {"firm": firm.name},
                    _("Renseignez-le dans la fiche de l'entreprise."),
                )
            )
        if member.needs_direct_payment and not member.direct_payment:
            problems.append(
                OfferProblem(
                    _("%(firm)s est sous-traitant pour %(amount)s € TTC sans paiement direct.")
                    % {"firm": firm.name, "amount": member.totals.amount_with_vat},
                    _("Le paiement direct est obligatoire dès 600 € TTC : cochez-le dans la composition de l'offre."),
                )
            )
    return problems


def _total_problems(composition: Composition) -> list[OfferProblem]:
    figures = composition.figures
    problems = []
    fix = _("Demandez à l'entreprise de réviser sa réponse (page « Invitations »), puis vérifiez à nouveau.")
    for allocation in composition.allocations if figures.priced is not None else []:
        invitation = allocation.invitation
        if invitation is None:
            continue
        computed = figures.invitation_sums.get(invitation.pk, ZERO)
        if invitation.total != computed:
            problems.append(
                OfferProblem(
                    _("La réponse de %(firm)s pour « %(package)s » annonce %(total)s, ses lignes font %(computed)s.")
                    % {
                        "firm": allocation.firm.name,
                        "package": allocation.package.name,
                        "total": invitation.total,
                        "computed": computed,
                    },
                    fix,
                )
            )
    fix = _("Le calcul des prix est incohérent : signalez-le à l'administrateur avant de figer l'offre.")
    split = [
        line.line_id for line in figures.lines if line.firm_amount + line.fee_amount + line.levy_amount != line.amount
    ]
    if split:
        problems.append(
            OfferProblem(
                _("%(count)s ligne(s) dont la répartition ne fait pas le montant.") % {"count": len(split)}, fix
            )
        )
    priced = figures.priced
    if priced is not None:
        for lot_id, totals in figures.lots.items():
            theirs = priced.groups.get(lot_id)
            if theirs is None or (theirs.amount, theirs.vat) != (totals.amount, totals.vat):
                problems.append(OfferProblem(_("Le total d'un lot ne correspond pas à la somme de ses lignes."), fix))
                break
        if sum((totals.amount for totals in priced.groups.values()), ZERO) != priced.total.amount or (
            priced.total.amount != figures.total.amount
        ):
            problems.append(OfferProblem(_("Le total de l'offre ne correspond pas à la somme des lots."), fix))
    return problems


# --- The snapshot the documents are rendered from ----------------------------------------------------------


def offer_snapshot(version: OfferVersion) -> OfferSnapshot:
    """Everything the documents show, read in a fixed number of queries whatever the number of lines."""
    tender = version.offer.tender
    composition = offer_composition(version)
    figures = composition.figures
    members = composition.members
    firm_ids = [member.firm.pk for member in members]
    packages_of: dict[int, list[Allocation]] = defaultdict(list)
    for allocation in composition.allocations:
        packages_of[allocation.firm.pk].append(allocation)
    package_ids = [allocation.package.pk for allocation in composition.allocations]
    required = _required_skills(package_ids)
    skills = _firm_skills(
        firm_ids,
        {firm: {s for a in packages_of[firm] for s, _w, _u, _n in required[a.package.pk]} for firm in firm_ids},
    )
    references = _references(firm_ids)
    reasons = _reasons(tender, package_ids, firm_ids)
    total = figures.total
    if not version.is_draft and version.total_ht is not None:
        total = Totals(
            version.total_ht,
            version.total_vat or ZERO,
            version.total_ttc or ZERO,
            total.firm_amount,
            total.fee_amount,
            total.levy_amount,
        )
    firms = [
        SnapshotFirm(
            id=member.firm.pk,
            name=member.firm.name,
            siret=member.firm.siret,
            siren=member.firm.siren,
            vat_number=member.firm.vat_number,
            address=member.firm.address,
            postcode=member.firm.postcode,
            city=member.firm.city,
            role=member.role,
            role_label=member.role_label,
            direct_payment=member.direct_payment,
            description=member.firm.description,
            skills=skills.get(member.firm.pk, []),
            references=references.get(member.firm.pk, []),
            totals=member.totals,
            share=share,
        )
        for member, share in zip(members, percent_shares([m.totals.amount for m in members]), strict=True)
    ]
    lots: dict[int, SnapshotLot] = {}
    for allocation in composition.allocations:
        package, lot = allocation.package, allocation.package.lot
        if lot.pk not in lots:
            lots[lot.pk] = SnapshotLot(
                id=lot.pk,
                source_id=lot.source_id,
                title=lot.title,
                totals=figures.lots.get(lot.pk, figures.empty),
                firm_totals={firm: t for (lot_id, firm), t in figures.lot_firms.items() if lot_id == lot.pk},
            )
        invitation = allocation.invitation
        lots[lot.pk].packages.append(
            SnapshotPackage(
                id=package.pk,
                lot_id=lot.pk,
                name=package.name,
                firm_id=allocation.firm.pk,
                line_count=figures.line_counts.get(package.pk, 0),
                totals=figures.packages.get(package.pk, figures.empty),
                reasons=reasons.get((package.pk, allocation.firm.pk), []),
                upstream_projects=_unique(upstream or name for _s, _w, upstream, name in required[package.pk]),
                note=invitation.note if invitation else "",
                team=invitation.team if invitation else "",
            )
        )
    for snapshot_lot in lots.values():  # a firm whose package has no priced line still has its (empty) part
        for part in snapshot_lot.packages:
            snapshot_lot.firm_totals.setdefault(part.firm_id, figures.empty)
    return OfferSnapshot(
        version_id=version.pk,
        version_number=version.number,
        status=version.status,
        frozen_at=version.frozen_at,
        tender_id=tender.pk,
        tender_title=tender.title,
        procedure_id=tender.procedure_id,
        notice_id=tender.notice_id,
        procedure_type=tender.procedure_type,
        tender_description=tender.description,
        buyers=list(tender.buyers.order_by("position").values_list("name", flat=True)),
        deadline=tender.tender_deadline,
        currency=version.currency or tender.currency or "EUR",
        form=version.form,
        form_label=str(GroupementForm(version.form).label),
        mandataire_name=version.mandataire_name,
        mandataire_siret=version.mandataire_siret,
        mandataire_address=version.mandataire_address,
        policy=figures.policy,
        firms=firms,
        lots=list(lots.values()),
        lines=figures.lines,
        total=total,
        schedule_source=schedule_source(tender),
    )


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def _required_skills(package_ids: Sequence[int]) -> dict[int, list[tuple[int, int, str, str]]]:
    """Per package: (skill id, weight, upstream project, name), the heaviest first."""
    found: dict[int, list[tuple[int, int, str, str]]] = {pk: [] for pk in package_ids}
    rows = (
        PackageSkill.objects.filter(package_id__in=package_ids)
        .order_by("package_id", "-weight", "skill__name")
        .values_list("package_id", "skill_id", "weight", "skill__upstream_project", "skill__name")
    )
    for package_id, skill_id, weight, upstream, name in rows:
        found[package_id].append((skill_id, weight, upstream, name))
    return found


def _firm_skills(firm_ids: Sequence[int], wanted: dict[int, set[int]]) -> dict[int, list[SnapshotSkill]]:
    """The firm's skills its packages ask for; a firm matched on none of them shows its three best."""
    rows = (
        FirmSkill.objects.filter(firm_id__in=firm_ids)
        .order_by("firm_id", "-level", "skill__name")
        .values_list("firm_id", "skill_id", "level", "skill__name", "skill__upstream_project")
    )
    relevant: dict[int, list[SnapshotSkill]] = defaultdict(list)
    best: dict[int, list[SnapshotSkill]] = defaultdict(list)
    for firm_id, skill_id, level, name, upstream in rows:
        skill = SnapshotSkill(name=name, level=str(SkillLevel(level).label), upstream_project=upstream)
        if skill_id in wanted.get(firm_id, set()):
            relevant[firm_id].append(skill)
        if len(best[firm_id]) < 3:
            best[firm_id].append(skill)
    return {firm_id: relevant.get(firm_id) or best.get(firm_id, []) for firm_id in firm_ids}


def _references(firm_ids: Sequence[int]) -> dict[int, list[SnapshotReference]]:
    found: dict[int, list[SnapshotReference]] = defaultdict(list)
    rows = (
        Reference.objects.filter(firm_id__in=firm_ids)
        .order_by("firm_id", "-year", "-id")
        .values_list("firm_id", "title", "buyer", "year", "amount")
    )
    for firm_id, title, buyer, year, amount in rows:
        if len(found[firm_id]) < 3:
            found[firm_id].append(SnapshotReference(title=title, buyer=buyer, year=year, amount=amount))
    return found


def _reasons(tender: Tender, package_ids: Sequence[int], firm_ids: Sequence[int]) -> dict[tuple[int, int], list[str]]:
    """Why each firm was chosen for its package, in sentences, from the latest match's explained scores."""
    run = latest_result(tender)
    if run is None:
        return {}
    found: dict[tuple[int, int], list[str]] = {}
    rows = MatchCandidate.objects.filter(run=run, package_id__in=package_ids, firm_id__in=firm_ids).values_list(
        "package_id", "firm_id", "rank", "components"
    )
    for package_id, firm_id, rank, components in rows:
        sentences = [_("Classée n° %(rank)s sur les entreprises rapprochées pour ce lot de travaux.") % {"rank": rank}]
        for component in sorted(components or [], key=lambda c: -float(c.get("points") or 0)):
            text = str(component.get("text") or "").strip()
            if not text:
                continue
            label = str(LABELS.get(component.get("key", ""), component.get("key", "")))
            sentences.append(
                _("%(label)s : %(text)s (%(points)s points sur %(weight)s).")
                % {
                    "label": label,
                    "text": text.rstrip("."),
                    "points": str(component.get("points", 0)).replace(".", ","),
                    "weight": component.get("weight", 0),
                }
            )
        found[(package_id, firm_id)] = sentences
    return found


def schedule_source(tender: Tender) -> ScheduleSource | None:
    """The buyer's own workbook: the newest successful spreadsheet import of the tender still on disk."""
    jobs = (
        ImportJob.objects.filter(Q(tenders=tender) | Q(target_tender=tender))
        .filter(status=JobStatus.SUCCEEDED, detected_format=SourceFormat.XLSX)
        .distinct()
        .order_by("-created_at", "-id")
    )
    for job in jobs:
        try:
            with job.file.open("rb") as handle:
                content = handle.read()
        except (OSError, ValueError):  # the upload was cleaned away: try the one before
            continue
        options = job.options or {}
        header_row = options.get("header_row")
        return ScheduleSource(
            filename=job.original_name,
            content=content,
            sheet=str(options.get("sheet") or ""),
            header_row=int(header_row) if header_row not in (None, "") else None,
            mapping={str(k): str(v) for k, v in (options.get("mapping") or {}).items()},
        )
    return None
