"""Partner firm pages: the directory, a firm's profile and its edit pages, the export, the skill catalogue.

Every firm comes through `selectors.firms_for`: a firm the user may not see is a 404, never a hint
that it exists. Finance may read firms but holds no role that edits them: the edit pages answer 403.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from copy import copy
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from consortium.roles import STAFF_ROLES, role_required, user_role

from . import forms as profile_forms
from . import selectors
from .exports import directory_xlsx
from .models import EVIDENCED_LEVELS, PartnerFirm, SkillLevel
from .services import profile

FIRMS_PER_PAGE = 25
SKILLS_PER_PAGE = 50

EditForm = Any  # a Form or a formset: both have is_valid() and render their own errors


@require_safe
@role_required(*selectors.FIRM_READERS)
def firm_list(request: HttpRequest) -> HttpResponse:
    form = profile_forms.DirectoryFilterForm(request.GET or None)
    today = timezone.localdate()
    if form.is_bound and not form.is_valid():
        firms = PartnerFirm.objects.none()  # a filter we could not apply would show misleading rows
    else:
        filters = form.filters() if form.is_bound else selectors.DirectoryFilters()
        firms = selectors.firm_directory(request.user, filters, today=today)
    page = Paginator(firms, FIRMS_PER_PAGE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": params.urlencode(),
        "skill_names": selectors.skill_names(),
        "is_staff_reader": user_role(request.user) in STAFF_ROLES,
        "months": selectors.DIRECTORY_MONTHS,
    }
    return render(request, "partners/firm_list.html", context)


@require_safe
@role_required(*selectors.FIRM_READERS)
def firm_export(request: HttpRequest) -> HttpResponse:
    form = profile_forms.DirectoryFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        messages.error(request, _("Filtres invalides : corrigez-les avant d'exporter."))
        return redirect(f"{reverse('partners:firm_list')}?{request.GET.urlencode()}")
    filters = form.filters() if form.is_bound else selectors.DirectoryFilters()
    firms = selectors.firm_directory(request.user, filters, today=timezone.localdate())
    filename, content_type, data = directory_xlsx(selectors.directory_rows(firms), today=timezone.localdate())
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_safe
@role_required(*selectors.FIRM_READERS)
def firm_detail(request: HttpRequest, pk: int) -> HttpResponse:
    firm = get_object_or_404(selectors.firms_for(request.user), pk=pk)
    context = {
        "firm": firm,
        "profile": selectors.firm_profile(firm, today=timezone.localdate()),
        "can_edit": selectors.can_edit_firm(request.user, firm),
        "evidenced_levels": [int(level) for level in EVIDENCED_LEVELS],
    }
    return render(request, "partners/firm_detail.html", context)


@require_safe
@role_required(*selectors.FIRM_READERS)
def my_firm(request: HttpRequest) -> HttpResponse:
    if user_role(request.user) in STAFF_ROLES:
        return redirect("partners:firm_list")
    firm = selectors.firm_of(request.user)
    if firm is None:
        raise Http404(_("Votre compte n'est rattaché à aucune entreprise."))
    return redirect("partners:firm_detail", pk=firm.pk)


@require_safe
@role_required(*selectors.FIRM_READERS)
def skill_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(selectors.skill_catalogue(search=search), SKILLS_PER_PAGE).get_page(request.GET.get("page"))
    show_counts = selectors.can_see_firm_statistics(request.user)
    context = {
        "page": page,
        "search": search,
        "query": urlencode({"q": search}) if search else "",
        "show_counts": show_counts,
        "counts": selectors.firm_counts_by_level(page.object_list) if show_counts else {},
        "levels": SkillLevel.choices,
    }
    return render(request, "partners/skill_list.html", context)


# --- Edit pages: one form, one service call, the stale-form check in the service ------------------------


def _editable_firm(request: HttpRequest, pk: int) -> PartnerFirm:
    firm = selectors.firms_for(request.user, action="change").filter(pk=pk).first()
    if firm is None:
        raise Http404
    return firm


def _edit_page(
    request: HttpRequest,
    pk: int,
    *,
    template: str,
    build: Callable[[PartnerFirm, Any], EditForm],
    save: Callable[[PartnerFirm, EditForm, str], None],
    extra: Callable[[PartnerFirm], dict[str, Any]] | None = None,
) -> HttpResponse:
    firm = _editable_firm(request, pk)
    posted = request.method == "POST"
    form = build(firm, request.POST if posted else None)
    # The version the user saw: on a re-shown invalid form, still the one of the first display.
    version = request.POST.get("version", "") if posted else profile.profile_version(firm)
    if posted and form.is_valid():
        try:
            save(firm, form, version)
        except profile.StaleProfile:
            messages.error(
                request,
                _(
                    "Rien n'a été enregistré : la fiche a été modifiée par quelqu'un d'autre depuis l'ouverture "
                    "du formulaire. Voici la version à jour ; refaites vos changements."
                ),
            )
            return redirect(request.path)
        except PermissionDenied as error:
            raise Http404 from error
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Fiche de %(firm)s enregistrée.") % {"firm": firm.name})
            return redirect("partners:firm_detail", pk=firm.pk)
    context = {"firm": firm, "form": form, "version": version, **(extra(firm) if extra else {})}
    return render(request, template, context)


@require_http_methods(["GET", "HEAD", "POST"])
@role_required(*selectors.FIRM_WRITERS)
def firm_edit(request: HttpRequest, pk: int) -> HttpResponse:
    def save(firm: PartnerFirm, form: EditForm, version: str) -> None:
        profile.update_firm_identity(actor=request.user, firm=firm, version=version, identity=form.identity())

    return _edit_page(
        request,
        pk,
        template="partners/firm_edit.html",
        # A copy: a ModelForm writes the posted values into its instance, even when they are refused.
        build=lambda firm, data: profile_forms.FirmIdentityForm(data, instance=copy(firm)),
        save=save,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@role_required(*selectors.FIRM_WRITERS)
def firm_skills(request: HttpRequest, pk: int) -> HttpResponse:
    def build(firm: PartnerFirm, data: Any) -> EditForm:
        if data is not None:  # the posted rows are the whole new state: no initial data to compare with
            return profile_forms.skill_formset(data, skill_index=selectors.skill_index())
        initial = [
            {
                "skill": item.skill.name,
                "level": item.level,
                "years": item.years,
                "evidence_url": item.evidence_url,
                "daily_rate": item.daily_rate,
            }
            for item in firm.skills.select_related("skill")
        ]
        return profile_forms.skill_formset(None, skill_index={}, initial=initial)

    def save(firm: PartnerFirm, form: EditForm, version: str) -> None:
        profile.replace_firm_skills(actor=request.user, firm=firm, version=version, rows=form.rows())

    return _edit_page(
        request,
        pk,
        template="partners/firm_skills.html",
        build=build,
        save=save,
        extra=lambda firm: {
            "skill_names": selectors.skill_names(),
            "evidenced_levels": ", ".join(str(SkillLevel(level).label) for level in sorted(EVIDENCED_LEVELS)),
        },
    )


def _capacity_months() -> list[dt.date]:
    return selectors.month_starts(timezone.localdate(), selectors.PLANNING_MONTHS)


@require_http_methods(["GET", "HEAD", "POST"])
@role_required(*selectors.FIRM_WRITERS)
def firm_capacity(request: HttpRequest, pk: int) -> HttpResponse:
    def build(firm: PartnerFirm, data: Any) -> EditForm:
        months = _capacity_months()
        plan = selectors.capacity_plan(firm, today=months[0])
        initial: dict[str, Any] = {f"month_{month:%Y_%m}": days or None for month, days in plan.items()}
        initial |= {f"rate_{rate.level}": rate.daily_rate for rate in firm.level_rates.all()}
        return profile_forms.CapacityForm(data, initial=initial, months=months)

    def save(firm: PartnerFirm, form: EditForm, version: str) -> None:
        profile.set_capacity_and_rates(
            actor=request.user, firm=firm, version=version, capacity=form.capacity(), level_rates=form.level_rates()
        )

    return _edit_page(request, pk, template="partners/firm_capacity.html", build=build, save=save)


def _rows_page(
    request: HttpRequest,
    pk: int,
    *,
    kind: str,
    form: type[profile_forms.RowForm],
    formset: type[profile_forms.RowsFormSet],
    initial: Callable[[PartnerFirm], list[dict[str, Any]]],
    service: Callable[..., None],
) -> HttpResponse:
    def build(firm: PartnerFirm, data: Any) -> EditForm:
        rows = initial(firm) if data is None else None  # posted rows are the whole new state
        return profile_forms.rows_formset(form, formset, data, prefix=kind, initial=rows)

    def save(firm: PartnerFirm, built: EditForm, version: str) -> None:
        service(actor=request.user, firm=firm, version=version, rows=built.rows())

    return _edit_page(request, pk, template=f"partners/firm_{kind}.html", build=build, save=save)


@require_http_methods(["GET", "HEAD", "POST"])
@role_required(*selectors.FIRM_WRITERS)
def firm_attestations(request: HttpRequest, pk: int) -> HttpResponse:
    return _rows_page(
        request,
        pk,
        kind="attestations",
        form=profile_forms.AttestationRowForm,
        formset=profile_forms.AttestationFormSet,
        initial=lambda firm: [
            dict(row) for row in firm.attestations.values("kind", "reference", "issued_on", "valid_until")
        ],
        service=profile.replace_attestations,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@role_required(*selectors.FIRM_WRITERS)
def firm_references(request: HttpRequest, pk: int) -> HttpResponse:
    def initial(firm: PartnerFirm) -> list[dict[str, Any]]:
        rows = firm.references.values("title", "buyer", "year", "amount", "cpv_codes")
        return [{**row, "cpv_codes": ", ".join(row["cpv_codes"] or [])} for row in rows]

    return _rows_page(
        request,
        pk,
        kind="references",
        form=profile_forms.ReferenceRowForm,
        formset=profile_forms.RowsFormSet,
        initial=initial,
        service=profile.replace_references,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@role_required(*selectors.FIRM_WRITERS)
def firm_contacts(request: HttpRequest, pk: int) -> HttpResponse:
    return _rows_page(
        request,
        pk,
        kind="contacts",
        form=profile_forms.ContactRowForm,
        formset=profile_forms.ContactFormSet,
        initial=lambda firm: [
            dict(row) for row in firm.contacts.values("name", "role", "email", "phone", "is_primary")
        ],
        service=profile.replace_contacts,
    )
