"""Forms of the matching pages: they only parse input (firms through the scoping helper); the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerFirm
from partners.selectors import firms_for

from .models import ExclusionKind


class FirmChoiceField(forms.ModelChoiceField):
    default_error_messages = {"invalid_choice": _("Entreprise inconnue.")}


class AdjustForm(forms.Form):
    lead = FirmChoiceField(label=_("Entreprise retenue"), queryset=PartnerFirm.objects.none())
    backup = FirmChoiceField(label=_("Entreprise de secours"), queryset=PartnerFirm.objects.none(), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        firms = firms_for(user)
        self.fields["lead"].queryset = firms  # type: ignore[attr-defined]
        self.fields["backup"].queryset = firms  # type: ignore[attr-defined]


class ExclusionForm(forms.Form):
    """A firm by id (from a candidate row) or by its exact name (typed on the overview)."""

    firm = FirmChoiceField(label=_("Entreprise"), queryset=PartnerFirm.objects.none(), required=False)
    firm_name = forms.CharField(label=_("Entreprise"), max_length=200, required=False)
    kind = forms.ChoiceField(label=_("Motif"), choices=ExclusionKind.choices, initial=ExclusionKind.MANUAL)
    reason = forms.CharField(label=_("Précision"), max_length=500, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.firms = firms_for(user)
        self.fields["firm"].queryset = self.firms  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        name = (data.get("firm_name") or "").strip()
        if data.get("firm") is None and name:
            data["firm"] = self.firms.filter(name__iexact=name).first()
            if data["firm"] is None:
                self.add_error(
                    "firm_name", _("Aucune entreprise partenaire ne s'appelle « %(name)s ».") % {"name": name}
                )
        elif data.get("firm") is None and not self.errors:
            self.add_error("firm_name", _("Choisissez l'entreprise à écarter."))
        if data.get("kind") == ExclusionKind.COMPETING and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Précisez le groupement concurrent auquel l'entreprise est engagée."))
        return data
