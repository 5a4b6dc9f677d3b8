"""Forms of the finance pages: amounts typed in euros and kept as exact integer cents, rates in percent.

A form only checks the shape of what was typed (a number, a date, a choice that still exists); the rules of
the contract (the maximum, what is left to invoice, what an invoice still owes) stay in the services, whose
refusals the views show as messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bids.offer_models import MemberRole

from .iban import bic_problem, iban_problem, normalize_bic, normalize_iban
from .imports import KIND_LABELS
from .models import ContractKind, ContractParty, Invoice, InvoicingCircuit, Payment, PaymentRoute
from .selectors.finance import LineLeft
from .services.contracts import ContractTerms

MAX_CENTS = 10**14  # a thousand billion euros: far above any contract, far below the database's limit
_SPACES = re.compile(r"[\s\u00a0\u202f'’]")
_AMOUNT = re.compile(r"\d+(?:\.\d+)?")


def parse_euros(text: str) -> int:
    """'1 234,56 €', '1234.56' or '1.234,56' -> 123456 cents, exactly; ValueError with the reason otherwise."""
    cleaned = _SPACES.sub("", text).removesuffix("€").removesuffix("EUR").strip()
    if "," in cleaned and "." in cleaned:  # the last separator is the decimal one, the other groups thousands
        decimal = "," if cleaned.rfind(",") > cleaned.rfind(".") else "."
        cleaned = cleaned.replace("." if decimal == "," else ",", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", ".")
    if not _AMOUNT.fullmatch(cleaned):
        raise ValueError("not an amount")
    amount = Decimal(cleaned)
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("more than two decimals")
    return int(amount * 100)


class EuroField(forms.CharField):
    """An amount typed in euros, cleaned to whole cents (an int), never through a float."""

    def __init__(self, *, min_cents: int = 0, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "class": "fin-amount"}))
        super().__init__(**kwargs)
        self.min_cents = min_cents

    def clean(self, value: Any) -> int | None:
        text = super().clean(value)
        if text in self.empty_values:
            return None
        try:
            cents = parse_euros(text)
        except ValueError:
            raise forms.ValidationError(
                _("« %(text)s » n'est pas un montant en euros (exemple : 1 234,56)."),
                code="invalid",
                params={"text": text[:40]},
            ) from None
        if cents < self.min_cents:
            raise forms.ValidationError(_("le montant doit être positif."), code="min_value")
        if cents >= MAX_CENTS:
            raise forms.ValidationError(_("montant trop grand."), code="max_value")
        return cents


def rate_field(label: Any, *, maximum: int = 100, initial: Decimal = Decimal(0)) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=7,
        decimal_places=4,
        initial=initial,
        localize=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(maximum))],
        widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "fin-rate", "size": "8"}),
    )


def date_field(label: Any, *, required: bool = True, today: bool = True) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        initial=timezone.localdate if today else None,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def quantity_field(label: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=18,
        decimal_places=4,
        min_value=Decimal(0),
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "fin-qty", "size": "8"}),
    )


class PartyChoiceField(forms.ModelChoiceField):
    """A member of the contract, shown by its firm's name."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.firm.name)


class InvoiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.number)


def _route_field(firm_id: int) -> str:
    return f"route_{firm_id}"


def _quantity_field(line_id: int) -> str:
    return f"qty_{line_id}"


# --- The contract ---------------------------------------------------------------------------------------------


class ContractForm(forms.Form):
    reference = forms.CharField(label=_("Référence du marché"), max_length=100)
    title = forms.CharField(label=_("Objet"), max_length=300)
    kind = forms.ChoiceField(label=_("Forme"), choices=ContractKind.choices, initial=ContractKind.FRAMEWORK)
    signed_on = date_field(_("Notifié le"))
    starts_on = date_field(_("Début"))
    ends_on = date_field(_("Fin"), today=False)
    minimum = EuroField(label=_("Minimum HT (€)"), required=False)
    maximum = EuroField(label=_("Maximum HT (€)"), required=False)
    advance_rate = rate_field(_("Avance (%)"))
    guarantee_rate = rate_field(_("Retenue de garantie (%)"), maximum=5)
    guarantee_release_on = date_field(_("Libération de la retenue"), required=False, today=False)
    invoicing_circuit = forms.ChoiceField(
        label=_("Circuit de facturation"), choices=InvoicingCircuit.choices, initial=InvoicingCircuit.GLOBAL
    )
    payment_days = forms.IntegerField(label=_("Délai de paiement (jours)"), min_value=0, max_value=120, initial=30)

    def __init__(self, *args: Any, members: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = list(members)
        for member in self.members:
            # Only a subcontractor may be paid directly by the buyer: the others are not offered the choice.
            routes = [
                (value, label)
                for value, label in PaymentRoute.choices
                if value != PaymentRoute.DIRECT or member.role == MemberRole.SUBCONTRACTOR
            ]
            self.fields[_route_field(member.firm_id)] = forms.ChoiceField(
                label=_("Circuit de paiement de %(firm)s") % {"firm": member.firm.name},
                choices=routes,
                initial=PaymentRoute.DIRECT if member.direct_payment else PaymentRoute.GUICHET,
                error_messages={"invalid_choice": _("le paiement direct est réservé aux sous-traitants.")},
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", _("la fin précède le début."))
        low, high = data.get("minimum"), data.get("maximum")
        if low is not None and high is not None and low > high:
            self.add_error("maximum", _("le maximum est inférieur au minimum."))
        return data

    def member_rows(self) -> list[tuple[Any, forms.BoundField]]:
        return [(member, self[_route_field(member.firm_id)]) for member in self.members]

    def terms(self) -> ContractTerms:
        data = self.cleaned_data
        return ContractTerms(
            reference=data["reference"].strip(),
            title=data["title"].strip(),
            kind=data["kind"],
            signed_on=data["signed_on"],
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            minimum_cents=data["minimum"],
            maximum_cents=data["maximum"],
            advance_rate=data["advance_rate"],
            guarantee_rate=data["guarantee_rate"],
            guarantee_release_on=data["guarantee_release_on"],
            invoicing_circuit=data["invoicing_circuit"],
            payment_days=data["payment_days"],
        )

    def routes(self) -> dict[int, str]:
        return {member.firm_id: self.cleaned_data[_route_field(member.firm_id)] for member in self.members}


# --- Orders and invoices ----------------------------------------------------------------------------------------


class OrderForm(forms.Form):
    """A purchase order of one lot: a quantity for each offer line wanted (empty or 0: not ordered)."""

    number = forms.CharField(label=_("N° de bon de commande"), max_length=60)
    issued_on = date_field(_("Émis le"))

    def __init__(self, *args: Any, offer_lines: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offer_lines = list(offer_lines)
        for line in self.offer_lines:
            self.fields[_quantity_field(line.pk)] = quantity_field(
                _("Quantité, ligne %(code)s") % {"code": line.line.code or line.line.position}
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not self.lines():
            raise forms.ValidationError(_("Indiquez une quantité sur au moins une ligne."))
        return data

    def line_rows(self) -> list[tuple[Any, forms.BoundField]]:
        return [(line, self[_quantity_field(line.pk)]) for line in self.offer_lines]

    def lines(self) -> list[tuple[int, Decimal]]:
        data = self.cleaned_data
        return [
            (line.pk, data[_quantity_field(line.pk)]) for line in self.offer_lines if data.get(_quantity_field(line.pk))
        ]


class InvoiceForm(forms.Form):
    """An invoice on an order: everything left to invoice, or the quantities typed per line."""

    ALL, LINES = "all", "lines"

    number = forms.CharField(label=_("N° de facture"), max_length=60)
    issued_on = date_field(_("Date"))
    mode = forms.ChoiceField(
        label=_("Lignes facturées"),
        choices=[(ALL, _("tout le reste à facturer")), (LINES, _("les quantités indiquées"))],
        initial=ALL,
        widget=forms.RadioSelect,
    )
    issuer = PartyChoiceField(
        label=_("Membre qui facture"),
        queryset=ContractParty.objects.none(),
        required=False,
        error_messages={"invalid_choice": _("ce membre ne fait pas partie du marché.")},
    )

    def __init__(
        self, *args: Any, lines: Sequence[LineLeft], parties: QuerySet[ContractParty], circuit: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lines_left = list(lines)
        self.members_circuit = circuit == InvoicingCircuit.MEMBERS
        issuer = self.fields["issuer"]
        assert isinstance(issuer, forms.ModelChoiceField)
        issuer.queryset = parties
        issuer.required = self.members_circuit
        if not self.members_circuit:
            del self.fields["issuer"]
        for row in self.lines_left:
            self.fields[_quantity_field(row.line.pk)] = quantity_field(
                _("Quantité, ligne %(code)s") % {"code": row.line.offer_line.line.code or row.line.pk}
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == self.LINES and not self.errors and not self.lines():
            raise forms.ValidationError(_("Indiquez une quantité sur au moins une ligne, ou facturez tout le reste."))
        return data

    def line_rows(self) -> list[tuple[LineLeft, forms.BoundField]]:
        return [(row, self[_quantity_field(row.line.pk)]) for row in self.lines_left]

    def lines(self) -> list[tuple[int, Decimal]] | None:
        """None: all that is left (the service's default)."""
        data = self.cleaned_data
        if data.get("mode") != self.LINES:
            return None
        return [
            (row.line.pk, data[_quantity_field(row.line.pk)])
            for row in self.lines_left
            if data.get(_quantity_field(row.line.pk))
        ]

    def issuer_id(self) -> int | None:
        party = self.cleaned_data.get("issuer")
        return party.firm_id if party is not None else None


STALE_INVOICE = _("cette facture n'est plus dans la liste (déjà payée, ou d'un autre marché) : rechargez la page.")
STALE_PAYMENT = _("ce paiement n'est plus dans la liste : rechargez la page.")


def _invoice_field(queryset: QuerySet[Invoice]) -> InvoiceChoiceField:
    return InvoiceChoiceField(label=_("Facture"), queryset=queryset, error_messages={"invalid_choice": STALE_INVOICE})


class InvoiceChoiceForm(forms.Form):
    """One invoice of the contract picked by a button (validation)."""

    def __init__(self, *args: Any, invoices: QuerySet[Invoice], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["invoice"] = _invoice_field(invoices)
        self.order_fields(self.field_order)  # the invoice first, although it is added here


class CreditNoteForm(InvoiceChoiceForm):
    number = forms.CharField(label=_("N° d'avoir"), max_length=60)
    issued_on = date_field(_("Date"))
    amount_ht = EuroField(label=_("Montant HT (€)"), min_cents=1)
    reason = forms.CharField(label=_("Motif"), max_length=200)

    field_order = ["invoice", "number", "issued_on", "amount_ht", "reason"]


class PaymentForm(InvoiceChoiceForm):
    received_on = date_field(_("Reçu le"))
    amount = EuroField(label=_("Montant reçu (€)"), min_cents=1)
    bank_reference = forms.CharField(label=_("Référence bancaire"), max_length=100, required=False)
    firm = PartyChoiceField(
        label=_("Payé directement à"),
        queryset=ContractParty.objects.none(),
        required=False,
        empty_label=_("— au guichet —"),
        error_messages={"invalid_choice": _("ce membre n'est pas payé directement sur ce marché.")},
    )

    field_order = ["invoice", "received_on", "amount", "bank_reference", "firm"]

    def __init__(self, *args: Any, direct_parties: QuerySet[ContractParty], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        firm = self.fields["firm"]
        assert isinstance(firm, forms.ModelChoiceField)
        firm.queryset = direct_parties

    def firm_id(self) -> int | None:
        party = self.cleaned_data.get("firm")
        return party.firm_id if party is not None else None


class AdvanceForm(forms.Form):
    received_on = date_field(_("Reçue le"))
    amount = EuroField(label=_("Montant de l'avance (€)"), min_cents=1)
    bank_reference = forms.CharField(label=_("Référence bancaire"), max_length=100, required=False)


class ReleaseForm(forms.Form):
    received_on = date_field(_("Reçue le"))
    bank_reference = forms.CharField(label=_("Référence bancaire"), max_length=90, required=False)


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("Motif de l'annulation"), max_length=200)

    def __init__(self, *args: Any, payments: QuerySet[Payment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payment"] = forms.ModelChoiceField(
            queryset=payments, widget=forms.HiddenInput, error_messages={"invalid_choice": STALE_PAYMENT}
        )


class FinanceImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("Contenu"), choices=list(KIND_LABELS.items()))
    file = forms.FileField(label=_("Fichier XLSX ou CSV"))

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


# --- Payouts and bank accounts ----------------------------------------------------------------------------------


def default_payout_key(day: Any) -> str:
    return f"payouts-{day:%Y-%m-%d}"


class PayoutForm(forms.Form):
    execution_date = date_field(_("Date d'exécution"))
    key = forms.CharField(
        label=_("Clé du lot"),
        max_length=100,
        required=False,
        help_text=_("relancer la même clé ne verse rien de plus ; vide : payouts-<date>"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("execution_date") and not str(data.get("key") or "").strip():
            data["key"] = default_payout_key(data["execution_date"])
        return data


class BankAccountForm(forms.Form):
    holder = forms.CharField(label=_("Titulaire du compte"), max_length=70)
    iban = forms.CharField(label=_("IBAN"), max_length=50)
    bic = forms.CharField(label=_("BIC"), max_length=20, required=False)

    def clean_iban(self) -> str:
        iban = normalize_iban(self.cleaned_data["iban"])
        problem = iban_problem(iban)
        if problem:
            raise forms.ValidationError(problem)
        return iban

    def clean_bic(self) -> str:
        bic = normalize_bic(self.cleaned_data.get("bic") or "")
        problem = bic_problem(bic) if bic else None
        if problem:
            raise forms.ValidationError(problem)
        return bic
