"""Forms of the group offer's pages: composition, price policy, and the one-button actions.

Every form that changes a draft carries the draft's `revision`: the service refuses a stale one, so two
people editing the same draft never overwrite each other silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from consortium.offer_pricing import Policy
from partners.identifiers import clean_siret

from .offer_models import GroupementForm, MemberRole
from .services.offers import MemberChoice

RATE_LIMITS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class RevisionForm(forms.Form):
    """The revision of the draft the page showed (freezing, or any other change of a draft)."""

    revision = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


def _rate(label: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=7,
        decimal_places=4,
        validators=RATE_LIMITS,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "rate", "size": "8"}),
    )


class PolicyForm(RevisionForm):
    fee_rate = _rate(_("Frais de coordination (%)"))
    levy_rate = _rate(_("Contribution amont (%)"))
    vat_rate = _rate(_("TVA (%)"))

    def policy(self) -> Policy:
        data = self.cleaned_data
        return Policy(fee_rate=data["fee_rate"], levy_rate=data["levy_rate"], vat_rate=data["vat_rate"])


def _role_field(name: str) -> str:
    return f"role_{name}"


def _payment_field(name: str) -> str:
    return f"direct_payment_{name}"


class CompositionForm(RevisionForm):
    """The groupement: its form, the mandataire, and each member's role (plus direct payment).

    `members` are the proposed members of the draft (`firm`, `role`, `direct_payment`).
    """

    form = forms.ChoiceField(label=_("Forme du groupement"), choices=GroupementForm.choices, widget=forms.RadioSelect)
    mandataire_name = forms.CharField(label=_("Mandataire"), max_length=200)
    mandataire_siret = forms.CharField(label=_("SIRET du mandataire"), max_length=20, required=False)
    mandataire_address = forms.CharField(label=_("Adresse du mandataire"), max_length=300, required=False)

    def __init__(self, *args: Any, members: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = list(members)
        for member in self.members:
            self.fields[_role_field(str(member.firm.pk))] = forms.ChoiceField(
                label=_("Rôle de %(firm)s") % {"firm": member.firm.name}, choices=MemberRole.choices
            )
            self.fields[_payment_field(str(member.firm.pk))] = forms.BooleanField(
                label=_("Paiement direct de %(firm)s") % {"firm": member.firm.name}, required=False
            )

    @classmethod
    def initial_for(cls, version: Any, members: Iterable[Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "revision": version.revision,
            "form": version.form,
            "mandataire_name": version.mandataire_name,
            "mandataire_siret": version.mandataire_siret,
            "mandataire_address": version.mandataire_address,
        }
        for member in members:
            initial[_role_field(str(member.firm.pk))] = member.role
            initial[_payment_field(str(member.firm.pk))] = member.direct_payment
        return initial

    def clean_mandataire_siret(self) -> str:
        text = str(self.cleaned_data["mandataire_siret"]).strip()
        return clean_siret(text) if text else ""

    def member_rows(self) -> list[dict[str, Any]]:
        """Each member with its two fields, for the table of the page."""
        return [
            {
                "member": member,
                "role": self[_role_field(str(member.firm.pk))],
                "direct_payment": self[_payment_field(str(member.firm.pk))],
            }
            for member in self.members
        ]

    def choices(self) -> Mapping[int, MemberChoice]:
        data = self.cleaned_data
        return {
            member.firm.pk: MemberChoice(
                role=data[_role_field(str(member.firm.pk))],
                direct_payment=bool(data[_payment_field(str(member.firm.pk))]),
            )
            for member in self.members
        }


class ResultForm(forms.Form):
    result = forms.ChoiceField(choices=[("won", _("gagnée")), ("lost", _("perdue"))])

    @property
    def won(self) -> bool:
        return bool(self.cleaned_data["result"] == "won")
