"""Reads of invitations. A partner user sees only its own firm's invitations and prices; staff see all."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from consortium.money import round_money
from consortium.roles import STAFF_ROLES, Role, user_role
from partners.selectors import firms_for

from ..models import LIVE_STATUSES, OPEN_STATUSES, Invitation, InvitationStatus, Line, Tender, WorkPackage
from ..prices import line_amount

INVITATION_SENDERS = frozenset({Role.BID_MANAGER, Role.ADMIN})
INVITATION_READERS = STAFF_ROLES | {Role.PARTNER}
# The firm's own users, and a bid manager answering on a firm's behalf; finance reads only.
INVITATION_ANSWERERS = frozenset({Role.PARTNER, Role.BID_MANAGER, Role.ADMIN})
NOT_SENT = "not_sent"
STATUS_COLOURS = {
    NOT_SENT: "#b7bec8",
    InvitationStatus.SENT: "#5b9bd5",
    InvitationStatus.VIEWED: "#0b5cad",
    InvitationStatus.ACCEPTED: "#1f7a4a",
    InvitationStatus.DECLINED: "#c2417a",
    InvitationStatus.EXPIRED: "#c27c0e",
    InvitationStatus.WITHDRAWN: "#6b7785",
    InvitationStatus.SUPERSEDED: "#8a63d2",
}
STATUS_LABELS: dict[str, Any] = {NOT_SENT: _("non envoyée"), **dict(InvitationStatus.choices)}


def can_send_invitations(user: Any) -> bool:
    return user_role(user) in INVITATION_SENDERS


def invitations_for(user: Any) -> QuerySet[Invitation]:
    """The one scoping helper for invitations, used by pages, downloads and the API alike."""
    role = user_role(user)
    if role in STAFF_ROLES:
        return Invitation.objects.all()
    if role == Role.PARTNER:
        return Invitation.objects.filter(firm__in=firms_for(user, action="view"))
    return Invitation.objects.none()


def with_context(invitations: QuerySet[Invitation]) -> QuerySet[Invitation]:
    return invitations.select_related("package", "package__lot", "tender", "firm")


def portal_invitations(user: Any, *, status: str = "") -> list[Invitation]:
    """The partner's list: open ones first, soonest deadline first; then the answered and closed ones."""
    invitations = with_context(invitations_for(user))
    if status:
        invitations = invitations.filter(status=status)
    rows = list(invitations.order_by("deadline", "id"))
    return sorted(rows, key=lambda i: (i.status not in OPEN_STATUSES, i.status != InvitationStatus.ACCEPTED))


def invitation_lines(invitation: Invitation) -> list[dict[str, Any]]:
    """The package's lines with the firm's own unit price (if answered) and the line amount."""
    prices = dict(invitation.prices.values_list("line_id", "unit_price"))
    lines = Line.objects.filter(work_package_id=invitation.package_id).order_by("lot_id", "position")
    rows = []
    for number, line in enumerate(lines, start=1):
        price = prices.get(line.pk)
        rows.append(
            {
                "number": number,
                "line": line,
                "unit_price": price,
                "amount": round_money(line_amount(line.quantity, price)) if price is not None else None,
            }
        )
    return rows


def required_skills(package: WorkPackage) -> list[Any]:
    return list(package.required_skills.select_related("skill").order_by("-weight", "skill__name"))


def _current(invitations: list[Invitation]) -> Invitation | None:
    """What the dashboard shows for a package: the acceptance, else an open one, else the latest."""
    for wanted in ({InvitationStatus.ACCEPTED}, OPEN_STATUSES):
        live = [i for i in invitations if i.status in wanted]
        if live:
            return min(live, key=lambda i: i.deadline)
    return max(invitations, key=lambda i: (i.sent_at, i.pk)) if invitations else None


def gap_percent(total: Decimal | None, estimate: Decimal | None) -> Decimal | None:
    if total is None or not estimate:
        return None
    return ((total - estimate) * 100 / estimate).quantize(Decimal("0.1"))


def dashboard_rows(
    tender: Tender, *, lot: str = "", status: str = "", over_estimate: bool = False
) -> list[dict[str, Any]]:
    """One row per work package: its current invitation, firm, deadline, price and gap to the estimate.

    Two queries whatever the size of the tender.
    """
    packages = list(
        WorkPackage.objects.filter(tender=tender).select_related("lot").order_by("lot__position", "position", "id")
    )
    by_package: dict[int, list[Invitation]] = defaultdict(list)
    for invitation in Invitation.objects.filter(tender=tender).select_related("firm"):
        by_package[invitation.package_id].append(invitation)
    rows: list[dict[str, Any]] = []
    for package in packages:
        history = by_package.get(package.pk, [])
        current = _current(history)
        state = current.status if current else NOT_SENT
        open_count = sum(1 for i in history if i.status in OPEN_STATUSES)
        total = current.total if current and current.status == InvitationStatus.ACCEPTED else None
        gap = gap_percent(total, package.estimated_value)
        rows.append(
            {
                "package": package,
                "lot": package.lot,
                "invitation": current,
                "status": state,
                "status_label": STATUS_LABELS[state],
                "colour": STATUS_COLOURS[state],
                "open_count": open_count,
                "history": sorted(history, key=lambda i: (i.sent_at, i.pk)),
                "total": total,
                "gap": gap,
            }
        )
    return filter_rows(rows, lot=lot, status=status, over_estimate=over_estimate)


def filter_rows(
    rows: list[dict[str, Any]], *, lot: str = "", status: str = "", over_estimate: bool = False
) -> list[dict[str, Any]]:
    """The dashboard's filters, applied to rows already read (the chart keeps showing the whole tender)."""
    if lot:
        rows = [row for row in rows if str(row["lot"].pk) == lot]
    if status:
        rows = [row for row in rows if row["status"] == status]
    if over_estimate:
        rows = [row for row in rows if row["gap"] is not None and row["gap"] > 0]
    return rows


def status_chart(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Segments of the stacked bar: how many packages are in each state."""
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["status"]] += 1
    total = sum(counts.values()) or 1
    return [
        {
            "status": key,
            "label": STATUS_LABELS[key],
            "colour": STATUS_COLOURS[key],
            "count": counts[key],
            "percent": f"{100 * counts[key] / total:.2f}",
        }
        for key in STATUS_COLOURS
        if counts[key]
    ]


def is_ready_for_assembly(tender: Tender) -> bool:
    """Every work package of the tender has an accepted invitation."""
    packages = WorkPackage.objects.filter(tender=tender)
    if not packages.exists():
        return False
    accepted = Invitation.objects.filter(tender=tender, status=InvitationStatus.ACCEPTED)
    return not packages.exclude(pk__in=accepted.values("package_id")).exists()


def tender_totals(tender: Tender) -> dict[str, Any]:
    counts = Invitation.objects.filter(tender=tender).aggregate(
        accepted_total=Sum("total", filter=Q(status=InvitationStatus.ACCEPTED), default=Decimal(0)),
        accepted_count=Count("pk", filter=Q(status=InvitationStatus.ACCEPTED)),
        live_count=Count("pk", filter=Q(status__in=LIVE_STATUSES)),
    )
    return dict(counts)


def can_answer(user: Any, invitation: Invitation) -> bool:
    """Whether `user` may answer for the invitation's firm: its own users, or the guichet's firm editors."""
    return (
        user_role(user) in INVITATION_ANSWERERS
        and firms_for(user, action="change").filter(pk=invitation.firm_id).exists()
    )
