"""Forms of the invitation pages: they only parse input (firms and packages through scoped querysets);
the services decide."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerFirm
from partners.selectors import firms_for

from .models import InvitationStatus, Tender, WorkPackage
from .prices import PricedLine, PriceEntry
from .selectors.invitations import NOT_SENT, STATUS_LABELS

DEADLINE_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"]
VERSION_ERRORS = {
    "required": _("Formulaire incomplet (version manquante) : rechargez la page."),
    "invalid": _("Formulaire invalide (version) : rechargez la page."),
    "min_value": _("Formulaire invalide (version) : rechargez la page."),
}


def price_field(line_id: int) -> str:
    return f"price_{line_id}"


def price_entries(data: Mapping[str, Any], lines: Sequence[PricedLine]) -> list[PriceEntry]:
    """One entry per line of the package, numbered as the page shows them; an absent input is a missing price."""
    return [
        PriceEntry(
            line_id=line.line_id, raw=data.get(price_field(line.line_id)), where=gettext("ligne %(n)s") % {"n": n}
        )
        for n, line in enumerate(lines, start=1)
    ]


def typed_prices(data: Mapping[str, Any], lines: Sequence[PricedLine]) -> dict[int, str]:
    """What the user typed, to show it again after a refusal."""
    return {line.line_id: str(data.get(price_field(line.line_id), ""))[:40] for line in lines}


def deadline_input(value: dt.datetime) -> str:
    """An aware datetime as the value of a datetime-local input, in the local time zone."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


class DeadlineField(forms.DateTimeField):
    """A datetime-local value read in the current (local) time zone, made aware."""

    default_error_messages = {
        "invalid": _("Date limite invalide : saisissez une date et une heure (JJ/MM/AAAA HH:MM)."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", DEADLINE_FORMATS)
        kwargs.setdefault("widget", forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
        super().__init__(**kwargs)


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Statut"), required=False, choices=[("", _("tous les statuts")), *InvitationStatus.choices]
    )

    def status_value(self) -> str:
        return str(self.cleaned_data.get("status") or "") if self.is_valid() else ""


class DashboardFilterForm(forms.Form):
    lot = forms.CharField(label=_("Lot"), required=False, max_length=20)
    status = forms.ChoiceField(
        label=_("Statut"),
        required=False,
        choices=[("", _("tous les statuts")), (NOT_SENT, STATUS_LABELS[NOT_SENT]), *InvitationStatus.choices],
    )
    over_estimate = forms.BooleanField(label=_("au-dessus de l'estimation"), required=False)

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {"lot": "", "status": "", "over_estimate": False}
        lot = str(self.cleaned_data.get("lot") or "").strip()
        return {
            "lot": lot if lot.isdigit() else "",
            "status": str(self.cleaned_data.get("status") or ""),
            "over_estimate": bool(self.cleaned_data.get("over_estimate")),
        }


class AcceptForm(forms.Form):
    """The fields around the prices; the prices themselves are read by `price_entries`."""

    version = forms.IntegerField(min_value=1, error_messages=VERSION_ERRORS)
    note = forms.CharField(label=_("Note pour le chargé d'affaires"), required=False, max_length=4000)
    team = forms.CharField(label=_("Équipe engagée"), required=False, max_length=4000)


class DeclineForm(forms.Form):
    version = forms.IntegerField(min_value=1, error_messages=VERSION_ERRORS)
    reason = forms.CharField(label=_("Motif du refus"), required=False, max_length=2000)


class WithdrawForm(forms.Form):
    invite_successor = forms.BooleanField(label=_("Inviter l'entreprise suivante"), required=False)


class UploadForm(forms.Form):
    version = forms.IntegerField(min_value=1, error_messages=VERSION_ERRORS)
    file = forms.FileField(
        label=_("Bordereau rempli (XLSX)"),
        error_messages={
            "required": _("Choisissez le bordereau XLSX rempli à envoyer."),
            "empty": _("Le fichier envoyé est vide."),
            "invalid": _("Aucun fichier reçu : choisissez le bordereau XLSX rempli."),
        },
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_BYTES
        if upload.size is not None and upload.size > limit:
            raise forms.ValidationError(
                _("« %(name)s » est trop volumineux (%(size)s, au plus %(limit)s).")
                % {"name": upload.name, "size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
            )
        return upload


class SendForm(forms.Form):
    deadline = DeadlineField(
        label=_("Date limite de réponse"),
        error_messages={"required": _("Indiquez la date limite de réponse des entreprises.")},
    )
    packages = forms.ModelMultipleChoiceField(
        label=_("Lots de travaux"),
        queryset=WorkPackage.objects.none(),
        required=False,
        error_messages={
            "invalid_choice": _("Lot de travaux inconnu dans la sélection."),
            "invalid_pk_value": _("Sélection de lots de travaux invalide."),
        },
    )

    def __init__(self, *args: Any, tender: Tender, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["packages"].queryset = WorkPackage.objects.filter(tender=tender)  # type: ignore[attr-defined]


class InviteFirmForm(forms.Form):
    firm = forms.ModelChoiceField(
        label=_("Entreprise"),
        queryset=PartnerFirm.objects.none(),
        error_messages={
            "required": _("Choisissez l'entreprise à inviter."),
            "invalid_choice": _("Entreprise inconnue."),
        },
    )
    deadline = DeadlineField(label=_("Date limite de réponse"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["firm"].queryset = firms_for(user)  # type: ignore[attr-defined]
