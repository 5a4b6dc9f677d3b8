"""The upstream projects' pages, mounted at /contributions/projects/: the list with each community score, a
project with its supporters, commitments, score and its history; creating and editing a project; entering
or importing community signals.

Staff only (bid managers, finance, admins). A refusal of a service comes back next to the form with a 400,
never a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consortium.roles import Role, role_required

from .community_score import FORMULA_TEXT, RULES
from .models import UpstreamProject
from .project_forms import ProjectForm, SignalForm, SignalImportForm
from .selectors.commitments import commitments_for, commitments_progress
from .selectors.community import project_scores, project_support, score_history
from .services.commitments import CommitmentRefused, record_signals, save_project
from .signal_imports import expected_columns, import_signals_file
from .views import PER_PAGE, posted

STAFF = (Role.BID_MANAGER, Role.FINANCE)  # role_required lets admins through as well
HISTORY_MONTHS = 12
SIGNALS_SHOWN = 12
PROBLEMS_SHOWN = 100


def _project(slug: str) -> UpstreamProject:
    return get_object_or_404(UpstreamProject, slug=slug)


@require_GET
@role_required(*STAFF)
def project_list(request: HttpRequest) -> HttpResponse:
    projects = UpstreamProject.objects.annotate(commitment_count=Count("commitments")).order_by("name")
    page = Paginator(projects, PER_PAGE).get_page(request.GET.get("page"))
    ids = [project.pk for project in page.object_list]
    support = project_support(ids)
    scores = project_scores(ids, timezone.localdate())
    rows = [(project, len(support[project.pk]), scores[project.pk]) for project in page.object_list]
    return render(request, "pricing/project_list.html", {"page": page, "rows": rows})


@require_GET
@role_required(*STAFF)
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _render_detail(request, _project(slug), SignalForm())


def _render_detail(request: HttpRequest, project: UpstreamProject, signal_form: SignalForm, status: int = 200) -> Any:
    today = timezone.localdate()
    score = project_scores([project.pk], today)[project.pk]
    history = score_history(project.pk, HISTORY_MONTHS, today)
    commitments = list(commitments_for(request.user).filter(project=project))
    progress = commitments_progress(commitments, today=today)
    context = {
        "project": project,
        "skills": list(project.skills.order_by("name")),
        "support": project_support([project.pk])[project.pk],
        "commitments": [(commitment, progress[commitment.pk]) for commitment in commitments],
        "score": score,
        "rules": [(part, RULES[part.key]) for part in score.parts],
        "formula": FORMULA_TEXT,
        "history": history,
        "chart": history_chart(history),
        "signals": [
            (signal, web_link(signal.source_url)) for signal in project.signals.order_by("-observed_on")[:SIGNALS_SHOWN]
        ],
        "links": {
            name: web_link(getattr(project, name)) for name in ("repository_url", "funding_url", "funding_manifest_url")
        },
        "signal_form": signal_form,
    }
    return render(request, "pricing/project_detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
@role_required(*STAFF)
def project_new(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(posted(request))
    if request.method == "POST":
        if form.is_valid():
            try:
                project = save_project(actor=request.user, data=form.to_input())
            except CommitmentRefused as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Projet %(name)s enregistré.") % {"name": project.name})
                return redirect("contributions:project_detail", slug=project.slug)
        return render(request, "pricing/project_form.html", {"form": form, "project": None}, status=400)
    return render(request, "pricing/project_form.html", {"form": form, "project": None})


@require_http_methods(["GET", "POST"])
@role_required(*STAFF)
def project_edit(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project(slug)
    form = ProjectForm(posted(request), initial=ProjectForm.of(project))
    if request.method == "POST":
        if form.is_valid():
            try:
                project = save_project(actor=request.user, data=form.to_input(), project=project)
            except CommitmentRefused as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Projet %(name)s enregistré.") % {"name": project.name})
                return redirect("contributions:project_detail", slug=project.slug)
        project.refresh_from_db()  # the heading shows the saved name, not the refused one
        return render(request, "pricing/project_form.html", {"form": form, "project": project}, status=400)
    return render(request, "pricing/project_form.html", {"form": form, "project": project})


@require_POST
@role_required(*STAFF)
def project_signals(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project(slug)
    form = SignalForm(request.POST)
    if form.is_valid():
        try:
            record_signals(actor=request.user, project=project, signals=[form.to_input()])
        except CommitmentRefused as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, _("Observation du %(d)s enregistrée.") % {"d": date_format(form.to_input().observed_on)}
            )
            return redirect(f"{project_url(project)}#signals")
    return _render_detail(request, project, form, status=400)


def web_link(url: str) -> str:
    """The address if it can be a link (http or https), else "": a stored value is never trusted as an href."""
    return url if url.lower().startswith(("https://", "http://")) else ""


def project_url(project: UpstreamProject) -> str:
    return reverse("contributions:project_detail", args=[project.slug])


@require_http_methods(["GET", "POST"])
@role_required(*STAFF)
def project_signals_import(request: HttpRequest) -> HttpResponse:
    form = SignalImportForm(posted(request), request.FILES if request.method == "POST" else None)
    problems: list[Any] = []
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            result = import_signals_file(actor=request.user, filename=upload.name, data=upload.read())
            if result.ok:
                messages.success(
                    request,
                    _("%(n)s observation(s) de %(p)s projet(s) enregistrée(s).")
                    % {"n": result.created, "p": result.projects},
                )
                return redirect("contributions:project_list")
            problems = result.problems
        status = 400
    else:
        status = 200
    context = {
        "form": form,
        "problems": problems[:PROBLEMS_SHOWN],
        "more_problems": max(0, len(problems) - PROBLEMS_SHOWN),
        "columns": expected_columns(),
    }
    return render(request, "pricing/project_signals_import.html", context, status=status)


# --- The score's history, as an inline SVG line (every text escaped) ---------------------------------------------

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 36, 20, 14, 30
LINE = "#2f6fb0"
GRID = "#dde2ea"


def history_chart(points: Sequence[tuple[Any, Decimal]]) -> SafeString:
    """Score 0-100 on the vertical axis, one point per date, the date's month under each point."""
    if not points:
        return SafeString("")
    room_x, room_y = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = room_x / max(len(points) - 1, 1)

    def y_of(score: Decimal) -> float:
        return round(TOP + room_y * (1 - float(min(max(score, Decimal(0)), Decimal(100))) / 100), 1)

    xy = [(round(LEFT + index * step, 1), y_of(score)) for index, (_day, score) in enumerate(points)]
    grid = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/><text x="{}" y="{}" text-anchor="end">{}</text>',
        ((LEFT, y_of(Decimal(v)), WIDTH - RIGHT, y_of(Decimal(v)), GRID, LEFT - 4, y_of(Decimal(v)) + 3, v)
         for v in (0, 25, 50, 75, 100)),
    )  # fmt: skip
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{} : {}</title></circle>'
        '<text x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (x, y, LINE, date_format(day), _score(score), x, HEIGHT - BOTTOM + 16, date_format(day, "m/y"))
            for (x, y), (day, score) in zip(xy, points, strict=True)
        ),
    )
    line = " ".join(f"{x},{y}" for x, y in xy)
    return format_html(
        '<svg class="score-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'role="img" aria-label="{label}" font-size="10">{grid}'
        '<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>{dots}</svg>',
        w=WIDTH,
        h=HEIGHT,
        label=_("Évolution du score de communauté"),
        grid=grid,
        line=line,
        color=LINE,
        dots=dots,
    )


def _score(score: Decimal) -> str:
    return number_format(score, decimal_pos=1, use_l10n=True)
