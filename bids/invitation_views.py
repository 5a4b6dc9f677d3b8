"""Pages of the invitations: the partner's portal (list, detail, answer) and the bid manager's dashboard.

Every invitation is read through `invitations_for(user)`: a partner reaching another firm's invitation gets
a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from consortium.forms import form_errors
from consortium.roles import STAFF_ROLES, Role, role_required, user_role
from consortium.templatetags.guichet import money

from . import selectors
from .invitation_forms import (
    AcceptForm,
    DashboardFilterForm,
    DeclineForm,
    InviteFirmForm,
    SendForm,
    StatusFilterForm,
    UploadForm,
    WithdrawForm,
    deadline_input,
    price_entries,
    typed_prices,
)
from .models import LIVE_STATUSES, Invitation, InvitationStatus, Tender, WorkPackage
from .price_sheet import PriceSheetError, read_price_sheet, render_price_sheet
from .prices import PriceEntry
from .selectors import invitations as reads
from .services.invitations import (
    InvitationRefused,
    accept_invitation,
    decline_invitation,
    default_deadline,
    invite_firm,
    mark_viewed,
    priced_lines,
    send_invitations,
    withdraw_invitation,
)

SENDERS = (Role.BID_MANAGER,)  # role_required lets admins through as well
DEADLINE_WARNING = dt.timedelta(hours=48)
PER_PAGE = 50
DASHBOARD_ROWS = 100  # work packages per page of the invitation dashboard (a 400-lot tender has thousands)


def _invitation(request: HttpRequest, pk: int) -> Invitation:
    return get_object_or_404(reads.with_context(reads.invitations_for(request.user)), pk=pk)


def _tender(request: HttpRequest, pk: int) -> Tender:
    return get_object_or_404(selectors.tenders_for(request.user), pk=pk)


def _refused(request: HttpRequest, error: InvitationRefused) -> None:
    """The refusal, then each detail it does not already say."""
    message = str(error)
    messages.error(request, message)
    for detail in error.errors:
        if detail not in message:
            messages.error(request, detail)


def _detail_context(
    request: HttpRequest, invitation: Invitation, *, typed: dict[int, str] | None = None
) -> dict[str, Any]:
    now = timezone.now()
    user = request.user
    is_staff = user_role(user) in STAFF_ROLES
    frozen = invitation.tender.offer_frozen_at is not None
    past = invitation.deadline <= now
    may_answer = reads.can_answer(user, invitation)
    revising = invitation.status == InvitationStatus.ACCEPTED
    rows = reads.invitation_lines(invitation)
    for row in rows:
        line_id = row["line"].pk
        if typed is not None:
            row["typed"] = typed.get(line_id, "")
        else:
            row["typed"] = "" if row["unit_price"] is None else formats.number_format(row["unit_price"], 2)
    history = (
        reads.with_context(reads.invitations_for(user))
        .filter(package_id=invitation.package_id)
        .order_by("sent_at", "id")
        if is_staff
        else []
    )
    return {
        "invitation": invitation,
        "tender": invitation.tender,
        "package": invitation.package,
        "lot": invitation.package.lot,
        "buyers": invitation.tender.buyers.all(),
        "skills": reads.required_skills(invitation.package),
        "rows": rows,
        "is_staff": is_staff,
        "past": past,
        "deadline_soon": invitation.is_open and not past and invitation.deadline - now < DEADLINE_WARNING,
        "frozen": frozen,
        "can_answer": may_answer and not frozen and not past and (invitation.is_open or revising),
        "can_decline": may_answer and not frozen and invitation.is_open,
        "can_withdraw": reads.can_send_invitations(user) and not frozen and invitation.status in LIVE_STATUSES,
        "revising": revising,
        "note": request.POST.get("note", invitation.note) if typed is not None else invitation.note,
        "team": request.POST.get("team", invitation.team) if typed is not None else invitation.team,
        "history": history,
        "reason": request.POST.get("reason", "") if request.method == "POST" else "",
    }


def _answer_refused(request: HttpRequest, invitation: Invitation, typed: dict[int, str] | None = None) -> HttpResponse:
    """The detail page again, with what was typed, saying nothing was saved."""
    context = _detail_context(request, invitation, typed=typed)
    return render(request, "bids/invitation_detail.html", context, status=400)


# --- The partner's portal ----------------------------------------------------------------------------------


@require_GET
@role_required(*reads.INVITATION_READERS)
def invitation_list(request: HttpRequest) -> HttpResponse:
    form = StatusFilterForm(request.GET or None)
    status = form.status_value() if form.is_bound else ""
    rows = reads.portal_invitations(request.user, status=status)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    context = {
        "form": form,
        "page": page,
        "status": status,
        "query": f"status={status}" if status else "",
        "is_staff": user_role(request.user) in STAFF_ROLES,
        "soon": now + DEADLINE_WARNING,
        "now": now,
    }
    return render(request, "bids/invitation_list.html", context)


@require_GET
@role_required(*reads.INVITATION_READERS)
def invitation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _invitation(request, pk)
    invitation = mark_viewed(actor=request.user, invitation=invitation)
    return render(request, "bids/invitation_detail.html", _detail_context(request, invitation))


@require_POST
@role_required(*reads.INVITATION_ANSWERERS)
def invitation_accept(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _invitation(request, pk)
    lines = priced_lines(invitation.package)
    typed = typed_prices(request.POST, lines)
    form = AcceptForm(request.POST)
    if not form.is_valid():
        for error in form_errors(form):
            messages.error(request, error)
        return _answer_refused(request, invitation, typed)
    try:
        accepted = accept_invitation(
            actor=request.user,
            invitation_id=invitation.pk,
            entries=price_entries(request.POST, lines),
            version=form.cleaned_data["version"],
            note=form.cleaned_data["note"],
            team=form.cleaned_data["team"],
        )
    except InvitationRefused as error:
        _refused(request, error)
        return _answer_refused(request, invitation, typed)
    messages.success(request, _answered_message(accepted))
    return redirect("bids:invitation_detail", pk=accepted.pk)


def _answered_message(invitation: Invitation) -> str:
    return _("Prix enregistrés pour « %(package)s » : total %(total)s HT.") % {
        "package": invitation.package.name,
        "total": money(invitation.total, invitation.currency),
    }


@require_POST
@role_required(*reads.INVITATION_ANSWERERS)
def invitation_decline(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _invitation(request, pk)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        for error in form_errors(form):
            messages.error(request, error)
        return _answer_refused(request, invitation)
    try:
        decline_invitation(
            actor=request.user,
            invitation_id=invitation.pk,
            reason=form.cleaned_data["reason"],
            version=form.cleaned_data["version"],
        )
    except InvitationRefused as error:
        _refused(request, error)
        return _answer_refused(request, invitation)
    messages.success(
        request, _("Vous avez décliné « %(package)s ». Merci de votre réponse.") % {"package": invitation.package.name}
    )
    return redirect("bids:invitation_detail", pk=invitation.pk)


@require_GET
@role_required(*reads.INVITATION_READERS)
def invitation_sheet(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _invitation(request, pk)
    filename, content_type, content = render_price_sheet(invitation)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@role_required(*reads.INVITATION_ANSWERERS)
def invitation_upload(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _invitation(request, pk)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for error in form_errors(form):
            messages.error(request, error)
        return _answer_refused(request, invitation)
    upload = form.cleaned_data["file"]
    try:
        entries: list[PriceEntry] = read_price_sheet(
            upload.read(), priced_lines(invitation.package), name=upload.name or ""
        )
        accepted = accept_invitation(
            actor=request.user,
            invitation_id=invitation.pk,
            entries=entries,
            version=form.cleaned_data["version"],
            note=invitation.note,
            team=invitation.team,
        )
    except PriceSheetError as error:
        messages.error(request, _("Bordereau refusé : rien n'a été enregistré."))
        messages.error(request, str(error))
        return _answer_refused(request, invitation)
    except InvitationRefused as error:
        _refused(request, error)
        return _answer_refused(request, invitation)
    messages.success(request, _answered_message(accepted))
    return redirect("bids:invitation_detail", pk=accepted.pk)


@require_POST
@role_required(*SENDERS)
def invitation_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _invitation(request, pk)
    form = WithdrawForm(request.POST)
    invite_successor = bool(form.is_valid() and form.cleaned_data["invite_successor"])
    try:
        withdraw_invitation(actor=request.user, invitation_id=invitation.pk, invite_successor=invite_successor)
    except InvitationRefused as error:
        _refused(request, error)
        return redirect("bids:invitation_detail", pk=invitation.pk)
    messages.success(
        request,
        _("Invitation de %(firm)s retirée pour « %(package)s ».")
        % {"firm": invitation.firm.name, "package": invitation.package.name},
    )
    if invite_successor:
        successor = (
            Invitation.objects.filter(replaces=invitation, status__in=LIVE_STATUSES).select_related("firm").first()
        )
        if successor is not None:
            messages.info(request, _("%(firm)s est invitée à sa place.") % {"firm": successor.firm.name})
        else:
            messages.warning(request, _("Aucune entreprise suivante à inviter pour ce lot de travaux."))
    return redirect("bids:invitation_detail", pk=invitation.pk)


# --- The bid manager's dashboard ---------------------------------------------------------------------------


@require_GET
@role_required(*selectors.TENDER_READERS)
def invitation_dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    form = DashboardFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else {"lot": "", "status": "", "over_estimate": False}
    all_rows = reads.dashboard_rows(tender)
    rows = Paginator(reads.filter_rows(all_rows, **filters), DASHBOARD_ROWS).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    lots = list({row["lot"].pk: row["lot"] for row in all_rows}.values())
    can_send = reads.can_send_invitations(request.user)
    totals = reads.tender_totals(tender)
    context = {
        "tender": tender,
        "form": form,
        "filters": filters,
        "filtered": any(filters.values()),
        "lots": lots,
        "statuses": list(DashboardFilterForm.base_fields["status"].choices)[1:],  # type: ignore[attr-defined]
        "rows": rows.object_list,
        "page": rows,
        "extra": query.urlencode(),
        "package_count": len(all_rows),
        "chart": reads.status_chart(all_rows),
        "ready": reads.is_ready_for_assembly(tender),
        "totals": totals,
        "waiting": totals["live_count"] - totals["accepted_count"],
        "currency": tender.currency or "EUR",
        "can_send": can_send and tender.offer_frozen_at is None,
        "default_deadline": deadline_input(default_deadline(tender)) if can_send else "",
        "sendable": {status for status in reads.STATUS_COLOURS if status not in LIVE_STATUSES},
    }
    return render(request, "bids/invitation_dashboard.html", context)


@require_POST
@role_required(*SENDERS)
def invitation_send(request: HttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    back = redirect("bids:invitation_dashboard", pk=tender.pk)
    form = SendForm(request.POST, tender=tender)
    if not form.is_valid():
        for error in form_errors(form):
            messages.error(request, _("Envoi refusé : %(error)s") % {"error": error})
        return back
    selected = list(form.cleaned_data["packages"])
    try:
        summary = send_invitations(
            actor=request.user, tender=tender, deadline=form.cleaned_data["deadline"], packages=selected or None
        )
    except InvitationRefused as error:
        _refused(request, error)
        return back
    if summary.sent:
        messages.success(
            request,
            _("%(n)s invitation(s) envoyée(s) ; les entreprises sont prévenues par courriel.")
            % {"n": len(summary.sent)},
        )
    else:
        messages.warning(request, _("Aucune invitation envoyée."))
    for warning in summary.warnings:
        messages.warning(request, warning)
    for skipped in summary.skipped:
        messages.info(request, skipped)
    return back


@require_POST
@role_required(*SENDERS)
def invitation_invite_firm(request: HttpRequest, pk: int, package_pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    package = get_object_or_404(WorkPackage.objects.select_related("lot", "tender"), tender=tender, pk=package_pk)
    if request.POST.get("next") == "candidates":
        back = redirect("bids:package_candidates", pk=tender.pk, package_pk=package.pk)
    else:
        back = redirect("bids:invitation_dashboard", pk=tender.pk)
    form = InviteFirmForm(request.POST, user=request.user)
    if not form.is_valid():
        for error in form_errors(form):
            messages.error(request, _("Invitation refusée : %(error)s") % {"error": error})
        return back
    firm = form.cleaned_data["firm"]
    try:
        invite_firm(
            actor=request.user,
            package=package,
            firm=firm,
            deadline=form.cleaned_data["deadline"] or default_deadline(tender),
        )
    except InvitationRefused as error:
        _refused(request, error)
        return back
    messages.success(
        request, _("%(firm)s est invitée pour « %(package)s ».") % {"firm": firm.name, "package": package.name}
    )
    return back
