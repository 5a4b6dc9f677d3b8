"""Pages of the group offer: the bid manager's offer page and its actions, the partners' "Mes offres", the
downloads.

Every version is read through `version_for(user, pk)`: a partner reaching a version its firm is not a member
of, or a document of another firm, gets a 404, never a 403 that would confirm it exists. The views are thin:
selector, form, one service call, message, redirect; a refusal (`OfferRefused`) comes back as messages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from consortium.forms import form_errors
from consortium.money import round_money
from consortium.roles import Role, role_required

from . import selectors
from .models import JobStatus, Tender, progress_percent
from .offer_forms import CompositionForm, PolicyForm, ResultForm, RevisionForm
from .offer_models import DocumentKind, OfferDocument, OfferStatus, OfferVersion
from .selectors import offers as reads
from .selectors.invitations import is_ready_for_assembly
from .selectors.jobs import QUEUE_DOWN, rendering_waits
from .selectors.offers import Composition
from .services.offers import (
    OfferRefused,
    freeze_version,
    new_version,
    record_result,
    retry_rendering,
    set_policy,
    start_offer,
    submit_version,
    update_composition,
)

MANAGERS = (Role.BID_MANAGER,)  # role_required lets admins through as well
OFFER_PAGE = (Role.BID_MANAGER, Role.FINANCE)  # finance reads the versions that were sent
READERS = (Role.BID_MANAGER, Role.FINANCE, Role.PARTNER)  # downloads; a partner gets its own parts only
LOTS_PER_PAGE = 50
CHART_BARS = 20
PROBLEMS_SHOWN = 50
MESSAGES_SHOWN = 20
STAGE_LABELS = {
    "snapshot": gettext_lazy("lecture de l'offre"),
    "queue unreachable": gettext_lazy("file de tâches injoignable : le rendu démarrera à son retour"),
}
FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})


def _tender(request: HttpRequest, pk: int) -> Tender:
    return get_object_or_404(selectors.tenders_for(request.user), pk=pk)


def _version(request: HttpRequest, pk: int) -> OfferVersion:
    version = reads.version_for(request.user, pk)
    if version is None:
        raise Http404
    return version


def _back(version: OfferVersion) -> HttpResponse:
    return redirect("bids:offer_detail", pk=version.offer.tender_id)


def _refused(request: HttpRequest, error: OfferRefused) -> None:
    """The refusal, then each problem with what to do about it."""
    message = str(error)
    messages.error(request, message)
    for problem in error.problems[:MESSAGES_SHOWN]:
        messages.error(request, f"{problem.what} — {problem.fix}")
    if len(error.problems) > MESSAGES_SHOWN:
        messages.error(
            request,
            _("… et %(count)s autre(s) point(s) : voir la liste sur la page.")
            % {"count": len(error.problems) - MESSAGES_SHOWN},
        )


def _form_refused(request: HttpRequest, form: Any, prefix: str) -> None:
    for error in form_errors(form):
        messages.error(request, f"{prefix} {error}")


# --- The bid manager's page (finance reads what was sent) -----------------------------------------------------


@require_GET
@role_required(*OFFER_PAGE)
def offer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    offer = reads.offer_for_tender(request.user, tender)
    can_manage = reads.can_manage_offers(request.user)
    versions = reads.versions_of(request.user, offer) if offer is not None else []
    context: dict[str, Any] = {
        "tender": tender,
        "buyers": tender.buyers.all(),
        "currency": tender.currency or "EUR",
        "can_manage": can_manage,
        "offer": offer,
        "version": None,
    }
    if not versions:
        context["ready"] = is_ready_for_assembly(tender)
        return render(request, "bids/offer_detail.html", context)
    wanted = request.GET.get("version", "")
    version = next((row for row in versions if str(row.number) == wanted), versions[0])
    is_latest = version.pk == versions[0].pk
    composition = reads.offer_composition(version)
    context.update(
        {
            "versions": versions,
            "version": version,
            "is_latest": is_latest,
            "members": composition.members,
            "summary": composition.figures,
            "currency": version.currency or context["currency"],
            **_price_context(request, composition, version, is_latest=is_latest),
        }
    )
    if version.is_draft:
        context.update(_draft_context(version, composition))
    else:
        context.update(_frozen_context(request, version, is_latest=is_latest, can_manage=can_manage))
    return render(request, "bids/offer_detail.html", context)


def _draft_context(version: OfferVersion, composition: Composition) -> dict[str, Any]:
    members = composition.members
    form = CompositionForm(initial=CompositionForm.initial_for(version, members), members=members)
    policy = composition.figures.policy
    policy_form = PolicyForm(
        initial={
            "revision": version.revision,
            "fee_rate": policy.fee_rate,
            "levy_rate": policy.levy_rate,
            "vat_rate": policy.vat_rate,
        }
    )
    package_counts: dict[int, int] = defaultdict(int)
    for allocation in composition.allocations:
        package_counts[allocation.firm.pk] += 1
    rows = []
    for row in form.member_rows():
        member = row["member"]
        row["package_count"] = package_counts[member.firm.pk]
        row["totals"] = member.totals
        row["warn_direct_payment"] = member.needs_direct_payment and not member.direct_payment
        rows.append(row)
    problems = reads.offer_problems(version, composition)
    return {
        "problems": problems[:PROBLEMS_SHOWN],
        "more_problems": max(0, len(problems) - PROBLEMS_SHOWN),
        "composition": form,
        "member_rows": rows,
        "policy_form": policy_form,
    }


def _render_state(version: OfferVersion) -> dict[str, Any]:
    status = version.render_status or JobStatus.QUEUED
    stage = version.render_stage
    return {
        "status": status,
        "status_label": str(JobStatus(status).label),
        "stage": str(STAGE_LABELS.get(stage, stage)),
        "percent": progress_percent(status, version.render_done, version.render_total),
        "done": version.render_done,
        "total": version.render_total,
        "finished": status in FINISHED,
    }


def _render_errors(version: OfferVersion) -> list[str]:
    errors = []
    for error in version.render_errors or []:
        if isinstance(error, dict):
            errors.append(f"{error.get('where', '')} : {error.get('message', '')}".strip(" :"))
        else:
            errors.append(str(error))
    return errors


def _frozen_context(
    request: HttpRequest, version: OfferVersion, *, is_latest: bool, can_manage: bool
) -> dict[str, Any]:
    state = _render_state(version)
    rendered = state["status"] == JobStatus.SUCCEEDED
    return {
        "render": state,
        "render_errors": _render_errors(version),
        "documents": _in_reading_order(reads.documents_for(request.user, version)) if rendered else [],
        "can_retry": can_manage and state["status"] == JobStatus.FAILED,
        "can_submit": can_manage and is_latest and version.status == OfferStatus.FROZEN and rendered,
        "can_decide": can_manage and version.status == OfferStatus.SUBMITTED,
        "can_new_version": can_manage and is_latest and version.status in {OfferStatus.FROZEN, OfferStatus.SUBMITTED},
    }


def _in_reading_order(documents: list[OfferDocument]) -> list[OfferDocument]:
    """The offer's own documents first (schedule, memo, groupement), then each firm's parts."""
    order = list(DocumentKind.values)

    def place(document: OfferDocument) -> tuple[bool, str, int]:
        firm = document.firm.name if document.firm else ""
        return (document.firm is not None, firm, order.index(document.kind))

    return sorted(documents, key=place)


def _bars(rows: Sequence[tuple[str, Decimal]]) -> list[dict[str, Any]]:
    top = max((value for _label, value in rows), default=Decimal(0))
    if top <= 0:
        return []
    return [
        {"label": label, "value": value, "percent": (max(value, Decimal(0)) * 100 / top).quantize(Decimal("0.1"))}
        for label, value in rows
    ]


def _price_context(
    request: HttpRequest, composition: Composition, version: OfferVersion, *, is_latest: bool
) -> dict[str, Any]:
    figures = composition.figures
    lots: list[dict[str, Any]] = []
    for allocation in composition.allocations:
        lot = allocation.package.lot
        if not lots or lots[-1]["id"] != lot.pk:
            totals = figures.lots.get(lot.pk, figures.empty)
            lots.append({"id": lot.pk, "source_id": lot.source_id, "title": lot.title, "totals": totals})
    chart_lots = lots
    if len(lots) > CHART_BARS:
        chart_lots = sorted(lots, key=lambda row: row["totals"].amount, reverse=True)[:CHART_BARS]
    members = sorted(composition.members, key=lambda member: member.totals.amount, reverse=True)
    total = figures.total.amount
    firm_rows: list[dict[str, Any]] = [
        {
            "name": member.firm.name,
            "role_label": member.role_label,
            "totals": member.totals,
            "share": round_money(member.totals.amount * 100 / total) if total else Decimal("0"),
        }
        for member in members
    ]
    return {
        "lot_page": Paginator(lots, LOTS_PER_PAGE).get_page(request.GET.get("page")),
        "page_extra": "" if is_latest else f"version={version.number}",
        "lot_chart": _bars(
            [(f"{row['source_id']} {row['title']}".strip(), row["totals"].amount) for row in chart_lots]
        ),
        "lot_chart_truncated": len(lots) > CHART_BARS,
        "firm_chart": _bars([(row["name"], row["totals"].amount) for row in firm_rows][:CHART_BARS]),
        "firm_rows": firm_rows,
    }


@require_POST
@role_required(*MANAGERS)
def offer_start(request: HttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    try:
        version = start_offer(actor=request.user, tender=tender)
    except OfferRefused as error:
        _refused(request, error)
        return redirect("bids:offer_detail", pk=tender.pk)
    messages.success(
        request,
        _("Offre assemblée : version %(number)s en brouillon, à partir des invitations acceptées.")
        % {"number": version.number},
    )
    return redirect("bids:offer_detail", pk=tender.pk)


@require_POST
@role_required(*MANAGERS)
def offer_composition(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk)
    members = reads.offer_composition(version).members
    form = CompositionForm(request.POST, members=members)
    if not form.is_valid():
        _form_refused(request, form, _("Composition refusée :"))
        return _back(version)
    data = form.cleaned_data
    try:
        update_composition(
            actor=request.user,
            version_id=version.pk,
            revision=data["revision"],
            form=data["form"],
            members=form.choices(),
            mandataire_name=data["mandataire_name"],
            mandataire_siret=data["mandataire_siret"],
            mandataire_address=data["mandataire_address"],
        )
    except OfferRefused as error:
        _refused(request, error)
        return _back(version)
    messages.success(request, _("Composition du groupement enregistrée."))
    return _back(version)


@require_POST
@role_required(*MANAGERS)
def offer_policy(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk)
    form = PolicyForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form, _("Politique de prix refusée :"))
        return _back(version)
    try:
        set_policy(
            actor=request.user, version_id=version.pk, revision=form.cleaned_data["revision"], policy=form.policy()
        )
    except OfferRefused as error:
        _refused(request, error)
        return _back(version)
    messages.success(request, _("Politique de prix appliquée : les prix de l'offre sont recalculés."))
    return _back(version)


@require_POST
@role_required(*MANAGERS)
def offer_freeze(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk)
    form = RevisionForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form, _("Version non figée :"))
        return _back(version)
    try:
        frozen = freeze_version(actor=request.user, version_id=version.pk, revision=form.cleaned_data["revision"])
    except OfferRefused as error:
        _refused(request, error)
        return _back(version)
    if rendering_waits(frozen.pk):
        messages.warning(request, QUEUE_DOWN)
    else:
        messages.success(
            request,
            _("Version %(number)s figée : ses documents sont en cours de rendu.") % {"number": frozen.number},
        )
    return _back(version)


@require_POST
@role_required(*MANAGERS)
def offer_retry(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk)
    try:
        retry_rendering(actor=request.user, version_id=version.pk)
    except OfferRefused as error:
        _refused(request, error)
        return _back(version)
    if rendering_waits(version.pk):
        messages.warning(request, QUEUE_DOWN)
    else:
        messages.info(request, _("Nouveau rendu des documents lancé."))
    return _back(version)


@require_POST
@role_required(*MANAGERS)
def offer_submit(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk)
    try:
        submit_version(actor=request.user, version_id=version.pk)
    except OfferRefused as error:
        _refused(request, error)
        return _back(version)
    messages.success(request, _("Version %(number)s marquée comme remise.") % {"number": version.number})
    return _back(version)


@require_POST
@role_required(*MANAGERS)
def offer_result(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk)
    form = ResultForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form, _("Résultat refusé :"))
        return _back(version)
    try:
        record_result(actor=request.user, version_id=version.pk, won=form.won)
    except OfferRefused as error:
        _refused(request, error)
        return _back(version)
    if form.won:
        messages.success(request, _("Offre gagnée : bravo au groupement !"))
    else:
        messages.info(request, _("Offre perdue : le résultat est enregistré."))
    return _back(version)


@require_POST
@role_required(*MANAGERS)
def offer_new_version(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk)
    try:
        created = new_version(actor=request.user, offer_id=version.offer_id)
    except OfferRefused as error:
        _refused(request, error)
        return _back(version)
    messages.success(
        request,
        _("Version %(number)s créée en brouillon, à partir de la version %(previous)s.")
        % {"number": created.number, "previous": version.number},
    )
    return _back(version)


# --- Progress, downloads (the bid manager, and each partner for its own parts) -------------------------------


@require_GET
@role_required(*READERS)
def offer_status(request: HttpRequest, pk: int) -> JsonResponse:
    version = _version(request, pk)
    return JsonResponse(_render_state(version))


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = _disposition(filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _disposition(filename: str) -> str:
    from django.utils.http import content_disposition_header

    return content_disposition_header(as_attachment=True, filename=filename) or "attachment"


@require_GET
@role_required(*READERS)
def offer_document(request: HttpRequest, pk: int, doc_pk: int) -> HttpResponse:
    version = _version(request, pk)
    document = next((item for item in reads.documents_for(request.user, version) if item.pk == doc_pk), None)
    if document is None:
        raise Http404
    response = HttpResponse(reads.read_document(document), content_type=document.content_type)
    return _attachment(response, document.filename)


@require_GET
@role_required(*READERS)
def offer_zip(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk)
    if version.is_draft:
        raise Http404
    filename, content = reads.offer_zip(request.user, version)
    return _attachment(HttpResponse(content, content_type="application/zip"), filename)


# --- The partners' page ---------------------------------------------------------------------------------------


@require_GET
@role_required(Role.PARTNER)
def partner_offers(request: HttpRequest) -> HttpResponse:
    """Each sent version the partner's firm is a member of, cut down to the firm's own part."""
    return render(request, "bids/offer_partner_list.html", {"parts": reads.partner_parts(request.user)})
