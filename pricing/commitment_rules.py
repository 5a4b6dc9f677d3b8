"""The status of a contribution commitment, as a pure function of dates and quantities.

Quantities are in the commitment's unit: cents for levy and amount commitments, days for days
commitments. `expected` at a due date is cumulative: what must have been delivered by then in all.

The rules, in order (the first that holds wins), on day `today`:

1. **fulfilled**: what was delivered covers the promise. For a levy, the promise keeps growing while
   payments are redistributed, so a levy commitment is fulfilled only once its period has ended.
2. **overdue**: a due date has passed (it is before today) and what was delivered is below what was
   due by that date.
3. **at risk**: a due date comes within `WARNING_DAYS` days (today up to today + WARNING_DAYS,
   the due day itself included) and what was delivered is still below what will be due by then.
4. **on track**: otherwise.

Reminders follow the same dates: one "before" reminder when a due date enters the warning window
unmet, one "after" reminder when it has passed unmet (`reminders_due`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

WARNING_DAYS = 14
LEVY_SETTLEMENT_DAYS = 30  # the levy accrued up to 30 days before a due date is due by that date

Quantity = int | Decimal


class CommitmentStatus(models.TextChoices):
    ON_TRACK = "on_track", _("en bonne voie")
    AT_RISK = "at_risk", _("à risque")
    OVERDUE = "overdue", _("en retard")
    FULFILLED = "fulfilled", _("tenu")


@dataclass(frozen=True)
class DueCheck:
    due_on: dt.date
    expected: Quantity  # cumulative


def commitment_status(
    *,
    today: dt.date,
    ends_on: dt.date,
    promised: Quantity,
    delivered: Quantity,
    dues: Sequence[DueCheck],
    grows_until_end: bool = False,
) -> CommitmentStatus:
    if delivered >= promised and (not grows_until_end or today > ends_on):
        return CommitmentStatus.FULFILLED
    if any(due.due_on < today and delivered < due.expected for due in dues):
        return CommitmentStatus.OVERDUE
    horizon = today + dt.timedelta(days=WARNING_DAYS)
    if any(today <= due.due_on <= horizon and delivered < due.expected for due in dues):
        return CommitmentStatus.AT_RISK
    return CommitmentStatus.ON_TRACK


def reminders_due(*, today: dt.date, delivered: Quantity, dues: Sequence[DueCheck]) -> list[tuple[dt.date, str]]:
    """(due date, "before" or "after") for each reminder the rules call for today, sent or not."""
    wanted = []
    for due in dues:
        if delivered >= due.expected:
            continue
        if due.due_on < today:
            wanted.append((due.due_on, "after"))
        elif due.due_on <= today + dt.timedelta(days=WARNING_DAYS):
            wanted.append((due.due_on, "before"))
    return wanted


def cumulative(parts: Sequence[tuple[dt.date, Quantity]]) -> list[DueCheck]:
    """Due checks from the parts due at each date (amount and days commitments)."""
    total: Quantity = 0
    checks = []
    for due_on, part in sorted(parts):
        total += part
        checks.append(DueCheck(due_on, total))
    return checks
