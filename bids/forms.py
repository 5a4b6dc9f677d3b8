from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .importers import FORMATS
from .models import ImportJob, ScheduleMapping, Tender
from .selectors import tenders_for

MAPPING_FIELDS = [
    ("code", _("Code")),
    ("designation", _("Désignation")),
    ("unit", _("Unité")),
    ("quantity", _("Quantité")),
    ("unit_price", _("Prix unitaire")),
    ("amount", _("Montant")),
    ("lot", _("Lot")),
    ("cpv", _("CPV")),
]
FORMAT_CHOICES = [("auto", _("Détection automatique"))] + [(f, f.upper() if len(f) <= 4 else f) for f in FORMATS]


class MappingFields(forms.Form):
    """Column mapping for a price schedule: each field a column letter or header text."""

    header_row = forms.IntegerField(label=_("Ligne d'en-tête"), min_value=1, max_value=1000, required=False)
    sheet = forms.CharField(label=_("Feuille"), max_length=100, required=False)
    saved_mapping = forms.ModelChoiceField(
        label=_("Correspondance enregistrée"), queryset=ScheduleMapping.objects.all(), required=False
    )
    save_mapping_as = forms.CharField(label=_("Enregistrer la correspondance sous"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in MAPPING_FIELDS:
            self.fields[f"map_{name}"] = forms.CharField(
                label=format_lazy("{} : {}", _("Colonne"), label),
                max_length=100,
                required=False,
                help_text=_("lettre (B) ou titre de colonne"),
            )

    def options(self) -> dict[str, Any]:
        data = self.cleaned_data
        saved: ScheduleMapping | None = data.get("saved_mapping")
        mapping = dict(saved.mapping) if saved else {}
        mapping.update(
            {name: data[f"map_{name}"].strip() for name, _ in MAPPING_FIELDS if data.get(f"map_{name}", "").strip()}
        )
        header_row = data.get("header_row") or (saved.header_row if saved else None)
        return {"mapping": mapping, "header_row": header_row, "sheet": data.get("sheet") or None}


class ImportForm(MappingFields):
    file = forms.FileField(label=_("Fichier"))
    format = forms.ChoiceField(label=_("Format"), choices=FORMAT_CHOICES, initial="auto")
    tender = forms.ModelChoiceField(
        label=_("Rattacher à l'appel d'offres"),
        queryset=Tender.objects.none(),  # scoped to the user in __init__
        required=False,
        help_text=_("pour un bordereau de prix (BPU, DQE, DPGF) d'un appel d'offres déjà importé"),
    )
    lot = forms.CharField(
        label=_("Lot"), max_length=100, required=False, help_text=_("lot qui reçoit un bordereau sans colonne lot")
    )

    field_order = ["file", "format", "tender", "lot"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tender_field = self.fields["tender"]
        assert isinstance(tender_field, forms.ModelChoiceField)
        tender_field.queryset = tenders_for(user)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("Le fichier fait %(size)s octets, au-delà de la limite de %(limit)s octets."),
                params={"size": f"{upload.size:,}", "limit": f"{settings.IMPORT_MAX_BYTES:,}"},
            )
        if upload.size == 0:
            raise forms.ValidationError(_("Le fichier est vide."))
        return upload


class RetryForm(MappingFields):
    lot = forms.CharField(label=_("Lot"), max_length=100, required=False)

    @classmethod
    def for_job(cls, job: ImportJob) -> RetryForm:
        """The form filled with the options the job ran with, for the user to correct."""
        options = job.options
        mapping = options.get("mapping") or {}
        initial = {key: options.get(key) for key in ("header_row", "sheet", "lot")}
        return cls(initial={**initial, **{f"map_{key}": value for key, value in mapping.items()}})
