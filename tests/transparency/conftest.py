"""A contract with money and work behind two upstream projects, for the transparency tests.

The contract of tests/ledger (firm A's PostgreSQL package, firm B's Nginx package at MARKER_PRICE): all its
lines ordered and invoiced, 5,000.00 € paid, then 1,000.00 € paid and reversed. Then:
- the guichet's levy commitment to nginx on the contract, 30.00 € paid out of nginx's fund;
- firm A's amount commitment to PostgreSQL on the contract: 120.00 € paid out of what A is owed, and
  7.77 € paid then reversed; firm A agreed to publish its contributions;
- firm B's days commitment to nginx, network-wide: 1.50 days delivered in 2025 and 2.25 in 2026; firm B
  did not agree to publish its contributions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from partners.models import PartnerFirm
from pricing.models import Commitment, CommitmentKind, Invoice, PaymentSource, UpstreamProject
from pricing.services.commitments import (
    CommitmentInput,
    ContributionPaymentInput,
    create_commitment,
    record_contribution_payment,
    record_work,
    reverse_contribution_payment,
)
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payment, reverse_payment
from tests.ledger.conftest import SIGNED_ON, LedgerContract, ledger_contract

__all__ = ["Scene", "build_scene", "ledger_contract", "scene"]

COMMITMENT_MARKER = "ENGAGEMENT-CONFIDENTIEL-QZX"  # commitment titles are not published
REFERENCE_MARKER = "VIR-CONFIDENTIEL-QZX"  # nor payment references


def day(n: int) -> dt.date:
    return SIGNED_ON + dt.timedelta(days=n)


@dataclass
class Scene:
    contract: LedgerContract
    invoice: Invoice
    postgres: UpstreamProject
    nginx: UpstreamProject
    levy: Commitment
    firm_a_amount: Commitment
    firm_b_days: Commitment

    @property
    def firm_a(self) -> PartnerFirm:
        return self.contract.market.firm_a

    @property
    def firm_b(self) -> PartnerFirm:
        return self.contract.market.firm_b


def build_scene(contract: LedgerContract) -> Scene:
    finance = contract.finance
    invoice = issue_invoice(actor=finance, order=contract.order(), number="F-1", issued_on=day(20))
    record_payment(actor=finance, payment=PaymentInput(invoice.pk, day(30), 500_000))
    mistake = record_payment(actor=finance, payment=PaymentInput(invoice.pk, day(40), 100_000))
    reverse_payment(actor=finance, payment=mistake, reason="saisie en double", posted_on=day(45))
    postgres = UpstreamProject.objects.get(name="PostgreSQL Global Development Group")
    nginx = UpstreamProject.objects.get(name="nginx")
    contract_id = contract.contract.pk
    levy = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=nginx.pk, kind=CommitmentKind.LEVY, title=f"{COMMITMENT_MARKER} levy",
            starts_on=SIGNED_ON, ends_on=day(365), dues=[(day(395), None)], contract_id=contract_id,
        ),
    )  # fmt: skip
    record_contribution_payment(
        actor=finance,
        commitment=levy,
        payment=ContributionPaymentInput(3_000, day(60), f"{REFERENCE_MARKER}-1", PaymentSource.FUND),
    )
    firm_a = contract.market.firm_a
    amount = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=postgres.pk, kind=CommitmentKind.AMOUNT, title=f"{COMMITMENT_MARKER} A",
            starts_on=SIGNED_ON, ends_on=day(300), dues=[(day(300), 50_000)], contract_id=contract_id,
            firm_id=firm_a.pk, amount_cents=50_000,
        ),
    )  # fmt: skip
    record_contribution_payment(
        actor=finance,
        commitment=amount,
        payment=ContributionPaymentInput(12_000, day(55), f"{REFERENCE_MARKER}-2", PaymentSource.FIRM),
    )
    wrong = record_contribution_payment(
        actor=finance,
        commitment=amount,
        payment=ContributionPaymentInput(777, day(56), f"{REFERENCE_MARKER}-3", PaymentSource.FIRM),
    )
    reverse_contribution_payment(actor=finance, payment=wrong, reason="mauvais projet")
    days = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=nginx.pk, kind=CommitmentKind.DAYS, title=f"{COMMITMENT_MARKER} B",
            starts_on=dt.date(2025, 6, 1), ends_on=dt.date(2026, 12, 31),
            dues=[(dt.date(2026, 12, 31), Decimal(10))], firm_id=contract.market.firm_b.pk, days=Decimal(10),
        ),
    )  # fmt: skip
    for worked, on in ((Decimal("1.50"), dt.date(2025, 9, 1)), (Decimal("2.25"), dt.date(2026, 3, 2))):
        record_work(
            actor=finance,
            commitment=days,
            days=worked,
            delivered_on=on,
            description="Correctif fusionné",
            links=["https://github.com/nginx/nginx/pull/1"],
        )
    PartnerFirm.objects.filter(pk=firm_a.pk).update(publishes_contributions=True)
    return Scene(contract, invoice, postgres, nginx, levy, amount, days)


@pytest.fixture
def scene(ledger_contract: LedgerContract) -> Scene:
    return build_scene(ledger_contract)
