"""Forms of the work-package pages: they only parse input; the services decide."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from consortium.forms import form_errors as errors_of
from consortium.text import fold
from partners.models import Skill

from .models import WorkPackage

EXTRA_SKILL_ROWS = 3
MAX_IDS = 10_000


class IdListField(forms.Field):
    """A list of database ids posted as repeated values (checkboxes named alike)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else ([value] if value else [])
        if len(values) > MAX_IDS:
            raise forms.ValidationError(_("Trop d'éléments cochés à la fois."))
        ids = []
        for item in values:
            text = str(item).strip()
            if not text.isdigit():
                raise forms.ValidationError(_("Sélection invalide."))
            ids.append(int(text))
        return ids


def find_skill(text: str) -> Skill | None:
    """The catalogue skill called `text`, by name or alias, accents and case aside."""
    exact = Skill.objects.filter(name__iexact=text.strip()).first()
    if exact is not None:
        return exact
    wanted = fold(text)
    for skill in Skill.objects.only("id", "name", "aliases"):
        names = [skill.name, *(alias for alias in skill.aliases if isinstance(alias, str))]
        if any(fold(name) == wanted for name in names):
            return skill
    return None


class SplitForm(forms.Form):
    confirm = forms.BooleanField(label=_("Remplacer le découpage actuel"), required=False)


class MergeForm(forms.Form):
    packages = IdListField(label=_("Lots de travaux"))
    name = forms.CharField(label=_("Nom du lot de travaux fusionné"), max_length=300)


class LinesForm(forms.Form):
    """The line checkboxes of a package page, for a move or a split."""

    lines = IdListField(label=_("Lignes"))
    target = forms.IntegerField(label=_("Vers le lot de travaux"), required=False, min_value=1)
    name = forms.CharField(label=_("Nom du nouveau lot de travaux"), max_length=300, required=False)


class RenameForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=300)


class RuleForm(forms.Form):
    pattern = forms.CharField(
        label=_("Motif"),
        max_length=200,
        help_text=_("texte que contient la désignation, sans tenir compte des accents"),
    )
    package_name = forms.CharField(label=_("Lot de travaux"), max_length=300)
    skill = forms.CharField(
        label=_("Compétence"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"list": "skill-names"}),
    )

    def clean_skill(self) -> Skill | None:
        text = self.cleaned_data["skill"].strip()
        if not text:
            return None
        skill = find_skill(text)
        if skill is None:
            raise forms.ValidationError(_("Compétence inconnue du catalogue : « %(name)s ».") % {"name": text})
        return skill


class RequirementsForm(forms.Form):
    """Skills with weights (a row left empty removes a skill) and CPV codes."""

    rows = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=200)
    cpv_codes = forms.CharField(
        label=_("Codes CPV"),
        required=False,
        max_length=2000,
        help_text=_("séparés par des espaces ou des virgules, par exemple 72267000 48000000"),
    )

    def __init__(self, data: Any = None, *, package: WorkPackage) -> None:
        current = [(required.skill.name, required.weight) for required in package.required_skills.all()]
        count = len(current) + EXTRA_SKILL_ROWS
        if data is not None and str(data.get("rows", "")).isdigit():
            count = min(int(data["rows"]), 200)
        initial: dict[str, Any] = {"rows": count, "cpv_codes": " ".join(package.cpv_codes)}
        for number, (name, weight) in enumerate(current):
            initial[f"skill_{number}"], initial[f"weight_{number}"] = name, weight
        super().__init__(data, initial=initial)
        for number in range(count):
            self.fields[f"skill_{number}"] = forms.CharField(
                label=_("Compétence"),
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"list": "skill-names"}),
            )
            self.fields[f"weight_{number}"] = forms.IntegerField(
                label=_("Poids"), required=False, min_value=1, max_value=10
            )
        self.skill_rows = [(self[f"skill_{number}"], self[f"weight_{number}"]) for number in range(count)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen: list[tuple[Skill, int]] = []
        for number in range(data.get("rows") or 0):
            text = (data.get(f"skill_{number}") or "").strip()
            if not text:
                continue
            skill = find_skill(text)
            weight = data.get(f"weight_{number}")
            if skill is None:
                self.add_error(
                    f"skill_{number}", _("Compétence inconnue du catalogue : « %(name)s ».") % {"name": text}
                )
            elif weight is None:
                self.add_error(f"weight_{number}", _("Donnez un poids de 1 à 10 à « %(name)s ».") % {"name": text})
            else:
                chosen.append((skill, weight))
        data["skills"] = chosen
        data["cpv_list"] = [code for code in re.split(r"[\s,;]+", data.get("cpv_codes") or "") if code]
        return data


def form_errors(form: forms.Form) -> str:
    """Every error of a bound form on one line, each naming its field."""
    return " ".join(errors_of(form))
