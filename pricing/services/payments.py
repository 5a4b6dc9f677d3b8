"""Writes: payments received and their redistribution to partners, the coordination fee and the funds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from consortium.money import round_money
from consortium.services import record_event

from .. import ledger
from ..ledger_models import Entry, EntryKind
from ..models import Contract, Invoice, InvoiceKind, InvoiceShare, InvoiceStatus, Payment, PaymentKind, ShareKind
from ..redistribution import advance_recovered, cumulative_split
from ..selectors.contracts import invoice_position, live_payments
from .contracts import ContractRefused


@dataclass(frozen=True)
class PaymentInput:
    invoice_id: int
    received_on: dt.date
    amount_cents: int
    bank_reference: str = ""
    firm_id: int | None = None  # set: the buyer paid this firm directly


@transaction.atomic
def record_payment(*, actor: Any, payment: PaymentInput) -> Payment:
    """One payment on an invoice, posted and redistributed."""
    return record_payments(actor=actor, payments=[payment])[0]


@transaction.atomic
def record_payments(*, actor: Any, payments: Sequence[PaymentInput]) -> list[Payment]:
    """Payments on invoices, checked against what each invoice still owes, posted and redistributed.

    The buyer's deductions ride on the first payment of an invoice: the withheld guarantee (the
    contract's rate of the invoice TTC) and the advance recovered under the legal schedule.
    """
    invoices = {
        invoice.pk: invoice
        for invoice in Invoice.objects.select_for_update()
        .select_related("contract")
        .filter(pk__in={p.invoice_id for p in payments})
    }
    positions: dict[int, list[int]] = {}  # invoice -> [outstanding, has a payment already]
    created = []
    for index, data in enumerate(payments, start=1):
        invoice = invoices.get(data.invoice_id)
        where = _("paiement %(n)s") % {"n": index}
        if invoice is None or invoice.kind != InvoiceKind.INVOICE or invoice.status == InvoiceStatus.SUBMITTED:
            raise ContractRefused(_("%(where)s : facture inconnue ou pas encore émise.") % {"where": where})
        if data.amount_cents <= 0:
            raise ContractRefused(_("%(where)s : le montant doit être positif.") % {"where": where})
        if data.firm_id is not None:
            _check_direct(invoice, data.firm_id, where)
        if invoice.pk not in positions:
            position = invoice_position(invoice)
            first = not live_payments(invoice.pk).exclude(kind=PaymentKind.RELEASE).exists()
            positions[invoice.pk] = [position.outstanding_cents, 0 if first else 1]
        outstanding, already_paid = positions[invoice.pk]
        withheld = recovered = 0
        if not already_paid:
            withheld = int(round_money(Decimal(invoice.total_ttc_cents) * invoice.contract.guarantee_rate / 100))
            recovered = _advance_recovery(invoice)
        if data.amount_cents + withheld + recovered > outstanding:
            raise ContractRefused(
                _("%(where)s (facture %(inv)s) : %(amount)s centimes reçus pour %(left)s restant dus.")
                % {"where": where, "inv": invoice.number, "amount": data.amount_cents,
                   "left": outstanding - withheld - recovered}
            )  # fmt: skip
        positions[invoice.pk] = [outstanding - data.amount_cents - withheld - recovered, 1]
        created.append(
            Payment(
                contract_id=invoice.contract_id, invoice=invoice,
                kind=PaymentKind.DIRECT if data.firm_id else PaymentKind.CASH, firm_id=data.firm_id,
                received_on=data.received_on, amount_cents=data.amount_cents, withheld_cents=withheld,
                advance_recovered_cents=recovered, bank_reference=data.bank_reference.strip(), created_by=actor,
            )
        )  # fmt: skip
    try:
        with transaction.atomic():
            Payment.objects.bulk_create(created)
    except IntegrityError as exc:
        raise ContractRefused(_("Une référence bancaire a déjà été enregistrée : rien n'a été importé.")) from exc
    post_payments(created, actor=actor)
    for invoice_id, (outstanding, _paid) in positions.items():
        if outstanding == 0:
            Invoice.objects.filter(pk=invoice_id).update(status=InvoiceStatus.PAID)
    record_event(actor=actor, action="payments.recorded", count=len(created),
                 total_cents=sum(p.amount_cents for p in created))  # fmt: skip
    return created


def _check_direct(invoice: Invoice, firm_id: int, where: str) -> None:
    if invoice.issuer_id != firm_id:
        raise ContractRefused(
            _("%(where)s : un paiement direct règle une facture émise au nom du membre payé.") % {"where": where}
        )
    if not invoice.contract.parties.filter(firm_id=firm_id).exclude(payment_route="guichet").exists():
        raise ContractRefused(_("%(where)s : ce membre n'est pas payé directement.") % {"where": where})


def _advance_recovery(invoice: Invoice) -> int:
    contract = invoice.contract
    received = Payment.objects.filter(contract=contract, kind=PaymentKind.ADVANCE, reversed_at__isnull=True)
    advance_total = received.aggregate(s=Sum("amount_cents"))["s"] or 0
    if not advance_total:
        return 0
    already = (
        Payment.objects.filter(contract=contract, reversed_at__isnull=True).aggregate(s=Sum("advance_recovered_cents"))[
            "s"
        ]
        or 0
    )
    issued = Invoice.objects.filter(contract=contract, kind=InvoiceKind.INVOICE).exclude(status=InvoiceStatus.SUBMITTED)
    before = issued.filter(Q(issued_on__lt=invoice.issued_on) | Q(issued_on=invoice.issued_on, pk__lt=invoice.pk))
    executed_before = before.aggregate(s=Sum("total_ht_cents"))["s"] or 0
    due = advance_recovered(
        advance_cents=advance_total,
        base_cents=contract_base_cents(contract),
        start=contract.advance_recovery_start,
        end=contract.advance_recovery_end,
        executed_before=executed_before,
        executed_after=executed_before + invoice.total_ht_cents,
    )
    return max(0, min(due, advance_total - already))


def contract_base_cents(contract: Contract) -> int:
    """The amount the advance and its recovery are computed on: the minimum, else the offer's total."""
    if contract.minimum_cents:
        return contract.minimum_cents
    return int((contract.version.total_ht or Decimal(0)) * 100)


@dataclass
class _InvoiceSplit:
    """An invoice's share weights, the ledger account of each share (paid through the guichet or
    directly), and the cumulative split of what was settled so far."""

    weights: list[int]
    via_guichet: list[ledger.AccountRef]
    direct: list[ledger.AccountRef]
    settled: int
    parts_so_far: list[int]

    def settle(self, amount: int) -> list[int]:
        after = cumulative_split(self.weights, self.settled + amount)
        parts = [a - b for a, b in zip(after, self.parts_so_far, strict=True)]
        self.settled += amount
        self.parts_so_far = after
        return parts


def post_payments(payments: Sequence[Payment], *, actor: Any) -> int:
    """The ledger entries of saved payments (in id order): the money received, then its redistribution."""
    payments = sorted(payments, key=lambda p: p.pk)
    invoice_ids = {p.invoice_id for p in payments if p.invoice_id}
    splits = _invoice_splits(invoice_ids, first_id=payments[0].pk if payments else 0)
    drafts = []
    for payment in payments:
        drafts.append(_receipt_draft(payment))
        if payment.invoice_id is not None:
            split = splits[payment.invoice_id]
            parts = split.settle(payment.settled_cents)
            accounts = split.direct if payment.kind == PaymentKind.DIRECT else split.via_guichet
            drafts.append(_redistribution_draft(payment, accounts, parts))
    return ledger.post_entries(drafts, actor=actor)


def _invoice_splits(invoice_ids: set[int], *, first_id: int) -> dict[int, _InvoiceSplit]:
    settled = _settled_before(invoice_ids, first_id)
    splits: dict[int, _InvoiceSplit] = {}
    shares = InvoiceShare.objects.filter(invoice_id__in=invoice_ids).order_by("invoice_id", "id")
    for invoice_id, kind, firm_id, project_id, cents in shares.values_list(
        "invoice_id", "kind", "firm_id", "project_id", "ttc_cents"
    ):
        split = splits.get(invoice_id)
        if split is None:
            split = splits[invoice_id] = _InvoiceSplit([], [], [], settled.get(invoice_id, 0), [])
        split.weights.append(cents)
        if kind == ShareKind.FIRM:
            split.via_guichet.append(ledger.partner(firm_id))
            split.direct.append(ledger.direct(firm_id))
        else:
            account = ledger.FEE if kind == ShareKind.FEE else ledger.fund(project_id)
            split.via_guichet.append(account)
            split.direct.append(account)
    for split in splits.values():
        split.parts_so_far = cumulative_split(split.weights, split.settled)
    return splits


def _settled_before(invoice_ids: set[int], first_id: int) -> dict[int, int]:
    rows = (
        Payment.objects.filter(invoice_id__in=invoice_ids, reversed_at__isnull=True, pk__lt=first_id)
        .values("invoice_id")
        .annotate(amount=Sum("amount_cents"), recovered=Sum("advance_recovered_cents"))
    )
    return {row["invoice_id"]: row["amount"] + row["recovered"] for row in rows}


def _receipt_draft(payment: Payment) -> ledger.EntryDraft:
    kind = {
        PaymentKind.ADVANCE: EntryKind.ADVANCE,
        PaymentKind.RELEASE: EntryKind.RELEASE,
    }.get(PaymentKind(payment.kind), EntryKind.PAYMENT)
    draft = ledger.EntryDraft(
        kind=kind, key=f"payment:{payment.pk}", posted_on=payment.received_on, contract_id=payment.contract_id,
        invoice_id=payment.invoice_id, payment_id=payment.pk, memo=payment.bank_reference,
    )  # fmt: skip
    contract_id = payment.contract_id
    if payment.kind == PaymentKind.ADVANCE:
        draft.add(ledger.BANK, payment.amount_cents)
        draft.add(ledger.advance(contract_id), -payment.amount_cents)
    elif payment.kind == PaymentKind.RELEASE:
        draft.add(ledger.BANK, payment.amount_cents)
        draft.add(ledger.guarantee(contract_id), -payment.amount_cents)
    else:
        cash = ledger.direct(payment.firm_id) if payment.kind == PaymentKind.DIRECT and payment.firm_id else ledger.BANK
        draft.add(cash, payment.amount_cents)
        draft.add(ledger.advance(contract_id), payment.advance_recovered_cents)
        draft.add(ledger.guarantee(contract_id), payment.withheld_cents)
        draft.add(
            ledger.receivable(contract_id),
            -(payment.amount_cents + payment.advance_recovered_cents + payment.withheld_cents),
        )
    return draft


def _redistribution_draft(payment: Payment, accounts: list[ledger.AccountRef], parts: list[int]) -> ledger.EntryDraft:
    draft = ledger.EntryDraft(
        kind=EntryKind.REDISTRIBUTION, key=f"redistribution:{payment.pk}", posted_on=payment.received_on,
        contract_id=payment.contract_id, invoice_id=payment.invoice_id, payment_id=payment.pk,
    )  # fmt: skip
    draft.add(ledger.to_redistribute(payment.contract_id), payment.settled_cents)
    for account, cents in zip(accounts, parts, strict=True):
        draft.add(account, -cents)
    return draft


@transaction.atomic
def record_advance(*, actor: Any, contract: Contract, received_on: dt.date, amount_cents: int,
                   bank_reference: str = "") -> Payment:  # fmt: skip
    """The advance paid by the buyer: held on the contract's advance account, recovered on later invoices."""
    if amount_cents <= 0:
        raise ContractRefused(_("Le montant de l'avance doit être positif."))
    payment = _create_one(Payment(
        contract=contract, kind=PaymentKind.ADVANCE, received_on=received_on, amount_cents=amount_cents,
        bank_reference=bank_reference.strip(), created_by=actor,
    ))  # fmt: skip
    post_payments([payment], actor=actor)
    record_event(actor=actor, action="advance.recorded", obj=payment, amount_cents=amount_cents)
    return payment


@transaction.atomic
def release_guarantee(
    *, actor: Any, contract: Contract, received_on: dt.date, bank_reference: str = ""
) -> list[Payment]:
    """The buyer pays back every withheld guarantee of the contract; each is redistributed like a payment."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    releases = []
    for invoice in contract.invoices.filter(kind=InvoiceKind.INVOICE).order_by("pk"):
        withheld = invoice_position(invoice).withheld_cents
        if withheld > 0:
            reference = f"{bank_reference.strip()}/{invoice.number}" if bank_reference.strip() else ""
            releases.append(_create_one(Payment(
                contract=contract, invoice=invoice, kind=PaymentKind.RELEASE, received_on=received_on,
                amount_cents=withheld, bank_reference=reference, created_by=actor,
            )))  # fmt: skip
    if not releases:
        raise ContractRefused(_("Aucune retenue de garantie à libérer sur ce marché."))
    post_payments(releases, actor=actor)
    record_event(actor=actor, action="guarantee.released", obj=contract, count=len(releases))
    return releases


def _create_one(payment: Payment) -> Payment:
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError as exc:
        raise ContractRefused(
            _("La référence bancaire %(ref)s est déjà enregistrée.") % {"ref": payment.bank_reference}
        ) from exc
    return payment


@transaction.atomic
def reverse_payment(*, actor: Any, payment: Payment, reason: str, posted_on: dt.date | None = None) -> Payment:
    """A payment recorded by mistake: its entries are reversed (never edited), the last one of its invoice first."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.reversed_at is not None:
        raise ContractRefused(_("Ce paiement est déjà annulé."))
    if not reason.strip():
        raise ContractRefused(_("Indiquez le motif de l'annulation."))
    if payment.invoice_id and live_payments(payment.invoice_id).filter(pk__gt=payment.pk).exists():
        raise ContractRefused(_("Annulez d'abord les paiements plus récents de cette facture."))
    entries = list(Entry.objects.filter(payment=payment, reverses__isnull=True).exclude(kind=EntryKind.REVERSAL))
    ledger.reverse_entries(entries, actor=actor, posted_on=posted_on or timezone.localdate(), memo=reason[:200])
    payment.reversed_at = timezone.now()
    payment.save(update_fields=["reversed_at"])
    if payment.invoice_id:
        Invoice.objects.filter(pk=payment.invoice_id, status=InvoiceStatus.PAID).update(status=InvoiceStatus.ISSUED)
    record_event(actor=actor, action="payment.reversed", obj=payment, reason=reason)
    return payment


def last_payment_id() -> int:
    return Payment.objects.aggregate(m=Max("pk"))["m"] or 0
