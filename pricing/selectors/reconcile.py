"""Reads: every invariant of the money, checked against the ledger; nothing is ever fixed here.

1. each entry balances (sums to zero, at least two postings);
2. per contract, invoiced = received + outstanding: invoices net of credit notes (the invoice records)
   equal what was settled (the payment records) plus the ledger's receivable and withheld guarantee;
3. per contract, received = partner shares + fees + levies + direct payments: the payment records
   equal the credits of the contract's redistribution entries;
4. per partner, the statement (built from invoices, payments and payouts) equals its ledger balance.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum

from partners.models import PartnerFirm

from ..ledger_models import AccountKind, EntryKind, Posting
from ..models import Contract, Invoice, InvoiceKind, InvoiceStatus, Payment, PaymentKind
from .statements import partner_statement


@dataclass(frozen=True)
class Breach:
    check: str  # "entry_balance", "invoiced_received_outstanding", "received_redistributed", "statement_ledger"
    where: str
    detail: str


@dataclass
class ReconcileReport:
    breaches: list[Breach] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.breaches

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "breaches": [{"check": b.check, "where": b.where, "detail": b.detail} for b in self.breaches],
        }


def reconcile() -> ReconcileReport:
    report = ReconcileReport()
    _entries_balance(report)
    _contracts(report)
    _statements(report)
    return report


def _entries_balance(report: ReconcileReport) -> None:
    per_entry = Posting.objects.values("entry_id", "entry__key").annotate(total=Sum("amount_cents"), lines=Count("id"))
    unbalanced = per_entry.filter(~Q(total=0) | Q(lines__lt=2))
    for row in unbalanced.order_by("entry_id")[:1000]:
        report.breaches.append(
            Breach(
                "entry_balance",
                f"entry {row['entry_id']} ({row['entry__key']})",
                f"{row['lines']} postings summing to {row['total']} cents",
            )
        )
    report.checked["entries"] = Posting.objects.values("entry_id").distinct().count()


def _by_contract(rows: object, key: str = "contract_id", value: str = "total") -> dict[int, int]:
    return {row[key]: int(row[value] or 0) for row in rows}  # type: ignore[attr-defined]


def _contracts(report: ReconcileReport) -> None:
    issued = Invoice.objects.exclude(status=InvoiceStatus.SUBMITTED)
    invoiced = _by_contract(
        issued.values("contract_id").annotate(
            total=Sum("total_ttc_cents", filter=Q(kind=InvoiceKind.INVOICE))
            - Sum("total_ttc_cents", filter=Q(kind=InvoiceKind.CREDIT_NOTE), default=0)
        )
    )
    live = Payment.objects.filter(reversed_at__isnull=True).exclude(kind=PaymentKind.ADVANCE)
    received = _by_contract(
        live.values("contract_id").annotate(total=Sum("amount_cents") + Sum("advance_recovered_cents"))
    )
    outstanding = _by_contract(
        Posting.objects.filter(account__kind__in=[AccountKind.RECEIVABLE, AccountKind.GUARANTEE])
        .values("account__contract_id")
        .annotate(total=Sum("amount_cents")),
        key="account__contract_id",
    )
    redistribution = Q(entry__kind=EntryKind.REDISTRIBUTION) | Q(
        entry__kind=EntryKind.REVERSAL, entry__reverses__kind=EntryKind.REDISTRIBUTION
    )
    shares_by_kind: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in (
        Posting.objects.filter(redistribution)
        .exclude(account__kind=AccountKind.TO_REDISTRIBUTE)
        .values("entry__contract_id", "account__kind")
        .annotate(total=Sum("amount_cents"))
    ):
        shares_by_kind[row["entry__contract_id"]][row["account__kind"]] -= int(row["total"])
    references = dict(Contract.objects.values_list("pk", "reference"))
    for contract_id, reference in references.items():
        where = f"contract {reference}"
        billed, got, owed = invoiced.get(contract_id, 0), received.get(contract_id, 0), outstanding.get(contract_id, 0)
        if billed != got + owed:
            report.breaches.append(
                Breach(
                    "invoiced_received_outstanding",
                    where,
                    f"invoiced {billed} != received {got} + outstanding {owed} (difference {billed - got - owed})",
                )
            )
        parts = shares_by_kind.get(contract_id, {})
        spread = sum(parts.values())
        if got != spread:
            detail = ", ".join(f"{kind} {cents}" for kind, cents in sorted(parts.items()))
            report.breaches.append(
                Breach(
                    "received_redistributed",
                    where,
                    f"received {got} != partner shares + fees + levies + direct payments {spread} ({detail})",
                )
            )
    report.checked["contracts"] = len(references)


def _statements(report: ReconcileReport) -> None:
    ledger_owed = {
        row["account__firm_id"]: -int(row["total"])
        for row in Posting.objects.filter(account__kind__in=[AccountKind.PARTNER, AccountKind.DIRECT])
        .values("account__firm_id")
        .annotate(total=Sum("amount_cents"))
    }
    firms = PartnerFirm.objects.filter(Q(pk__in=list(ledger_owed)) | Q(contract_parties__isnull=False)).distinct()
    count = 0
    for firm in firms:
        count += 1
        statement = partner_statement(firm)
        in_ledger = ledger_owed.get(firm.pk, 0)
        if statement.balance_cents != in_ledger:
            report.breaches.append(
                Breach(
                    "statement_ledger",
                    f"firm {firm.name} (#{firm.pk})",
                    f"statement balance {statement.balance_cents} != ledger balance {in_ledger}",
                )
            )
    report.checked["partners"] = count
