"""Objects every API test needs: a tender with work packages, a finished match run, an assignment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from bids.models import (
    Assignment,
    JobStatus,
    MatchCandidate,
    MatchRun,
    PackageBasis,
    PackageSkill,
    Tender,
    WorkPackage,
)
from bids.services.imports import import_file
from partners.models import CapacityMonth, FirmSkill, PartnerFirm, Skill, SkillLevel


def import_tender(samples: Path, actor: Any) -> Tender:
    data = (samples / "eforms/cn_24_FRA_comments.xml").read_bytes()
    return import_file(actor=actor, data=data, source="n.xml").saved[0].tender


def make_package(tender: Tender, name: str, skills: list[Skill], *, position: int = 0) -> WorkPackage:
    lot = tender.lots.order_by("position").first()
    assert lot is not None
    package = WorkPackage.objects.create(
        tender=tender,
        lot=lot,
        position=position,
        name=name,
        basis=PackageBasis.SKILL,
        cpv_codes=["72260000"],
        line_count=3,
        estimated_value=Decimal("12345.60"),
        estimated_days=Decimal("20.5"),
    )
    for weight, skill in enumerate(skills, start=1):
        PackageSkill.objects.create(package=package, skill=skill, weight=weight, inferred=weight % 2 == 0)
    return package


def make_run(tender: Tender, status: str = JobStatus.SUCCEEDED) -> MatchRun:
    return MatchRun.objects.create(tender=tender, status=status, finished_at=timezone.now())


def add_candidate(run: MatchRun, package: WorkPackage, firm: PartnerFirm, rank: int, score: str) -> MatchCandidate:
    return MatchCandidate.objects.create(
        run=run,
        package=package,
        firm=firm,
        rank=rank,
        score=Decimal(score),
        days_needed=Decimal("10.0"),
        components=[{"key": "skill", "weight": 60, "value": "0.8", "points": "48.0", "detail": "PostgreSQL"}],
    )


@pytest.fixture
def firm_a(partner_a: Any) -> PartnerFirm:
    return PartnerFirm.objects.get(name="Firm A")


@pytest.fixture
def firm_b(partner_b: Any) -> PartnerFirm:
    return PartnerFirm.objects.get(name="Firm B")


@pytest.fixture
def skills(db: None) -> dict[str, Skill]:
    return {
        "postgresql": Skill.objects.create(
            name="PostgreSQL", slug="postgresql", aliases=["Postgres"], cpv_codes=["72260000"]
        ),
        "python": Skill.objects.create(name="Python", slug="python", kind="language"),
    }


@pytest.fixture
def profiled_firms(firm_a: PartnerFirm, firm_b: PartnerFirm, skills: dict[str, Skill]) -> dict[str, PartnerFirm]:
    """Firm A: maintainer of PostgreSQL in Île-de-France; Firm B: Python integrator in Bretagne."""
    PartnerFirm.objects.filter(pk=firm_a.pk).update(
        region="11", siren="732829320", siret="73282932000074", daily_rate=Decimal("650.00"), city="Paris"
    )
    PartnerFirm.objects.filter(pk=firm_b.pk).update(region="53", daily_rate=Decimal("590.00"), city="Rennes")
    FirmSkill.objects.create(
        firm=firm_a,
        skill=skills["postgresql"],
        level=SkillLevel.MAINTAINER,
        years=12,
        evidence_url="https://git.postgresql.org/",
    )
    FirmSkill.objects.create(firm=firm_b, skill=skills["python"], level=SkillLevel.INTEGRATOR, years=4)
    month = timezone.localdate().replace(day=1)
    CapacityMonth.objects.create(firm=firm_a, month=month, days=Decimal("8.0"))
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    CapacityMonth.objects.create(firm=firm_a, month=next_month, days=Decimal("12.5"))
    return {"a": PartnerFirm.objects.get(pk=firm_a.pk), "b": PartnerFirm.objects.get(pk=firm_b.pk)}


@pytest.fixture
def matched(
    samples: Path, bid_manager: Any, profiled_firms: dict[str, PartnerFirm], skills: dict[str, Skill]
) -> dict[str, Any]:
    """A tender with two packages, a finished run ranking Firm A then Firm B on the first, one assignment."""
    tender = import_tender(samples, bid_manager)
    first = make_package(tender, "PostgreSQL", [skills["postgresql"], skills["python"]])
    second = make_package(tender, "Autres", [], position=1)
    run = make_run(tender)
    add_candidate(run, first, profiled_firms["a"], 1, "87.5")
    add_candidate(run, first, profiled_firms["b"], 2, "41.0")
    Assignment.objects.create(
        package=first, run=run, lead=profiled_firms["a"], backup=profiled_firms["b"], lead_days=Decimal("10.0")
    )
    return {"tender": tender, "package": first, "other": second, "run": run}
