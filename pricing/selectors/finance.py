"""Reads of the finance pages: contract progress, invoice positions in bulk, the dashboard's figures.

Every figure is integer cents summed by the database (exact on SQLite and PostgreSQL alike), grouped in one
query per figure so that no page's query count grows with the number of contracts, invoices or payments.
Decimal quantities are summed in Python, never with `Sum()` (SQLite adds decimals as floats).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils.translation import gettext as _

from bids.models import Lot
from bids.offer_models import OfferLine, OfferStatus, OfferVersion

from ..ledger_models import AccountKind, Entry, EntryKind, PayoutBatch, Posting
from ..models import (
    Contract,
    ContractParty,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceShare,
    InvoiceStatus,
    OrderLine,
    PartnerBankAccount,
    Payment,
    PaymentKind,
    PaymentRoute,
    PurchaseOrder,
)

REVENUE_MONTHS = 12


def _cents(value: Any) -> int:
    return int(value or 0)


def percent(part: int, whole: int | None) -> Decimal | None:
    """`part` of `whole` in percent, to 0.1, capped at 100 for a bar; None without a whole to compare to."""
    if not whole or whole <= 0:
        return None
    return min(Decimal(max(part, 0) * 100) / Decimal(whole), Decimal(100)).quantize(Decimal("0.1"))


# --- Contracts: the list and the progress of each ---------------------------------------------------------------


@dataclass(frozen=True)
class ContractFigures:
    maximum_cents: int | None
    ordered_ht_cents: int = 0
    invoiced_ht_cents: int = 0  # issued invoices less credit notes
    invoiced_ttc_cents: int = 0
    settled_cents: int = 0  # what payments settled of the invoices (cash, direct, advance recovered, releases)
    withheld_cents: int = 0  # kept back by the buyer, not released yet
    lots: int = 0

    @property
    def outstanding_cents(self) -> int:
        """What the buyer still owes on issued invoices, the withheld guarantee apart."""
        return self.invoiced_ttc_cents - self.settled_cents - self.withheld_cents

    @property
    def ordered_percent(self) -> Decimal | None:
        return percent(self.ordered_ht_cents, self.maximum_cents)

    @property
    def invoiced_percent(self) -> Decimal | None:
        return percent(self.invoiced_ht_cents, self.ordered_ht_cents)

    @property
    def settled_percent(self) -> Decimal | None:
        return percent(self.settled_cents, self.invoiced_ttc_cents)


ISSUED = Q(status__in=[InvoiceStatus.ISSUED, InvoiceStatus.PAID])
LIVE = Q(reversed_at__isnull=True)


def contract_figures(contracts: Iterable[Contract]) -> dict[int, ContractFigures]:
    """The progress of each contract, in four grouped queries whatever their number."""
    contracts = list(contracts)
    ids = [contract.pk for contract in contracts]
    ordered = dict(
        PurchaseOrder.objects.filter(contract_id__in=ids)
        .values("contract_id")
        .annotate(total=Sum("total_ht_cents"))
        .values_list("contract_id", "total")
    )
    invoiced: dict[int, Any] = {
        row["contract_id"]: row
        for row in Invoice.objects.filter(ISSUED, contract_id__in=ids)
        .values("contract_id")
        .annotate(
            ht=Coalesce(Sum("total_ht_cents", filter=Q(kind=InvoiceKind.INVOICE)), 0)
            - Coalesce(Sum("total_ht_cents", filter=Q(kind=InvoiceKind.CREDIT_NOTE)), 0),
            ttc=Coalesce(Sum("total_ttc_cents", filter=Q(kind=InvoiceKind.INVOICE)), 0)
            - Coalesce(Sum("total_ttc_cents", filter=Q(kind=InvoiceKind.CREDIT_NOTE)), 0),
        )
    }
    paid: dict[int, Any] = {
        row["contract_id"]: row
        for row in Payment.objects.filter(LIVE, contract_id__in=ids, invoice__isnull=False)
        .values("contract_id")
        .annotate(
            settled=Sum(F("amount_cents") + F("advance_recovered_cents")),
            withheld=Sum("withheld_cents"),
            released=Coalesce(Sum("amount_cents", filter=Q(kind=PaymentKind.RELEASE)), 0),
        )
    }
    lots = dict(
        OfferLine.objects.filter(version_id__in=[contract.version_id for contract in contracts])
        .values("version_id")
        .annotate(n=Count("lot_id", distinct=True))
        .values_list("version_id", "n")
    )
    figures = {}
    for contract in contracts:
        inv, pay = invoiced.get(contract.pk, {}), paid.get(contract.pk, {})
        figures[contract.pk] = ContractFigures(
            maximum_cents=contract.maximum_cents,
            ordered_ht_cents=_cents(ordered.get(contract.pk)),
            invoiced_ht_cents=_cents(inv.get("ht")),
            invoiced_ttc_cents=_cents(inv.get("ttc")),
            settled_cents=_cents(pay.get("settled")),
            withheld_cents=_cents(pay.get("withheld")) - _cents(pay.get("released")),
            lots=_cents(lots.get(contract.version_id)),
        )
    return figures


def won_versions_without_contract() -> QuerySet[OfferVersion]:
    """Won offers still waiting for their contract to be recorded."""
    return (
        OfferVersion.objects.filter(status=OfferStatus.WON, contract__isnull=True)
        .select_related("offer__tender")
        .order_by("-decided_at", "-pk")
    )


def contract_parties(contract: Contract) -> QuerySet[ContractParty]:
    return contract.parties.select_related("firm").order_by("firm__name")


def contract_lots(contract: Contract) -> list[Lot]:
    """The lots of the won offer, in the tender's order."""
    lot_ids = OfferLine.objects.filter(version_id=contract.version_id).values("lot_id")
    return list(Lot.objects.filter(pk__in=lot_ids).order_by("position", "pk"))


def lot_offer_lines(contract: Contract, lot_id: int) -> list[OfferLine]:
    """The lines of one lot of the offer, each with its firm and the buyer's designation: what an order picks."""
    return list(
        OfferLine.objects.filter(version_id=contract.version_id, lot_id=lot_id)
        .select_related("line", "firm")
        .order_by("line__position", "pk")
    )


@dataclass(frozen=True)
class LotProgress:
    lot_id: int
    label: str
    ordered_ht_cents: int
    invoiced_ht_cents: int

    @property
    def invoiced_percent(self) -> Decimal | None:
        return percent(self.invoiced_ht_cents, self.ordered_ht_cents)


def lot_progress(contract: Contract) -> list[LotProgress]:
    """Ordered and invoiced (HT, credit notes deducted) per lot of the contract."""
    ordered = list(
        PurchaseOrder.objects.filter(contract=contract)
        .values("lot_id", "lot__source_id", "lot__title", "lot__position")
        .annotate(total=Sum("total_ht_cents"))
        .order_by("lot__position", "lot_id")
    )
    invoiced = dict(
        Invoice.objects.filter(ISSUED, contract=contract, order__isnull=False)
        .values("order__lot_id")
        .annotate(
            ht=Coalesce(Sum("total_ht_cents", filter=Q(kind=InvoiceKind.INVOICE)), 0)
            - Coalesce(Sum("total_ht_cents", filter=Q(kind=InvoiceKind.CREDIT_NOTE)), 0)
        )
        .values_list("order__lot_id", "ht")
    )
    return [
        LotProgress(
            lot_id=row["lot_id"],
            label=f"{row['lot__source_id']} {row['lot__title']}".strip(),
            ordered_ht_cents=_cents(row["total"]),
            invoiced_ht_cents=_cents(invoiced.get(row["lot_id"])),
        )
        for row in ordered
    ]


def contract_orders(contract: Contract) -> QuerySet[PurchaseOrder]:
    """The orders, per lot, each with what was invoiced of it (HT, credit notes deducted)."""
    invoiced = (
        Invoice.objects.filter(ISSUED, order=OuterRef("pk"))
        .values("order")
        .annotate(
            ht=Coalesce(Sum("total_ht_cents", filter=Q(kind=InvoiceKind.INVOICE)), 0)
            - Coalesce(Sum("total_ht_cents", filter=Q(kind=InvoiceKind.CREDIT_NOTE)), 0)
        )
        .values("ht")
    )
    return (
        PurchaseOrder.objects.filter(contract=contract)
        .select_related("lot")
        .annotate(
            invoiced_ht_cents=Coalesce(
                Subquery(invoiced, output_field=BigIntegerField()), Value(0), output_field=BigIntegerField()
            )
        )
        .annotate(left_ht_cents=F("total_ht_cents") - F("invoiced_ht_cents"))
        .order_by("lot__position", "lot_id", "issued_on", "pk")
    )


@dataclass(frozen=True)
class LineLeft:
    line: OrderLine
    invoiced: Decimal
    left: Decimal


def order_lines_left(order: PurchaseOrder) -> list[LineLeft]:
    """Each line of the order with the quantity already invoiced and what is left (summed in Python)."""
    invoiced: dict[int, Decimal] = defaultdict(Decimal)
    for order_line_id, quantity in InvoiceLine.objects.filter(
        order_line__order=order, invoice__kind=InvoiceKind.INVOICE
    ).values_list("order_line_id", "quantity"):
        invoiced[order_line_id] += quantity
    lines = order.lines.select_related("offer_line__line", "firm").order_by("pk")
    return [LineLeft(line=line, invoiced=invoiced[line.pk], left=line.quantity - invoiced[line.pk]) for line in lines]


# --- Invoices: positions of many at once ------------------------------------------------------------------------


def contract_invoices(contract: Contract) -> QuerySet[Invoice]:
    return contract.invoices.select_related("order__lot", "issuer", "credited").order_by("issued_on", "pk")


def payable_invoices(contract: Contract) -> QuerySet[Invoice]:
    """The invoices a payment or a credit note may be recorded on."""
    return contract.invoices.filter(kind=InvoiceKind.INVOICE, status=InvoiceStatus.ISSUED).order_by("issued_on", "pk")


def submitted_invoices(contract: Contract) -> QuerySet[Invoice]:
    return contract.invoices.filter(status=InvoiceStatus.SUBMITTED)


def shares_of_invoices(invoice_ids: Iterable[int]) -> dict[int, list[InvoiceShare]]:
    """Who gets what of each invoice: finance only (a partner's share is confidential)."""
    shares: dict[int, list[InvoiceShare]] = defaultdict(list)
    for share in (
        InvoiceShare.objects.filter(invoice_id__in=list(invoice_ids))
        .select_related("firm", "project")
        .order_by("invoice_id", "pk")
    ):
        shares[share.invoice_id].append(share)
    return shares


def contract_payments(contract: Contract) -> QuerySet[Payment]:
    return contract.payments.select_related("invoice", "firm").order_by("-received_on", "-pk")


def live_payment_ids(contract: Contract) -> set[int]:
    """The payments that may be reversed now: not reversed, and the latest of their invoice."""
    latest: dict[int, int] = {}
    for payment_id, invoice_id in contract.payments.filter(LIVE).values_list("pk", "invoice_id"):
        if invoice_id is None:
            latest[-payment_id] = payment_id  # advances stand alone
        else:
            latest[invoice_id] = max(latest.get(invoice_id, 0), payment_id)
    return set(latest.values())


def contract_entries(contract: Contract) -> QuerySet[Entry]:
    """The ledger entries of the contract, newest first, each with its postings and accounts."""
    return (
        Entry.objects.filter(contract=contract)
        .prefetch_related("postings__account__firm", "postings__account__project")
        .order_by("-pk")
    )


def direct_parties(contract: Contract) -> QuerySet[ContractParty]:
    """The members the buyer may pay directly (their route is not the guichet)."""
    return contract_parties(contract).exclude(payment_route=PaymentRoute.GUICHET)


# --- The dashboard -----------------------------------------------------------------------------------------------


def month_start(day: dt.date, months_back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Amount:
    key: Any
    label: str
    cents: int


@dataclass(frozen=True)
class OverdueInvoice:
    invoice: Invoice
    outstanding_cents: int
    days_late: int


@dataclass
class Dashboard:
    since: dt.date
    months: list[Amount] = field(default_factory=list)
    lots: list[Amount] = field(default_factory=list)
    firms: list[Amount] = field(default_factory=list)
    owed_to_firms: list[Amount] = field(default_factory=list)
    owed_to_funds: list[Amount] = field(default_factory=list)
    fee_cents: int = 0
    bank_cents: int = 0
    overdue: list[OverdueInvoice] = field(default_factory=list)
    firms_without_bank_account: set[int] = field(default_factory=set)

    @property
    def received_cents(self) -> int:
        return sum(row.cents for row in self.months)


def revenue_by_month(since: dt.date, today: dt.date) -> list[Amount]:
    """Money received from the buyers (every live payment), per month of receipt, empty months included."""
    rows = dict(
        Payment.objects.filter(LIVE, received_on__gte=since, received_on__lte=today)
        .annotate(month=TruncMonth("received_on"))
        .values("month")
        .annotate(total=Sum("amount_cents"))
        .values_list("month", "total")
    )
    received = {(_as_date(month).year, _as_date(month).month): _cents(total) for month, total in rows.items()}
    months = []
    month = since
    while month <= today:
        months.append(
            Amount(key=month, label=month.strftime("%m/%Y"), cents=received.get((month.year, month.month), 0))
        )
        month = month_start(month, -1)
    return months


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def revenue_by_lot(since: dt.date, today: dt.date) -> list[Amount]:
    """Money received per lot (through the invoice's order); advances are not yet any lot's."""
    rows = (
        Payment.objects.filter(LIVE, received_on__gte=since, received_on__lte=today)
        .values("contract__reference", "invoice__order__lot_id", "invoice__order__lot__source_id")
        .annotate(total=Sum("amount_cents"))
        .order_by("-total")
    )
    amounts = []
    for row in rows:
        lot = row["invoice__order__lot__source_id"]
        where = _("lot %(lot)s") % {"lot": lot} if lot is not None else _("avances, sans lot")
        label = f"{row['contract__reference']} · {where}"
        amounts.append(Amount(key=row["invoice__order__lot_id"], label=label, cents=_cents(row["total"])))
    return amounts


REDISTRIBUTION = Q(entry__kind=EntryKind.REDISTRIBUTION) | Q(
    entry__kind=EntryKind.REVERSAL, entry__reverses__kind=EntryKind.REDISTRIBUTION
)
FIRM_ACCOUNTS = [AccountKind.PARTNER, AccountKind.DIRECT]


def revenue_by_firm(since: dt.date, today: dt.date) -> list[Amount]:
    """Each firm's share of the money received (the redistribution to its accounts, reversals deducted)."""
    rows = (
        Posting.objects.filter(
            REDISTRIBUTION,
            account__kind__in=FIRM_ACCOUNTS,
            entry__posted_on__gte=since,
            entry__posted_on__lte=today,
        )
        .values("account__firm_id", "account__firm__name")
        .annotate(total=Sum("amount_cents"))
    )
    return _ranked(Amount(row["account__firm_id"], row["account__firm__name"], -_cents(row["total"])) for row in rows)


def owed_to_firms() -> list[Amount]:
    """What the guichet owes each firm now: the balance of its partner and direct accounts, negated."""
    rows = (
        Posting.objects.filter(account__kind__in=FIRM_ACCOUNTS)
        .values("account__firm_id", "account__firm__name")
        .annotate(total=Sum("amount_cents"))
    )
    return _ranked(Amount(row["account__firm_id"], row["account__firm__name"], -_cents(row["total"])) for row in rows)


def owed_to_funds(network_label: str) -> tuple[list[Amount], int]:
    """What each upstream project's fund holds (its balance, negated), and the coordination fee's."""
    rows = (
        Posting.objects.filter(account__kind__in=[AccountKind.FUND, AccountKind.FEE])
        .values("account__kind", "account__project_id", "account__project__name")
        .annotate(total=Sum("amount_cents"))
    )
    funds, fee = [], 0
    for row in rows:
        if row["account__kind"] == AccountKind.FEE:
            fee -= _cents(row["total"])
        else:
            label = row["account__project__name"] or network_label
            funds.append(Amount(row["account__project_id"], label, -_cents(row["total"])))
    return _ranked(funds), fee


def _ranked(amounts: Iterable[Amount]) -> list[Amount]:
    return sorted(amounts, key=lambda row: (-row.cents, row.label))


def with_outstanding(invoices: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """Each invoice annotated with `outstanding_cents` (as `invoice_position` computes it), in the same query."""
    credited = (
        Invoice.objects.filter(credited=OuterRef("pk"), kind=InvoiceKind.CREDIT_NOTE)
        .values("credited")
        .annotate(s=Sum("total_ttc_cents"))
        .values("s")
    )
    paid = (
        Payment.objects.filter(LIVE, invoice=OuterRef("pk"))
        .exclude(kind=PaymentKind.RELEASE)
        .values("invoice")
        .annotate(s=Sum(F("amount_cents") + F("advance_recovered_cents") + F("withheld_cents")))
        .values("s")
    )
    return invoices.annotate(
        outstanding_cents=F("total_ttc_cents")
        - Coalesce(Subquery(credited, output_field=BigIntegerField()), Value(0), output_field=BigIntegerField())
        - Coalesce(Subquery(paid, output_field=BigIntegerField()), Value(0), output_field=BigIntegerField())
    )


def overdue_invoices(today: dt.date) -> list[OverdueInvoice]:
    """Issued invoices past their due date with money still owed, the oldest first."""
    invoices = with_outstanding(
        Invoice.objects.filter(kind=InvoiceKind.INVOICE, status=InvoiceStatus.ISSUED, due_on__lt=today)
    ).filter(Q(outstanding_cents__gt=0))
    return [
        OverdueInvoice(
            invoice=invoice,
            outstanding_cents=int(invoice.outstanding_cents),  # type: ignore[attr-defined]
            days_late=(today - invoice.due_on).days,
        )
        for invoice in invoices.select_related("contract").order_by("due_on", "pk")
    ]


def bank_balance() -> int:
    return _cents(Posting.objects.filter(account__kind=AccountKind.BANK).aggregate(s=Sum("amount_cents"))["s"])


def firms_without_bank_account(firm_ids: Iterable[int]) -> set[int]:
    wanted = set(firm_ids)
    return wanted - set(PartnerBankAccount.objects.filter(firm_id__in=wanted).values_list("firm_id", flat=True))


def dashboard(*, today: dt.date, network_label: str) -> Dashboard:
    """The finance dashboard: a fixed number of grouped queries, whatever the size of the ledger."""
    since = month_start(today, REVENUE_MONTHS - 1)
    funds, fee = owed_to_funds(network_label)
    owed = owed_to_firms()
    return Dashboard(
        since=since,
        months=revenue_by_month(since, today),
        lots=revenue_by_lot(since, today),
        firms=revenue_by_firm(since, today),
        owed_to_firms=owed,
        owed_to_funds=funds,
        fee_cents=fee,
        bank_cents=bank_balance(),
        overdue=overdue_invoices(today),
        firms_without_bank_account=firms_without_bank_account(row.key for row in owed if row.cents > 0),
    )


# --- Payouts ------------------------------------------------------------------------------------------------------


def payout_batches() -> QuerySet[PayoutBatch]:
    return PayoutBatch.objects.annotate(item_count=Count("items")).order_by("-execution_date", "-pk")


def payout_batch(pk: int) -> PayoutBatch | None:
    return PayoutBatch.objects.filter(pk=pk).select_related("created_by").first()


def payout_items(batch: PayoutBatch) -> QuerySet[Any]:
    return batch.items.select_related("firm").order_by("firm__name")
