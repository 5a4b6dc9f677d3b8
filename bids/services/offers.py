"""The group offer: start it, compose it, price it, freeze it, render its documents, submit it.

A draft is changed only with the revision the form was read at (a stale form is refused) and every
change bumps it. Freezing re-checks everything under a lock on the version and the tender's work
packages, then writes the version's own rows (members, allocations, priced lines) so that what was
sent never depends on the invitations again. Documents are rendered after commit, in a task.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from consortium.bulk import bulk_insert
from consortium.offer_pricing import Policy, PricingRefused, offer_pricing
from consortium.services import record_event
from partners.identifiers import clean_siret

from ..models import JobStatus, Tender, WorkPackage
from ..offer_models import (
    OFFER_LINE_FIGURES,
    OFFER_MOVES,
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
from ..offer_render import DocumentJob, content_hash, document_jobs
from ..selectors.offers import (
    OfferProblem,
    offer_composition,
    offer_deadlines,
    offer_problems,
    offer_snapshot,
)
from . import jobs

logger = logging.getLogger(__name__)

OFFER_LINE_COLUMNS = ("version_id", "line_id", "lot_id", "package_id", "firm_id", *OFFER_LINE_FIGURES)


class OfferRefused(Exception):
    """A change that cannot be made as asked; the message (and the problems, if any) say why."""

    def __init__(self, message: str, problems: Sequence[OfferProblem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class MemberChoice:
    role: str  # MemberRole value
    direct_payment: bool


# --- Locks and moves ---------------------------------------------------------------------------------------


def _locked(version_id: int) -> OfferVersion:
    version = (
        OfferVersion.objects.select_for_update(of=("self",))
        .select_related("offer", "offer__tender")
        .filter(pk=version_id)
        .first()
    )
    if version is None:
        raise OfferRefused(_("Cette version de l'offre n'existe pas."))
    return version


def _locked_draft(version_id: int, revision: int | None) -> OfferVersion:
    version = _locked(version_id)
    if not version.is_draft:
        raise OfferRefused(
            _("La version %(number)s est « %(status)s » : créez une nouvelle version pour la modifier.")
            % {"number": version.number, "status": version.get_status_display()}
        )
    if revision is not None and revision != version.revision:
        raise OfferRefused(_("La version a changé depuis l'ouverture du formulaire : rechargez la page."))
    return version


def _bump(version: OfferVersion, **changes: Any) -> OfferVersion:
    """Save a draft's changes with the next revision, if nobody changed it meanwhile."""
    updated = OfferVersion.objects.filter(pk=version.pk, status=OfferStatus.DRAFT, revision=version.revision).update(
        revision=F("revision") + 1, **changes
    )
    if not updated:
        raise OfferRefused(_("La version a changé depuis l'ouverture du formulaire : rechargez la page."))
    version.refresh_from_db()
    return version


def _move(
    version: OfferVersion, to: str, *, actor: Any, details: Mapping[str, Any] | None = None, **changes: Any
) -> OfferVersion:
    if to not in OFFER_MOVES[version.status]:
        raise OfferRefused(
            _("Impossible de passer une version « %(old)s » à « %(new)s ».")
            % {"old": version.get_status_display(), "new": OfferStatus(to).label}
        )
    updated = OfferVersion.objects.filter(pk=version.pk, status=version.status).update(status=to, **changes)
    if not updated:
        raise OfferRefused(_("Cette version vient de changer : rechargez la page."))
    old = version.status
    version.refresh_from_db()
    record_event(
        actor=actor,
        action=f"offer.{to}",
        obj=version,
        tender=version.offer.tender_id,
        number=version.number,
        previous=old,
        **(details or {}),
    )
    return version


# --- Drafts ------------------------------------------------------------------------------------------------


@transaction.atomic
def start_offer(*, actor: Any, tender: Tender) -> OfferVersion:
    """The tender's group offer and its first draft; or, when it exists, its newest version."""
    Tender.objects.select_for_update().filter(pk=tender.pk).first()  # two starts: the second finds the first
    offer = GroupOffer.objects.filter(tender=tender).first()
    if offer is not None:
        current = offer.versions.select_related("offer", "offer__tender").order_by("-number").first()
        if current is not None:
            return current
    else:
        offer = GroupOffer.objects.create(tender=tender, created_by=actor if getattr(actor, "pk", None) else None)
    version = OfferVersion.objects.create(
        offer=offer,
        number=1,
        mandataire_name=settings.GUICHET_LEGAL_NAME,
        mandataire_siret=settings.GUICHET_SIRET,
        mandataire_address=settings.GUICHET_ADDRESS,
        currency=tender.currency or "EUR",
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    record_event(actor=actor, action="offer.started", obj=version, tender=tender.pk, number=1)
    return OfferVersion.objects.select_related("offer", "offer__tender").get(pk=version.pk)


@transaction.atomic
def sync_draft(*, actor: Any, version_id: int) -> OfferVersion:
    """Forget the choices made for firms that no longer hold a package of the draft."""
    version = _locked_draft(version_id, None)
    involved = {allocation.firm.pk for allocation in offer_composition(version).allocations}
    stale = OfferMember.objects.filter(version=version).exclude(firm_id__in=involved)
    dropped = sorted(stale.values_list("firm_id", flat=True))
    if dropped:
        stale.delete()
        version = _bump(version)
        record_event(actor=actor, action="offer.synced", obj=version, dropped=dropped)
    return version


@transaction.atomic
def update_composition(
    *,
    actor: Any,
    version_id: int,
    revision: int,
    form: str,
    members: Mapping[int, MemberChoice],
    mandataire_name: str,
    mandataire_siret: str,
    mandataire_address: str,
) -> OfferVersion:
    """The groupement form, the mandataire and each firm's role and direct payment.

    With the guichet as sole contractor every firm is a subcontractor, whatever the form sent.
    """
    version = _locked_draft(version_id, revision)
    if form not in GroupementForm.values:
        raise OfferRefused(_("Forme de groupement inconnue : %(form)s.") % {"form": form})
    name = mandataire_name.strip()
    if not name:
        raise OfferRefused(_("Indiquez le nom du mandataire."))
    siret = mandataire_siret.strip()
    if siret:
        try:
            siret = clean_siret(siret)
        except ValidationError as error:
            raise OfferRefused(" ".join(error.messages)) from None
    involved = {allocation.firm.pk: allocation.firm for allocation in offer_composition(version).allocations}
    unknown = sorted(set(members) - set(involved))
    if unknown:
        raise OfferRefused(_("Ces entreprises ne font pas partie de l'offre : %(ids)s.") % {"ids": unknown})
    rows = []
    for firm_id, choice in sorted(members.items()):
        role = MemberRole.SUBCONTRACTOR if form == GroupementForm.SOLE else choice.role
        if role not in MemberRole.values:
            raise OfferRefused(
                _("Rôle inconnu pour %(firm)s : %(role)s.") % {"firm": involved[firm_id].name, "role": role}
            )
        direct = bool(choice.direct_payment) and role == MemberRole.SUBCONTRACTOR
        rows.append(OfferMember(version=version, firm_id=firm_id, role=role, direct_payment=direct))
    OfferMember.objects.filter(version=version, firm_id__in=[row.firm_id for row in rows]).delete()
    OfferMember.objects.bulk_create(rows)
    version = _bump(
        version,
        form=form,
        mandataire_name=name[:200],
        mandataire_siret=siret,
        mandataire_address=mandataire_address.strip()[:300],
    )
    record_event(
        actor=actor,
        action="offer.composition_changed",
        obj=version,
        form=form,
        members={str(row.firm_id): [row.role, row.direct_payment] for row in rows},
    )
    return version


@transaction.atomic
def set_policy(*, actor: Any, version_id: int, revision: int, policy: Policy) -> OfferVersion:
    """The fee, levy and VAT rates of a draft, kept by `pricing` (which writes its own audit row)."""
    version = _locked_draft(version_id, revision)
    try:
        offer_pricing().set_policy(user=actor, version_id=version.pk, policy=policy)
    except PricingRefused as refused:
        raise OfferRefused(str(refused)) from None
    return _bump(version)


# --- Freezing ----------------------------------------------------------------------------------------------


@transaction.atomic
def freeze_version(
    *, actor: Any, version_id: int, revision: int, origin: str = "web", queue_rendering: bool = True
) -> OfferVersion:
    """Check the draft, then write its members, packages and priced lines and freeze it for good.

    The tender is marked frozen first and its work packages locked next: an answer being saved finishes
    before the prices are read, and any later one sees the tender frozen and is refused.
    """
    version = _locked_draft(version_id, revision)
    tender = version.offer.tender
    now = timezone.now()
    Tender.objects.filter(pk=tender.pk).update(offer_frozen_at=now)
    list(WorkPackage.objects.select_for_update(of=("self",)).filter(tender=tender).values_list("pk", flat=True))
    composition = offer_composition(version)
    problems = offer_problems(version, composition)
    if problems:
        raise OfferRefused(_("L'offre ne peut pas être figée :"), problems)
    figures = composition.figures
    OfferMember.objects.filter(version=version).delete()
    OfferMember.objects.bulk_create(
        OfferMember(version=version, firm=member.firm, role=member.role, direct_payment=member.direct_payment)
        for member in composition.members
    )
    OfferAllocation.objects.bulk_create(
        OfferAllocation(version=version, package=a.package, firm=a.firm, invitation=a.invitation)
        for a in composition.allocations
    )
    bulk_insert(
        OfferLine,
        OFFER_LINE_COLUMNS,
        [
            (
                version.pk,
                line.line_id,
                line.lot_id,
                line.package_id,
                line.firm_id,
                *(getattr(line, name) for name in OFFER_LINE_FIGURES),
            )
            for line in figures.lines
        ],
    )
    policy, total = figures.policy, figures.total
    version = _move(
        version,
        OfferStatus.FROZEN,
        actor=actor,
        fee_rate=policy.fee_rate,
        levy_rate=policy.levy_rate,
        vat_rate=policy.vat_rate,
        total_ht=total.amount,
        total_vat=total.vat,
        total_ttc=total.amount_with_vat,
        frozen_at=now,
        frozen_by=actor if getattr(actor, "pk", None) else None,
        render_status=JobStatus.QUEUED,
        render_stage="",
        render_done=0,
        render_total=0,
        render_errors=[],
        details={
            "origin": origin,
            "lines": len(figures.lines),
            "members": len(composition.members),
            "total_ht": str(total.amount),
            "total_ttc": str(total.amount_with_vat),
        },
    )
    if queue_rendering:
        _queue_rendering(version.pk)
    return version


def _queue_rendering(version_id: int) -> None:
    transaction.on_commit(partial(enqueue_rendering, version_id))


def enqueue_rendering(version_id: int) -> bool:
    """Send the rendering to the workers; False when the broker cannot be reached in time (the version says so)."""
    from ..tasks import render_offer  # the task module imports this one

    try:
        render_offer.delay(version_id)
    except Exception:  # the broker is down: say so on the version instead of failing the request
        logger.exception("could not queue the rendering of offer version %s", version_id)
        OfferVersion.objects.filter(pk=version_id, render_status=JobStatus.QUEUED).update(render_stage=jobs.UNREACHABLE)
        return False
    return True


# --- Documents ---------------------------------------------------------------------------------------------


def render_documents(*, version_id: int) -> OfferVersion:
    """Render every document of a frozen version and store each once (never rewritten). Safe to run
    twice: the documents already stored are kept, and a finished job, or one alive in another worker, is left
    alone. A failed one may be run again (the build_offer command does) while it has attempts left; the claim
    past MAX_ATTEMPTS fails it (services/jobs.py)."""
    # A draft has no render status: only a frozen version can be claimed.
    failed_with_attempts_left = Q(render_status=JobStatus.FAILED, render_attempts__lt=jobs.MAX_ATTEMPTS)
    attempt = jobs.claim(
        jobs.RENDERS, version_id, also=failed_with_attempts_left, render_stage="snapshot", render_errors=[]
    )
    version = OfferVersion.objects.select_related("offer", "offer__tender").get(pk=version_id)
    if attempt is None:
        return version
    if attempt > jobs.MAX_ATTEMPTS:
        jobs.give_up(jobs.RENDERS, version, attempt=attempt)
    else:
        try:
            with jobs.heartbeat(jobs.RENDERS, version_id, attempt=attempt):
                _render(version, attempt)
        except jobs.Superseded:  # taken back while this worker was silent; the documents it stored are kept
            logger.warning("rendering of offer version %s, attempt %s, was taken over", version_id, attempt)
    version.refresh_from_db()
    return version


def _render(version: OfferVersion, attempt: int) -> None:
    mine = jobs.owned(jobs.RENDERS, version.pk, attempt)
    where = _("instantané de l'offre")
    try:
        jobs_to_do = document_jobs(offer_snapshot(version))
        stored = set(OfferDocument.objects.filter(version=version).values_list("kind", "firm_id"))
        mine.update(render_total=len(jobs_to_do), render_done=0)
        for done, job in enumerate(jobs_to_do):
            where = job.label
            jobs.still_owned(jobs.RENDERS, version.pk, attempt, render_stage=job.label[:100], render_done=done)
            if (job.kind, job.firm_id) not in stored:
                _store(version, job)
        hashed = content_hash(
            OfferDocument.objects.filter(version=version).values_list("kind", "firm_id", "filename", "sha256")
        )
    except jobs.Superseded:
        raise
    except Exception as error:
        logger.exception("rendering offer version %s failed at %s", version.pk, where)
        failed = mine.update(
            render_status=JobStatus.FAILED,
            render_stage="",
            render_errors=[{"where": where, "message": str(error)[:2000]}],
        )
        if failed:
            record_event(actor=None, action="offer.render_failed", obj=version, where=where)
    else:
        jobs.still_owned(
            jobs.RENDERS,
            version.pk,
            attempt,
            render_status=JobStatus.SUCCEEDED,
            render_stage="",
            render_done=len(jobs_to_do),
            content_hash=hashed,
        )
        record_event(actor=None, action="offer.rendered", obj=version, documents=len(jobs_to_do), content_hash=hashed)


def _store(version: OfferVersion, job: DocumentJob) -> None:
    """One document, whole or not at all: a failed insert takes its file away with it."""
    filename, content_type, data = job.render()
    document = OfferDocument(
        version=version,
        kind=job.kind,
        firm_id=job.firm_id,
        filename=filename,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    document.content.save(filename, ContentFile(data), save=False)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:  # another run stored it meanwhile: keep that one
        document.content.delete(save=False)
    except Exception:
        document.content.delete(save=False)
        raise


@transaction.atomic
def retry_rendering(*, actor: Any, version_id: int) -> OfferVersion:
    version = _locked(version_id)
    if version.render_status != JobStatus.FAILED:
        raise OfferRefused(_("Les documents de cette version ne sont pas en échec."))
    # A person asked again: three more attempts; the heartbeat field of a queued job is when it was queued.
    OfferVersion.objects.filter(pk=version.pk, render_status=JobStatus.FAILED).update(
        render_status=JobStatus.QUEUED,
        render_stage="",
        render_errors=[],
        render_attempts=0,
        render_heartbeat_at=timezone.now(),
    )
    record_event(actor=actor, action="offer.render_retried", obj=version)
    _queue_rendering(version.pk)
    version.refresh_from_db()
    return version


# --- Submission and result ---------------------------------------------------------------------------------


@transaction.atomic
def submit_version(*, actor: Any, version_id: int) -> OfferVersion:
    """The frozen version, its documents rendered, is sent to the buyer before the deadline."""
    version = _locked(version_id)
    if version.status != OfferStatus.FROZEN:
        return _move(version, OfferStatus.SUBMITTED, actor=actor)  # refused with the reason
    if version.offer.versions.filter(number__gt=version.number).exists():
        raise OfferRefused(_("Une version plus récente existe : c'est elle qu'il faut remettre."))
    if version.render_status != JobStatus.SUCCEEDED:
        raise OfferRefused(_("Les documents de cette version ne sont pas encore prêts."))
    now = timezone.now()
    passed = [what for what, deadline in offer_deadlines(version.offer.tender) if deadline <= now]
    if passed:
        raise OfferRefused(
            _("La date limite de remise est passée (%(what)s) : l'offre ne peut plus être remise.")
            % {"what": ", ".join(passed)}
        )
    return _move(version, OfferStatus.SUBMITTED, actor=actor, submitted_at=now)


@transaction.atomic
def record_result(*, actor: Any, version_id: int, won: bool) -> OfferVersion:
    version = _locked(version_id)
    return _move(version, OfferStatus.WON if won else OfferStatus.LOST, actor=actor, decided_at=timezone.now())


@transaction.atomic
def new_version(*, actor: Any, offer_id: int) -> OfferVersion:
    """A new draft from the newest frozen or submitted version: its form, mandataire, choices and policy.
    The tender is unfrozen, so the partners may revise their prices again."""
    offer = GroupOffer.objects.select_for_update().select_related("tender").filter(pk=offer_id).first()
    if offer is None:
        raise OfferRefused(_("Cette offre n'existe pas."))
    latest = offer.versions.order_by("-number").first()
    if latest is None:
        raise OfferRefused(_("Cette offre n'a encore aucune version."))
    if latest.status not in {OfferStatus.FROZEN, OfferStatus.SUBMITTED}:
        raise OfferRefused(
            _("La dernière version est « %(status)s » : une nouvelle version part d'une version figée ou remise.")
            % {"status": latest.get_status_display()}
        )
    draft = OfferVersion.objects.create(
        offer=offer,
        number=latest.number + 1,
        form=latest.form,
        mandataire_name=latest.mandataire_name,
        mandataire_siret=latest.mandataire_siret,
        mandataire_address=latest.mandataire_address,
        currency=latest.currency,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    OfferMember.objects.bulk_create(
        OfferMember(version=draft, firm_id=m.firm_id, role=m.role, direct_payment=m.direct_payment)
        for m in OfferMember.objects.filter(version=latest)
    )
    offer_pricing().copy_policy(from_version_id=latest.pk, to_version_id=draft.pk)
    Tender.objects.filter(pk=offer.tender_id).update(offer_frozen_at=None)
    record_event(
        actor=actor,
        action="offer.new_version",
        obj=draft,
        tender=offer.tender_id,
        number=draft.number,
        previous=latest.pk,
    )
    return OfferVersion.objects.select_related("offer", "offer__tender").get(pk=draft.pk)
