"""The inputs of a match, read in a few queries whatever the size: packages, candidate firms and their facts.

Nothing here writes. `load_match_input` reads; `rank_candidates` scores every candidate pair; `build_problem`
turns the ranking into the assignment problem.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from consortium.regions import Region, region_of_nuts
from partners.models import Attestation, CapacityMonth, FirmSkill, LevelRate, PartnerFirm, Reference, Skill

from ..models import Assignment, AssignmentStatus, Lot, PackageSkill, Tender, TenderExclusion, WorkPackage
from . import scoring
from .assignment import Problem
from .scoring import Context, FirmFacts, FirmSkillFacts, PackageFacts, Period, RequiredSkill, Score, Scorer

SOLVER_CANDIDATES = 50  # per package, the best-scored firms the assignment may choose from
STORED_CANDIDATES = 20  # per package, the candidates kept and shown
PERIODS_PER_QUERY = 20
DEFAULT_MONTHS = 12
CENT = Decimal("0.01")
MONTHS_PER_UNIT = {"MONTH": 1, "YEAR": 12}


@dataclass(frozen=True)
class Excluded:
    firm_id: int
    name: str
    kind: str
    reason: str


@dataclass(frozen=True)
class KeptAssignment:
    """A person's adjustment still valid: its lead is still a candidate, so the run leaves it as it is."""

    package_id: int
    lead_id: int
    lead_days: Decimal


@dataclass
class MatchInput:
    tender: Tender
    packages: list[PackageFacts]
    lot_of: dict[int, int]  # package -> lot id
    firms: dict[int, FirmFacts]
    candidates: dict[int, list[int]]  # package -> firm ids able to take it, not excluded
    excluded_hits: dict[int, int]  # package -> excluded firms that would have been candidates
    excluded: list[Excluded]
    free_days: dict[Period, dict[int, Decimal]]  # net of the firm's leads on other tenders
    span: Period  # every lot's period: the firm capacity the assignment shares out
    context: Context
    kept: dict[int, KeptAssignment] = field(default_factory=dict)
    replaced_adjustments: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Candidate:
    package_id: int
    firm_id: int
    score: Score


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def lot_period(lot: Mapping[str, Any], fallback_start: date) -> Period:
    """The contract period of a lot: its dates, else its duration, else 12 months after the deadline."""
    start = _iso_date(lot["start_date"])
    first = date(start.year, start.month, 1) if start else scoring.add_months(fallback_start, 1)
    end = _iso_date(lot["end_date"])
    if end and end >= first:
        months = (end.year - first.year) * 12 + end.month - first.month + 1
        return Period(first, min(months, 120))
    value, unit = lot["duration_value"], (lot["duration_unit"] or "").upper()
    if value and unit in MONTHS_PER_UNIT:
        return Period(first, max(1, min(value * MONTHS_PER_UNIT[unit], 120)))
    if value and unit in {"DAY", "WEEK"}:
        days = value * (7 if unit == "WEEK" else 1)
        return Period(first, max(1, min(-(-days // 30), 120)))
    return Period(first, DEFAULT_MONTHS)


def _deadline_date(tender: Tender, lots: Iterable[Mapping[str, Any]], today: date) -> date:
    deadlines = [lot["tender_deadline"] for lot in lots if lot["tender_deadline"]]
    moment = tender.tender_deadline or (min(deadlines) if deadlines else None)
    return timezone.localdate(moment) if moment else today


def _packages(tender: Tender, deadline: date) -> tuple[list[PackageFacts], dict[int, int]]:
    lots = {
        row["id"]: row
        for row in Lot.objects.filter(tender=tender).values(
            "id", "main_cpv", "additional_cpv", "estimated_value", "currency", "start_date", "end_date",
            "duration_value", "duration_unit", "tender_deadline",
        )
    }  # fmt: skip
    rows = list(
        WorkPackage.objects.filter(tender=tender)
        .order_by("lot__position", "position", "id")
        .values_list("id", "lot_id", "name", "cpv_codes", "line_count", "estimated_value", "estimated_days")
    )
    skills: dict[int, list[RequiredSkill]] = defaultdict(list)
    for package_id, skill_id, weight, name in (
        PackageSkill.objects.filter(package__tender=tender)
        .order_by("package_id", "-weight", "skill__name")
        .values_list("package_id", "skill_id", "weight", "skill__name")
    ):
        skills[package_id].append(RequiredSkill(skill_id, name, weight or 1))
    lines_per_lot: dict[int, int] = defaultdict(int)
    packages_per_lot: dict[int, int] = defaultdict(int)
    for _pk, lot_id, _name, _cpv, line_count, _value, _days in rows:
        lines_per_lot[lot_id] += line_count
        packages_per_lot[lot_id] += 1
    periods: dict[int, Period] = {}
    packages = []
    for pk, lot_id, name, cpv_codes, line_count, value, days in rows:
        lot = lots[lot_id]
        lot_cpv = [code for code in [lot["main_cpv"], *(lot["additional_cpv"] or [])] if code]
        budget, share = value, False
        if budget is None and lot["estimated_value"] is not None:
            share = True
            if lines_per_lot[lot_id]:
                budget = lot["estimated_value"] * line_count / lines_per_lot[lot_id]
            else:
                budget = lot["estimated_value"] / packages_per_lot[lot_id]
            budget = budget.quantize(CENT)
        if lot_id not in periods:
            periods[lot_id] = lot_period(lot, deadline)
        packages.append(
            PackageFacts(
                id=pk,
                name=name,
                skills=tuple(skills.get(pk, ())),
                cpv_codes=tuple(dict.fromkeys(code for code in (cpv_codes or lot_cpv or tender.cpv_codes) if code)),
                line_count=line_count,
                estimated_days=days,
                budget=budget,
                budget_is_share=share,
                currency=lot["currency"] or tender.currency or "EUR",
                period=periods[lot_id],
            )
        )
    return packages, {pk: lot_id for pk, lot_id, *_rest in rows}


def _firm_scope(tender: Tender, packages: list[PackageFacts]) -> QuerySet[Any]:
    """The ids of the firms worth reading: those holding a required skill (or every firm for CPV-only packages)."""
    if any(not package.skills for package in packages):
        return PartnerFirm.objects.values("id")
    required = PackageSkill.objects.filter(package__tender=tender).values("skill_id")
    return FirmSkill.objects.filter(skill_id__in=required).values("firm_id")


def _firms(scope: QuerySet[Any], reference_date: date) -> dict[int, FirmFacts]:
    skill_cpv = {pk: tuple(codes or ()) for pk, codes in Skill.objects.values_list("id", "cpv_codes")}
    skills: dict[int, dict[int, FirmSkillFacts]] = defaultdict(dict)
    cpv: dict[int, set[str]] = defaultdict(set)
    for firm_id, skill_id, level, evidence, rate in FirmSkill.objects.filter(firm_id__in=scope).values_list(
        "firm_id", "skill_id", "level", "evidence_url", "daily_rate"
    ):
        skills[firm_id][skill_id] = FirmSkillFacts(level, bool(evidence), rate)
        cpv[firm_id].update(skill_cpv.get(skill_id, ()))
    level_rates: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for firm_id, level, rate in LevelRate.objects.filter(firm_id__in=scope).values_list(
        "firm_id", "level", "daily_rate"
    ):
        level_rates[firm_id][level] = rate
    references: dict[int, list[tuple[str, ...]]] = defaultdict(list)
    for firm_id, codes in Reference.objects.filter(firm_id__in=scope).values_list("firm_id", "cpv_codes"):
        codes = tuple(str(code) for code in codes or ())
        references[firm_id].append(codes)
        cpv[firm_id].update(codes)
    attestations: dict[int, set[str]] = defaultdict(set)
    for firm_id, kind in Attestation.objects.filter(firm_id__in=scope, valid_until__gte=reference_date).values_list(
        "firm_id", "kind"
    ):
        attestations[firm_id].add(kind)
    return {
        pk: FirmFacts(
            id=pk,
            name=name,
            region=region,
            daily_rate=rate,
            skills=skills.get(pk, {}),
            level_rates=level_rates.get(pk, {}),
            cpv_codes=frozenset(cpv.get(pk, ())),
            references=tuple(references.get(pk, ())),
            valid_attestations=frozenset(attestations.get(pk, ())),
        )
        for pk, name, region, rate in PartnerFirm.objects.filter(id__in=scope).values_list(
            "id", "name", "region", "daily_rate"
        )
    }


def _free_days(tender: Tender, scope: QuerySet[Any], periods: list[Period]) -> dict[Period, dict[int, Decimal]]:
    """Each firm's declared days in each period, minus its leads on other tenders: a few grouped queries."""
    committed = dict(
        Assignment.objects.filter(lead_id__in=scope, lead_days__isnull=False)
        .exclude(package__tender=tender)
        .order_by()
        .values("lead_id")
        .annotate(days=Sum("lead_days"))
        .values_list("lead_id", "days")
    )
    free: dict[Period, dict[int, Decimal]] = {}
    for first in range(0, len(periods), PERIODS_PER_QUERY):
        chunk = periods[first : first + PERIODS_PER_QUERY]
        sums = {
            f"p{n}": Sum("days", filter=Q(month__gte=period.start, month__lt=period.end))
            for n, period in enumerate(chunk)
        }
        rows = (
            CapacityMonth.objects.filter(
                firm_id__in=scope, month__gte=min(p.start for p in chunk), month__lt=max(p.end for p in chunk)
            )
            .order_by()
            .values("firm_id")
            .annotate(**sums)
        )
        for period in chunk:
            free[period] = {}
        for row in rows:
            sums_of_firm: dict[str, Any] = dict(row)
            firm_id = sums_of_firm["firm_id"]
            for n, period in enumerate(chunk):
                free[period][firm_id] = (sums_of_firm[f"p{n}"] or Decimal(0)) - committed.get(firm_id, 0)
    for period in periods:  # firms that declared nothing in the period still carry their commitments
        for firm_id, days in committed.items():
            free[period].setdefault(firm_id, -days)
    return free


def _context(tender: Tender, reference_date: date) -> Context:
    names = dict(Region.choices)
    nuts = next((code for code in tender.buyers.values_list("nuts", flat=True) if code), "")
    region = region_of_nuts(nuts) if nuts else None
    return Context(
        buyer_region=region,
        buyer_region_name=str(names.get(region, "")) if region else "",
        attestation_date=reference_date,
        region_names={code: str(label) for code, label in names.items()},
    )


def _candidate_firms(
    packages: list[PackageFacts], firms: dict[int, FirmFacts], excluded: set[int]
) -> tuple[dict[int, list[int]], dict[int, int]]:
    by_skill: dict[int, list[int]] = defaultdict(list)
    for firm in firms.values():
        for skill_id in firm.skills:
            by_skill[skill_id].append(firm.id)
    by_group: dict[str, list[int]] | None = None
    candidates: dict[int, list[int]] = {}
    excluded_hits: dict[int, int] = {}
    for package in packages:
        if package.skills:
            found = {firm_id for skill in package.skills for firm_id in by_skill.get(skill.skill_id, ())}
        else:
            if by_group is None:
                by_group = defaultdict(list)
                for firm in firms.values():
                    for group in {scoring.significant(code)[:3] for code in firm.cpv_codes}:
                        by_group[group].append(firm.id)
            found = {firm_id for group in package.cpv_groups for firm_id in by_group.get(group, ())}
        candidates[package.id] = sorted(found - excluded)
        excluded_hits[package.id] = len(found & excluded)
    return candidates, excluded_hits


def _kept_adjustments(tender: Tender, candidates: dict[int, list[int]]) -> tuple[dict[int, KeptAssignment], int]:
    kept: dict[int, KeptAssignment] = {}
    replaced = 0
    for package_id, lead_id, days in Assignment.objects.filter(
        package__tender=tender, status=AssignmentStatus.ADJUSTED
    ).values_list("package_id", "lead_id", "lead_days"):
        if lead_id is not None and lead_id in set(candidates.get(package_id, ())):
            kept[package_id] = KeptAssignment(package_id, lead_id, days or Decimal(0))
        else:
            replaced += 1
    return kept, replaced


def load_match_input(tender: Tender, *, today: date | None = None) -> MatchInput:
    started = time.perf_counter()
    today = today or timezone.localdate()
    lot_dates = list(Lot.objects.filter(tender=tender).values("tender_deadline"))
    deadline = _deadline_date(tender, lot_dates, today)
    packages, lot_of = _packages(tender, deadline)
    scope = _firm_scope(tender, packages)
    firms = _firms(scope, deadline)
    excluded = [
        Excluded(firm_id, name, kind, reason)
        for firm_id, name, kind, reason in TenderExclusion.objects.filter(tender=tender).values_list(
            "firm_id", "firm__name", "kind", "reason"
        )
    ]
    candidates, excluded_hits = _candidate_firms(packages, firms, {item.firm_id for item in excluded})
    periods = sorted({package.period for package in packages}, key=lambda p: (p.start, p.months))
    span = _span(periods, deadline)
    free = _free_days(tender, scope, sorted({*periods, span}, key=lambda p: (p.start, p.months)))
    kept, replaced = _kept_adjustments(tender, candidates)
    return MatchInput(
        tender=tender,
        packages=packages,
        lot_of=lot_of,
        firms=firms,
        candidates=candidates,
        excluded_hits=excluded_hits,
        excluded=excluded,
        free_days=free,
        span=span,
        context=_context(tender, deadline),
        kept=kept,
        replaced_adjustments=replaced,
        seconds=time.perf_counter() - started,
    )


def _span(periods: list[Period], deadline: date) -> Period:
    if not periods:
        return Period(scoring.add_months(date(deadline.year, deadline.month, 1), 1), DEFAULT_MONTHS)
    start = min(period.start for period in periods)
    end = max(period.end for period in periods)
    return Period(start, (end.year - start.year) * 12 + end.month - start.month)


def rank_candidates(data: MatchInput) -> dict[int, list[Candidate]]:
    """Every candidate of every package scored and ranked (score, then firm id), the best `SOLVER_CANDIDATES`."""
    scorer = Scorer(data.context)
    ranked: dict[int, list[Candidate]] = {}
    zero = Decimal(0)
    for package in data.packages:
        free = data.free_days.get(package.period, {})
        scored = [
            Candidate(package.id, firm_id, scorer.score(package, data.firms[firm_id], free.get(firm_id, zero)))
            for firm_id in data.candidates[package.id]
        ]
        scored.sort(key=lambda candidate: (-candidate.score.tenths, candidate.firm_id))
        ranked[package.id] = scored[:SOLVER_CANDIDATES]
    return ranked


def firm_capacity(data: MatchInput) -> dict[int, Decimal]:
    """Free days of each firm over the tender's span, minus the days of the adjustments kept on this tender."""
    free = dict(data.free_days.get(data.span, {}))
    for kept in data.kept.values():
        free[kept.lead_id] = free.get(kept.lead_id, Decimal(0)) - kept.lead_days
    return free


def build_problem(data: MatchInput, ranked: dict[int, list[Candidate]]) -> Problem:
    capacity = firm_capacity(data)
    pairs = [
        (candidate.package_id, candidate.firm_id, candidate.score.tenths, int(candidate.score.days_needed * 10))
        for package_id, candidates in ranked.items()
        if package_id not in data.kept
        for candidate in candidates
    ]
    return Problem.from_pairs(pairs, {firm_id: max(0, int(days * 10)) for firm_id, days in capacity.items()})


def unassigned_reason(data: MatchInput, package: PackageFacts) -> str:
    """Why no firm leads a package, in words."""
    count = len(data.candidates.get(package.id, ()))
    excluded = data.excluded_hits.get(package.id, 0)
    if count:
        return ngettext(
            "capacité insuffisante chez la seule candidate",
            "capacité insuffisante chez les %(count)s candidates",
            count,
        ) % {"count": count}
    if excluded:
        return ngettext(
            "la seule candidate est écartée", "toutes les candidates sont écartées (%(count)s)", excluded
        ) % {"count": excluded}
    if package.skills:
        names = ", ".join(skill.name for skill in package.skills)
        return ngettext(
            "aucune entreprise n'a la compétence %(skills)s",
            "aucune entreprise n'a l'une des compétences %(skills)s",
            len(package.skills),
        ) % {"skills": names}
    if package.cpv_codes:
        return _("aucune entreprise ne couvre ses codes CPV (%(codes)s)") % {"codes": ", ".join(package.cpv_codes)}
    return _("ni compétence ni code CPV pour chercher des entreprises")
