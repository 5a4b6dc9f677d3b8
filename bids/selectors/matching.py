"""Reads of match runs, candidates, assignments and exclusions: staff only (bid managers and admins act,
finance reads); partners never see them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Sum

from consortium.roles import Role, user_role

from ..matching.scoring import LABELS
from ..models import Assignment, JobStatus, MatchCandidate, MatchRun, Tender, TenderExclusion, WorkPackage

MATCH_ACTORS = frozenset({Role.BID_MANAGER, Role.ADMIN})
PACKAGES_PER_PAGE = 50
LOAD_BARS = 30
COMPONENT_COLOURS = {
    "skills": "#0b5cad",
    "cpv": "#5b9bd5",
    "capacity": "#1f7a4a",
    "region": "#8a63d2",
    "rate": "#c27c0e",
    "references": "#c2417a",
    "attestations": "#6b7785",
}


def can_act_on_matching(user: Any) -> bool:
    return user_role(user) in MATCH_ACTORS


def latest_run(tender: Tender) -> MatchRun | None:
    """The newest run, whatever its state (the page follows it while it runs)."""
    return MatchRun.objects.filter(tender=tender).order_by("-created_at", "-id").first()


def latest_result(tender: Tender) -> MatchRun | None:
    """The newest run that finished with results: the one whose candidates are stored."""
    return MatchRun.objects.filter(tender=tender, status=JobStatus.SUCCEEDED).order_by("-created_at", "-id").first()


def explained(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored components with their label in the reader's language and the colour of their bar segment."""
    return [
        {
            **component,
            "label": str(LABELS.get(component.get("key", ""), component.get("key", ""))),
            "colour": COMPONENT_COLOURS.get(component.get("key", ""), "#999"),
        }
        for component in components
    ]


def candidates_of(run: MatchRun | None, package: WorkPackage) -> list[dict[str, Any]]:
    if run is None:
        return []
    rows = (
        MatchCandidate.objects.filter(run=run, package=package)
        .select_related("firm")
        .order_by("rank")
        .only("rank", "score", "days_needed", "components", "firm__id", "firm__name")
    )
    return [
        {
            "rank": row.rank,
            "firm": row.firm,
            "score": row.score,
            "days": row.days_needed,
            "components": explained(row.components),
        }
        for row in rows
    ]


def exclusions_of(tender: Tender) -> list[TenderExclusion]:
    return list(TenderExclusion.objects.filter(tender=tender).select_related("firm", "created_by"))


def _free_days(run: MatchRun | None) -> dict[int, Decimal]:
    free = (run.solver.get("free_days") or {}) if run is not None else {}
    return {int(firm_id): Decimal(str(days)) for firm_id, days in free.items()}


def firm_loads(tender: Tender, run: MatchRun | None) -> list[dict[str, Any]]:
    """Days assigned to each lead firm against its free days: the most loaded first (a bar chart)."""
    free = _free_days(run)
    rows = (
        Assignment.objects.filter(package__tender=tender, lead__isnull=False)
        .values("lead_id", "lead__name")
        .annotate(days=Sum("lead_days"), packages=Count("id"))
        .order_by("-days", "lead__name")[:LOAD_BARS]
    )
    bars = []
    for row in rows:
        days = row["days"] or Decimal(0)
        capacity = free.get(row["lead_id"])
        scale = max(days, capacity or Decimal(0)) or Decimal(1)
        bars.append(
            {
                "firm": row["lead__name"],
                "packages": row["packages"],
                "days": days,
                "free": capacity,
                "fill": float(days * 100 / scale),
                "over": capacity is not None and days > capacity,
            }
        )
    return bars


def assignment_page(
    tender: Tender, run: MatchRun | None, *, page: str | None
) -> tuple[Page[Any], list[dict[str, Any]]]:
    """One page of the tender's packages with their assignment, the lead's score, its load and the
    candidates to choose from: a fixed number of queries whatever the page size."""
    packages = (
        WorkPackage.objects.filter(tender=tender).select_related("lot").order_by("lot__position", "position", "id")
    )
    current = Paginator(packages, PACKAGES_PER_PAGE).get_page(page)
    ids = [package.pk for package in current.object_list]
    assignments = {
        row.package_id: row
        for row in Assignment.objects.filter(package_id__in=ids).select_related("lead", "backup", "updated_by")
    }
    options: dict[int, list[tuple[int, str, Decimal]]] = {}
    scores: dict[tuple[int, int], Decimal] = {}
    if run is not None:
        for package_id, firm_id, name, score in (
            MatchCandidate.objects.filter(run=run, package_id__in=ids)
            .order_by("package_id", "rank")
            .values_list("package_id", "firm_id", "firm__name", "score")
        ):
            options.setdefault(package_id, []).append((firm_id, name, score))
            scores[(package_id, firm_id)] = score
    leads = {row.lead_id for row in assignments.values() if row.lead_id}
    load = dict(
        Assignment.objects.filter(package__tender=tender, lead_id__in=leads)
        .values("lead_id")
        .annotate(days=Sum("lead_days"))
        .values_list("lead_id", "days")
    )
    free = _free_days(run)
    rows = []
    for package in current.object_list:
        assignment = assignments.get(package.pk)
        lead_id = assignment.lead_id if assignment else None
        rows.append(
            {
                "package": package,
                "assignment": assignment,
                "score": scores.get((package.pk, lead_id)) if lead_id else None,
                "load": load.get(lead_id) if lead_id else None,
                "free": free.get(lead_id) if lead_id else None,
                "over": bool(lead_id and lead_id in free and (load.get(lead_id) or 0) > free[lead_id]),
                "options": options.get(package.pk, []),
            }
        )
    return current, rows


def match_payload(tender: Tender, run: MatchRun | None) -> dict[str, Any]:
    """The JSON shape that `match_tender --json` prints."""
    packages = list(
        WorkPackage.objects.filter(tender=tender)
        .select_related("lot")
        .order_by("lot__position", "position", "id")
        .values_list("id", "lot__source_id", "name")
    )
    candidates: dict[int, list[dict[str, Any]]] = {}
    if run is not None:
        for package_id, firm_id, name, score, components in (
            MatchCandidate.objects.filter(run=run)
            .order_by("package_id", "rank")
            .values_list("package_id", "firm_id", "firm__name", "score", "components")
        ):
            candidates.setdefault(package_id, []).append(
                {"firm": name, "firm_id": firm_id, "score": float(score), "reasons": explained(components)}
            )
    assignments = {
        package_id: (lead, backup, reason)
        for package_id, lead, backup, reason in Assignment.objects.filter(package__tender=tender).values_list(
            "package_id", "lead__name", "backup__name", "unassigned_reason"
        )
    }
    for items in candidates.values():
        for item in items:
            for reason in item["reasons"]:
                reason.pop("colour", None)
    return {
        "tender": tender.pk,
        "run": run.pk if run else None,
        "packages": [
            {
                "id": pk,
                "lot": lot,
                "name": name,
                "candidates": candidates.get(pk, []),
                "assigned": assignments.get(pk, (None, None, ""))[0],
                "backup": assignments.get(pk, (None, None, ""))[1],
            }
            for pk, lot, name in packages
        ],
        "unassigned": [
            {"id": pk, "reason": assignments[pk][2] if pk in assignments else ""}
            for pk, _lot, _name in packages
            if assignments.get(pk, (None,))[0] is None
        ],
        "excluded": [
            {"firm": item.firm.name, "firm_id": item.firm_id, "kind": item.kind, "reason": item.reason}
            for item in exclusions_of(tender)
        ],
    }
