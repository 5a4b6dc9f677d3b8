"""Work-package pages: the split of each lot, and the bid manager's bulk corrections."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from consortium.roles import Role, role_required
from partners.models import Skill

from . import selectors
from .models import Tender, WorkPackage
from .package_forms import LinesForm, MergeForm, RenameForm, RequirementsForm, RuleForm, SplitForm, form_errors
from .services import packages as services

PACKAGES_PER_PAGE = 200
LINES_PER_PAGE = 100


def _tender(request: HttpRequest, pk: int) -> Tender:
    return get_object_or_404(selectors.tenders_for(request.user), pk=pk)


def _package(tender: Tender, package_pk: int) -> WorkPackage | None:
    return selectors.packages_of(tender).filter(pk=package_pk).first()


def _gone(request: HttpRequest, tender: Tender) -> HttpResponse:
    messages.error(request, _("Ce lot de travaux n'existe plus (fusionné ou découpé entre-temps)."))
    return redirect("bids:package_list", pk=tender.pk)


@require_safe
@role_required(*selectors.TENDER_READERS)
def package_list(request: HttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    lots = list(tender.lots.filter(withdrawn=False).order_by("position", "id"))
    lot = next((item for item in lots if str(item.pk) == request.GET.get("lot")), None)
    page = Paginator(selectors.package_table(tender, lot=lot), PACKAGES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "tender": tender,
        "lots": lots,
        "selected_lot": lot,
        "page": page,
        "extra": f"lot={lot.pk}" if lot else "",
        "package_count": tender.work_packages.count(),
        "flagged_count": tender.work_packages.filter(flagged=True).count(),
        "orphan_lines": selectors.lines_without_package(tender),
        "chart": selectors.package_value_chart(tender),
        "can_edit": selectors.can_edit_packages(request.user),
        "rules": selectors.split_rules()[:50],
    }
    return render(request, "bids/package_list.html", context)


@require_POST
@role_required(Role.BID_MANAGER)
def package_split(request: HttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    form = SplitForm(request.POST)
    if tender.work_packages.exists() and not (form.is_valid() and form.cleaned_data["confirm"]):
        messages.error(request, _("Cochez la case de confirmation : le découpage actuel sera remplacé."))
        return redirect("bids:package_list", pk=tender.pk)
    try:
        summary = services.split_tender(actor=request.user, tender=tender)
    except services.PackageChangeRefused as refused:
        messages.error(request, str(refused))
        return redirect("bids:package_list", pk=tender.pk)
    messages.success(
        request,
        _("Découpage proposé : %(packages)s lot(s) de travaux pour %(lines)s ligne(s), %(flagged)s à vérifier.")
        % {"packages": summary.packages, "lines": summary.lines, "flagged": summary.flagged},
    )
    return redirect("bids:package_list", pk=tender.pk)


@require_POST
@role_required(Role.BID_MANAGER)
def package_merge(request: HttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect("bids:package_list", pk=tender.pk)
    try:
        merged = services.merge_packages(
            actor=request.user, tender=tender, package_ids=form.cleaned_data["packages"], name=form.cleaned_data["name"]
        )
    except services.PackageChangeRefused as refused:
        messages.error(request, str(refused))
        return redirect("bids:package_list", pk=tender.pk)
    messages.success(request, _("Lots de travaux fusionnés dans « %(name)s ».") % {"name": merged.name})
    return redirect("bids:package_detail", pk=tender.pk, package_pk=merged.pk)


@require_safe
@role_required(*selectors.TENDER_READERS)
def package_detail(request: HttpRequest, pk: int, package_pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    package = _package(tender, package_pk)
    if package is None:
        raise Http404
    lines = Paginator(selectors.package_lines(package), LINES_PER_PAGE).get_page(request.GET.get("page"))
    can_edit = selectors.can_edit_packages(request.user)
    top_skill = next(iter(package.required_skills.all()), None)
    context: dict[str, Any] = {
        "tender": tender,
        "package": package,
        "lines": lines,
        "can_edit": can_edit,
        "cpv_labels": selectors.cpv_labels([package.cpv_codes]),
    }
    if can_edit:
        context |= {
            "siblings": selectors.sibling_packages(package),
            "requirements": RequirementsForm(package=package),
            "rule_form": RuleForm(
                initial={
                    "pattern": top_skill.skill.name if top_skill else package.name,
                    "package_name": package.name,
                    "skill": top_skill.skill.name if top_skill else "",
                }
            ),
            "skill_names": Skill.objects.order_by("name").values_list("name", flat=True),
        }
    return render(request, "bids/package_detail.html", context)


def _lines_action(request: HttpRequest, pk: int, package_pk: int, *, divide: bool) -> HttpResponse:
    tender = _tender(request, pk)
    package = _package(tender, package_pk)
    if package is None:
        return _gone(request, tender)
    back = redirect("bids:package_detail", pk=tender.pk, package_pk=package.pk)
    form = LinesForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return back
    line_ids = form.cleaned_data["lines"]
    try:
        if divide:
            created = services.split_package(
                actor=request.user, package=package, line_ids=line_ids, name=form.cleaned_data["name"] or ""
            )
            messages.success(request, _("Nouveau lot de travaux « %(name)s » créé.") % {"name": created.name})
            return redirect("bids:package_detail", pk=tender.pk, package_pk=created.pk)
        target = WorkPackage.objects.filter(tender=tender, pk=form.cleaned_data["target"] or 0).first()
        if target is None:
            messages.error(request, _("Choisissez le lot de travaux de destination."))
            return back
        moved = services.move_lines(actor=request.user, tender=tender, line_ids=line_ids, target=target, source=package)
    except services.PackageChangeRefused as refused:
        messages.error(request, str(refused))
        return back
    messages.success(
        request, _("%(count)s ligne(s) déplacée(s) vers « %(name)s ».") % {"count": moved, "name": target.name}
    )
    if not WorkPackage.objects.filter(pk=package.pk).exists():
        return redirect("bids:package_detail", pk=tender.pk, package_pk=target.pk)
    return back


@require_POST
@role_required(Role.BID_MANAGER)
def package_move(request: HttpRequest, pk: int, package_pk: int) -> HttpResponse:
    return _lines_action(request, pk, package_pk, divide=False)


@require_POST
@role_required(Role.BID_MANAGER)
def package_divide(request: HttpRequest, pk: int, package_pk: int) -> HttpResponse:
    return _lines_action(request, pk, package_pk, divide=True)


@require_POST
@role_required(Role.BID_MANAGER)
def package_rename(request: HttpRequest, pk: int, package_pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    package = _package(tender, package_pk)
    if package is None:
        return _gone(request, tender)
    form = RenameForm(request.POST)
    try:
        if not form.is_valid():
            raise services.PackageChangeRefused(form_errors(form))
        services.rename_package(actor=request.user, package=package, name=form.cleaned_data["name"])
        messages.success(request, _("Lot de travaux renommé."))
    except services.PackageChangeRefused as refused:
        messages.error(request, str(refused))
    return redirect("bids:package_detail", pk=tender.pk, package_pk=package.pk)


@require_POST
@role_required(Role.BID_MANAGER)
def package_requirements(request: HttpRequest, pk: int, package_pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    package = _package(tender, package_pk)
    if package is None:
        return _gone(request, tender)
    form = RequirementsForm(request.POST, package=package)
    try:
        if not form.is_valid():
            raise services.PackageChangeRefused(form_errors(form))
        services.set_requirements(
            actor=request.user,
            package=package,
            skills=form.cleaned_data["skills"],
            cpv_codes=form.cleaned_data["cpv_list"],
        )
        messages.success(request, _("Besoins du lot de travaux enregistrés."))
    except services.PackageChangeRefused as refused:
        messages.error(request, str(refused))
    return redirect("bids:package_detail", pk=tender.pk, package_pk=package.pk)


@require_POST
@role_required(Role.BID_MANAGER)
def split_rule_new(request: HttpRequest, pk: int, package_pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    package = _package(tender, package_pk)
    if package is None:
        return _gone(request, tender)
    form = RuleForm(request.POST)
    try:
        if not form.is_valid():
            raise services.PackageChangeRefused(form_errors(form))
        rule = services.save_rule(
            actor=request.user,
            pattern=form.cleaned_data["pattern"],
            package_name=form.cleaned_data["package_name"],
            skill=form.cleaned_data["skill"],
        )
        messages.success(
            request,
            _("Règle enregistrée : « %(pattern)s » → « %(name)s », appliquée aux prochains découpages.")
            % {"pattern": rule.pattern, "name": rule.package_name},
        )
    except services.PackageChangeRefused as refused:
        messages.error(request, str(refused))
    return redirect("bids:package_detail", pk=tender.pk, package_pk=package.pk)
