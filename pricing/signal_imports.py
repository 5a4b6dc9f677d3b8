"""Community signals of upstream projects from XLSX or CSV: every row good, or nothing saved.

The file is read by `pricing.tabular`, the reader the finance import uses too: the same size limit, zip-bomb and
DOCTYPE checks before a workbook is opened, CSV encoding and delimiter sniffing, header row detection by
English or French column names. Each row names its project (by slug or name) and the day it was observed;
every problem is collected with its row and column, and only a file without any is written, through
`record_signals`, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consortium.services import record_event

from .models import SignalSource, UpstreamProject
from .services.commitments import CommitmentRefused, SignalInput, record_signals
from .tabular import (
    BadCell,
    Column,
    ImportProblem,
    Problems,
    Row,
    casefold_key,
    cell_text,
    filled,
    guard,
    parse_date,
    read_rows,
)

MAX_COUNT = 1_000_000
MAX_URL_CHARS = 500  # ProjectSignal.source_url

_PROJECT = ("project", "projet", "projet amont", "upstream project", "slug", "identifiant", "nom du projet", "name",
            "nom", "project slug", "project name")  # fmt: skip
_OBSERVED_ON = ("observed on", "observed", "observation date", "date", "observe le", "date d observation",
                "date de l observation", "observation", "releve le", "date du releve")  # fmt: skip
_CONTRIBUTORS = ("active contributors", "contributors", "contributeurs actifs", "contributeurs", "nb contributeurs",
                 "nombre de contributeurs", "nombre de contributeurs actifs")  # fmt: skip
_RELEASES = ("releases last year", "releases", "releases 12 months", "releases 12m", "versions publiees", "versions",
             "nombre de versions", "versions 12 mois", "versions sur 12 mois", "versions de l annee")  # fmt: skip
_LAST_RELEASE = ("last release on", "last release", "last release date", "latest release", "derniere version",
                 "derniere version le", "date derniere version", "date de derniere version",
                 "date de la derniere version", "derniere release")  # fmt: skip
_SOURCE = ("source url", "source", "url", "lien", "url source", "lien source")

# A header starting with a keyword goes to the first column listed with one: "Date de la dernière version
# publiée" is the last release's date, not the observation's.
COLUMNS: tuple[Column, ...] = (
    Column("project", "project", _PROJECT),
    Column("last_release_on", "last_release_on", _LAST_RELEASE, False),
    Column("observed_on", "observed_on", _OBSERVED_ON),
    Column("active_contributors", "active_contributors", _CONTRIBUTORS, False),
    Column("releases_last_year", "releases_last_year", _RELEASES, False),
    Column("source_url", "source_url", _SOURCE, False),
)
SHOWN_ORDER = ("project", "observed_on", "active_contributors", "releases_last_year", "last_release_on", "source_url")
SIGNALS = ("active_contributors", "releases_last_year", "last_release_on")


def expected_columns() -> list[str]:
    """The column names, an asterisk marking the optional ones (one of the three signals is needed per row)."""
    columns = sorted(COLUMNS, key=lambda column: SHOWN_ORDER.index(column.field))
    return [column.label if column.required else f"{column.label}*" for column in columns]


@dataclass(frozen=True)
class SignalImportResult:
    created: int  # observations written (a second one of the same project and day replaces the first)
    projects: int
    problems: list[ImportProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


class _RollBack(Exception):
    """Raised inside the transaction to undo every write of a file with a problem."""


def import_signals_file(*, actor: Any, filename: str, data: bytes, today: dt.date | None = None) -> SignalImportResult:
    problems = Problems()
    filename = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] or _("sans nom")
    rows = read_rows(filename, data, COLUMNS, problems)
    if not rows:
        return SignalImportResult(0, 0, list(problems))
    drafts = _check_rows(rows, problems, today or timezone.localdate())
    if problems:
        return SignalImportResult(0, 0, list(problems))
    try:
        with transaction.atomic():
            for project, signals in drafts.items():
                try:
                    record_signals(
                        actor=actor, project=project, signals=[s for _row, s in signals], source=SignalSource.IMPORTED
                    )
                except CommitmentRefused as exc:
                    problems.add(signals[0][0].where, str(exc))
            if problems:
                raise _RollBack
            created = sum(len(signals) for signals in drafts.values())
            record_event(
                actor=actor, action="project.signals_imported", obj=None, filename=filename, created=created,
                projects=len(drafts),
            )  # fmt: skip
    except _RollBack:
        return SignalImportResult(0, 0, list(problems))
    return SignalImportResult(created, len(drafts), [])


def _check_rows(
    rows: list[Row], problems: Problems, today: dt.date
) -> dict[UpstreamProject, list[tuple[Row, SignalInput]]]:
    projects = _Projects()
    seen: dict[tuple[int, dt.date], int] = {}
    drafts: dict[UpstreamProject, list[tuple[Row, SignalInput]]] = defaultdict(list)
    for row in rows:
        cells = row.cells
        project = guard(problems, row, "project", projects.find, cells["project"])
        observed_on = guard(problems, row, "observed_on", _observed_on, cells["observed_on"], today)
        contributors = guard(problems, row, "active_contributors", _count, cells.get("active_contributors"))
        releases = guard(problems, row, "releases_last_year", _count, cells.get("releases_last_year"))
        released_on = guard(problems, row, "last_release_on", _optional_date, cells.get("last_release_on"))
        source_url = guard(problems, row, "source_url", _url, cells.get("source_url"))
        if not any(filled(cells.get(name)) for name in SIGNALS):
            problems.add(
                row.where,
                _("aucun signal : remplissez au moins une des colonnes %(columns)s") % {"columns": ", ".join(SIGNALS)},
            )
            continue
        if observed_on is not None and released_on is not None and released_on > observed_on:
            problems.add(
                row.at("last_release_on"),
                _("dernière version le %(r)s, après l'observation du %(d)s")
                % {"r": released_on.isoformat(), "d": observed_on.isoformat()},
            )
            continue
        if project is None or observed_on is None or source_url is None:
            continue
        if (project.pk, observed_on) in seen:
            problems.add(
                row.at("observed_on"),
                _("%(project)s est déjà observé le %(d)s ligne %(row)s de ce fichier")
                % {"project": project.name, "d": observed_on.isoformat(), "row": seen[(project.pk, observed_on)]},
            )
            continue
        seen[(project.pk, observed_on)] = row.number
        drafts[project].append((row, SignalInput(observed_on, contributors, releases, released_on, source_url)))
    return drafts


class _Projects:
    """The upstream projects by slug and by name (case and spacing ignored)."""

    def __init__(self) -> None:
        self.by_key: dict[str, UpstreamProject] = {}
        for project in UpstreamProject.objects.only("pk", "name", "slug"):
            self.by_key.setdefault(casefold_key(project.slug), project)
            self.by_key.setdefault(casefold_key(project.name), project)

    def find(self, value: Any) -> UpstreamProject:
        text = cell_text(value)
        if not text:
            raise BadCell(_("projet manquant (son identifiant ou son nom)"))
        project = self.by_key.get(casefold_key(text))
        if project is None:
            raise BadCell(_("projet « %(value)s » inconnu (donnez son identifiant ou son nom)") % {"value": text[:60]})
        return project


def _observed_on(value: Any, today: dt.date) -> dt.date:
    day = parse_date(value)
    if day > today:
        raise BadCell(_("observation datée du futur : %(d)s") % {"d": day.isoformat()})
    return day


def _optional_date(value: Any) -> dt.date | None:
    return parse_date(value) if filled(value) else None


def _count(value: Any) -> int | None:
    """A whole number of people or releases, or None for an empty cell."""
    if not filled(value):
        return None
    if isinstance(value, bool):
        raise BadCell(_("« %(value)s » n'est pas un nombre entier") % {"value": value})
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = cell_text(value).replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if not text.isdigit():
        raise BadCell(_("« %(value)s » n'est pas un nombre entier positif") % {"value": cell_text(value)[:40]})
    number = int(text)
    if number > MAX_COUNT:
        raise BadCell(_("%(n)s : au-delà de %(max)s") % {"n": number, "max": MAX_COUNT})
    return number


def _url(value: Any) -> str:
    text = cell_text(value)
    if not text:
        return ""
    if len(text) > MAX_URL_CHARS:
        raise BadCell(_("adresse de plus de %(n)s caractères") % {"n": MAX_URL_CHARS})
    try:
        URLValidator(schemes=["http", "https"])(text)
    except ValidationError:
        raise BadCell(_("« %(value)s » n'est pas une adresse http(s)") % {"value": text[:60]}) from None
    return text


__all__ = ["COLUMNS", "SignalImportResult", "expected_columns", "import_signals_file"]
