"""The finance dashboard: money received per month, lot and firm; what is owed to each firm and each upstream
fund; the overdue invoices with the late-payment interest they have accrued. Finance and admins only.

A fixed number of grouped queries (selectors.finance.dashboard), whatever the size of the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from consortium.roles import role_required

from .finance_charts import bars_svg, columns_svg
from .interest import LateInterest, late_interest
from .selectors import finance
from .views import FINANCE, PER_PAGE


@dataclass(frozen=True)
class OverdueRow:
    overdue: finance.OverdueInvoice
    interest: LateInterest | None  # None: no legal rate known for that half-year


def _interest(row: finance.OverdueInvoice, today: dt.date) -> LateInterest | None:
    try:
        return late_interest(principal_cents=row.outstanding_cents, due_on=row.invoice.due_on, paid_on=today)
    except ValueError:
        return None


@require_GET
@role_required(*FINANCE)
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    figures = finance.dashboard(today=today, network_label=_("Fonds commun du réseau"))
    overdue = [OverdueRow(row, _interest(row, today)) for row in figures.overdue]
    interest_total = sum((row.interest.total for row in overdue if row.interest), Decimal("0.00"))
    return render(
        request,
        "pricing/dashboard.html",
        {
            "today": today,
            "figures": figures,
            "month_chart": columns_svg(figures.months, title=_("Encaissements par mois (TTC)")),
            "lot_chart": bars_svg(figures.lots, title=_("Encaissements par lot, 12 derniers mois")),
            "firm_chart": bars_svg(figures.firms, title=_("Part redistribuée à chaque entreprise, 12 derniers mois")),
            "owed_chart": bars_svg(
                [row for row in figures.owed_to_firms if row.cents > 0], title=_("Dû à chaque entreprise")
            ),
            "fund_chart": bars_svg(
                [row for row in figures.owed_to_funds if row.cents > 0], title=_("Dû à chaque fonds amont")
            ),
            "owed_total": sum(row.cents for row in figures.owed_to_firms),
            "funds_total": sum(row.cents for row in figures.owed_to_funds),
            "overdue_page": Paginator(overdue, PER_PAGE).get_page(request.GET.get("page")),
            "overdue_count": len(overdue),
            "overdue_cents": sum(row.overdue.outstanding_cents for row in overdue),
            "interest_total": interest_total,
        },
    )
