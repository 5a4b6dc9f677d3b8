"""Invitations: a work package offered to a firm, answered with its own prices before a deadline.

Every move follows `ALLOWED_MOVES`, is made under a lock on the package row (so two answers for one
package queue, and the second sees the first), and writes an audit row. E-mails leave after commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from consortium.services import record_event
from partners.models import PartnerFirm
from partners.selectors import firms_for

from ..models import (
    ALLOWED_MOVES,
    LIVE_STATUSES,
    OPEN_STATUSES,
    Assignment,
    Invitation,
    InvitationPrice,
    InvitationSource,
    InvitationStatus,
    Line,
    MatchCandidate,
    Tender,
    TenderExclusion,
    WorkPackage,
)
from ..prices import PricedLine, PriceEntry, check_prices, total_of
from ..selectors.invitations import can_answer
from ..selectors.matching import latest_result

logger = logging.getLogger(__name__)


class InvitationRefused(Exception):
    """A move that cannot be made as asked; the message says why, in the user's language."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


# --- Deadlines ---------------------------------------------------------------------------------------------


def safety_margin() -> dt.timedelta:
    """Time the bid manager keeps between the partners' answers and the tender deadline, to assemble."""
    return dt.timedelta(days=settings.INVITATION_SAFETY_MARGIN_DAYS)


def tender_deadline_of(package: WorkPackage) -> dt.datetime | None:
    return package.lot.tender_deadline or package.tender.tender_deadline


def questions_deadline_of(package: WorkPackage) -> dt.datetime | None:
    return package.lot.questions_deadline or package.tender.questions_deadline


@dataclass
class DeadlineCheck:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _when(value: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def check_deadline(
    *, tender_deadline: dt.datetime | None, questions_deadline: dt.datetime | None, deadline: dt.datetime
) -> DeadlineCheck:
    """Refuse a past deadline or one at or after the tender's own; warn when the margin is short."""
    check = DeadlineCheck()
    now = timezone.now()
    if deadline <= now:
        check.errors.append(_("La date limite de réponse doit être dans le futur."))
    if tender_deadline is None:
        check.warnings.append(_("L'appel d'offres n'a pas de date limite de remise : vérifiez la date choisie."))
    elif deadline >= tender_deadline:
        check.errors.append(
            _("La date limite de réponse doit précéder la remise des offres (%(when)s).")
            % {"when": _when(tender_deadline)}
        )
    elif tender_deadline - deadline < safety_margin():
        check.warnings.append(
            _("Marge courte : %(hours)s h entre les réponses et la remise des offres (%(days)s jours conseillés).")
            % {
                "hours": int((tender_deadline - deadline).total_seconds() // 3600),
                "days": settings.INVITATION_SAFETY_MARGIN_DAYS,
            }
        )
    if questions_deadline is not None and now < questions_deadline < deadline:
        check.warnings.append(
            _(
                "La réponse tombe après la date limite des questions (%(when)s) : une question du partenaire "
                "ne pourra plus être posée à l'acheteur."
            )
            % {"when": _when(questions_deadline)}
        )
    return check


def default_deadline(tender: Tender) -> dt.datetime:
    """Before the questions cut-off when there is room, else the tender deadline less the margin; at noon
    (the noon before), at least a day from now."""
    now = timezone.now()
    if tender.tender_deadline is None:
        proposed = now + dt.timedelta(days=7)
    else:
        proposed = tender.tender_deadline - safety_margin()
        if tender.questions_deadline is not None:
            before_questions = tender.questions_deadline - dt.timedelta(days=1)
            if before_questions - now >= dt.timedelta(days=3):
                proposed = min(proposed, before_questions)
    earliest = now + dt.timedelta(days=1)
    proposed = max(proposed, earliest)
    # Noon on or before the proposed time: rounding up would eat into the margin or pass the questions cut-off.
    noon = timezone.localtime(proposed).replace(hour=12, minute=0, second=0, microsecond=0)
    if noon > proposed:
        noon -= dt.timedelta(days=1)
    return noon if noon >= earliest else proposed


# --- Moves -------------------------------------------------------------------------------------------------


def _move(invitation: Invitation, to: str, *, actor: Any, **changes: Any) -> Invitation:
    """Change the status if the table allows it and nobody moved it meanwhile (a conditional update)."""
    if to not in ALLOWED_MOVES[invitation.status]:
        raise InvitationRefused(
            _("Impossible de passer une invitation « %(old)s » à « %(new)s ».")
            % {"old": invitation.get_status_display(), "new": InvitationStatus(to).label}
        )
    now = timezone.now()
    if to in {InvitationStatus.ACCEPTED, InvitationStatus.DECLINED}:
        changes.setdefault("answered_at", now)
    if to not in LIVE_STATUSES:
        changes.setdefault("closed_at", now)
    if to == InvitationStatus.VIEWED:
        changes.setdefault("viewed_at", now)
    updated = Invitation.objects.filter(pk=invitation.pk, status=invitation.status, version=invitation.version).update(
        status=to, version=F("version") + 1, **changes
    )
    if not updated:
        raise InvitationRefused(_("Cette invitation vient de changer : rechargez la page."))
    old = invitation.status
    invitation.refresh_from_db()
    record_event(
        actor=actor,
        action=f"invitation.{to}",
        obj=invitation,
        tender=invitation.tender_id,
        package=invitation.package_id,
        firm=invitation.firm_id,
        previous=old,
    )
    return invitation


def _lock_package(package_id: int) -> WorkPackage:
    return WorkPackage.objects.select_for_update(of=("self",)).select_related("lot", "tender").get(pk=package_id)


def _locked_invitation(invitation_id: int) -> tuple[WorkPackage, Invitation]:
    """Lock the package first, then read the invitation: every writer takes the locks in that order."""
    package_id = Invitation.objects.filter(pk=invitation_id).values_list("package_id", flat=True).first()
    if package_id is None:
        raise InvitationRefused(_("Cette invitation n'existe pas."))
    package = _lock_package(package_id)
    # of=self: locking the joined tender and firm rows too would queue every answer of the tender on one row.
    invitations = Invitation.objects.select_for_update(of=("self",)).select_related("firm", "tender")
    return package, invitations.get(pk=invitation_id)


def _may_answer(actor: Any, invitation: Invitation) -> None:
    if not can_answer(actor, invitation):
        raise InvitationRefused(_("Vous ne pouvez pas répondre pour cette entreprise."))


def _check_version(invitation: Invitation, version: int | None) -> None:
    if version is not None and version != invitation.version:
        raise InvitationRefused(
            _("Cette invitation a changé depuis que vous l'avez ouverte (réponse déjà enregistrée ?) : rechargez-la.")
        )


def _check_answerable(invitation: Invitation) -> None:
    if invitation.tender.offer_frozen_at is not None:
        raise InvitationRefused(_("L'offre du groupement est figée : les prix ne peuvent plus changer."))
    if invitation.deadline <= timezone.now():
        raise InvitationRefused(
            _("La date limite de réponse (%(when)s) est passée.") % {"when": _when(invitation.deadline)}
        )


def priced_lines(package: WorkPackage) -> list[PricedLine]:
    rows = (
        Line.objects.filter(work_package=package)
        .order_by("lot_id", "position")
        .values_list("pk", "code", "designation", "quantity")
    )
    return [
        PricedLine(line_id=pk, label=(f"{code} " if code else "") + designation[:80], quantity=quantity)
        for pk, code, designation, quantity in rows
    ]


def mark_viewed(*, actor: Any, invitation: Invitation) -> Invitation:
    """The firm opened it: sent becomes viewed (once). Staff opening it changes nothing."""
    if (
        invitation.status != InvitationStatus.SENT
        or not getattr(actor, "pk", None)
        or not firms_for(actor, action="change").filter(pk=invitation.firm_id, memberships__user_id=actor.pk).exists()
    ):
        return invitation
    try:
        with transaction.atomic():
            return _move(invitation, InvitationStatus.VIEWED, actor=actor)
    except InvitationRefused:  # answered meanwhile: show it as it is now
        invitation.refresh_from_db()
        return invitation


@transaction.atomic
def accept_invitation(
    *,
    actor: Any,
    invitation_id: int,
    entries: Iterable[PriceEntry],
    version: int | None,
    note: str = "",
    team: str = "",
) -> Invitation:
    """Accept with a unit price for every line, or revise an accepted answer before the deadline.

    Exactly one acceptance per package: the package row is locked, the first answer supersedes the other
    open invitations, and a unique constraint stands behind it.
    """
    package, invitation = _locked_invitation(invitation_id)
    _may_answer(actor, invitation)
    # Before the version check: the loser of a race finds its invitation superseded (so changed) and must be
    # told why, not asked to reload.
    if invitation.status in {InvitationStatus.SUPERSEDED} or (
        invitation.status in OPEN_STATUSES
        and Invitation.objects.filter(package=package, status=InvitationStatus.ACCEPTED).exists()
    ):
        raise InvitationRefused(_("Ce lot de travaux a déjà été attribué à une autre entreprise."))
    _check_version(invitation, version)
    if invitation.status not in LIVE_STATUSES:
        raise InvitationRefused(
            _("Cette invitation est « %(status)s » : elle ne peut plus être acceptée.")
            % {"status": invitation.get_status_display()}
        )
    _check_answerable(invitation)
    lines = priced_lines(package)
    if not lines:
        raise InvitationRefused(_("Ce lot de travaux n'a aucune ligne à chiffrer."))
    check = check_prices(lines, entries)
    if not check.ok:
        raise InvitationRefused(_("Prix refusés : rien n'a été enregistré."), check.errors)
    answer = {"note": note.strip(), "team": team.strip(), "total": total_of(lines, check.prices)}
    revising = invitation.status == InvitationStatus.ACCEPTED
    try:
        with transaction.atomic():
            if revising:
                updated = Invitation.objects.filter(pk=invitation.pk, version=invitation.version).update(
                    version=F("version") + 1, answered_at=timezone.now(), **answer
                )
                if not updated:
                    raise InvitationRefused(_("Cette invitation vient de changer : rechargez la page."))
                invitation.refresh_from_db()
                record_event(
                    actor=actor,
                    action="invitation.revised",
                    obj=invitation,
                    tender=invitation.tender_id,
                    package=package.pk,
                    firm=invitation.firm_id,
                )
            else:
                invitation = _move(invitation, InvitationStatus.ACCEPTED, actor=actor, **answer)
            InvitationPrice.objects.filter(invitation=invitation).delete()
            InvitationPrice.objects.bulk_create(
                [InvitationPrice(invitation=invitation, line_id=pk, unit_price=p) for pk, p in check.prices.items()]
            )
    except IntegrityError:
        raise InvitationRefused(_("Ce lot de travaux a déjà été attribué à une autre entreprise.")) from None
    if not revising:
        for other in Invitation.objects.filter(package=package, status__in=OPEN_STATUSES).exclude(pk=invitation.pk):
            _move(other, InvitationStatus.SUPERSEDED, actor=None)
            _after_commit("mail_firm", other.pk, "superseded")
        _after_commit("mail_bid_manager", invitation.pk, "accepted")
    return invitation


@transaction.atomic
def decline_invitation(*, actor: Any, invitation_id: int, reason: str, version: int | None) -> Invitation:
    """Decline with a reason; the backup, then the next ranked candidate, is invited."""
    package, invitation = _locked_invitation(invitation_id)
    _may_answer(actor, invitation)
    _check_version(invitation, version)
    reason = reason.strip()
    if not reason:
        raise InvitationRefused(_("Indiquez le motif du refus."))
    if invitation.status not in OPEN_STATUSES:
        raise InvitationRefused(
            _("Cette invitation est « %(status)s » : elle ne peut plus être déclinée.")
            % {"status": invitation.get_status_display()}
        )
    if invitation.tender.offer_frozen_at is not None:
        raise InvitationRefused(_("L'offre du groupement est figée : les prix ne peuvent plus changer."))
    invitation = _move(invitation, InvitationStatus.DECLINED, actor=actor, decline_reason=reason[:2000])
    successor = invite_next(actor=None, package=package, after=invitation)
    _after_commit("mail_bid_manager", invitation.pk, "declined", successor.pk if successor else None)
    return invitation


@transaction.atomic
def withdraw_invitation(*, actor: Any, invitation_id: int, invite_successor: bool = False) -> Invitation:
    """The bid manager takes the package back from the firm (open or accepted), optionally inviting the next."""
    package, invitation = _locked_invitation(invitation_id)
    if invitation.tender.offer_frozen_at is not None:
        raise InvitationRefused(_("L'offre du groupement est figée : les prix ne peuvent plus changer."))
    invitation = _move(invitation, InvitationStatus.WITHDRAWN, actor=actor)
    _after_commit("mail_firm", invitation.pk, "withdrawn")
    if invite_successor:
        invite_next(actor=actor, package=package, after=invitation)
    return invitation


# --- Sending, and who comes next ---------------------------------------------------------------------------


Chain = list[tuple[PartnerFirm, str, int | None]]


def candidate_chains(tender: Tender, packages: Sequence[WorkPackage]) -> dict[int, Chain]:
    """Who to ask for each package, in order: the assigned firm, its backup, then the ranked candidates of the
    latest match; firms excluded from the tender or already asked for the package are left out.

    Five queries for any number of packages.
    """
    ids = [package.pk for package in packages]
    proposed: dict[int, Chain] = {pk: [] for pk in ids}
    for assignment in Assignment.objects.filter(package_id__in=ids).select_related("lead", "backup"):
        if assignment.lead is not None:
            proposed[assignment.package_id].append((assignment.lead, InvitationSource.LEAD, None))
        if assignment.backup is not None:
            proposed[assignment.package_id].append((assignment.backup, InvitationSource.BACKUP, None))
    run = latest_result(tender)
    if run is not None:
        candidates = MatchCandidate.objects.filter(run=run, package_id__in=ids).select_related("firm")
        for candidate in candidates.order_by("package_id", "rank"):
            proposed[candidate.package_id].append((candidate.firm, InvitationSource.CANDIDATE, candidate.rank))
    excluded = set(TenderExclusion.objects.filter(tender=tender).values_list("firm_id", flat=True))
    asked: dict[int, set[int]] = defaultdict(set)
    for package_id, firm_id in Invitation.objects.filter(package_id__in=ids).values_list("package_id", "firm_id"):
        asked[package_id].add(firm_id)
    chains: dict[int, Chain] = {}
    for package_id, chain in proposed.items():
        left_out = excluded | asked[package_id]
        chains[package_id] = []
        for firm, source, rank in chain:
            if firm.pk not in left_out:
                left_out.add(firm.pk)
                chains[package_id].append((firm, source, rank))
    return chains


def _create(
    *,
    actor: Any,
    package: WorkPackage,
    firm: PartnerFirm,
    source: str,
    rank: int | None,
    deadline: dt.datetime,
    replaces: Invitation | None = None,
) -> Invitation:
    invitation = Invitation.objects.create(
        tender_id=package.tender_id,
        package=package,
        firm=firm,
        source=source,
        candidate_rank=rank,
        deadline=deadline,
        sent_at=timezone.now(),
        currency=package.lot.currency or package.tender.currency or "EUR",
        replaces=replaces,
        created_by=actor if getattr(actor, "pk", None) else (replaces.created_by if replaces else None),
    )
    record_event(
        actor=actor,
        action="invitation.sent",
        obj=invitation,
        tender=package.tender_id,
        package=package.pk,
        firm=firm.pk,
        source=source,
        deadline=deadline.isoformat(),
    )
    _after_commit("mail_firm", invitation.pk, "invited")
    return invitation


def _successor_deadline(package: WorkPackage, after: Invitation) -> dt.datetime | None:
    """The same deadline if the next firm still has time, else a fresh delay kept before the tender deadline."""
    now = timezone.now()
    wanted = max(after.deadline, now + dt.timedelta(hours=settings.INVITATION_FALLBACK_HOURS))
    limit = tender_deadline_of(package)
    if limit is not None and wanted >= limit:
        wanted = limit - dt.timedelta(hours=1)
    return wanted if wanted - now >= dt.timedelta(hours=settings.INVITATION_MIN_RESPONSE_HOURS) else None


def invite_next(*, actor: Any, package: WorkPackage, after: Invitation) -> Invitation | None:
    """After a decline, an expiry or a withdrawal: invite the next firm of the chain, unless the package is
    already accepted or still being answered by someone."""
    if Invitation.objects.filter(package=package, status__in=LIVE_STATUSES).exists():
        return None
    if package.tender.offer_frozen_at is not None:
        return None
    chain = candidate_chains(package.tender, [package])[package.pk]
    deadline = _successor_deadline(package, after)
    if not chain or deadline is None:
        record_event(
            actor=actor,
            action="invitation.no_successor",
            obj=after,
            tender=package.tender_id,
            package=package.pk,
            reason="no candidate left" if not chain else "no time left",
        )
        return None
    firm, source, rank = chain[0]
    return _create(actor=actor, package=package, firm=firm, source=source, rank=rank, deadline=deadline, replaces=after)


@dataclass
class SendSummary:
    sent: list[Invitation] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@transaction.atomic
def send_invitations(
    *, actor: Any, tender: Tender, deadline: dt.datetime, packages: Sequence[WorkPackage] | None = None
) -> SendSummary:
    """One invitation per package (all of the tender's, or those given) to the first firm of its chain.

    Packages already accepted or awaiting an answer are left as they are. A deadline that breaks the
    rules refuses the whole sending; a short margin only warns.
    """
    wanted = WorkPackage.objects.select_for_update(of=("self",)).filter(tender=tender)
    if packages is not None:
        wanted = wanted.filter(pk__in=[p.pk for p in packages])
    chosen = list(wanted.select_related("lot", "tender").order_by("lot__position", "position", "id"))
    # Read after the packages are locked: a freeze that committed meanwhile is seen.
    if Tender.objects.filter(pk=tender.pk, offer_frozen_at__isnull=False).exists():
        raise InvitationRefused(_("L'offre du groupement est figée : plus aucune invitation ne peut partir."))
    if not chosen:
        raise InvitationRefused(_("Aucun lot de travaux à envoyer : découpez d'abord l'appel d'offres."))
    summary = SendSummary()
    checked: dict[tuple[Any, Any], DeadlineCheck] = {}
    for package in chosen:
        key = (tender_deadline_of(package), questions_deadline_of(package))
        if key not in checked:
            checked[key] = check_deadline(tender_deadline=key[0], questions_deadline=key[1], deadline=deadline)
    errors = sorted({error for check in checked.values() for error in check.errors})
    if errors:
        raise InvitationRefused(" ".join(errors), errors)
    summary.warnings = sorted({warning for check in checked.values() for warning in check.warnings})
    live = set(
        Invitation.objects.filter(package__in=chosen, status__in=LIVE_STATUSES).values_list("package_id", flat=True)
    )
    chains = candidate_chains(tender, [package for package in chosen if package.pk not in live])
    for package in chosen:
        if package.pk in live:
            summary.skipped.append(_("%(package)s : déjà envoyée ou acceptée") % {"package": package.name})
            continue
        chain = chains[package.pk]
        if not chain:
            summary.skipped.append(
                _("%(package)s : aucune entreprise à inviter (lancez le rapprochement)") % {"package": package.name}
            )
            continue
        firm, source, rank = chain[0]
        summary.sent.append(
            _create(actor=actor, package=package, firm=firm, source=source, rank=rank, deadline=deadline)
        )
    return summary


@transaction.atomic
def invite_firm(*, actor: Any, package: WorkPackage, firm: PartnerFirm, deadline: dt.datetime) -> Invitation:
    """Invite one more firm for a package, alongside any open invitation: the first to accept wins."""
    package = _lock_package(package.pk)
    if package.tender.offer_frozen_at is not None:
        raise InvitationRefused(_("L'offre du groupement est figée : plus aucune invitation ne peut partir."))
    check = check_deadline(
        tender_deadline=tender_deadline_of(package),
        questions_deadline=questions_deadline_of(package),
        deadline=deadline,
    )
    if check.errors:
        raise InvitationRefused(" ".join(check.errors), check.errors)
    if Invitation.objects.filter(package=package, status=InvitationStatus.ACCEPTED).exists():
        raise InvitationRefused(_("Ce lot de travaux est déjà accepté : retirez d'abord l'acceptation."))
    if TenderExclusion.objects.filter(tender_id=package.tender_id, firm=firm).exists():
        raise InvitationRefused(_("Cette entreprise est écartée de cet appel d'offres."))
    if Invitation.objects.filter(package=package, firm=firm, status__in=LIVE_STATUSES).exists():
        raise InvitationRefused(_("Cette entreprise a déjà une invitation en cours pour ce lot de travaux."))
    return _create(
        actor=actor, package=package, firm=firm, source=InvitationSource.MANUAL, rank=None, deadline=deadline
    )


# --- The periodic sweep ------------------------------------------------------------------------------------


def expire_due() -> int:
    """Expire every open invitation past its deadline and invite the next firm; one transaction each."""
    due = list(
        Invitation.objects.filter(status__in=OPEN_STATUSES, deadline__lte=timezone.now()).values_list("pk", flat=True)
    )
    expired = 0
    for invitation_id in due:
        with transaction.atomic():
            package, invitation = _locked_invitation(invitation_id)
            if invitation.status not in OPEN_STATUSES or invitation.deadline > timezone.now():
                continue
            invitation = _move(invitation, InvitationStatus.EXPIRED, actor=None)
            successor = invite_next(actor=None, package=package, after=invitation)
            _after_commit("mail_bid_manager", invitation.pk, "expired", successor.pk if successor else None)
            expired += 1
    return expired


def send_reminders() -> int:
    """Remind each open invitation once, when its deadline is near and it is still unanswered."""
    now = timezone.now()
    soon = now + dt.timedelta(hours=settings.INVITATION_REMINDER_HOURS)
    reminded = 0
    for invitation_id in Invitation.objects.filter(
        status__in=OPEN_STATUSES, reminded_at__isnull=True, deadline__gt=now, deadline__lte=soon
    ).values_list("pk", flat=True):
        with transaction.atomic():
            if Invitation.objects.filter(pk=invitation_id, reminded_at__isnull=True).update(reminded_at=now):
                record_event(actor=None, action="invitation.reminded", obj=Invitation(pk=invitation_id))
                _after_commit("mail_firm", invitation_id, "reminder")
                reminded += 1
    return reminded


def sweep_invitations() -> dict[str, int]:
    """What the periodic task runs: counts only, nothing confidential in a task result."""
    return {"expired": expire_due(), "reminded": send_reminders()}


# --- After commit ------------------------------------------------------------------------------------------


def _after_commit(task_name: str, *args: Any) -> None:
    """Queue an e-mail task once the transaction commits; a broker outage is logged, never fatal."""

    def enqueue() -> None:
        from .. import tasks  # the task module imports this one

        try:
            getattr(tasks, task_name).delay(*args)
        except Exception:
            logger.exception("could not queue %s%s", task_name, args)

    transaction.on_commit(enqueue)
