"""The contribution commitments' pages: the list with its status chart, a commitment, and what records its
fulfilment (work delivered, a payment to the project and its reversal).

Every commitment is read through `commitments_for(user)`: staff see all, a partner user its own firm's, and
another firm's commitment is not found. A refused form or service comes back on the page it was sent from,
with status 400, nothing saved; never a 500.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consortium.roles import Role, has_role, role_required
from consortium.templatetags.guichet import quantity

from .commitment_forms import CommitmentForm, ContributionPaymentForm, PaymentReverseForm, WorkForm
from .commitment_rules import WARNING_DAYS, CommitmentStatus
from .ledger import LedgerRefused
from .models import Commitment, CommitmentKind, UpstreamProject
from .selectors.commitments import (
    CommitmentProgress,
    can_edit_commitments,
    can_record_work,
    commitment_progress,
    commitments_for,
    commitments_progress,
)
from .services.commitments import (
    CommitmentRefused,
    create_commitment,
    record_contribution_payment,
    record_work,
    reverse_contribution_payment,
)
from .views import PER_PAGE, euros, posted

READERS = (Role.BID_MANAGER, Role.FINANCE, Role.PARTNER)  # role_required lets admins through as well
EDITORS = (Role.BID_MANAGER, Role.FINANCE)
FINANCE = (Role.FINANCE,)
REFUSALS = (CommitmentRefused, LedgerRefused)
STATUS_COLOURS: dict[str, str] = {
    CommitmentStatus.ON_TRACK: "#2a6f97",
    CommitmentStatus.AT_RISK: "#c98a00",
    CommitmentStatus.OVERDUE: "#c0392b",
    CommitmentStatus.FULFILLED: "#1e8449",
}


def shown(value: int | Decimal, in_days: bool) -> str:
    """A commitment's quantity as the pages show it: '2,5 j' or '1 234,56 EUR'."""
    return f"{quantity(Decimal(value))} j" if in_days else euros(int(value))


def _commitment(request: HttpRequest, pk: int) -> Commitment:
    return get_object_or_404(commitments_for(request.user), pk=pk)


def _back(commitment: Commitment, anchor: str) -> HttpResponse:
    return redirect(f"{reverse('contributions:commitment_detail', args=[commitment.pk])}#{anchor}")


def _is_finance(request: HttpRequest) -> bool:
    return has_role(request.user, Role.FINANCE, Role.ADMIN)


# --- The list -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    commitment: Commitment
    progress: CommitmentProgress

    @property
    def percent(self) -> Decimal | None:
        """Delivered over promised, in percent (at most 100), None while nothing is promised yet."""
        promised, delivered = self.progress.promised, self.progress.delivered
        if not promised:
            return None
        return min(Decimal(100), Decimal(delivered) * 100 / Decimal(promised)).quantize(Decimal("0.1"))


@require_GET
@role_required(*READERS)
def commitment_list(request: HttpRequest) -> HttpResponse:
    scope = commitments_for(request.user)
    projects = list(UpstreamProject.objects.filter(pk__in=scope.values("project_id")).order_by("name"))
    project = request.GET.get("project", "")
    status = request.GET.get("status", "")
    status = status if status in CommitmentStatus.values else ""
    if project.isdigit():
        scope = scope.filter(project_id=int(project))
    else:
        project = ""
    commitments = list(scope)
    progress = commitments_progress(commitments, today=timezone.localdate())
    counts = Counter(str(progress[c.pk].status) for c in commitments)
    rows = [Row(c, progress[c.pk]) for c in commitments if not status or progress[c.pk].status == status]
    filters = {key: value for key, value in (("project", project), ("status", status)) if value}
    return render(
        request,
        "contributions/commitment_list.html",
        {
            "page": Paginator(rows, PER_PAGE).get_page(request.GET.get("page")),
            "projects": projects,
            "statuses": CommitmentStatus.choices,
            "filters": {"project": project, "status": status},
            "extra": urlencode(filters),
            "chart": status_chart_svg(counts, project=project),
            "total": len(commitments),
            "can_create": can_edit_commitments(request.user),
        },
    )


CHART_WIDTH, CHART_LABEL, CHART_COUNT, CHART_ROW, CHART_TOP = 520, 130, 40, 22, 26


def status_chart_svg(counts: Counter[str], *, project: str = "") -> SafeString:
    """One bar per status, scaled to the largest count; each bar links to the list filtered on it."""
    largest = max(counts.values(), default=0)
    room = CHART_WIDTH - CHART_LABEL - CHART_COUNT
    bars = []
    for index, (value, label) in enumerate(CommitmentStatus.choices):
        count = counts.get(value, 0)
        top = CHART_TOP + index * CHART_ROW
        length = max(int(room * count / largest), 1) if largest and count else 1
        query = urlencode({"status": value, **({"project": project} if project else {})})
        bars.append(
            (f"?{query}", CHART_LABEL - 6, top + 13, label, CHART_LABEL, top + 3, length, STATUS_COLOURS[value],
             CHART_LABEL + length + 5, top + 13, count)
        )  # fmt: skip
    body = format_html_join(
        "",
        '<a href="{}"><text x="{}" y="{}" text-anchor="end">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="14" rx="2" fill="{}"/><text x="{}" y="{}">{}</text></a>',
        bars,
    )
    title = _("Engagements par statut")
    chart: SafeString = format_html(
        '<svg class="fin-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'font-family="DejaVu Sans, sans-serif" font-size="11" role="img" aria-label="{t}">'
        '<text x="0" y="15" font-size="12" font-weight="bold" fill="#1d3557">{t}</text>{body}</svg>',
        w=CHART_WIDTH,
        h=CHART_TOP + CHART_ROW * len(CommitmentStatus.choices) + 4,
        t=title,
        body=body,
    )
    return chart


# --- A new commitment ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required(*EDITORS)
def commitment_new(request: HttpRequest) -> HttpResponse:
    form = CommitmentForm(posted(request), initial={"starts_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            commitment = create_commitment(actor=request.user, data=form.commitment_input())
        except REFUSALS as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Engagement « %(title)s » enregistré.") % {"title": commitment.title})
            return redirect("contributions:commitment_detail", pk=commitment.pk)
    return render(
        request,
        "contributions/commitment_new.html",
        {"form": form, "has_projects": UpstreamProject.objects.exists()},
        status=400 if request.method == "POST" else 200,
    )


# --- A commitment -------------------------------------------------------------------------------------------------


@require_GET
@role_required(*READERS)
def commitment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _commitment(request, pk))


def _detail(request: HttpRequest, commitment: Commitment, *, bound: dict[str, Any] | None = None) -> HttpResponse:
    """The page, with the forms the user may use; `bound` holds a refused form, shown with its errors (400)."""
    bound = bound or {}
    today = timezone.localdate()
    progress = commitment_progress(commitment, today=today)
    is_finance = _is_finance(request)
    in_money = commitment.kind != CommitmentKind.DAYS
    work_form = bound.get("work")
    if work_form is None and not in_money and can_record_work(request.user, commitment):
        work_form = WorkForm(prefix="work")
    payment_form = bound.get("payment")
    if payment_form is None and in_money and is_finance:
        payment_form = ContributionPaymentForm(commitment=commitment, prefix="payment")
    context = {
        "commitment": commitment,
        "progress": progress,
        "row": Row(commitment, progress),
        "reason": status_reason(commitment, progress, today),
        "dues": [
            DueRow(due.due_on, due.expected, met=progress.delivered >= due.expected, passed=due.due_on < today)
            for due in progress.dues
        ],
        "payments": list(commitment.payments.select_related("created_by")),
        "deliveries": list(commitment.deliveries.select_related("created_by")),
        "is_finance": is_finance,
        "is_staff": can_edit_commitments(request.user),
        "in_money": in_money,
        "work_form": work_form,
        "payment_form": payment_form,
        "reverse_form": bound.get("reverse"),
        "warning_days": WARNING_DAYS,
    }
    return render(request, "contributions/commitment_detail.html", context, status=400 if bound else 200)


@dataclass(frozen=True)
class DueRow:
    due_on: dt.date
    expected: int | Decimal  # cumulative
    met: bool
    passed: bool


def _day(date: dt.date) -> str:
    return date.strftime("%d/%m/%Y")


def status_reason(commitment: Commitment, progress: CommitmentProgress, today: dt.date) -> str:
    """Which rule of `pricing.commitment_rules` gave the status, in words, with the figures it compared."""
    in_days = progress.in_days
    figures: dict[str, Any] = {
        "delivered": shown(progress.delivered, in_days),
        "promised": shown(progress.promised, in_days),
        "end": _day(commitment.ends_on),
        "days": WARNING_DAYS,
    }
    levy = commitment.kind == CommitmentKind.LEVY
    if progress.status == CommitmentStatus.FULFILLED:
        if levy:
            return (
                _(
                    "Tenu : la période est finie (le %(end)s) et le versé (%(delivered)s) couvre toute la contribution "
                    "collectée ou facturée (%(promised)s)."
                )
                % figures
            )
        return _("Tenu : le livré (%(delivered)s) couvre la promesse (%(promised)s).") % figures
    missed = [due for due in progress.dues if due.due_on < today and progress.delivered < due.expected]
    if progress.status == CommitmentStatus.OVERDUE and missed:
        figures.update(date=_day(missed[0].due_on), expected=shown(missed[0].expected, in_days))
        return (
            _(
                "En retard : l'échéance du %(date)s est passée ; %(expected)s étaient dus à cette date, "
                "%(delivered)s seulement sont livrés."
            )
            % figures
        )
    horizon = today + dt.timedelta(days=WARNING_DAYS)
    near = [due for due in progress.dues if today <= due.due_on <= horizon and progress.delivered < due.expected]
    if progress.status == CommitmentStatus.AT_RISK and near:
        figures.update(
            date=_day(near[0].due_on), left=(near[0].due_on - today).days, expected=shown(near[0].expected, in_days)
        )
        return (
            _(
                "À risque : l'échéance du %(date)s arrive dans %(left)s jour(s) (l'alerte part %(days)s jours avant) ; "
                "%(expected)s seront dus, %(delivered)s sont livrés."
            )
            % figures
        )
    if levy and progress.delivered >= progress.promised:
        return (
            _(
                "En bonne voie : tout ce qui a été collecté est versé, mais la contribution s'accumule encore jusqu'au "
                "%(end)s."
            )
            % figures
        )
    return (
        _(
            "En bonne voie : aucune échéance passée n'est manquée, et aucune échéance des %(days)s prochains jours "
            "n'est encore découverte."
        )
        % figures
    )


# --- Recording the fulfilment --------------------------------------------------------------------------------------


@require_POST
@role_required(*READERS)
def work_new(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _commitment(request, pk)
    if not can_record_work(request.user, commitment):
        raise PermissionDenied
    form = WorkForm(request.POST, prefix="work")
    if form.is_valid():
        data = form.cleaned_data
        try:
            delivery = record_work(
                actor=request.user,
                commitment=commitment,
                days=data["days"],
                delivered_on=data["delivered_on"],
                description=data["description"],
                links=form.link_list(),
            )
        except REFUSALS as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("Travail enregistré : %(days)s, %(links)s lien(s).")
                % {"days": shown(delivery.days, True), "links": len(delivery.links)},
            )
            return _back(commitment, "work")
    return _detail(request, commitment, bound={"work": form})


@require_POST
@role_required(*FINANCE)
def payment_new(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _commitment(request, pk)
    form = ContributionPaymentForm(request.POST, commitment=commitment, prefix="payment")
    if form.is_valid():
        try:
            payment = record_contribution_payment(
                actor=request.user, commitment=commitment, payment=form.payment_input()
            )
        except REFUSALS as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("Versement de %(amount)s à %(project)s enregistré (écriture n° %(entry)s).")
                % {
                    "amount": euros(payment.amount_cents),
                    "project": commitment.project.name,
                    "entry": payment.entry_id,
                },
            )
            return _back(commitment, "payments")
    return _detail(request, commitment, bound={"payment": form})


@require_POST
@role_required(*FINANCE)
def payment_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _commitment(request, pk)
    form = PaymentReverseForm(request.POST, payments=commitment.payments.filter(reversed_at__isnull=True))
    if form.is_valid():
        payment = form.cleaned_data["payment"]
        try:
            reverse_contribution_payment(actor=request.user, payment=payment, reason=form.cleaned_data["reason"])
        except REFUSALS as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("Versement de %(amount)s annulé : son écriture est contre-passée.")
                % {"amount": euros(payment.amount_cents)},
            )
            return _back(commitment, "payments")
    return _detail(request, commitment, bound={"reverse": form})
