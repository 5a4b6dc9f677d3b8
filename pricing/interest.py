"""Late-payment interest owed by a French public buyer (intérêts moratoires), and the fixed recovery fee.

The law: a late payment makes interest run by right, plus a fixed recovery fee (Code de la commande
publique, article L2192-13; the fee is 40 €, article D2192-35). The rate is the European Central Bank's
main refinancing operations rate in force on the first day of the half-year (1 January or 1 July) in
which the interest started to run, plus eight percentage points (article R2192-31). Interest runs from
the day after the payment was due up to the day it was paid; it is simple interest on 365 days, rounded
once to the cent.

The ECB rates come from the ECB's "Key ECB interest rates" page (main refinancing operations, fixed rate
tenders). A half-year later than the last row of `ECB_MRO_RATES` uses the last known rate until a row is
added for it: add one row per half-year, on 1 January and 1 July.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, localcontext

from django.utils.translation import gettext as _

from consortium.money import round_money

# (in force on, ECB main refinancing operations rate in percent), one row per half-year start.
ECB_MRO_RATES: tuple[tuple[dt.date, Decimal], ...] = (
    (dt.date(2022, 7, 1), Decimal("0.00")),
    (dt.date(2023, 1, 1), Decimal("2.50")),
    (dt.date(2023, 7, 1), Decimal("4.00")),
    (dt.date(2024, 1, 1), Decimal("4.50")),
    (dt.date(2024, 7, 1), Decimal("4.25")),
    (dt.date(2025, 1, 1), Decimal("3.15")),
    (dt.date(2025, 7, 1), Decimal("2.15")),
)
ADDED_POINTS = Decimal("8")
FIXED_RECOVERY_FEE = Decimal("40.00")
DAYS_IN_YEAR = 365
NO_MONEY = Decimal("0.00")


@dataclass(frozen=True)
class LateInterest:
    days: int
    rate: Decimal  # percent a year; 0.00 when the payment was not late
    interest: Decimal
    fixed_fee: Decimal
    total: Decimal


def half_year_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 1 if day.month <= 6 else 7, 1)


def legal_rate(started_on: dt.date) -> Decimal:
    """The yearly rate, in percent, for interest that started to run on `started_on`."""
    start = half_year_start(started_on)
    known = [rate for in_force_on, rate in ECB_MRO_RATES if in_force_on <= start]
    if not known:
        raise ValueError(
            _("Pas de taux BCE connu pour le semestre commençant le %(start)s (le premier connu est du %(first)s).")
            % {"start": start.isoformat(), "first": ECB_MRO_RATES[0][0].isoformat()}
        )
    return known[-1] + ADDED_POINTS


def late_interest(*, principal_cents: int, due_on: dt.date, paid_on: dt.date) -> LateInterest:
    """Interest and fee owed on `principal_cents` due on `due_on` and paid on `paid_on`."""
    if isinstance(principal_cents, bool) or not isinstance(principal_cents, int) or principal_cents < 0:
        raise ValueError(
            _("Montant en retard %(amount)s invalide : un nombre entier de centimes positif ou nul est attendu.")
            % {"amount": principal_cents}
        )
    days = max(0, (paid_on - due_on).days)
    if days == 0:
        return LateInterest(days=0, rate=NO_MONEY, interest=NO_MONEY, fixed_fee=NO_MONEY, total=NO_MONEY)
    rate = legal_rate(due_on + dt.timedelta(days=1))
    with localcontext() as exact:
        exact.prec = 60  # one division, well short of rounding before the cent
        interest = round_money(Decimal(principal_cents) * rate * days / (100 * 100 * DAYS_IN_YEAR))
    return LateInterest(
        days=days,
        rate=rate,
        interest=interest,
        fixed_fee=FIXED_RECOVERY_FEE,
        total=interest + FIXED_RECOVERY_FEE,
    )
