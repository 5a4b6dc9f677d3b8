"""Pages of the matching: the proposed assignment, the ranked candidates of a package, corrections."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from consortium.roles import Role, role_required
from partners.selectors import firms_for

from . import selectors
from .match_forms import AdjustForm, ExclusionForm
from .models import ExclusionKind, Tender, WorkPackage
from .selectors import matching
from .selectors.jobs import QUEUE_DOWN, match_waits
from .services.matching import (
    STAGE_LABELS,
    MatchRefused,
    adjust_assignment,
    create_match_run,
    exclude_firm,
    include_firm,
)


def _tender(request: HttpRequest, pk: int) -> Tender:
    return get_object_or_404(selectors.tenders_for(request.user), pk=pk)


def _package(tender: Tender, package_pk: int) -> WorkPackage:
    return get_object_or_404(WorkPackage.objects.select_related("lot", "tender"), tender=tender, pk=package_pk)


def _back(request: HttpRequest, tender: Tender) -> HttpResponse:
    """Back to the candidates page the form came from, else to the overview."""
    package_pk = request.POST.get("package", "")
    if package_pk.isdigit() and WorkPackage.objects.filter(tender=tender, pk=int(package_pk)).exists():
        return redirect("bids:package_candidates", pk=tender.pk, package_pk=int(package_pk))
    return redirect("bids:match_overview", pk=tender.pk)


@require_GET
@role_required(*selectors.TENDER_READERS)
def match_overview(request: HttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    run = matching.latest_run(tender)
    result = matching.latest_result(tender)
    page, rows = matching.assignment_page(tender, result, page=request.GET.get("page"))
    context = {
        "tender": tender,
        "run": run,
        "result": result,
        "stage": STAGE_LABELS.get(run.stage, run.stage) if run else "",
        "page": page,
        "rows": rows,
        "loads": matching.firm_loads(tender, result),
        "exclusions": matching.exclusions_of(tender),
        "kinds": ExclusionKind.choices,
        "can_act": matching.can_act_on_matching(request.user),
    }
    return render(request, "bids/match_overview.html", context)


@require_POST
@role_required(Role.BID_MANAGER)
def match_run(request: HttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    run = create_match_run(actor=request.user, tender=tender)
    if match_waits(run.pk):
        messages.warning(request, QUEUE_DOWN)
    else:
        messages.info(request, _("Rapprochement lancé : la page se met à jour à la fin du calcul."))
    return redirect("bids:match_overview", pk=tender.pk)


@require_GET
@role_required(*selectors.TENDER_READERS)
def match_status(request: HttpRequest, pk: int) -> JsonResponse:
    tender = _tender(request, pk)
    run = matching.latest_run(tender)
    if run is None:
        return JsonResponse({"status": "", "status_label": "", "stage": "", "percent": 0, "finished": True})
    return JsonResponse(
        {
            "run": run.pk,
            "status": run.status,
            "status_label": run.get_status_display(),
            "stage": str(STAGE_LABELS.get(run.stage, run.stage)),
            "percent": run.percent,
            "done": run.progress_done,
            "total": run.progress_total,
            "finished": run.is_finished,
        }
    )


@require_GET
@role_required(*selectors.TENDER_READERS)
def package_candidates(request: HttpRequest, pk: int, package_pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    package = _package(tender, package_pk)
    result = matching.latest_result(tender)
    context = {
        "tender": tender,
        "package": package,
        "skills": package.required_skills.select_related("skill"),
        "run": result,
        "candidates": matching.candidates_of(result, package),
        "assignment": getattr(package, "assignment", None),
        "exclusions": matching.exclusions_of(tender),
        "kinds": ExclusionKind.choices,
        "can_act": matching.can_act_on_matching(request.user),
    }
    return render(request, "bids/match_candidates.html", context)


@require_POST
@role_required(Role.BID_MANAGER)
def assignment_adjust(request: HttpRequest, pk: int, package_pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    package = _package(tender, package_pk)
    form = AdjustForm(request.POST, user=request.user)
    back = _back(request, tender)
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(
            request,
            _("Ajustement refusé pour « %(package)s » : %(errors)s") % {"package": package.name, "errors": errors},
        )
        return back
    try:
        adjusted = adjust_assignment(
            actor=request.user, package=package, lead=form.cleaned_data["lead"], backup=form.cleaned_data["backup"]
        )
    except MatchRefused as refused:
        messages.error(request, str(refused))
        return back
    for warning in adjusted.warnings:
        messages.warning(request, warning)
    messages.success(request, _("Attribution ajustée pour « %(package)s ».") % {"package": package.name})
    return back


@require_POST
@role_required(Role.BID_MANAGER)
def exclusion_add(request: HttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    form = ExclusionForm(request.POST, user=request.user)
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, _("Exclusion refusée : %(errors)s") % {"errors": errors})
        return _back(request, tender)
    firm = form.cleaned_data["firm"]
    try:
        exclude_firm(
            actor=request.user,
            tender=tender,
            firm=firm,
            kind=form.cleaned_data["kind"],
            reason=form.cleaned_data["reason"],
        )
    except MatchRefused as refused:
        messages.error(request, str(refused))
        return _back(request, tender)
    messages.success(request, _("%(firm)s est écartée de cet appel d'offres.") % {"firm": firm.name})
    return _back(request, tender)


@require_POST
@role_required(Role.BID_MANAGER)
def exclusion_remove(request: HttpRequest, pk: int, firm_pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    firm = get_object_or_404(firms_for(request.user), pk=firm_pk)
    if include_firm(actor=request.user, tender=tender, firm=firm):
        messages.success(request, _("%(firm)s est de nouveau candidate.") % {"firm": firm.name})
    else:
        messages.info(request, _("%(firm)s n'était pas écartée.") % {"firm": firm.name})
    return _back(request, tender)
