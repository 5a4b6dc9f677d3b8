from __future__ import annotations

import datetime as dt

from pricing import ledger
from pricing.models import InvoiceStatus, Posting
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from tests.ledger.conftest import SIGNED_ON, LedgerContract


def test_invoice_and_two_partial_payments_redistribute_exactly(ledger_contract: LedgerContract) -> None:
    order = ledger_contract.order()
    invoice = issue_invoice(
        actor=ledger_contract.finance, order=order, number="F-1", issued_on=SIGNED_ON + dt.timedelta(days=40)
    )
    assert invoice.status == InvoiceStatus.ISSUED
    shares = list(invoice.shares.all())
    assert sum(s.ttc_cents for s in shares) == invoice.total_ttc_cents
    half = invoice.total_ttc_cents // 3
    record_payment(
        actor=ledger_contract.finance, payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=60), half)
    )
    record_payment(
        actor=ledger_contract.finance,
        payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=70), invoice.total_ttc_cents - half),
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    for share in shares:
        if share.kind == "firm":
            ref = ledger.partner(share.firm_id)
        else:
            ref = ledger.FEE if share.kind == "fee" else ledger.fund(share.project_id)
        assert -ledger.balance([ref]) == share.ttc_cents
    assert ledger.balance([ledger.receivable(invoice.contract_id)]) == 0
    assert ledger.balance([ledger.to_redistribute(invoice.contract_id)]) == 0
    assert sum(Posting.objects.values_list("amount_cents", flat=True)) == 0


def test_reconcile_and_statement_after_partial_payment_and_payout(ledger_contract: LedgerContract) -> None:
    from pricing.models import PartnerBankAccount
    from pricing.selectors.reconcile import reconcile
    from pricing.selectors.statements import partner_statement
    from pricing.services.payouts import run_payout_batch

    order = ledger_contract.order()
    invoice = issue_invoice(actor=ledger_contract.finance, order=order, number="F-1", issued_on=SIGNED_ON)
    record_payment(actor=ledger_contract.finance, payment=PaymentInput(invoice.pk, SIGNED_ON, 100_00))
    firm_a = ledger_contract.market.firm_a
    PartnerBankAccount.objects.create(firm=firm_a, holder="Firm A", iban="FR1420041010050500013M02606")
    before = partner_statement(firm_a)
    assert before.balance_cents > 0
    run = run_payout_batch(actor=ledger_contract.finance, key="k1", execution_date=SIGNED_ON)
    again = run_payout_batch(actor=ledger_contract.finance, key="k1", execution_date=SIGNED_ON)
    assert run.created and not again.created
    after = partner_statement(firm_a)
    assert after.paid_out_cents == before.balance_cents and after.balance_cents == 0
    report = reconcile()
    assert report.ok, report.breaches
