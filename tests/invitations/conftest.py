"""A tender of two work packages, three firms, an assignment and a ranked match: what invitations start from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from bids.models import (
    Assignment,
    Invitation,
    JobStatus,
    Line,
    Lot,
    MatchCandidate,
    MatchRun,
    Tender,
    WorkPackage,
)
from bids.prices import PriceEntry
from partners.models import Contact, PartnerFirm

MARKER_PRICE = Decimal("4242.17")  # partner B's secret unit price: must never reach partner A


@dataclass
class Market:
    tender: Tender
    lot: Lot
    firms: dict[str, PartnerFirm]
    packages: dict[str, WorkPackage]
    lines: dict[str, list[Line]] = field(default_factory=dict)
    run: MatchRun | None = None

    def entries(self, package: str, prices: list[str] | None = None) -> list[PriceEntry]:
        """One entry per line of `package`, priced 100.00, 200.00... unless `prices` are given."""
        lines = self.lines[package]
        values = prices or [f"{100 * (i + 1)}.00" for i in range(len(lines))]
        return [
            PriceEntry(line_id=line.pk, raw=value, where=f"ligne {i + 1}")
            for i, (line, value) in enumerate(zip(lines, values, strict=True))
        ]


def build_market(*, partner_a: Any, partner_b: Any, days_to_deadline: int = 30) -> Market:
    now = timezone.now()
    tender = Tender.objects.create(
        title="Support des logiciels libres de la Ville",
        source_format="eforms",
        procedure_id="invite-1",
        currency="EUR",
        tender_deadline=now + dt.timedelta(days=days_to_deadline),
        questions_deadline=now + dt.timedelta(days=days_to_deadline - 10),
    )
    tender.buyers.create(name="Ville de Rouen", country="FRA", nuts="FRD22")
    lot = Lot.objects.create(
        tender=tender,
        source_id="LOT-1",
        title="Support",
        main_cpv="72267000",
        currency="EUR",
        estimated_value=Decimal("50000"),
    )
    firm_a = PartnerFirm.objects.get(name="Firm A")
    firm_b = PartnerFirm.objects.get(name="Firm B")
    firm_c = PartnerFirm.objects.create(name="Firm C")
    Contact.objects.create(firm=firm_c, name="Claire", email="claire@firm-c.test", is_primary=True)
    for user, address in ((partner_a, "anna@firm-a.test"), (partner_b, "bob@firm-b.test")):
        user.email = address
        user.save(update_fields=["email"])
    market = Market(tender=tender, lot=lot, firms={"A": firm_a, "B": firm_b, "C": firm_c}, packages={})
    specs = {
        "PostgreSQL": [
            ("PG-1", "Support PostgreSQL niveau 3", "jour", "10"),
            ("PG-2", "Montée de version", "u", "2"),
            ("PG-3", "Audit de performance", "forfait", "1"),
        ],
        "Nginx": [("NG-1", "Support Nginx", "jour", "5"), ("NG-2", "Astreinte Nginx", "mois", None)],
    }
    position = 0
    for index, (name, rows) in enumerate(specs.items()):
        package = WorkPackage.objects.create(
            tender=tender,
            lot=lot,
            position=index,
            name=name,
            basis="skill",
            line_count=len(rows),
            estimated_value=Decimal("10000") if name == "PostgreSQL" else Decimal("3000"),
        )
        market.packages[name] = package
        market.lines[name] = []
        for code, designation, unit, quantity in rows:
            position += 1
            market.lines[name].append(
                Line.objects.create(
                    tender=tender,
                    lot=lot,
                    position=position,
                    origin="schedule",
                    code=code,
                    designation=designation,
                    unit=unit,
                    quantity=Decimal(quantity) if quantity else None,
                    work_package=package,
                )
            )
    run = MatchRun.objects.create(tender=tender, status=JobStatus.SUCCEEDED)
    market.run = run
    order = {"PostgreSQL": ["A", "B", "C"], "Nginx": ["B", "C", "A"]}
    for name, ranking in order.items():
        package = market.packages[name]
        Assignment.objects.create(
            package=package, run=run, lead=market.firms[ranking[0]], backup=market.firms[ranking[1]]
        )
        for rank, key in enumerate(ranking, start=1):
            MatchCandidate.objects.create(
                run=run,
                package=package,
                firm=market.firms[key],
                rank=rank,
                score=Decimal(90 - rank),
                days_needed=Decimal(5),
            )
    return market


@pytest.fixture
def market(partner_a: Any, partner_b: Any) -> Market:
    return build_market(partner_a=partner_a, partner_b=partner_b)


def invitation_of(market: Market, package: str, firm: str) -> Invitation:
    return Invitation.objects.get(
        package=market.packages[package], firm=market.firms[firm], status__in=["sent", "viewed", "accepted"]
    )
