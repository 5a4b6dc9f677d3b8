"""Who may open what on the money side: every finance and statement page and every money API endpoint, for
each persona, on a contract whose members are firms A and B (statements opened on firm A's).

tests/test_permissions.py and tests/api/test_api_permissions.py check that every URL has its row, here
or there. POSTs are sent empty: refused before any write for those without the right, and answered
with the form's errors (never a 500) for finance.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from pricing.models import Entry, PartnerBankAccount
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from pricing.services.payouts import run_payout_batch
from tests.conftest import client_for
from tests.ledger.conftest import SIGNED_ON, LedgerContract

pytestmark = pytest.mark.django_db

PERSONAS = ("bid_manager", "partner_a", "partner_b", "finance", "outsider", "anonymous")


def _row(bid_manager: int, partner: int, finance: int, *, partner_b: int | None = None) -> dict[str, int]:
    return {
        "bid_manager": bid_manager,
        "partner_a": partner,
        "partner_b": partner if partner_b is None else partner_b,
        "finance": finance,
        "outsider": 403,
        "anonymous": 302,
    }


FINANCE_READ = _row(403, 403, 200)
FINANCE_POST = _row(403, 403, 302)
CONTRACT_READ = _row(200, 403, 200)
OWN_STATEMENT = _row(403, 200, 403)
FIRM_A_STATEMENT = _row(403, 200, 200, partner_b=404)

MONEY_MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "pricing:dashboard": ("get", FINANCE_READ),
    "pricing:contract_list": ("get", CONTRACT_READ),
    # The version already has its contract: finance is sent to it.
    "pricing:contract_new": ("get", _row(403, 403, 302)),
    "pricing:contract_detail": ("get", CONTRACT_READ),
    "pricing:order_new": ("get", FINANCE_READ),
    "pricing:invoice_new": ("get", FINANCE_READ),
    "pricing:invoice_validate": ("post", FINANCE_POST),
    "pricing:credit_note_new": ("post", FINANCE_POST),
    "pricing:payment_new": ("post", FINANCE_POST),
    "pricing:payment_reverse": ("post", FINANCE_POST),
    "pricing:advance_new": ("post", FINANCE_POST),
    "pricing:guarantee_release": ("post", FINANCE_POST),
    "pricing:finance_import": ("get", FINANCE_READ),
    "pricing:payout_list": ("get", FINANCE_READ),
    "pricing:payout_new": ("post", FINANCE_POST),
    "pricing:payout_detail": ("get", FINANCE_READ),
    "pricing:payout_file": ("get", FINANCE_READ),
    "pricing:bank_account": ("get", FINANCE_READ),
    "statements:mine": ("get", OWN_STATEMENT),
    "statements:mine_pdf": ("get", OWN_STATEMENT),
    "statements:mine_xlsx": ("get", OWN_STATEMENT),
    "statements:firm_list": ("get", FINANCE_READ),
    "statements:firm": ("get", FIRM_A_STATEMENT),
    "statements:firm_pdf": ("get", FIRM_A_STATEMENT),
    "statements:firm_xlsx": ("get", FIRM_A_STATEMENT),
}

API = {"outsider": 403, "anonymous": 403}
MONEY_API_MATRIX: dict[str, dict[str, int]] = {
    "api-contract-list": {"bid_manager": 200, "partner_a": 200, "partner_b": 200, "finance": 200, **API},
    # Both firms are members of this contract: each partner reaches it (without amounts), tested in test_api.py.
    "api-contract-detail": {"bid_manager": 200, "partner_a": 200, "partner_b": 200, "finance": 200, **API},
    "api-contract-invoices": {"bid_manager": 200, "partner_a": 200, "partner_b": 200, "finance": 200, **API},
    "api-payment-list": {"bid_manager": 403, "partner_a": 403, "partner_b": 403, "finance": 200, **API},
    "api-statement-detail": {"bid_manager": 403, "partner_a": 200, "partner_b": 404, "finance": 200, **API},
}


@pytest.fixture
def money_objects(ledger_contract: LedgerContract) -> dict[str, int]:
    finance = ledger_contract.finance
    order = ledger_contract.order()
    invoice = issue_invoice(actor=finance, order=order, number="F-1", issued_on=SIGNED_ON + dt.timedelta(days=20))
    record_payment(actor=finance, payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=30), 10_000))
    firm_a = ledger_contract.market.firm_a
    PartnerBankAccount.objects.create(firm=firm_a, holder="Firm A", iban="FR1420041010050500013M02606")
    batch = run_payout_batch(actor=finance, key="perm", execution_date=SIGNED_ON + dt.timedelta(days=31)).batch
    return {
        "contract": ledger_contract.contract.pk,
        "version": ledger_contract.version.pk,
        "order": order.pk,
        "batch": batch.pk,
        "firm": firm_a.pk,
        "lot": ledger_contract.market.lot.pk,
    }


CONTRACT_PAGES = {
    "pricing:contract_detail", "pricing:invoice_validate", "pricing:credit_note_new", "pricing:payment_new",
    "pricing:payment_reverse", "pricing:advance_new", "pricing:guarantee_release", "pricing:finance_import",
}  # fmt: skip


def _url(name: str, objects: dict[str, int]) -> str:
    contract = objects["contract"]
    args: dict[str, list[int]] = {
        "pricing:contract_new": [objects["version"]],
        "pricing:invoice_new": [contract, objects["order"]],
        "pricing:payout_detail": [objects["batch"]],
        "pricing:payout_file": [objects["batch"]],
        "pricing:bank_account": [objects["firm"]],
        "statements:firm": [objects["firm"]],
        "statements:firm_pdf": [objects["firm"]],
        "statements:firm_xlsx": [objects["firm"]],
        "api-contract-detail": [contract],
        "api-contract-invoices": [contract],
        "api-statement-detail": [objects["firm"]],
    }
    if name in args:
        return reverse(name, args=args[name])
    if name == "pricing:order_new":
        return reverse(name, args=[contract]) + f"?lot={objects['lot']}"
    if name in CONTRACT_PAGES:
        return reverse(name, args=[contract])
    return reverse(name)


@pytest.mark.parametrize("name", MONEY_MATRIX)
def test_money_pages(name: str, personas: dict[str, Any], money_objects: dict[str, int]) -> None:
    method, expected = MONEY_MATRIX[name]
    url = _url(name, money_objects)
    entries = Entry.objects.count()
    seen = {persona: getattr(client_for(personas[persona]), method)(url).status_code for persona in PERSONAS}
    assert seen == expected
    assert Entry.objects.count() == entries  # empty posts write nothing


@pytest.mark.parametrize("name", MONEY_API_MATRIX)
def test_money_api(name: str, personas: dict[str, Any], money_objects: dict[str, int]) -> None:
    url = _url(name, money_objects)
    seen = {persona: client_for(personas[persona]).get(url).status_code for persona in PERSONAS}
    assert seen == MONEY_API_MATRIX[name]
