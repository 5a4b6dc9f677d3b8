"""Forms of the contribution pages: a new commitment, work delivered, a payment to a project, its reversal.

Amounts are typed in euros and kept as integer cents; days as exact decimals. The due dates are typed one
per line (`YYYY-MM-DD;amount or days`, a levy only the date) and each bad line is named in the error. The
rules that need the database (the firm a member of the contract, the parts adding up to the promise, what a
source holds) stay in `pricing.services.commitments`, whose refusals the views put on the form.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.validators import URLValidator
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partners.models import PartnerFirm

from .forms import MAX_CENTS, EuroField, date_field, parse_euros
from .models import CommitmentKind, Contract, ContributionPayment, PaymentSource, UpstreamProject
from .services.commitments import CommitmentInput, ContributionPaymentInput

MAX_DUES = 60
MAX_DAYS = Decimal(100_000)
_SPACES = re.compile(r"[\s\u00a0\u202f]")
DAYS_WIDGET = forms.TextInput(attrs={"inputmode": "decimal", "class": "fin-qty", "size": "8"})

Due = tuple[dt.date, int | Decimal | None]


def parse_days(text: str) -> Decimal:
    """'2,5', '2.5' or '10' -> Decimal('2.5'); ValueError when it is not a positive number of days."""
    cleaned = _SPACES.sub("", text).removesuffix("j").replace(",", ".")
    try:
        days = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not days.is_finite() or days <= 0 or days > MAX_DAYS or days != days.quantize(Decimal("0.01")):
        raise ValueError("out of range")
    return days


def parse_dues(text: str, kind: str) -> list[Due]:
    """The due dates typed one per line; forms.ValidationError listing every bad line by its number."""
    dues: list[Due] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            dues.append(_parse_due(line.strip(), kind))
        except ValueError as problem:
            problems.append(_("ligne %(n)s : %(problem)s") % {"n": number, "problem": problem})
    if len(dues) + len(problems) > MAX_DUES:
        problems.insert(0, _("%(n)s échéances au plus.") % {"n": MAX_DUES})
    if problems:
        raise forms.ValidationError(problems)
    if not dues:
        raise forms.ValidationError(_("Donnez au moins une échéance."))
    return dues


def _parse_due(line: str, kind: str) -> Due:
    """One line `date;part` (a levy: `date`), or ValueError saying what is wrong with it."""
    date_text, _sep, part_text = (piece.strip() for piece in line.partition(";"))
    try:
        due_on = dt.date.fromisoformat(date_text)
    except ValueError:
        raise ValueError(_("« %(text)s » n'est pas une date AAAA-MM-JJ.") % {"text": date_text[:30]}) from None
    if kind == CommitmentKind.LEVY:
        if part_text:
            raise ValueError(_("une part du chiffre d'affaires n'a que des dates, sans montant."))
        return due_on, None
    in_days = kind == CommitmentKind.DAYS
    if not part_text:
        raise ValueError(
            _("ajoutez après un point-virgule ce qui est dû à cette date (%(example)s).")
            % {"example": "2026-06-30;2,5" if in_days else "2026-06-30;1 500,00"}
        )
    try:
        part: int | Decimal = parse_days(part_text) if in_days else parse_euros(part_text)
    except ValueError:
        what = _("un nombre de jours") if in_days else _("un montant en euros")
        raise ValueError(_("« %(text)s » n'est pas %(what)s.") % {"text": part_text[:30], "what": what}) from None
    if not part:
        raise ValueError(_("ce qui est dû doit être plus que zéro."))
    if not in_days and part >= MAX_CENTS:
        raise ValueError(_("montant trop grand."))
    return due_on, part


class NamedChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(getattr(obj, "reference", None) or getattr(obj, "name", obj))


class CommitmentForm(forms.Form):
    project = NamedChoiceField(
        label=gettext_lazy("Projet amont"),
        queryset=UpstreamProject.objects.order_by("name"),
        empty_label=gettext_lazy("— choisir un projet —"),
    )
    contract = NamedChoiceField(
        label=gettext_lazy("Marché"),
        queryset=Contract.objects.order_by("reference"),
        required=False,
        empty_label=gettext_lazy("— tout le réseau —"),
    )
    firm = NamedChoiceField(
        label=gettext_lazy("Entreprise engagée"),
        queryset=PartnerFirm.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("— le guichet —"),
    )
    kind = forms.ChoiceField(label=gettext_lazy("Nature"), choices=CommitmentKind.choices, initial=CommitmentKind.DAYS)
    title = forms.CharField(label=gettext_lazy("Engagement"), max_length=200)
    amount = EuroField(
        label=gettext_lazy("Montant promis (€)"),
        required=False,
        min_cents=1,
        help_text=gettext_lazy("montant fixe seulement"),
    )
    days = forms.CharField(
        label=gettext_lazy("Jours promis"),
        max_length=20,
        required=False,
        widget=DAYS_WIDGET,
        help_text=gettext_lazy("jours de développement seulement"),
    )
    starts_on = date_field(gettext_lazy("Du"))
    ends_on = date_field(gettext_lazy("Au"), today=False)
    dues = forms.CharField(
        label=gettext_lazy("Échéances"),
        max_length=6000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "2026-06-30;2,5\n2026-12-31;2,5"}),
        help_text=gettext_lazy(
            "une par ligne : AAAA-MM-JJ;ce qui est dû à cette date (euros ou jours). Part du chiffre d'affaires : "
            "la date seule."
        ),
    )

    def clean_days(self) -> Decimal | None:
        text = self.cleaned_data.get("days", "").strip()
        if not text:
            return None
        try:
            return parse_days(text)
        except ValueError:
            raise forms.ValidationError(
                _("« %(text)s » n'est pas un nombre de jours (exemple : 12,5)."), params={"text": text[:20]}
            ) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", _("la fin précède le début."))
        if kind == CommitmentKind.AMOUNT and data.get("amount") is None and "amount" not in self.errors:
            self.add_error("amount", _("un engagement en montant fixe dit combien il promet."))
        if kind == CommitmentKind.DAYS and data.get("days") is None and "days" not in self.errors:
            self.add_error("days", _("un engagement en jours dit combien il en promet."))
        if kind == CommitmentKind.LEVY and data.get("firm") is not None:
            self.add_error("firm", _("la part du chiffre d'affaires est collectée et versée par le guichet."))
        if kind and "dues" in data:
            try:
                data["due_list"] = parse_dues(data["dues"], kind)
            except forms.ValidationError as error:
                self.add_error("dues", error)
        return data

    def commitment_input(self) -> CommitmentInput:
        data = self.cleaned_data
        kind = data["kind"]
        return CommitmentInput(
            project_id=data["project"].pk,
            kind=kind,
            title=data["title"],
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            dues=data["due_list"],
            contract_id=data["contract"].pk if data.get("contract") else None,
            firm_id=data["firm"].pk if data.get("firm") else None,
            amount_cents=data.get("amount") if kind == CommitmentKind.AMOUNT else None,
            days=data.get("days") if kind == CommitmentKind.DAYS else None,
        )


class WorkForm(forms.Form):
    days = forms.CharField(label=gettext_lazy("Jours"), max_length=20, widget=DAYS_WIDGET)
    delivered_on = date_field(gettext_lazy("Livré le"))
    description = forms.CharField(
        label=gettext_lazy("Travail réalisé"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    links = forms.CharField(
        label=gettext_lazy("Liens"),
        max_length=12_000,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "https://github.com/org/projet/pull/123\nhttps://gitlab.com/org/projet/-/issues/45",
            }
        ),
        help_text=gettext_lazy("un par ligne : modification fusionnée, version publiée ou ticket (https://)"),
    )

    def clean_days(self) -> Decimal:
        text = self.cleaned_data["days"].strip()
        try:
            return parse_days(text)
        except ValueError:
            raise forms.ValidationError(
                _("« %(text)s » n'est pas un nombre de jours (exemple : 1,5)."), params={"text": text[:20]}
            ) from None

    def link_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["links"].splitlines() if line.strip()]


def sources_for(commitment: Any) -> list[tuple[str, str]]:
    """The accounts a commitment may be paid from: a firm's, what the guichet owes it; the guichet's, a fund or
    the fees (the service refuses the others anyway)."""
    if commitment.firm_id is not None:
        allowed: Sequence[str] = (PaymentSource.FIRM,)
    else:
        allowed = (PaymentSource.FUND, PaymentSource.NETWORK_FUND, PaymentSource.FEE)
    return [(value, str(label)) for value, label in PaymentSource.choices if value in allowed]


class ContributionPaymentForm(forms.Form):
    amount = EuroField(label=gettext_lazy("Montant versé (€)"), min_cents=1)
    paid_on = date_field(gettext_lazy("Payé le"))
    reference = forms.CharField(label=gettext_lazy("Référence du virement ou du reçu"), max_length=140)
    source = forms.ChoiceField(label=gettext_lazy("Payé sur"))
    evidence_url = forms.URLField(
        label=gettext_lazy("Preuve (reçu, facture, transaction)"),
        max_length=500,
        required=False,
        assume_scheme="https",
        validators=[URLValidator(schemes=["https"])],
    )

    def __init__(self, *args: Any, commitment: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        source = self.fields["source"]
        assert isinstance(source, forms.ChoiceField)
        source.choices = sources_for(commitment)
        source.error_messages["invalid_choice"] = _("cet engagement ne se paie pas sur ce compte.")

    def payment_input(self) -> ContributionPaymentInput:
        data = self.cleaned_data
        return ContributionPaymentInput(
            amount_cents=data["amount"],
            paid_on=data["paid_on"],
            reference=data["reference"],
            source=data["source"],
            evidence_url=data.get("evidence_url") or "",
        )


class PaymentReverseForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Motif de l'annulation"), max_length=200)

    def __init__(self, *args: Any, payments: QuerySet[ContributionPayment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payment"] = forms.ModelChoiceField(
            label=gettext_lazy("Versement"),
            queryset=payments,
            widget=forms.HiddenInput,
            error_messages={"invalid_choice": gettext_lazy("ce versement n'est plus annulable : rechargez la page.")},
        )
        self.order_fields(["payment", "reason"])
