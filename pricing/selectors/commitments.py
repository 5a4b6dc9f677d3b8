"""Reads: who sees which commitments, and where each stands (promised, accrued, delivered, outstanding).

Levy accrual is read from the ledger, never stored: the credits of the project's fund by the
redistribution entries (and their reversals) of the commitment's contract (any contract for a
network-wide commitment), posted within the commitment's period.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from consortium.roles import Role, user_role
from partners.selectors import firm_of

from ..commitment_rules import LEVY_SETTLEMENT_DAYS, CommitmentStatus, DueCheck, commitment_status, cumulative
from ..ledger_models import AccountKind, EntryKind, Posting
from ..models import (
    Commitment,
    CommitmentDue,
    CommitmentKind,
    ContributionPayment,
    InvoiceShare,
    InvoiceStatus,
    ShareKind,
    WorkDelivery,
)

STAFF = (Role.BID_MANAGER, Role.FINANCE, Role.ADMIN)
REDISTRIBUTION = Q(entry__kind=EntryKind.REDISTRIBUTION) | Q(
    entry__kind=EntryKind.REVERSAL, entry__reverses__kind=EntryKind.REDISTRIBUTION
)


def commitments_for(user: Any) -> QuerySet[Commitment]:
    """Finance and bid managers see every commitment; a partner user its own firm's; anyone else none."""
    base = Commitment.objects.select_related("project", "contract", "firm")
    role = user_role(user)
    if role in STAFF:
        return base
    if role == Role.PARTNER:
        firm = firm_of(user)
        return base.filter(firm=firm) if firm is not None else base.none()
    return base.none()


def commitment_for(user: Any, commitment_id: int) -> Commitment | None:
    return commitments_for(user).filter(pk=commitment_id).first()


def can_edit_commitments(user: Any) -> bool:
    return user_role(user) in STAFF


def can_record_work(user: Any, commitment: Commitment) -> bool:
    """Staff on any commitment; a partner user on its own firm's (scoping already hid the others)."""
    role = user_role(user)
    return role in STAFF or (role == Role.PARTNER and commitment.firm_id is not None)


@dataclass(frozen=True)
class CommitmentProgress:
    in_days: bool
    promised: int | Decimal  # cents, or days
    accrued: int | Decimal  # levy: collected into the fund; amount and days: due by today
    delivered: int | Decimal
    status: CommitmentStatus
    next_due: dt.date | None
    dues: tuple[DueCheck, ...]

    @property
    def outstanding(self) -> int | Decimal:
        """What is owed now: accrued and not yet delivered (never below zero)."""
        return max(self.accrued - self.delivered, self._zero)

    @property
    def left_to_deliver(self) -> int | Decimal:
        return max(self.promised - self.delivered, self._zero)

    @property
    def _zero(self) -> int | Decimal:
        return Decimal(0) if self.in_days else 0


def commitment_progress(commitment: Commitment, *, today: dt.date | None = None) -> CommitmentProgress:
    return commitments_progress([commitment], today=today)[commitment.pk]


def commitments_progress(
    commitments: Iterable[Commitment], *, today: dt.date | None = None
) -> dict[int, CommitmentProgress]:
    """Where each commitment stands, in a handful of queries whatever their number."""
    commitments = list(commitments)
    today = today or timezone.localdate()
    ids = [c.pk for c in commitments]
    dues: dict[int, list[tuple[dt.date, int | None, Decimal | None]]] = defaultdict(list)
    for commitment_id, due_on, cents, days in CommitmentDue.objects.filter(commitment_id__in=ids).values_list(
        "commitment_id", "due_on", "amount_cents", "days"
    ):
        dues[commitment_id].append((due_on, cents, days))
    money = delivered_money(ids)
    work = delivered_days(ids)
    levies = [c for c in commitments if c.kind == CommitmentKind.LEVY]
    accrual = LevyAccrual.load(levies)
    invoiced = levy_invoiced(levies)
    result = {}
    for c in commitments:
        own_dues = dues.get(c.pk, [])
        if c.kind == CommitmentKind.LEVY:
            checks = [
                DueCheck(due_on, accrual.of(c, until=due_on - dt.timedelta(days=LEVY_SETTLEMENT_DAYS)))
                for due_on, _cents, _days in sorted(own_dues)
            ]
            accrued: int | Decimal = accrual.of(c, until=c.ends_on)
            promised: int | Decimal = max(invoiced.get(c.pk, 0), accrued)
            delivered: int | Decimal = money.get(c.pk, 0)
        elif c.kind == CommitmentKind.AMOUNT:
            checks = cumulative([(due_on, cents or 0) for due_on, cents, _days in own_dues])
            promised, delivered = int(c.amount_cents or 0), money.get(c.pk, 0)
            accrued = _due_by(checks, today, zero=0)
        else:
            checks = cumulative([(due_on, days or Decimal(0)) for due_on, _cents, days in own_dues])
            promised, delivered = Decimal(c.days or 0), work.get(c.pk, Decimal(0))
            accrued = _due_by(checks, today, zero=Decimal(0))
        status = commitment_status(
            today=today,
            ends_on=c.ends_on,
            # a levy is owed as it is collected: levy invoiced but never paid by the buyer is not owed upstream
            promised=accrued if c.kind == CommitmentKind.LEVY else promised,
            delivered=delivered,
            dues=checks,
            grows_until_end=c.kind == CommitmentKind.LEVY,
        )
        upcoming = [check.due_on for check in checks if check.due_on >= today and delivered < check.expected]
        result[c.pk] = CommitmentProgress(
            in_days=c.kind == CommitmentKind.DAYS,
            promised=promised,
            accrued=accrued,
            delivered=delivered,
            status=status,
            next_due=min(upcoming) if upcoming else None,
            dues=tuple(checks),
        )
    return result


def _due_by(checks: list[DueCheck], today: dt.date, *, zero: int | Decimal) -> int | Decimal:
    passed = [check.expected for check in checks if check.due_on <= today]
    return passed[-1] if passed else zero


def delivered_money(commitment_ids: list[int]) -> dict[int, int]:
    rows = (
        ContributionPayment.objects.filter(commitment_id__in=commitment_ids, reversed_at__isnull=True)
        .values("commitment_id")
        .annotate(total=Sum("amount_cents"))
    )
    return {row["commitment_id"]: int(row["total"]) for row in rows}


def delivered_days(commitment_ids: list[int]) -> dict[int, Decimal]:
    rows = (
        WorkDelivery.objects.filter(commitment_id__in=commitment_ids)
        .values("commitment_id")
        .annotate(total=Sum("days"))
    )
    return {row["commitment_id"]: Decimal(row["total"]) for row in rows}


class LevyAccrual:
    """Levy cents of each project by contract and day (credited to its fund, or invoiced), summed per scope.

    Running totals per (project, contract) and per project make each sum two binary searches."""

    ANY_CONTRACT = -1

    def __init__(self, rows: dict[int, list[tuple[int | None, dt.date, int]]]) -> None:
        by_scope: dict[tuple[int, int], dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
        for project_id, project_rows in rows.items():
            for contract_id, on, cents in project_rows:
                by_scope[(project_id, self.ANY_CONTRACT)][on] += cents
                if contract_id is not None:
                    by_scope[(project_id, contract_id)][on] += cents
        self._dates: dict[tuple[int, int], list[dt.date]] = {}
        self._running: dict[tuple[int, int], list[int]] = {}
        for scope, per_day in by_scope.items():
            dates = sorted(per_day)
            self._dates[scope] = dates
            self._running[scope] = list(accumulate((per_day[on] for on in dates), initial=0))

    @classmethod
    def load(cls, commitments: Iterable[Commitment]) -> LevyAccrual:
        project_ids = {c.project_id for c in commitments}
        rows: dict[int, list[tuple[int | None, dt.date, int]]] = defaultdict(list)
        if project_ids:
            for project_id, contract_id, posted_on, cents in fund_credits(project_ids):
                if project_id is not None:
                    rows[project_id].append((contract_id, posted_on, cents))
        return cls(rows)

    def of(self, commitment: Commitment, *, until: dt.date) -> int:
        """The cents dated from the commitment's start to `until` (at most its end), in its scope."""
        scope = (commitment.project_id, commitment.contract_id or self.ANY_CONTRACT)
        dates = self._dates.get(scope)
        if not dates:
            return 0
        running = self._running[scope]
        last = min(until, commitment.ends_on)
        return (
            running[bisect_right(dates, last)] - running[bisect_left(dates, commitment.starts_on)]
            if last >= commitment.starts_on
            else 0
        )


def fund_credits(project_ids: Iterable[int] | None = None) -> list[tuple[int | None, int | None, dt.date, int]]:
    """The levy credited to the funds by redistributions net of their reversals, summed per project, contract
    and day: (project id (None: the network fund), contract id, posted on, cents). Every fund when no ids."""
    query = Posting.objects.filter(REDISTRIBUTION, account__kind=AccountKind.FUND)
    if project_ids is not None:
        query = query.filter(account__project_id__in=list(project_ids))
    rows = query.values("account__project_id", "entry__contract_id", "entry__posted_on").annotate(
        total=Sum("amount_cents")
    )
    return [
        (row["account__project_id"], row["entry__contract_id"], row["entry__posted_on"], -int(row["total"]))
        for row in rows
    ]


def levy_invoiced(commitments: Iterable[Commitment]) -> dict[int, int]:
    """The levy of the issued invoices (credit notes deducted) in each levy commitment's scope and period."""
    commitments = list(commitments)
    rows: dict[int, list[tuple[int | None, dt.date, int]]] = defaultdict(list)
    query = (
        InvoiceShare.objects.filter(kind=ShareKind.LEVY, project_id__in={c.project_id for c in commitments})
        .exclude(invoice__status=InvoiceStatus.SUBMITTED)
        .values("project_id", "invoice__contract_id", "invoice__issued_on")
        .annotate(total=Sum("ttc_cents"))
    )
    for row in query:
        rows[row["project_id"]].append((row["invoice__contract_id"], row["invoice__issued_on"], int(row["total"])))
    invoiced = LevyAccrual(rows)
    return {c.pk: invoiced.of(c, until=c.ends_on) for c in commitments}


def fund_balance(project_id: int | None) -> int:
    """What the project's fund holds (the network fund for None): levies credited minus payments to it."""
    accounts = Q(account__kind=AccountKind.FUND) & (
        Q(account__project_id=project_id) if project_id is not None else Q(account__project_id__isnull=True)
    )
    return -int(Posting.objects.filter(accounts).aggregate(total=Sum("amount_cents"))["total"] or 0)
