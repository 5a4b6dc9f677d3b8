"""The demo's money: the Rouen Habitat group offer won, its contract, orders, invoices, a partial
payment and a late one, redistributed, and a payout batch. Registered as a demo step (see apps.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from bids.offer_models import OfferLine, OfferStatus, OfferVersion
from bids.services.offers import record_result, submit_version

from .ledger_models import Entry
from .models import Contract, PartnerBankAccount
from .selectors.contracts import invoice_position
from .services.contracts import ContractTerms, create_contract, create_order, issue_invoice
from .services.payments import PaymentInput, record_payments
from .services.payouts import run_payout_batch

# The demo firms' bank accounts: French IBANs whose check digits are right, at a fictitious branch.
DEMO_BANK_BRANCH = "3000100794"


def demo_iban(bban: str) -> str:
    digits = "".join(str(int(char, 36)) for char in bban + "FR00")
    return f"FR{98 - int(digits) % 97:02d}{bban}"


def build_demo_contract() -> dict[str, int]:
    version = (
        OfferVersion.objects.filter(status__in=[OfferStatus.FROZEN, OfferStatus.SUBMITTED, OfferStatus.WON])
        .filter(Q(contract__isnull=True) | Q(status=OfferStatus.WON))
        .order_by("pk")
        .first()
    )
    if version is None or Contract.objects.filter(version=version).exists():
        return {}
    finance = get_user_model().objects.get(username="finance")
    manager = get_user_model().objects.get(username="chargee")
    if version.status == OfferStatus.FROZEN:
        version = submit_version(actor=manager, version_id=version.pk)
    if version.status == OfferStatus.SUBMITTED:
        version = record_result(actor=manager, version_id=version.pk, won=True)
    today = timezone.localdate()
    signed = today - dt.timedelta(days=150)
    total_cents = int((version.total_ht or Decimal(0)) * 100)
    contract = create_contract(
        actor=finance,
        version=version,
        terms=ContractTerms(
            reference=f"RH-{signed.year}-AC-{version.offer.tender_id:03d}",
            title=version.offer.tender.title[:300] or "Accord-cadre",
            kind="framework",
            signed_on=signed,
            starts_on=signed,
            ends_on=signed + dt.timedelta(days=4 * 365),
            minimum_cents=total_cents // 4,
            maximum_cents=total_cents * 2,
            guarantee_rate=Decimal(5),
            payment_days=30,
        ),
    )
    invoices = []
    lots = sorted(set(OfferLine.objects.filter(version=version, quantity__gt=0).values_list("lot_id", flat=True)))
    for number, lot_id in enumerate(lots, start=1):
        lines = OfferLine.objects.filter(version=version, lot_id=lot_id, quantity__gt=0).order_by("pk")[:12]
        order = create_order(
            actor=finance, contract=contract, lot_id=lot_id, number=f"BC-{number:03d}",
            issued_on=signed + dt.timedelta(days=5 * number),
            lines=[(line.pk, max(Decimal(1), (line.quantity or Decimal(1)) // 2)) for line in lines],
        )  # fmt: skip
        invoices.append(
            issue_invoice(
                actor=finance,
                order=order,
                number=f"F-{signed.year}-{number:04d}",
                issued_on=signed + dt.timedelta(days=40 + 20 * number),
            )
        )
    first = invoices[0]
    half = (first.total_ttc_cents * 95 // 100) // 2  # the buyer keeps 5 % as the guarantee
    record_payments(  # a partial payment on time
        actor=finance, payments=[PaymentInput(first.pk, first.due_on - dt.timedelta(days=3), half, "VIR-DEMO-0001")]
    )
    rest = invoice_position(first).outstanding_cents
    record_payments(  # the rest, 24 days late
        actor=finance, payments=[PaymentInput(first.pk, first.due_on + dt.timedelta(days=24), rest, "VIR-DEMO-0002")]
    )
    if len(invoices) > 1:  # the second invoice is paid in part and late; the rest is overdue
        second = invoices[1]
        record_payments(
            actor=finance,
            payments=[PaymentInput(second.pk, second.due_on + dt.timedelta(days=10), 100_000, "VIR-DEMO-0003")],
        )
    for member in contract.parties.select_related("firm"):
        PartnerBankAccount.objects.get_or_create(
            firm=member.firm,
            defaults={"holder": member.firm.name[:70], "iban": demo_iban(f"{DEMO_BANK_BRANCH}{member.firm.pk:011d}00")},
        )
    run_payout_batch(actor=finance, key=f"virements-{today:%Y-%m}", execution_date=today)
    return {"contracts": 1, "ledger_entries": Entry.objects.count()}
