"""Forms of the firm pages: they check input and name the bad field; the services in services/profile.py write."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from consortium.regions import Region, is_department_code
from consortium.text import fold

from .identifiers import clean_siret, clean_vat
from .models import EVIDENCED_LEVELS, AttestationKind, PartnerFirm, Skill, SkillLevel
from .selectors import DirectoryFilters, normalize_cpv_prefix, skill_by_name
from .services.profile import AttestationRow, ContactRow, FirmIdentity, ReferenceRow, SkillRow

CPV_RE = re.compile(r"^(\d{8})(?:-\d)?$")
MAX_ROWS = 300
LEVEL_CHOICES = [("", _("tous niveaux")), *SkillLevel.choices]
RATE: dict[str, Any] = {"min_value": Decimal(0), "max_digits": 10, "decimal_places": 2}


def split_list(text: str) -> list[str]:
    """'75, 92;93 94' -> ['75', '92', '93', '94']."""
    return [item for item in re.split(r"[\s,;]+", text.strip()) if item]


class DirectoryFilterForm(forms.Form):
    q = forms.CharField(label=_("Nom ou ville"), max_length=100, required=False)
    skill = forms.CharField(
        label=_("Compétence"), max_length=200, required=False, widget=forms.TextInput(attrs={"list": "skill-names"})
    )
    min_level = forms.TypedChoiceField(
        label=_("Niveau minimum"), choices=LEVEL_CHOICES, coerce=int, empty_value=None, required=False
    )
    cpv = forms.CharField(label=_("Code CPV (début)"), max_length=20, required=False)
    region = forms.ChoiceField(label=_("Région"), choices=[("", _("toutes")), *Region.choices], required=False)
    min_days = forms.DecimalField(
        label=_("Jours libres sur 3 mois, au moins"),
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=1,
        required=False,
    )

    def clean_skill(self) -> Skill | None:
        text = self.cleaned_data["skill"].strip()
        if not text:
            return None
        skill = skill_by_name(text)
        if skill is None:
            raise ValidationError(_("Compétence « %(name)s » absente du catalogue."), params={"name": text})
        return skill

    def clean_cpv(self) -> str:
        text = self.cleaned_data["cpv"].strip()
        prefix = normalize_cpv_prefix(text) if text else ""
        if text and not prefix:
            raise ValidationError(_("Code CPV « %(code)s » : de 2 à 8 chiffres attendus."), params={"code": text})
        return prefix

    def filters(self) -> DirectoryFilters:
        data = self.cleaned_data
        return DirectoryFilters(
            skill=data.get("skill"),
            min_level=data.get("min_level"),
            cpv_prefix=data.get("cpv", ""),
            region=data.get("region", ""),
            min_free_days=data.get("min_days"),
            search=data.get("q", "").strip(),
        )


class FirmIdentityForm(forms.ModelForm):
    # Wider than the stored digits: people type spaces and dots; the clean methods keep the digits.
    siret = forms.CharField(
        label=_("SIRET"), max_length=30, required=False, help_text=_("14 chiffres ; le SIREN en découle")
    )
    vat_number = forms.CharField(
        label=_("N° de TVA intracommunautaire"), max_length=30, required=False, help_text=_("FR, clé, SIREN")
    )
    departments = forms.CharField(
        label=_("Départements couverts"), max_length=1000, required=False, help_text=_("par exemple : 75, 92, 2A, 971")
    )
    website = forms.URLField(label=_("Site web"), max_length=300, required=False, assume_scheme="https")
    daily_rate = forms.DecimalField(label=_("Tarif journalier par défaut (HT)"), required=False, **RATE)

    class Meta:
        model = PartnerFirm
        fields = [
            "name",
            "siret",
            "vat_number",
            "address",
            "postcode",
            "city",
            "region",
            "departments",
            "is_sme",
            "website",
            "description",
            "daily_rate",
            "publishes_contributions",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["departments"] = ", ".join(self.instance.departments or [])

    def clean_siret(self) -> str:
        text = self.cleaned_data["siret"].strip()
        return clean_siret(text) if text else ""

    def clean_departments(self) -> list[str]:
        codes = [code.upper() for code in split_list(self.cleaned_data["departments"])]
        unknown = [code for code in codes if not is_department_code(code)]
        if unknown:
            raise ValidationError(
                _("Département inconnu : %(codes)s (codes attendus : 01 à 95, 2A, 2B, 971 à 976)."),
                params={"codes": ", ".join(unknown)},
            )
        return list(dict.fromkeys(codes))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        vat = (data.get("vat_number") or "").strip()
        if vat and "siret" not in self.errors:
            try:
                data["vat_number"] = clean_vat(vat, siren=(data.get("siret") or "")[:9])
            except ValidationError as error:
                self.add_error("vat_number", error)
        return data

    def identity(self) -> FirmIdentity:
        data = self.cleaned_data
        return FirmIdentity(
            name=data["name"],
            siret=data["siret"],
            vat_number=data.get("vat_number") or "",
            address=data["address"],
            postcode=data["postcode"],
            city=data["city"],
            region=data["region"],
            departments=data["departments"],
            is_sme=data["is_sme"],
            website=data["website"],
            description=data["description"],
            daily_rate=data["daily_rate"],
            publishes_contributions=data["publishes_contributions"],
        )


class RowForm(forms.Form):
    """One row of a profile table; `row()` gives what the service takes."""

    def row(self) -> Any:
        raise NotImplementedError


class RowsFormSet(forms.BaseFormSet):
    """A formset whose filled, non-deleted forms are rows of the profile."""

    def filled_forms(self) -> list[RowForm]:
        return [form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]

    def rows(self) -> list[Any]:
        return [form.row() for form in self.filled_forms()]


class SkillRowForm(RowForm):
    skill = forms.CharField(
        label=_("Compétence"), max_length=200, widget=forms.TextInput(attrs={"list": "skill-names"})
    )
    # A blank first choice, so that an untouched extra row posts nothing and is skipped.
    level = forms.TypedChoiceField(label=_("Niveau"), choices=[("", "—"), *SkillLevel.choices], coerce=int)
    years = forms.IntegerField(label=_("Années de pratique"), min_value=0, max_value=80, required=False)
    evidence_url = forms.URLField(label=_("Preuve (lien)"), max_length=500, required=False, assume_scheme="https")
    daily_rate = forms.DecimalField(label=_("Tarif journalier HT"), required=False, **RATE)

    def __init__(self, *args: Any, skill_index: dict[str, Skill], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skill_index = skill_index

    def clean_skill(self) -> Skill:
        text = self.cleaned_data["skill"].strip()
        skill = self.skill_index.get(fold(text))
        if skill is None:
            raise ValidationError(_("« %(name)s » n'est pas dans le catalogue des compétences."), params={"name": text})
        return skill

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("level") in EVIDENCED_LEVELS and not data.get("evidence_url"):
            self.add_error(
                "evidence_url",
                _("Le niveau « %(level)s » demande un lien de preuve (commit, release, page du projet).")
                % {"level": SkillLevel(data["level"]).label},
            )
        return data

    def row(self) -> SkillRow:
        data = self.cleaned_data
        return SkillRow(data["skill"], data["level"], data["years"], data["evidence_url"], data["daily_rate"])


class SkillFormSet(RowsFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[int] = set()
        for form in self.filled_forms():
            skill: Skill = form.cleaned_data["skill"]
            if skill.pk in seen:
                form.add_error("skill", _("Cette compétence figure déjà plus haut."))
            seen.add(skill.pk)


def skill_formset(
    data: Any, *, skill_index: dict[str, Skill], initial: list[dict[str, Any]] | None = None
) -> SkillFormSet:
    factory = forms.formset_factory(
        SkillRowForm, formset=SkillFormSet, extra=3, can_delete=True, max_num=MAX_ROWS, validate_max=True
    )
    formset = factory(data, initial=initial, prefix="skills", form_kwargs={"skill_index": skill_index})
    assert isinstance(formset, SkillFormSet)
    return formset


class CapacityForm(forms.Form):
    """Days offered for each of the coming months, and the daily rate per skill level."""

    def __init__(self, *args: Any, months: list[dt.date], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.months = months
        for month in months:
            self.fields[f"month_{month:%Y_%m}"] = forms.DecimalField(
                label=date_format(month, "F Y"),
                min_value=Decimal(0),
                max_value=Decimal("99999.9"),
                max_digits=6,
                decimal_places=1,
                required=False,
                localize=True,  # "17,5" in French, as people type it
            )
        for level, label in SkillLevel.choices:
            self.fields[f"rate_{level}"] = forms.DecimalField(label=label, required=False, localize=True, **RATE)

    def month_fields(self) -> list[forms.BoundField]:
        return [self[f"month_{month:%Y_%m}"] for month in self.months]

    def rate_fields(self) -> list[forms.BoundField]:
        return [self[f"rate_{level}"] for level in SkillLevel.values]

    def capacity(self) -> dict[dt.date, Decimal | None]:
        return {month: self.cleaned_data[f"month_{month:%Y_%m}"] for month in self.months}

    def level_rates(self) -> dict[int, Decimal | None]:
        return {level: self.cleaned_data[f"rate_{level}"] for level in SkillLevel.values}


class AttestationRowForm(RowForm):
    kind = forms.ChoiceField(label=_("Type"), choices=[("", "—"), *AttestationKind.choices])
    reference = forms.CharField(label=_("Référence"), max_length=200, required=False)
    issued_on = forms.DateField(label=_("Délivrée le"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    valid_until = forms.DateField(label=_("Valable jusqu'au"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        issued, until = data.get("issued_on"), data.get("valid_until")
        if issued and until and issued > until:
            self.add_error("valid_until", _("La fin de validité précède la date de délivrance."))
        return data

    def row(self) -> AttestationRow:
        data = self.cleaned_data
        return AttestationRow(data["kind"], data["reference"], data["issued_on"], data["valid_until"])


class AttestationFormSet(RowsFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.filled_forms():
            kind = form.cleaned_data["kind"]
            if kind in seen:
                form.add_error("kind", _("Une seule attestation de ce type : modifiez la ligne existante."))
            seen.add(kind)


class ReferenceRowForm(RowForm):
    title = forms.CharField(label=_("Objet"), max_length=500)
    buyer = forms.CharField(label=_("Acheteur"), max_length=300)
    year = forms.IntegerField(label=_("Année"), min_value=1980)
    amount = forms.DecimalField(
        label=_("Montant HT"), min_value=Decimal(0), max_digits=14, decimal_places=2, required=False
    )
    cpv_codes = forms.CharField(
        label=_("Codes CPV"), max_length=1000, required=False, help_text=_("séparés par des virgules")
    )

    def clean_year(self) -> int:
        year: int = self.cleaned_data["year"]
        if year > timezone.localdate().year:
            raise ValidationError(
                _("Une référence est un marché passé : année %(year)d à venir."), params={"year": year}
            )
        return year

    def clean_cpv_codes(self) -> list[str]:
        codes = split_list(self.cleaned_data["cpv_codes"])
        bad = [code for code in codes if not CPV_RE.match(code)]
        if bad:
            raise ValidationError(
                _("Code CPV invalide : %(codes)s (8 chiffres attendus, par exemple 72000000)."),
                params={"codes": ", ".join(bad)},
            )
        return list(dict.fromkeys(code[:8] for code in codes))

    def row(self) -> ReferenceRow:
        data = self.cleaned_data
        return ReferenceRow(data["title"], data["buyer"], data["year"], data["amount"], data["cpv_codes"])


class ContactRowForm(RowForm):
    name = forms.CharField(label=_("Nom"), max_length=200)
    role = forms.CharField(label=_("Fonction"), max_length=200, required=False)
    email = forms.EmailField(label=_("Courriel"), required=False)
    phone = forms.CharField(label=_("Téléphone"), max_length=30, required=False)
    is_primary = forms.BooleanField(label=_("Principal"), required=False)

    def row(self) -> ContactRow:
        data = self.cleaned_data
        return ContactRow(data["name"], data["role"], data["email"], data["phone"], data["is_primary"])


class ContactFormSet(RowsFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        if sum(bool(form.cleaned_data["is_primary"]) for form in self.filled_forms()) > 1:
            raise ValidationError(_("Un seul contact principal."))


def rows_formset(
    form: type[RowForm], formset: type[RowsFormSet], data: Any, *, prefix: str, initial: list[dict[str, Any]] | None
) -> RowsFormSet:
    factory = forms.formset_factory(
        form, formset=formset, extra=2, can_delete=True, max_num=MAX_ROWS, validate_max=True
    )
    built = factory(data, initial=initial, prefix=prefix)
    assert isinstance(built, RowsFormSet)
    return built
