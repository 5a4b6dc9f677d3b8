"""A small network and tender for the matching tests, built row by row (no splitter needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bids.models import Lot, PackageSkill, Tender, WorkPackage
from partners.models import Attestation, CapacityMonth, FirmSkill, PartnerFirm, Reference, Skill

FIRST_MONTH = date(2031, 2, 1)  # the lots run from February 2031 (a tender deadline in January)


def months(start: date, count: int) -> list[date]:
    return [date(start.year + (start.month - 1 + k) // 12, (start.month - 1 + k) % 12 + 1, 1) for k in range(count)]


@dataclass
class Network:
    tender: Tender
    lot: Lot
    skills: dict[str, Skill] = field(default_factory=dict)
    firms: dict[str, PartnerFirm] = field(default_factory=dict)
    packages: dict[str, WorkPackage] = field(default_factory=dict)

    def skill(self, name: str, cpv: list[str] | None = None) -> Skill:
        if name not in self.skills:
            codes = ["72267000"] if cpv is None else cpv
            self.skills[name] = Skill.objects.create(name=name, slug=name.lower(), cpv_codes=codes)
        return self.skills[name]

    def firm(
        self,
        name: str,
        *,
        skills: dict[str, int | tuple[int, str]],
        days_per_month: int = 10,
        rate: str | None = "800",
        region: str = "11",
        attestations: int = 4,
        references: list[list[str]] | None = None,
    ) -> PartnerFirm:
        firm = PartnerFirm.objects.create(name=name, region=region, daily_rate=Decimal(rate) if rate else None)
        for skill_name, level in skills.items():
            evidence = ""
            if isinstance(level, tuple):
                level, evidence = level
            FirmSkill.objects.create(firm=firm, skill=self.skill(skill_name), level=level, evidence_url=evidence)
        CapacityMonth.objects.bulk_create(
            CapacityMonth(firm=firm, month=month, days=Decimal(days_per_month)) for month in months(FIRST_MONTH, 12)
        )
        for kind in ["urssaf", "tax", "kbis", "insurance"][:attestations]:
            Attestation.objects.create(firm=firm, kind=kind, valid_until=date(2032, 1, 1))
        for codes in references or []:
            Reference.objects.create(firm=firm, title="Support", buyer="Ville", year=2024, cpv_codes=codes)
        self.firms[name] = firm
        return firm

    def package(
        self, name: str, *, skills: dict[str, int], days: str | None = None, value: str | None = None, lines: int = 1
    ) -> WorkPackage:
        package = WorkPackage.objects.create(
            tender=self.tender,
            lot=self.lot,
            position=len(self.packages),
            name=name,
            basis="skill",
            cpv_codes=["72267000"],
            line_count=lines,
            estimated_days=Decimal(days) if days else None,
            estimated_value=Decimal(value) if value else None,
        )
        for skill_name, weight in skills.items():
            PackageSkill.objects.create(package=package, skill=self.skill(skill_name), weight=weight)
        self.packages[name] = package
        return package


def make_tender(title: str = "Support logiciel libre", procedure: str = "match-1") -> tuple[Tender, Lot]:
    from django.utils import timezone

    deadline = timezone.make_aware(timezone.datetime(2031, 1, 15, 12, 0))
    tender = Tender.objects.create(
        title=title, source_format="eforms", procedure_id=procedure, currency="EUR", tender_deadline=deadline
    )
    tender.buyers.create(name="Ville de Paris", country="FRA", nuts="FR101")
    lot = Lot.objects.create(
        tender=tender,
        source_id="LOT-1",
        title="Support",
        main_cpv="72267000",
        estimated_value=Decimal("100000"),
        currency="EUR",
        duration_value=12,
        duration_unit="MONTH",
    )
    return tender, lot


@pytest.fixture
def network(db: None) -> Network:
    tender, lot = make_tender()
    return Network(tender, lot)


def component(components: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(item for item in components if item["key"] == key)
