"""Reads of work packages: staff only (bid managers and admins edit, finance reads)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from consortium.roles import Role, user_role

from ..models import Line, Lot, PackageSkill, SplitRule, Tender, WorkPackage

PACKAGE_EDITORS = frozenset({Role.BID_MANAGER, Role.ADMIN})
CHART_BARS = 60


def can_edit_packages(user: Any) -> bool:
    return user_role(user) in PACKAGE_EDITORS


def packages_of(tender: Tender) -> QuerySet[WorkPackage]:
    """The tender's packages, lot by lot, each in the order of its first line."""
    return (
        WorkPackage.objects.filter(tender=tender)
        .select_related("lot")
        .prefetch_related("required_skills__skill")
        .order_by("lot__position", "lot_id", "position", "id")
    )


def package_table(tender: Tender, *, lot: Lot | None = None) -> QuerySet[WorkPackage]:
    """`packages_of` with each package's total quantity, for the list page."""
    packages = packages_of(tender).annotate(total_quantity=Sum("lines__quantity"))
    return packages.filter(lot=lot) if lot is not None else packages


def package_lines(package: WorkPackage) -> QuerySet[Line]:
    return Line.objects.filter(work_package=package).order_by("position")


def sibling_packages(package: WorkPackage) -> QuerySet[WorkPackage]:
    """The other packages of the same lot: where its lines may move."""
    return WorkPackage.objects.filter(lot_id=package.lot_id).exclude(pk=package.pk).order_by("position", "id")


def split_rules() -> QuerySet[SplitRule]:
    return SplitRule.objects.select_related("skill")


def package_value_chart(tender: Tender) -> list[dict[str, Any]]:
    """Bars of estimated value for the most valuable packages, when two or more have a value."""
    valued = list(
        WorkPackage.objects.filter(tender=tender, estimated_value__gt=0)
        .select_related("lot")
        .order_by("-estimated_value", "lot__position", "position")[:CHART_BARS]
    )
    if len(valued) < 2:
        return []
    top = valued[0].estimated_value or Decimal(1)
    return [
        {
            "label": f"{package.lot.source_id} · {package.name}",
            "value": package.estimated_value,
            "currency": package.lot.currency or tender.currency,
            "percent": round(float((package.estimated_value or Decimal(0)) / top * 100), 1),
        }
        for package in valued
    ]


def lines_without_package(tender: Tender) -> int:
    """Lines of current lots that no package holds (a schedule attached after the split)."""
    return Line.objects.filter(tender=tender, work_package__isnull=True, lot__withdrawn=False).count()


def split_payload(tender: Tender) -> dict[str, Any]:
    """The JSON object `split_tender --json` prints: every package with its skills and lines."""
    packages = list(
        WorkPackage.objects.filter(tender=tender)
        .order_by("lot__position", "lot_id", "position", "id")
        .values_list(
            "id", "lot__source_id", "name", "basis", "flagged", "line_count", "estimated_value", "estimated_days"
        )
    )
    skills: dict[int, list[str]] = defaultdict(list)
    for package_id, name in (
        PackageSkill.objects.filter(package__tender=tender)
        .order_by("package_id", "-weight", "skill__name")
        .values_list("package_id", "skill__name")
    ):
        skills[package_id].append(name)
    lines: dict[int, list[dict[str, str]]] = defaultdict(list)
    for package_id, code, designation in (
        Line.objects.filter(tender=tender, work_package__isnull=False)
        .order_by("position")
        .values_list("work_package_id", "code", "designation")
    ):
        lines[package_id].append({"code": code, "designation": designation})
    return {
        "tender": tender.pk,
        "packages": [
            {
                "id": pk,
                "lot": lot,
                "name": name,
                "skills": skills[pk],
                "lines": lines[pk],
                "basis": basis,
                "flagged": flagged,
                "line_count": line_count,
                "estimated_value": None if value is None else str(value),
                "estimated_days": None if days is None else str(days),
            }
            for pk, lot, name, basis, flagged, line_count, value, days in packages
        ],
    }
