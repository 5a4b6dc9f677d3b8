"""Reads: where an invoice stands, contract progress, scoping of contracts to the people who may see them."""

from __future__ import annotations

from collections.abc import Iterable
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
    return invoice_positions([invoice])[invoice.pk]


def invoice_positions(invoices: Iterable[Invoice]) -> dict[int, InvoicePosition]:
    """Where each invoice stands, in two queries whatever their number."""
    invoices = list(invoices)
    ids = [invoice.pk for invoice in invoices]
    credits: dict[int, Any] = {
        row["credited_id"]: row
        for row in Invoice.objects.filter(credited_id__in=ids, kind=InvoiceKind.CREDIT_NOTE)
        .values("credited_id")
        .annotate(ht=Sum("total_ht_cents"), ttc=Sum("total_ttc_cents"))
    }
    payments: dict[int, Any] = {
        row["invoice_id"]: row
        for row in Payment.objects.filter(reversed_at__isnull=True, invoice_id__in=ids)
        .values("invoice_id")
        .annotate(
            paid=Sum("amount_cents", filter=~Q(kind=PaymentKind.RELEASE)),
            released=Sum("amount_cents", filter=Q(kind=PaymentKind.RELEASE)),
            withheld=Sum("withheld_cents"),
            recovered=Sum("advance_recovered_cents"),
        )
    }
    positions = {}
    for invoice in invoices:
        credit, payment = credits.get(invoice.pk, {}), payments.get(invoice.pk, {})
        paid, released = _int(payment.get("paid")), _int(payment.get("released"))
        withheld, recovered = _int(payment.get("withheld")), _int(payment.get("recovered"))
        credited_ttc = _int(credit.get("ttc"))
        positions[invoice.pk] = InvoicePosition(
            total_ttc_cents=invoice.total_ttc_cents,
            credited_ht_cents=_int(credit.get("ht")),
            credited_ttc_cents=credited_ttc,
            settled_cents=paid + recovered + released,
            withheld_cents=withheld - released,
            outstanding_cents=invoice.total_ttc_cents - credited_ttc - paid - recovered - withheld,
        )
    return positions


def _int(value: Any) -> int:
    return int(value or 0)


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
