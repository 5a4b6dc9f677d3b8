"""Matching runs and the bid manager's corrections: candidates with their reasons, the global assignment,
adjusted assignments and exclusions."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from consortium.bulk import bulk_insert
from consortium.services import record_event
from partners.models import PartnerFirm

from ..matching.assignment import Solution, solve_assignment
from ..matching.candidates import (
    STORED_CANDIDATES,
    Candidate,
    MatchInput,
    build_problem,
    firm_capacity,
    load_match_input,
    rank_candidates,
    unassigned_reason,
)
from ..models import (
    Assignment,
    AssignmentStatus,
    ExclusionKind,
    JobStatus,
    MatchCandidate,
    MatchRun,
    Tender,
    TenderExclusion,
    WorkPackage,
)
from . import jobs

logger = logging.getLogger(__name__)

STAGES = ("splitting", "candidates", "scoring", "solving", "saving")
STAGE_LABELS = {
    "splitting": gettext_lazy("découpage en lots de travaux"),
    "candidates": gettext_lazy("recherche des candidates"),
    "scoring": gettext_lazy("calcul des scores et de leurs explications"),
    "solving": gettext_lazy("attribution globale"),
    "saving": gettext_lazy("enregistrement"),
    jobs.UNREACHABLE: gettext_lazy("file de tâches injoignable : le calcul démarrera à son retour"),
}


class MatchRefused(Exception):
    """A correction that cannot be made as asked; the message says why, in the user's language."""


@dataclass
class Adjusted:
    assignment: Assignment
    warnings: list[str] = field(default_factory=list)


@transaction.atomic
def create_match_run(*, actor: Any, tender: Tender) -> MatchRun:
    """Queue a match of the tender once this transaction commits."""
    run = MatchRun.objects.create(tender=tender, created_by=actor)
    record_event(actor=actor, action="match.queued", obj=run, tender=tender.pk)
    transaction.on_commit(lambda: enqueue_match(run.pk))
    return run


def enqueue_match(run_id: int) -> bool:
    """Send the run to the workers; False when the broker cannot be reached in time (the run says so)."""
    from ..tasks import run_match as task  # the task module imports this one

    try:
        task.delay(run_id)
    except Exception:  # the broker is down: say so on the run instead of failing the request
        logger.exception("could not queue match run %s", run_id)
        MatchRun.objects.filter(pk=run_id, status=JobStatus.QUEUED).update(stage=jobs.UNREACHABLE)
        return False
    return True


def run_match_job(*, run_id: int) -> MatchRun | None:
    """Run one queued match. A finished run, or one alive in another worker, is left alone; a failure ends the
    run with its error; the claim past MAX_ATTEMPTS fails it (services/jobs.py)."""
    attempt = jobs.claim(jobs.MATCHES, run_id, started_at=timezone.now())
    run = MatchRun.objects.select_related("tender", "created_by").filter(pk=run_id).first()
    if attempt is None or run is None:
        return run
    if attempt > jobs.MAX_ATTEMPTS:
        jobs.give_up(jobs.MATCHES, run, attempt=attempt)
        run.refresh_from_db()
        return run
    try:
        return run_match(actor=run.created_by, tender=run.tender, run=run)
    except jobs.Superseded:  # taken back while this worker was silent: its work was rolled back
        logger.warning("match run %s, attempt %s, was taken over by another run", run_id, attempt)
        return MatchRun.objects.get(pk=run_id)
    except Exception:  # already recorded on the run by run_match
        logger.exception("match run %s failed", run_id)
        return MatchRun.objects.get(pk=run_id)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Scoring builds some 10^5 small objects without cycles, kept until saved: the cyclic garbage collector
    would walk them all again and again (3 times slower on the benchmark)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _progress(run: MatchRun) -> Callable[[str], None]:
    def report(stage: str) -> None:
        MatchRun.objects.filter(pk=run.pk).update(
            stage=stage, progress_done=STAGES.index(stage), progress_total=len(STAGES)
        )

    return report


def run_match(*, actor: Any, tender: Tender, run: MatchRun | None = None) -> MatchRun:
    """Split the tender if it has no work packages, score every candidate, solve the assignment, store it all.

    The reading and the computing happen outside any transaction (the page follows the stages); the
    writing happens in one. On failure the run ends failed with its error, and the error is raised again.
    """
    if run is None:
        now = timezone.now()
        run = MatchRun.objects.create(
            tender=tender, created_by=actor, status=JobStatus.RUNNING, started_at=now, attempts=1, heartbeat_at=now
        )
    with jobs.heartbeat(jobs.MATCHES, run.pk, attempt=run.attempts):
        _compute(actor=actor, tender=tender, run=run)
    run.refresh_from_db()
    return run


def _compute(*, actor: Any, tender: Tender, run: MatchRun) -> None:
    report = _progress(run)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        report("splitting")
        if not WorkPackage.objects.filter(tender=tender).exists():
            from .packages import split_tender  # written alongside; imported here to keep the split optional

            split_tender(actor=actor, tender=tender)
        timings["split_s"] = time.perf_counter() - started
        report("candidates")
        data = load_match_input(tender)
        timings["load_s"] = data.seconds
        with _collector_paused():
            report("scoring")
            mark = time.perf_counter()
            ranked = rank_candidates(data)
            timings["score_s"] = time.perf_counter() - mark
            report("solving")
            problem = build_problem(data, ranked)
            solution = solve_assignment(problem)
            timings["solve_s"] = solution.seconds
            report("saving")
            _save(actor=actor, run=run, data=data, ranked=ranked, solution=solution, timings=timings)
    except jobs.Superseded:
        raise
    except Exception as error:
        message = (
            _("Les données ont changé pendant le calcul (lots de travaux ou entreprises supprimés) : relancez.")
            if isinstance(error, IntegrityError)
            else str(error) or error.__class__.__name__
        )
        _fail(actor=actor, run=run, message=message)
        raise


def _fail(*, actor: Any, run: MatchRun, message: str) -> None:
    """End the run with its error, if this worker still holds it."""
    failed = jobs.owned(jobs.MATCHES, run.pk, run.attempts).update(
        status=JobStatus.FAILED,
        finished_at=timezone.now(),
        stage="",
        errors=[{"where": _("rapprochement"), "message": message[:1000]}],
    )
    if failed:
        record_event(actor=actor, action="match.failed", obj=run, error=message[:200])


@transaction.atomic
def _save(
    *,
    actor: Any,
    run: MatchRun,
    data: MatchInput,
    ranked: dict[int, list[Candidate]],
    solution: Solution,
    timings: dict[str, float],
) -> None:
    started = time.perf_counter()
    tender = data.tender
    Tender.objects.select_for_update().filter(pk=tender.pk).first()  # one writer per tender at a time
    # Adjustments made while this run computed are kept too, when their lead is still a candidate.
    candidates = {package_id: {c.firm_id for c in items} for package_id, items in ranked.items()}
    kept = {
        package_id
        for package_id, lead_id in Assignment.objects.filter(
            package__tender=tender, status=AssignmentStatus.ADJUSTED
        ).values_list("package_id", "lead_id")
        if lead_id in candidates.get(package_id, ())
    }
    MatchCandidate.objects.filter(run__tender=tender).delete()
    stored = [
        (
            run.pk,
            candidate.package_id,
            candidate.firm_id,
            rank,
            str(candidate.score.value),
            str(candidate.score.days_needed),
            "[" + ", ".join(component.as_json() for component in candidate.score.components) + "]",
        )
        for items in ranked.values()
        for rank, candidate in enumerate(items[:STORED_CANDIDATES], start=1)
    ]
    insert_candidates(stored)
    Assignment.objects.filter(package__tender=tender).exclude(package_id__in=kept).delete()
    Assignment.objects.filter(package_id__in=kept).update(run=run)
    days = {(c.package_id, c.firm_id): c.score.days_needed for items in ranked.values() for c in items}
    proposals = []
    for package in data.packages:
        if package.id in kept:
            continue
        lead = solution.leads.get(package.id)
        proposals.append(
            Assignment(
                package_id=package.id,
                run=run,
                lead_id=lead,
                backup_id=solution.backups.get(package.id),
                lead_days=days[(package.id, lead)] if lead is not None else None,
                status=AssignmentStatus.PROPOSED,
                unassigned_reason="" if lead is not None else unassigned_reason(data, package)[:500],
                updated_by=actor if getattr(actor, "pk", None) else None,
            )
        )
    Assignment.objects.bulk_create(proposals, batch_size=2000)
    shown = {row[2] for row in stored}
    capacity = firm_capacity(data)
    run.status = JobStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.stage = ""
    run.progress_done = run.progress_total = len(STAGES)
    run.counts = {
        "packages": len(data.packages),
        "candidates": len(stored),
        "firms": len(data.firms),
        "assigned": solution.count + len(kept),
        "unassigned": len(data.packages) - solution.count - len(kept),
        "kept_adjustments": len(kept),
        "replaced_adjustments": data.replaced_adjustments,
        "excluded": len(data.excluded),
    }
    run.solver = {
        **solution.as_json(),
        **{key: round(value, 3) for key, value in timings.items()},
        "save_s": round(time.perf_counter() - started, 3),
        "period": data.span.label,
        "free_days": {str(firm_id): float(capacity.get(firm_id, 0)) for firm_id in sorted(shown)},
    }
    # Only while this worker holds the run: else everything written above is rolled back.
    finished = ("status", "finished_at", "stage", "progress_done", "progress_total", "counts", "solver")
    jobs.still_owned(jobs.MATCHES, run.pk, run.attempts, **{name: getattr(run, name) for name in finished})
    record_event(
        actor=actor,
        action="match.succeeded",
        obj=run,
        tender=tender.pk,
        assigned=run.counts["assigned"],
        unassigned=run.counts["unassigned"],
    )


CANDIDATE_COLUMNS = ("run_id", "package_id", "firm_id", "rank", "score", "days_needed", "components")
CandidateRow = tuple[int, int, int, int, str, str, str]


def insert_candidates(rows: list[CandidateRow]) -> None:
    """Write candidate rows (values in CANDIDATE_COLUMNS order; decimals as text, components as JSON text)
    through the bulk path: `bulk_create` costs several times more here (60,000 rows on the benchmark)."""
    bulk_insert(MatchCandidate, CANDIDATE_COLUMNS, rows)


def _latest_run(tender: Tender) -> MatchRun | None:
    return MatchRun.objects.filter(tender=tender, status=JobStatus.SUCCEEDED).order_by("-created_at", "-id").first()


def _excluded(tender: Tender, firm: PartnerFirm) -> TenderExclusion | None:
    return TenderExclusion.objects.filter(tender=tender, firm=firm).first()


def _days_for(package: WorkPackage, firm: PartnerFirm, run: MatchRun | None) -> Decimal:
    candidate = MatchCandidate.objects.filter(run=run, package=package, firm=firm).first() if run else None
    if candidate is not None:
        return candidate.days_needed
    if package.estimated_days:
        return package.estimated_days
    if package.estimated_value and firm.daily_rate:
        halves = (package.estimated_value * 2 / firm.daily_rate).to_integral_value(rounding=ROUND_CEILING)
        return max(Decimal("0.5"), halves / 2)
    return Decimal(max(1, package.line_count))


@transaction.atomic
def adjust_assignment(
    *, actor: Any, package: WorkPackage, lead: PartnerFirm, backup: PartnerFirm | None = None
) -> Adjusted:
    """A person chooses the lead (and backup) of a package; kept by later runs while the lead stays a candidate."""
    tender = package.tender
    Tender.objects.select_for_update().filter(pk=tender.pk).first()
    if backup is not None and backup.pk == lead.pk:
        raise MatchRefused(_("L'entreprise de secours doit être différente de l'entreprise retenue."))
    for firm in filter(None, (lead, backup)):
        exclusion = _excluded(tender, firm)
        if exclusion is not None:
            raise MatchRefused(
                _("%(firm)s est écartée de cet appel d'offres (%(kind)s%(reason)s).")
                % {
                    "firm": firm.name,
                    "kind": exclusion.get_kind_display(),
                    "reason": f" : {exclusion.reason}" if exclusion.reason else "",
                }
            )
    run = _latest_run(tender)
    days = _days_for(package, lead, run)
    warnings = []
    if run is not None and not MatchCandidate.objects.filter(run=run, package=package, firm=lead).exists():
        warnings.append(
            _("%(firm)s ne figure pas parmi les candidates classées de ce lot de travaux.") % {"firm": lead.name}
        )
    free = (run.solver.get("free_days") or {}).get(str(lead.pk)) if run is not None else None
    if free is not None:
        booked = sum(
            (
                row
                for row in Assignment.objects.filter(package__tender=tender, lead=lead)
                .exclude(package=package)
                .values_list("lead_days", flat=True)
                if row is not None
            ),
            Decimal(0),
        )
        if booked + days > Decimal(str(free)):
            warnings.append(
                _("%(firm)s dépasse sa capacité : %(booked)s j retenus pour %(free)s j libres.")
                % {"firm": lead.name, "booked": booked + days, "free": free}
            )
    assignment, _created = Assignment.objects.update_or_create(
        package=package,
        defaults={
            "lead": lead,
            "backup": backup,
            "lead_days": days,
            "status": AssignmentStatus.ADJUSTED,
            "unassigned_reason": "",
            "updated_by": actor,
            "run": run,
        },
    )
    record_event(
        actor=actor,
        action="assignment.adjusted",
        obj=assignment,
        package=package.pk,
        lead=lead.pk,
        backup=backup.pk if backup else None,
        over_capacity=bool(warnings),
    )
    return Adjusted(assignment, warnings)


@transaction.atomic
def exclude_firm(
    *, actor: Any, tender: Tender, firm: PartnerFirm, kind: str = ExclusionKind.MANUAL, reason: str = ""
) -> TenderExclusion:
    """Set a firm aside for this tender; the packages it leads lose their lead, those it backs their backup."""
    if kind not in ExclusionKind.values:
        raise MatchRefused(_("Motif d'exclusion inconnu : %(kind)s") % {"kind": kind})
    Tender.objects.select_for_update().filter(pk=tender.pk).first()
    exclusion, created = TenderExclusion.objects.update_or_create(
        tender=tender, firm=firm, defaults={"kind": kind, "reason": reason.strip()[:500], "created_by": actor}
    )
    cleared = Assignment.objects.filter(package__tender=tender, lead=firm).update(
        lead=None,
        lead_days=None,
        status=AssignmentStatus.PROPOSED,
        unassigned_reason=_("%(firm)s a été écartée : relancez le rapprochement ou choisissez une autre entreprise.")
        % {"firm": firm.name},
        updated_by=actor,
    )
    Assignment.objects.filter(package__tender=tender, backup=firm).update(backup=None)
    record_event(
        actor=actor,
        action="exclusion.added" if created else "exclusion.changed",
        obj=exclusion,
        tender=tender.pk,
        firm=firm.pk,
        kind=kind,
        cleared_assignments=cleared,
    )
    return exclusion


@transaction.atomic
def include_firm(*, actor: Any, tender: Tender, firm: PartnerFirm) -> bool:
    """Take a firm back into the tender's matching; False when it was not excluded."""
    exclusion = _excluded(tender, firm)
    if exclusion is None:
        return False
    record_event(actor=actor, action="exclusion.removed", obj=exclusion, tender=tender.pk, firm=firm.pk)
    exclusion.delete()
    return True
