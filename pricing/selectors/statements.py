"""Reads: a partner firm's statement, from the business records (invoices, payments, payouts).

Its balance is worked out without reading the partner's ledger accounts, so that `reconcile` can check
the two agree: invoiced for its work, received (its share of what the buyer settled), withheld (its
share of the guarantee the buyer keeps), pending (invoiced, not yet settled nor withheld), paid out
by the guichet, collected directly from the buyer, and the balance the guichet still owes it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet, Sum

from consortium.roles import Role, user_role
from partners.models import PartnerFirm
from partners.selectors import firm_of

from ..ledger_models import Account, AccountKind, EntryKind, PayoutItem, Posting
from ..models import (
    ContributionPayment,
    InvoiceShare,
    InvoiceStatus,
    Payment,
    PaymentKind,
    PaymentSource,
    ShareKind,
)
from ..redistribution import cumulative_split


@dataclass
class StatementInvoice:
    invoice_id: int
    contract: str
    number: str
    issued_on: dt.date
    due_on: dt.date
    invoiced_cents: int = 0
    received_cents: int = 0
    withheld_cents: int = 0

    @property
    def pending_cents(self) -> int:
        return self.invoiced_cents - self.received_cents - self.withheld_cents


@dataclass(frozen=True)
class StatementMove:
    on: dt.date
    label: str
    amount_cents: int


@dataclass
class Statement:
    firm: PartnerFirm
    invoices: list[StatementInvoice] = field(default_factory=list)
    payouts: list[StatementMove] = field(default_factory=list)
    collected: list[StatementMove] = field(default_factory=list)
    contributions: list[StatementMove] = field(default_factory=list)  # paid to upstream projects for the firm

    @property
    def invoiced_cents(self) -> int:
        return sum(row.invoiced_cents for row in self.invoices)

    @property
    def received_cents(self) -> int:
        return sum(row.received_cents for row in self.invoices)

    @property
    def withheld_cents(self) -> int:
        return sum(row.withheld_cents for row in self.invoices)

    @property
    def pending_cents(self) -> int:
        return sum(row.pending_cents for row in self.invoices)

    @property
    def paid_out_cents(self) -> int:
        return sum(move.amount_cents for move in self.payouts)

    @property
    def collected_cents(self) -> int:
        return sum(move.amount_cents for move in self.collected)

    @property
    def contributed_cents(self) -> int:
        return sum(move.amount_cents for move in self.contributions)

    @property
    def balance_cents(self) -> int:
        """What the guichet owes the firm now (negative: the firm owes fee and levy it collected)."""
        return self.received_cents - self.paid_out_cents - self.collected_cents - self.contributed_cents


def partner_statement(firm: PartnerFirm) -> Statement:
    statement = Statement(firm=firm)
    rows: dict[int, StatementInvoice] = {}
    shares = (
        InvoiceShare.objects.filter(kind=ShareKind.FIRM, firm=firm)
        .exclude(invoice__status=InvoiceStatus.SUBMITTED)
        .values_list(
            "invoice_id",
            "invoice__credited_id",
            "invoice__contract__reference",
            "invoice__number",
            "invoice__issued_on",
            "invoice__due_on",
            "ttc_cents",
        )
        .order_by("invoice__issued_on", "invoice_id")
    )
    for invoice_id, credited_id, contract, number, issued_on, due_on, cents in shares:
        key = credited_id or invoice_id  # a credit note counts against the invoice it credits
        if key not in rows:
            rows[key] = StatementInvoice(key, contract, number, issued_on, due_on)
        rows[key].invoiced_cents += cents
    for invoice_id, cents in _received_by_invoice(firm.pk).items():
        if invoice_id in rows:
            rows[invoice_id].received_cents += cents
    for invoice_id, cents in _withheld_by_invoice(firm.pk, list(rows)).items():
        rows[invoice_id].withheld_cents = cents
    statement.invoices = list(rows.values())
    statement.payouts = [
        StatementMove(on, key, cents)
        for on, key, cents in PayoutItem.objects.filter(firm=firm)
        .order_by("batch__execution_date", "pk")
        .values_list("batch__execution_date", "batch__key", "amount_cents")
    ]
    statement.collected = [
        StatementMove(on, number, cents)
        for on, number, cents in Payment.objects.filter(kind=PaymentKind.DIRECT, firm=firm, reversed_at__isnull=True)
        .order_by("received_on", "pk")
        .values_list("received_on", "invoice__number", "amount_cents")
    ]
    statement.contributions = [
        StatementMove(on, f"{project} — {reference}", cents)
        for on, project, reference, cents in ContributionPayment.objects.filter(
            commitment__firm=firm, source=PaymentSource.FIRM, reversed_at__isnull=True
        )
        .order_by("paid_on", "pk")
        .values_list("paid_on", "commitment__project__name", "reference", "amount_cents")
    ]
    return statement


def _received_by_invoice(firm_id: int) -> dict[int, int]:
    """The firm's credits from redistributions, net of their reversals, per invoice."""
    redistributions = Q(entry__kind=EntryKind.REDISTRIBUTION) | Q(
        entry__kind=EntryKind.REVERSAL, entry__reverses__kind=EntryKind.REDISTRIBUTION
    )
    rows = (
        Posting.objects.filter(
            redistributions, account__kind__in=[AccountKind.PARTNER, AccountKind.DIRECT], account__firm_id=firm_id
        )
        .values("entry__invoice_id")
        .annotate(total=Sum("amount_cents"))
    )
    return {row["entry__invoice_id"]: -int(row["total"]) for row in rows}


def _withheld_by_invoice(firm_id: int, invoice_ids: list[int]) -> dict[int, int]:
    """The firm's part of each guarantee still withheld: the split of (settled + withheld) minus that of settled."""
    kept = (
        Payment.objects.filter(invoice_id__in=invoice_ids, reversed_at__isnull=True)
        .values("invoice_id")
        .annotate(
            withheld=Sum("withheld_cents"),
            released=Sum("amount_cents", filter=Q(kind=PaymentKind.RELEASE)),
            settled=Sum("amount_cents") + Sum("advance_recovered_cents"),
        )
    )
    open_rows = {row["invoice_id"]: row for row in kept if (row["withheld"] or 0) > (row["released"] or 0)}
    if not open_rows:
        return {}
    weights: dict[int, list[tuple[int | None, int]]] = defaultdict(list)
    for invoice_id, share_firm, cents in (
        InvoiceShare.objects.filter(invoice_id__in=list(open_rows)).order_by("invoice_id", "id")
        .values_list("invoice_id", "firm_id", "ttc_cents")
    ):  # fmt: skip
        weights[invoice_id].append((share_firm, cents))
    result = {}
    for invoice_id, row in open_rows.items():
        shares = weights[invoice_id]
        weights_of_invoice = [c for _firm, c in shares]
        held = (row["withheld"] or 0) - (row["released"] or 0)
        settled = row["settled"] or 0
        after = cumulative_split(weights_of_invoice, settled + held)
        before = cumulative_split(weights_of_invoice, settled)
        result[invoice_id] = sum(a - b for (f, _c), a, b in zip(shares, after, before, strict=True) if f == firm_id)
    return result


def statement_firm(user: Any, firm_id: int) -> PartnerFirm | None:
    """The firm whose statement `user` may read: any for finance and admins, its own for a partner user."""
    role = user_role(user)
    if role in (Role.FINANCE, Role.ADMIN):
        return PartnerFirm.objects.filter(pk=firm_id).first()
    if role == Role.PARTNER:
        firm = firm_of(user)
        return firm if firm is not None and firm.pk == firm_id else None
    return None


def firms_with_statements() -> QuerySet[PartnerFirm]:
    """Each firm that is a contract party or has a ledger account, by name."""
    with_account = Account.objects.filter(firm__isnull=False).values("firm_id")
    return (
        PartnerFirm.objects.filter(Q(contract_parties__isnull=False) | Q(pk__in=with_account))
        .distinct()
        .order_by("name", "pk")
        .only("pk", "name", "city")
    )
