"""The rows of a partner network file, checked: every problem collected with its row and column, in French.

Used by partners.services.network; the format is documented in docs/PARTNERS.md.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.translation import gettext as _

from consortium.regions import region_code
from consortium.text import fold

from .catalogue import parse_level, skill_lookup
from .identifiers import clean_siret, clean_vat
from .models import PartnerFirm, Skill, SkillLevel
from .partner_file import FileRow

MAX_ERRORS = 500
REQUIRED = ("name", "siret", "region", "capacity_days", "daily_rate", "skills")
OPTIONAL = (
    "vat_number",
    "address",
    "postcode",
    "city",
    "departments",
    "is_sme",
    "website",
    "contact_name",
    "contact_email",
    "contact_phone",
)
# Canonical column -> the headers accepted for it (folded: no case, accents or punctuation).
HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "nom", "raison sociale", "entreprise", "denomination"),
    "siret": ("siret", "n siret", "numero siret"),
    "region": ("region",),
    "capacity_days": ("capacity days", "capacite jours", "capacite", "jours par mois", "jours disponibles"),
    "daily_rate": ("daily rate", "tarif journalier", "taux journalier", "tjm"),
    "skills": ("skills", "competences"),
    "vat_number": ("vat number", "vat", "tva", "n tva", "numero de tva", "tva intracommunautaire"),
    "address": ("address", "adresse"),
    "postcode": ("postcode", "postal code", "zip", "code postal", "cp"),
    "city": ("city", "ville", "commune"),
    "departments": ("departments", "departements", "departements couverts"),
    "is_sme": ("is sme", "sme", "pme"),
    "website": ("website", "site web", "site"),
    "contact_name": ("contact name", "contact", "nom du contact"),
    "contact_email": ("contact email", "email", "e mail", "courriel"),
    "contact_phone": ("contact phone", "phone", "telephone", "tel"),
}
TEXT_LIMITS = {"name": 200, "address": 300, "city": 120, "website": 300, "contact_name": 200, "contact_phone": 30}
YES = frozenset({"oui", "o", "yes", "y", "1", "vrai", "true", "x"})
NO = frozenset({"non", "n", "no", "0", "faux", "false"})
DEPARTMENTS = frozenset([f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B", "971", "972", "973", "974", "976"])
_ITEM_SEPARATORS = re.compile(r"[;,\n]")
_DEPARTMENT_SEPARATORS = re.compile(r"[;,\s]+")
_POSTCODE = re.compile(r"^\d{5}$")


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return _("ligne %(row)d, colonne %(column)s : %(message)s") % {
                "row": self.row,
                "column": self.column,
                "message": self.message,
            }
        return _("ligne %(row)d : %(message)s") % {"row": self.row, "message": self.message}


class PartnerImportError(Exception):
    """The file was refused; `errors` lists every problem found. Nothing was saved."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(error) for error in errors[:5]))
        self.errors = errors


@dataclass
class FirmRow:
    """One checked row of the file."""

    number: int
    name: str
    siret: str
    region: str
    capacity_days: Decimal
    daily_rate: Decimal
    skills: dict[int, SkillLevel]
    values: dict[str, Any] = field(default_factory=dict)  # optional columns given in this row
    firm: PartnerFirm | None = None  # the existing firm it updates


class _Errors:
    def __init__(self) -> None:
        self.items: list[RowError] = []

    def add(self, row: int, column: str, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(RowError(row, column, message))
        elif len(self.items) == MAX_ERRORS:
            self.items.append(RowError(row, "", _("Trop d'erreurs : corrigez celles-ci puis relancez l'import.")))


def checked_rows(file_rows: list[FileRow]) -> list[FirmRow]:
    errors = _Errors()
    header = next((row for row in file_rows if not row.is_empty()), None)
    if header is None:
        raise PartnerImportError([RowError(0, "", _("Le fichier ne contient aucune ligne."))])
    columns, labels = _columns(header, errors)
    if errors.items:
        raise PartnerImportError(errors.items)
    checker = RowChecker(columns, labels, errors)
    rows = [
        checked
        for row in file_rows
        if row.number > header.number and not row.is_empty()
        if (checked := checker.check(row)) is not None
    ]
    if not rows and not errors.items:
        errors.add(header.number, "", _("Le fichier ne contient aucune entreprise sous la ligne d'en-tête."))
    checker.check_against_database(rows)
    if errors.items:
        raise PartnerImportError(sorted(errors.items, key=lambda error: error.row))
    return rows


def _columns(header: FileRow, errors: _Errors) -> tuple[dict[str, int], dict[str, str]]:
    """Canonical column -> its index in the row, and -> its header as written in the file."""
    accepted = {spelling: column for column, spellings in HEADERS.items() for spelling in spellings}
    columns: dict[str, int] = {}
    labels: dict[str, str] = {}
    for index, cell in enumerate(header.cells):
        text = str(cell or "").strip()
        column = accepted.get(fold(text))
        if column is None:
            continue
        if column in columns:
            errors.add(
                header.number,
                text,
                _("la colonne « %(column)s » apparaît deux fois (« %(first)s » et « %(second)s »).")
                % {"column": column, "first": labels[column], "second": text},
            )
            continue
        columns[column] = index
        labels[column] = text
    for column in REQUIRED:
        if column not in columns:
            errors.add(
                header.number,
                column,
                _("colonne obligatoire absente (en-têtes attendus : %(expected)s).")
                % {"expected": ", ".join(REQUIRED)},
            )
    return columns, labels


class RowChecker:
    def __init__(self, columns: dict[str, int], labels: dict[str, str], errors: _Errors) -> None:
        self.columns = columns
        self.labels = labels
        self.errors = errors
        self.skills = skill_lookup()
        self.skill_names = dict(Skill.objects.values_list("pk", "name"))
        self.first_siret: dict[str, int] = {}
        self.first_name: dict[str, int] = {}

    # -- one row

    def check(self, row: FileRow) -> FirmRow | None:
        before = len(self.errors.items)
        name = self._text(row, "name")
        if not name:
            self._error(row, "name", _("le nom de l'entreprise est vide."))
        siret = self._siret(row)
        region = self._region(row)
        capacity = self._number(row, "capacity_days", places=1, limit=Decimal(100_000))
        rate = self._number(row, "daily_rate", places=2, limit=Decimal(100_000_000))
        skills = self._skills(row)
        values = {column: value for column in OPTIONAL if (value := self._optional(row, column, siret)) is not None}
        if (values.get("contact_email") or values.get("contact_phone")) and "contact_name" not in values:
            self._error(row, "contact_name", _("un courriel ou un téléphone de contact est donné sans nom."))
        self._remember(row, name, siret)
        if len(self.errors.items) > before:
            return None
        assert capacity is not None
        assert rate is not None
        assert skills is not None
        return FirmRow(row.number, name, siret, region, capacity, rate, skills, values)

    def _cell(self, row: FileRow, column: str) -> Any:
        index = self.columns.get(column)
        if index is None or index >= len(row.cells):
            return None
        return row.cells[index]

    def _text(self, row: FileRow, column: str) -> str:
        value = self._cell(row, column)
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = " ".join(str(value).split())
        limit = TEXT_LIMITS.get(column)
        if limit and len(text) > limit:
            self._error(
                row, column, _("%(count)d caractères, au plus %(limit)d.") % {"count": len(text), "limit": limit}
            )
        return text

    def _error(self, row: FileRow, column: str, message: str) -> None:
        self.errors.add(row.number, self.labels.get(column, column), message)

    def _siret(self, row: FileRow) -> str:
        text = self._text(row, "siret")
        if not text:
            self._error(row, "siret", _("le SIRET est vide."))
            return ""
        try:
            return clean_siret(text)
        except ValidationError as exc:
            self._error(row, "siret", " ".join(exc.messages))
            return ""

    def _region(self, row: FileRow) -> str:
        text = self._text(row, "region")
        code = region_code(text) if text else None
        if code is None:
            self._error(
                row,
                "region",
                _("région inconnue « %(value)s » : donnez son nom (« Occitanie ») ou son code INSEE (« 76 »).")
                % {"value": text},
            )
            return ""
        return code

    def _number(self, row: FileRow, column: str, *, places: int, limit: Decimal) -> Decimal | None:
        raw = self._cell(row, column)
        text = _number_text(raw)
        if not text:
            self._error(row, column, _("valeur manquante : un nombre est attendu."))
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            self._error(row, column, _("« %(value)s » n'est pas un nombre.") % {"value": str(raw)[:40]})
            return None
        if value < 0:
            self._error(row, column, _("« %(value)s » est négatif.") % {"value": str(raw)[:40]})
            return None
        if value >= limit:
            self._error(row, column, _("« %(value)s » est trop grand.") % {"value": str(raw)[:40]})
            return None
        rounded = value.quantize(Decimal(1).scaleb(-places))
        if rounded != value:
            self._error(
                row,
                column,
                _("« %(value)s » : au plus %(places)d décimale(s).") % {"value": str(raw)[:40], "places": places},
            )
            return None
        return rounded

    def _skills(self, row: FileRow) -> dict[int, SkillLevel] | None:
        text = self._text(row, "skills")
        skills: dict[int, SkillLevel] = {}
        ok = True
        if not text.strip(" ;,"):
            self._error(
                row, "skills", _("aucune compétence : écrivez par exemple PostgreSQL:expert;Python:intégrateur.")
            )
            return None
        for item in filter(None, (part.strip() for part in _ITEM_SEPARATORS.split(text))):
            name, separator, level_text = item.rpartition(":")
            name = name.strip()
            skill_id = self.skills.get(fold(name)) if separator else None
            if not separator or not name or (skill_id is None and fold(item) in self.skills):
                self._error(
                    row,
                    "skills",
                    _("« %(item)s » : niveau manquant, écrivez Compétence:niveau (par exemple PostgreSQL:expert).")
                    % {"item": item},
                )
                ok = False
                continue
            level = parse_level(level_text)
            if skill_id is None:
                self._error(row, "skills", self._unknown_skill(name))
                ok = False
            if level is None:
                self._error(
                    row,
                    "skills",
                    _("« %(item)s » : niveau « %(level)s » inconnu (attendu : %(levels)s, ou 1 à 6).")
                    % {"item": item, "level": level_text.strip(), "levels": _level_names()},
                )
                ok = False
            if skill_id is None or level is None:
                continue
            if skill_id in skills:
                self._error(
                    row,
                    "skills",
                    _("« %(skill)s » apparaît deux fois dans la ligne.") % {"skill": self.skill_names[skill_id]},
                )
                ok = False
                continue
            skills[skill_id] = level
        return skills if ok else None

    def _unknown_skill(self, name: str) -> str:
        close = difflib.get_close_matches(fold(name), list(self.skills), n=6, cutoff=0.6)
        suggestions = list(dict.fromkeys(self.skill_names[self.skills[key]] for key in close))[:3]
        if suggestions:
            return _("compétence « %(name)s » absente du catalogue ; vouliez-vous dire : %(suggestions)s ?") % {
                "name": name,
                "suggestions": ", ".join(f"« {suggestion} »" for suggestion in suggestions),
            }
        return _("compétence « %(name)s » absente du catalogue des compétences.") % {"name": name}

    def _optional(self, row: FileRow, column: str, siret: str) -> Any:
        if column not in self.columns:
            return None
        raw = self._cell(row, column)
        if column == "postcode" and isinstance(raw, float | int) and not isinstance(raw, bool) and _whole(raw):
            raw = f"{int(raw):05d}"  # a spreadsheet drops the leading zero of 01000
        if column == "is_sme" and isinstance(raw, bool):
            return raw
        text = self._text(row, column) if raw is not None else ""
        if not text:
            return None
        parse: Callable[[FileRow, str, str], Any] | None = getattr(self, f"_parse_{column}", None)
        return parse(row, text, siret) if parse else text

    def _parse_vat_number(self, row: FileRow, text: str, siret: str) -> str | None:
        try:
            return clean_vat(text, siren=siret[:9])
        except ValidationError as exc:
            self._error(row, "vat_number", " ".join(exc.messages))
            return None

    def _parse_postcode(self, row: FileRow, text: str, siret: str) -> str | None:
        if not _POSTCODE.match(text):
            self._error(row, "postcode", _("code postal « %(value)s » : 5 chiffres attendus.") % {"value": text})
            return None
        return text

    def _parse_departments(self, row: FileRow, text: str, siret: str) -> list[str] | None:
        codes = []
        for part in filter(None, _DEPARTMENT_SEPARATORS.split(text)):
            code = part.upper().zfill(2) if part.isdigit() else part.upper()
            if code not in DEPARTMENTS:
                self._error(row, "departments", _("département « %(value)s » inconnu.") % {"value": part})
                return None
            codes.append(code)
        return list(dict.fromkeys(codes))

    def _parse_is_sme(self, row: FileRow, text: str, siret: str) -> bool | None:
        folded = fold(text)
        if folded in YES:
            return True
        if folded in NO:
            return False
        self._error(row, "is_sme", _("« %(value)s » : oui ou non attendu.") % {"value": text})
        return None

    def _parse_website(self, row: FileRow, text: str, siret: str) -> str | None:
        url = text if "://" in text else f"https://{text}"
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            self._error(row, "website", _("adresse web « %(value)s » invalide.") % {"value": text})
            return None
        return url

    def _parse_contact_email(self, row: FileRow, text: str, siret: str) -> str | None:
        try:
            EmailValidator()(text)
        except ValidationError:
            self._error(row, "contact_email", _("courriel « %(value)s » invalide.") % {"value": text})
            return None
        return text

    # -- across rows

    def _remember(self, row: FileRow, name: str, siret: str) -> None:
        if siret:
            first = self.first_siret.setdefault(siret, row.number)
            if first != row.number:
                message = _("SIRET %(siret)s déjà donné ligne %(first)d.") % {"siret": siret, "first": first}
                self._error(row, "siret", message)
        if name:
            first = self.first_name.setdefault(fold(name), row.number)
            if first != row.number:
                self._error(
                    row, "name", _("« %(name)s » déjà donnée ligne %(first)d.") % {"name": name, "first": first}
                )

    def check_against_database(self, rows: list[FirmRow]) -> None:
        """Match each row to an existing firm (SIRET, else name) and refuse a SIRET held by a firm of another name."""
        firms = list(PartnerFirm.objects.only("pk", "name", "siret", "vat_number"))
        by_siret = {firm.siret: firm for firm in firms if firm.siret}
        by_name = {fold(firm.name): firm for firm in firms}
        for row in rows:
            holder = by_siret.get(row.siret)
            if holder is not None and fold(holder.name) != fold(row.name):
                self.errors.add(
                    row.number,
                    self.labels["siret"],
                    _("SIRET %(siret)s déjà utilisé par l'entreprise « %(firm)s », pas « %(name)s ».")
                    % {"siret": row.siret, "firm": holder.name, "name": row.name},
                )
                continue
            row.firm = holder or by_name.get(fold(row.name))


def _whole(number: float | int) -> bool:
    """A whole number: not a fraction, nor an infinity or NaN (what a float cell may hold)."""
    return isinstance(number, int) or (math.isfinite(number) and number.is_integer())


def _number_text(raw: Any) -> str:
    """A cell as the text of a Decimal: "1 234,5 €" -> "1234.5"; a spreadsheet float at its own precision."""
    if raw is None or isinstance(raw, bool):
        return "" if raw is None else "?"
    if isinstance(raw, float):
        return f"{raw:.15g}"  # Excel's own precision: 12.499999999999998 is the 12.5 the user typed
    if isinstance(raw, int | Decimal):
        return str(raw)
    text = str(raw).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    text = text.removesuffix("€").removesuffix("EUR").strip()
    if "," in text and "." in text:
        text = text.replace(".", "").replace(",", ".") if text.rfind(",") > text.rfind(".") else text.replace(",", "")
    return text.replace(",", ".")


def _level_names() -> str:
    return ", ".join(str(label) for label in SkillLevel.labels)
