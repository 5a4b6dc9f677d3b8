"""Reads: where an invoice stands, contract progress, scoping of contracts to the people who may see them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet, Sum

from consortium.roles import Role, user_role

from ..models import Contract, Invoice, InvoiceKind, Payment, PaymentKind


@dataclass(frozen=True)
class InvoicePosition:
    total_ttc_cents: int
    credited_ht_cents: int
    credited_ttc_cents: int
    settled_cents: int  # cash, direct payments, advance recovered and guarantee released
    withheld_cents: int  # kept back by the buyer and not yet released
    outstanding_cents: int  # what the buyer still has to pay, the withheld guarantee apart

    @property
    def payable_cents(self) -> int:
        """The most that can still be settled (credit notes deducted)."""
        return self.total_ttc_cents - self.credited_ttc_cents


def live_payments(invoice_id: int) -> QuerySet[Payment]:
    return Payment.objects.filter(invoice_id=invoice_id, reversed_at__isnull=True)


def invoice_position(invoice: Invoice) -> InvoicePosition:
    credits = Invoice.objects.filter(credited=invoice, kind=InvoiceKind.CREDIT_NOTE).aggregate(
        ht=Sum("total_ht_cents"), ttc=Sum("total_ttc_cents")
    )
    sums = live_payments(invoice.pk).aggregate(
        paid=Sum("amount_cents", filter=~Q(kind=PaymentKind.RELEASE)),
        released=Sum("amount_cents", filter=Q(kind=PaymentKind.RELEASE)),
        withheld=Sum("withheld_cents"),
        recovered=Sum("advance_recovered_cents"),
    )
    paid, released = sums["paid"] or 0, sums["released"] or 0
    withheld, recovered = sums["withheld"] or 0, sums["recovered"] or 0
    credited_ttc = credits["ttc"] or 0
    return InvoicePosition(
        total_ttc_cents=invoice.total_ttc_cents,
        credited_ht_cents=credits["ht"] or 0,
        credited_ttc_cents=credited_ttc,
        settled_cents=paid + recovered + released,
        withheld_cents=withheld - released,
        outstanding_cents=invoice.total_ttc_cents - credited_ttc - paid - recovered - withheld,
    )


def contracts_for(user: Any) -> QuerySet[Contract]:
    """Finance, bid managers and admins see every contract; a partner those it is a party to."""
    role = user_role(user)
    contracts = Contract.objects.select_related("version__offer__tender")
    if role in (Role.FINANCE, Role.BID_MANAGER, Role.ADMIN):
        return contracts
    membership = getattr(user, "membership", None) if role == Role.PARTNER else None
    if membership is None:
        return contracts.none()
    return contracts.filter(parties__firm_id=membership.firm_id)
