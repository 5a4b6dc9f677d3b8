"""The public transparency figures: per upstream project and year, per contract. Aggregates only.

What is published, and what deliberately is not, is written in docs/OPEN_DATA.md: never a price, a unit
price, a firm's amount, a fee, an invoice amount or a firm's revenue; a firm's own contributions only when
it agreed to publish them (`PartnerFirm.publishes_contributions`).

A fixed number of grouped queries whatever the size of the ledger (plus those of `project_support`,
`project_scores` and `commitments_progress`, themselves bounded). Days are summed in Python: SQLite adds
decimals as floats.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum
from django.db.models.functions import ExtractYear

from bids.models import Buyer
from partners.models import PartnerFirm

from ..commitment_rules import CommitmentStatus
from ..community_score import Score
from ..models import (
    Commitment,
    Contract,
    ContributionPayment,
    Payment,
    PaymentKind,
    PaymentSource,
    UpstreamProject,
    WorkDelivery,
)
from .commitments import commitments_progress, fund_credits
from .community import FirmSupport, project_scores, project_support

NO_DAYS = Decimal("0.00")
# Paid out of a fund, a contribution is levy already counted when it was credited to the fund.
FUND_SOURCES = (PaymentSource.FUND, PaymentSource.NETWORK_FUND)


@dataclass(frozen=True)
class YearFigures:
    year: int
    levy_cents: int = 0  # credited to the project's fund by redistributions, net of reversals
    paid_cents: int = 0  # paid to the project (contribution payments not reversed), by payment date
    days: Decimal = NO_DAYS  # work delivered, by delivery date


@dataclass(frozen=True)
class FirmContribution:
    """What one firm that agreed to publish it gave a project through its own commitments."""

    firm_name: str
    years: tuple[YearFigures, ...]  # levy_cents is always 0: the levy is the guichet's

    @property
    def paid_cents(self) -> int:
        return sum(year.paid_cents for year in self.years)

    @property
    def days(self) -> Decimal:
        return sum((year.days for year in self.years), NO_DAYS)


@dataclass(frozen=True)
class ProjectFigures:
    project: UpstreamProject
    years: tuple[YearFigures, ...]
    supporters: tuple[FirmSupport, ...]
    firm_contributions: tuple[FirmContribution, ...]
    commitments: dict[str, int]  # CommitmentStatus value -> count, every status present
    score: Score | None

    @property
    def levy_cents(self) -> int:
        return sum(year.levy_cents for year in self.years)

    @property
    def paid_cents(self) -> int:
        return sum(year.paid_cents for year in self.years)

    @property
    def days(self) -> Decimal:
        return sum((year.days for year in self.years), NO_DAYS)

    @property
    def commitment_count(self) -> int:
        return sum(self.commitments.values())


@dataclass(frozen=True)
class ContractShare:
    reference: str
    title: str
    buyer: str
    year_signed: int
    upstream_cents: int  # levy credited by its redistributions + contributions paid on its commitments
    share_percent: Decimal | None  # of what the buyer paid on it; None before any payment


@dataclass(frozen=True)
class Transparency:
    as_of: dt.date
    projects: tuple[ProjectFigures, ...]
    contracts: tuple[ContractShare, ...]
    network_levy_cents: int  # credited to the network fund (lines naming no upstream project)
    years: tuple[YearFigures, ...]  # every project summed per year

    @property
    def levy_cents(self) -> int:
        return sum(p.levy_cents for p in self.projects) + self.network_levy_cents

    @property
    def paid_cents(self) -> int:
        return sum(p.paid_cents for p in self.projects)

    @property
    def days(self) -> Decimal:
        return sum((p.days for p in self.projects), NO_DAYS)

    @property
    def supporting_firms(self) -> int:
        return len({s.firm_id for p in self.projects for s in p.supporters})


def public_figures(*, today: dt.date) -> Transparency:
    """Everything the public page and the open data show, as of `today`."""
    credits = fund_credits()
    levy: dict[tuple[int, int], int] = defaultdict(int)  # (project, year) -> cents
    network = 0
    for project_id, _contract_id, posted_on, cents in credits:
        if project_id is None:
            network += cents
        else:
            levy[project_id, posted_on.year] += cents
    paid, firm_paid, contract_paid = _contributions()
    days, firm_days = _work()
    commitments = list(Commitment.objects.order_by())
    statuses = _statuses(commitments, today)
    projects = {project.pk: project for project in UpstreamProject.objects.all()}
    support = project_support(list(projects))
    shown = sorted(
        {key[0] for key in levy if levy[key]}
        | {key[0] for key in paid}
        | {key[0] for key in days}
        | set(statuses)
        | {project_id for project_id, firms in support.items() if firms},
        key=lambda project_id: projects[project_id].name.lower(),
    )
    scores = project_scores(shown, as_of=today)
    firm_names = dict(
        PartnerFirm.objects.filter(publishes_contributions=True, pk__in={key[1] for key in (*firm_paid, *firm_days)})
        .order_by()
        .values_list("pk", "name")
    )
    figures = tuple(
        ProjectFigures(
            project=projects[project_id],
            years=_years(project_id, levy, paid, days),
            supporters=tuple(support.get(project_id, ())),
            firm_contributions=_firm_contributions(project_id, firm_names, firm_paid, firm_days),
            commitments={status: statuses.get(project_id, Counter())[status] for status in CommitmentStatus.values},
            score=scores.get(project_id),
        )
        for project_id in shown
    )
    return Transparency(
        as_of=today,
        projects=figures,
        contracts=_contract_shares(credits, contract_paid),
        network_levy_cents=network,
        years=_all_years(figures),
    )


def _contributions() -> tuple[
    dict[tuple[int, int], int], dict[tuple[int, int, int], int], dict[int, int]
]:  # fmt: skip
    """Money paid to projects: per (project, year); per (project, firm, year); per contract (fund sources aside)."""
    rows = (
        ContributionPayment.objects.filter(reversed_at__isnull=True)
        .values("commitment__project_id", "commitment__firm_id", "commitment__contract_id", "source")
        .annotate(year=ExtractYear("paid_on"), total=Sum("amount_cents"))
        .order_by()
    )
    paid: dict[tuple[int, int], int] = defaultdict(int)
    firm_paid: dict[tuple[int, int, int], int] = defaultdict(int)
    contract_paid: dict[int, int] = defaultdict(int)
    for row in rows:
        project_id, firm_id, contract_id, cents = (
            row["commitment__project_id"],
            row["commitment__firm_id"],
            row["commitment__contract_id"],
            int(row["total"]),
        )
        paid[project_id, row["year"]] += cents
        if firm_id is not None:
            firm_paid[project_id, firm_id, row["year"]] += cents
        if contract_id is not None and row["source"] not in FUND_SOURCES:
            contract_paid[contract_id] += cents
    return paid, firm_paid, contract_paid


def _work() -> tuple[dict[tuple[int, int], Decimal], dict[tuple[int, int, int], Decimal]]:
    days: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    firm_days: dict[tuple[int, int, int], Decimal] = defaultdict(Decimal)
    rows = WorkDelivery.objects.values_list("commitment__project_id", "commitment__firm_id", "delivered_on", "days")
    for project_id, firm_id, delivered_on, worked in rows.order_by():
        days[project_id, delivered_on.year] += worked
        if firm_id is not None:
            firm_days[project_id, firm_id, delivered_on.year] += worked
    return days, firm_days


def _statuses(commitments: list[Commitment], today: dt.date) -> dict[int, Counter[str]]:
    progress = commitments_progress(commitments, today=today)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for commitment in commitments:
        counts[commitment.project_id][str(progress[commitment.pk].status)] += 1
    return counts


def _years(
    project_id: int,
    levy: dict[tuple[int, int], int],
    paid: dict[tuple[int, int], int],
    days: dict[tuple[int, int], Decimal],
) -> tuple[YearFigures, ...]:
    years = {year for pid, year in (*levy, *paid, *days) if pid == project_id}
    return tuple(
        YearFigures(
            year=year,
            levy_cents=levy.get((project_id, year), 0),
            paid_cents=paid.get((project_id, year), 0),
            days=_days(days.get((project_id, year), NO_DAYS)),
        )
        for year in sorted(years)
    )


def _firm_contributions(
    project_id: int,
    firm_names: dict[int, str],
    firm_paid: dict[tuple[int, int, int], int],
    firm_days: dict[tuple[int, int, int], Decimal],
) -> tuple[FirmContribution, ...]:
    """Only firms that agreed to publish (firm_names holds no other)."""
    found: dict[int, set[int]] = defaultdict(set)
    for pid, firm_id, year in (*firm_paid, *firm_days):
        if pid == project_id and firm_id in firm_names:
            found[firm_id].add(year)
    contributions = [
        FirmContribution(
            firm_name=firm_names[firm_id],
            years=tuple(
                YearFigures(
                    year=year,
                    paid_cents=firm_paid.get((project_id, firm_id, year), 0),
                    days=_days(firm_days.get((project_id, firm_id, year), NO_DAYS)),
                )
                for year in sorted(years)
            ),
        )
        for firm_id, years in found.items()
    ]
    return tuple(sorted(contributions, key=lambda c: c.firm_name.lower()))


def _all_years(projects: tuple[ProjectFigures, ...]) -> tuple[YearFigures, ...]:
    levy: dict[int, int] = defaultdict(int)
    paid: dict[int, int] = defaultdict(int)
    days: dict[int, Decimal] = defaultdict(Decimal)
    for project in projects:
        for year in project.years:
            levy[year.year] += year.levy_cents
            paid[year.year] += year.paid_cents
            days[year.year] += year.days
    return tuple(
        YearFigures(year=year, levy_cents=levy[year], paid_cents=paid[year], days=_days(days[year]))
        for year in sorted(levy)
    )


def _contract_shares(
    credits: list[tuple[int | None, int | None, dt.date, int]], contract_paid: dict[int, int]
) -> tuple[ContractShare, ...]:
    levy: dict[int, int] = defaultdict(int)
    for _project_id, contract_id, _posted_on, cents in credits:
        if contract_id is not None:
            levy[contract_id] += cents
    received = dict(
        Payment.objects.filter(reversed_at__isnull=True)
        .exclude(kind=PaymentKind.ADVANCE)
        .values("contract_id")
        .annotate(total=Sum("amount_cents"))
        .order_by()
        .values_list("contract_id", "total")
    )
    buyers: dict[int, list[str]] = defaultdict(list)
    for contract_id, name in (
        Buyer.objects.filter(tender__group_offer__versions__contract__isnull=False)
        .order_by("position", "pk")
        .values_list("tender__group_offer__versions__contract", "name")
    ):
        buyers[contract_id].append(name)
    shares = []
    for contract in Contract.objects.order_by("-signed_on", "reference").values(
        "pk", "reference", "title", "signed_on"
    ):
        upstream = levy.get(contract["pk"], 0) + contract_paid.get(contract["pk"], 0)
        shares.append(
            ContractShare(
                reference=contract["reference"],
                title=contract["title"],
                buyer=", ".join(buyers.get(contract["pk"], [])),
                year_signed=contract["signed_on"].year,
                upstream_cents=upstream,
                share_percent=share_percent(upstream, int(received.get(contract["pk"]) or 0)),
            )
        )
    return tuple(shares)


def share_percent(part_cents: int, whole_cents: int) -> Decimal | None:
    """`part` of `whole` in percent, half-up to one decimal; None without a whole."""
    if whole_cents <= 0:
        return None
    return (Decimal(part_cents) * 100 / Decimal(whole_cents)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _days(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
