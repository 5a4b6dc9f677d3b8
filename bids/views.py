from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from consortium.roles import Role, role_required

from . import selectors
from .forms import ImportForm, RetryForm
from .models import ImportJob, JobStatus
from .selectors.jobs import QUEUE_DOWN, import_waits
from .services.imports import create_import_job, retry_import_job, save_schedule_mapping

LINES_PER_PAGE = 100


@require_safe
@role_required(*selectors.TENDER_READERS)
def tender_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(selectors.tender_list(request.user, search=search), 25).get_page(request.GET.get("page"))
    return render(request, "bids/tender_list.html", {"page": page, "search": search})


@require_safe
@role_required(*selectors.TENDER_READERS)
def tender_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tender = get_object_or_404(selectors.tenders_for(request.user), pk=pk)
    lots = list(selectors.lots_of(tender))
    lot = next((item for item in lots if str(item.pk) == request.GET.get("lot")), None)
    lines = Paginator(selectors.lines_of(tender, lot=lot), LINES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "tender": tender,
        "lots": lots,
        "groups": tender.lot_groups.prefetch_related("lots"),
        "buyers": tender.buyers.all(),
        "versions": tender.notice_versions.all(),
        "selected_lot": lot,
        "lines": lines,
        "can_import": selectors.can_import(request.user),
        "chart": selectors.lot_value_chart(lots),
        "cpv_labels": selectors.cpv_labels([tender.cpv_codes, *(item.cpv_codes for item in lots)]),
    }
    return render(request, "bids/tender_detail.html", context)


@require_safe
@role_required(Role.BID_MANAGER)
def import_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.jobs_for(request.user), 25).get_page(request.GET.get("page"))
    return render(request, "bids/import_list.html", {"page": page})


@require_http_methods(["GET", "HEAD", "POST"])
@role_required(Role.BID_MANAGER)
def import_new(request: HttpRequest) -> HttpResponse:
    initial = {"tender": request.GET.get("tender")} if request.GET.get("tender", "").isdigit() else {}
    form = ImportForm(request.POST or None, request.FILES or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        options = {**form.options(), "lot": form.cleaned_data["lot"].strip() or None}
        _maybe_save_mapping(request, form.cleaned_data.get("save_mapping_as", ""), options)
        job = create_import_job(
            actor=request.user,
            name=upload.name,
            data=upload.read(),
            fmt=form.cleaned_data["format"],
            target=form.cleaned_data["tender"],
            options=options,
        )
        if import_waits(job.pk):
            messages.warning(request, QUEUE_DOWN)
        else:
            messages.info(request, _("Import lancé : %(name)s") % {"name": job.original_name})
        return redirect("bids:import_detail", pk=job.pk)
    return render(request, "bids/import_new.html", {"form": form})


def _maybe_save_mapping(request: HttpRequest, name: str, options: dict[str, Any]) -> None:
    if name.strip() and options.get("mapping"):
        save_schedule_mapping(
            actor=request.user, name=name.strip(), mapping=options["mapping"], header_row=options.get("header_row")
        )


def _job(request: HttpRequest, pk: int) -> ImportJob:
    job = selectors.jobs_for(request.user).filter(pk=pk).first()
    if job is None:
        raise Http404
    return job


@require_safe
@role_required(Role.BID_MANAGER)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    retry = RetryForm.for_job(job) if selectors.can_retry(job) else None
    lots = (
        job.target_tender.lots.filter(withdrawn=False)
        if job.status == JobStatus.NEEDS_INPUT and job.target_tender
        else []
    )
    context = {"job": job, "retry": retry, "lots": lots, "preview": selectors.schedule_preview(job) if retry else None}
    return render(request, "bids/import_detail.html", context)


@require_safe
@role_required(Role.BID_MANAGER)
def import_status(request: HttpRequest, pk: int) -> JsonResponse:
    job = _job(request, pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "stage": job.stage_label,
            "percent": job.percent,
            "done": job.progress_done,
            "total": job.progress_total,
            "finished": job.is_finished,
        }
    )


@require_POST
@role_required(Role.BID_MANAGER)
def import_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    form = RetryForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Le formulaire contient des erreurs."))
        return redirect("bids:import_detail", pk=job.pk)
    options = {**form.options(), "lot": form.cleaned_data["lot"].strip() or None}
    _maybe_save_mapping(request, form.cleaned_data.get("save_mapping_as", ""), options)
    new_job = retry_import_job(actor=request.user, job=job, options=options)
    messages.info(request, _("Nouvel essai lancé avec les réglages corrigés."))
    return redirect("bids:import_detail", pk=new_job.pk)
