"""The public transparency page and its open data: no login, aggregates only.

What is shown comes from `selectors.transparency.public_figures` and nothing else, so the page, the JSON and
the CSVs cannot disagree or show more than it holds. Anonymous answers are the same for everyone and carry no
cookie, so shared caches may keep them five minutes; a signed-in visitor's page (its header names the user) is
private. The page's language comes from `?lang=` (links, not the POST form that would need a CSRF cookie).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from consortium.money import from_cents

from . import open_data
from .commitment_rules import CommitmentStatus
from .community_score import FORMULA_TEXT
from .selectors.transparency import Transparency, public_figures
from .transparency_chart import Series, columns_svg, short_days, short_euros

PUBLIC = "public, max-age=300"
DOCS = Path(settings.BASE_DIR) / "docs"


def _figures() -> Transparency:
    return public_figures(today=timezone.localdate())


def _open_figures() -> Transparency:
    """The open data is in French whatever the visitor's language: its labels must not vary with a header."""
    with translation.override(settings.LANGUAGE_CODE):
        return _figures()


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    languages = dict(settings.LANGUAGES)
    language = request.GET.get("lang", "")
    if language not in languages:
        language = translation.get_language() or settings.LANGUAGE_CODE
    with translation.override(language):
        figures = _figures()
        response = render(
            request,
            "pricing/transparency.html",
            {
                "figures": figures,
                "money_chart": _money_chart(figures),
                "days_chart": _days_chart(figures),
                "statuses": CommitmentStatus.choices,
                "formula": FORMULA_TEXT,
                "languages": [(code, code == language) for code in languages],
            },
        )
    response["Content-Language"] = language
    if request.user.is_authenticated or response.cookies:
        response["Cache-Control"] = "private, no-cache"
    else:
        response["Cache-Control"] = PUBLIC
    return response


def _money_chart(figures: Transparency) -> str:
    years = figures.years
    return columns_svg(
        [str(year.year) for year in years],
        [
            Series(
                _("Contribution amont collectée"), "#2a6f97", [from_cents(y.levy_cents) for y in years], short_euros
            ),
            Series(_("Versé aux projets"), "#52b788", [from_cents(y.paid_cents) for y in years], short_euros),
        ],
        title=_("Argent par année (€ TTC)"),
    )


def _days_chart(figures: Transparency) -> str:
    years = figures.years
    return columns_svg(
        [str(year.year) for year in years],
        [Series(_("Jours de développement livrés"), "#e09f3e", [y.days for y in years], short_days)],
        title=_("Travail par année (jours)"),
    )


def _open(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = PUBLIC
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _stamp() -> str:
    return timezone.localdate().isoformat()


@require_safe
def data_json(request: HttpRequest) -> HttpResponse:
    document = open_data.document(_open_figures(), generated_at=timezone.now().astimezone(dt.UTC))
    return _open(open_data.json_bytes(document), "application/json", f"transparence-{_stamp()}.json")


@require_safe
def projects_csv(request: HttpRequest) -> HttpResponse:
    content = open_data.csv_bytes(open_data.project_rows(_open_figures()))
    return _open(content, "text/csv; charset=utf-8; header=present", f"projets-{_stamp()}.csv")


@require_safe
def contracts_csv(request: HttpRequest) -> HttpResponse:
    content = open_data.csv_bytes(open_data.contract_rows(_open_figures()))
    return _open(content, "text/csv; charset=utf-8; header=present", f"marches-{_stamp()}.csv")


@cache
def _doc(name: str) -> bytes | None:
    path = DOCS / name
    return path.read_bytes() if path.is_file() else None


@require_safe
def schema_json(request: HttpRequest) -> HttpResponse:
    content = _doc("transparency.schema.json")
    if content is None:
        raise Http404
    return _open(content, "application/schema+json", "transparency.schema.json")


@require_safe
def schema_doc(request: HttpRequest) -> HttpResponse:
    content = _doc("OPEN_DATA.md")
    if content is None:
        raise Http404
    return _open(content, "text/markdown; charset=utf-8", "OPEN_DATA.md")
