"""The money API: contracts, a contract's invoices, payments received and statements, their shapes and scoping.

Amounts are strings with two decimals next to a currency: the JSON is parsed here with floats refused.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from tests.conftest import client_for, make_user
from tests.ledger.test_statements import MARKER_INVOICE, Scenario, build_scenario

pytestmark = pytest.mark.django_db

CONTRACT_SUMMARY_KEYS = {"id", "reference", "title", "signed_on", "starts_on", "ends_on"}


@pytest.fixture
def scenario(bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any) -> Scenario:
    return build_scenario(
        bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance, payout=True
    )


def _no_float(text: str) -> Any:
    raise AssertionError(f"a float in the JSON: {text}")


def get_json(user: Any, url: str, status: int = 200) -> Any:
    response = client_for(user).get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == status, (url, response.content[:300])
    return json.loads(response.content, parse_float=_no_float)


def test_contracts_for_staff_carry_terms_parties_progress(scenario: Scenario, finance: Any, bid_manager: Any) -> None:
    contract = scenario.contract.contract
    lot = scenario.contract.market.lot
    body = get_json(finance, reverse("api-contract-list"))
    assert body["count"] == 1
    progress = {
        "ordered_ht": "5326.39",  # 660.00 for firm A's lines, 4,666.39 for firm B's
        "invoiced_ttc": "6391.67",  # 792.00 + 5,599.67
        "settled": "5863.67",  # a third of firm A's invoice (264.00), firm B's in full, paid directly
        "withheld": "0.00",
        "outstanding": "528.00",
        "advance": "0.00",
    }
    assert body["results"][0] == {
        "id": contract.pk,
        "reference": "2026-AC-042",
        "title": "Support des logiciels libres",
        "signed_on": "2026-01-05",
        "starts_on": "2026-01-05",
        "ends_on": "2030-01-04",
        "kind": "framework",
        "currency": "EUR",
        "minimum_ht": None,
        "maximum_ht": "500000.00",
        "vat_rate": "20.0000",
        "advance_rate": "0.0000",
        "guarantee_rate": "0.0000",
        "guarantee_release_on": None,
        "invoicing_circuit": "global",
        "payment_days": 30,
        "parties": [
            {"firm": {"id": scenario.firm_a.pk, "name": "Firm A"}, "role": "cotraitant", "payment_route": "guichet"},
            {"firm": {"id": scenario.firm_b.pk, "name": "Firm B"}, "role": "cotraitant", "payment_route": "self"},
        ],
        "progress": progress,
        "lots": [{"id": lot.pk, "source_id": lot.source_id, "title": lot.title, "progress": progress}],
    }
    assert get_json(bid_manager, reverse("api-contract-detail", args=[contract.pk])) == body["results"][0]


def test_a_partner_sees_its_contracts_without_amounts(scenario: Scenario, partner_a: Any) -> None:
    contract = scenario.contract.contract
    listed = get_json(partner_a, reverse("api-contract-list"))["results"]
    assert [set(item) for item in listed] == [CONTRACT_SUMMARY_KEYS]
    assert get_json(partner_a, reverse("api-contract-detail", args=[contract.pk])) == listed[0]
    outsider_firm = make_user("partner-c", "partner", firm="Firm C")
    assert get_json(outsider_firm, reverse("api-contract-list"))["results"] == []
    for name in ("api-contract-detail", "api-contract-invoices"):
        get_json(outsider_firm, reverse(name, args=[contract.pk]), status=404)
    get_json(outsider_firm, reverse("api-statement-detail", args=[scenario.firm_a.pk]), status=404)


def test_invoices_of_a_contract_with_where_each_stands(scenario: Scenario, bid_manager: Any) -> None:
    contract = scenario.contract.contract
    body = get_json(bid_manager, reverse("api-contract-invoices", args=[contract.pk]))
    common = {"kind": "invoice", "contract": {"id": contract.pk, "reference": "2026-AC-042"}, "order": "BC-1"}
    assert body["results"] == [
        {
            **common,
            "id": scenario.invoice_a.pk,
            "number": "F-2026-001",
            "status": "issued",
            "issuer": None,
            "credited": None,
            "issued_on": "2026-02-04",
            "due_on": "2026-03-06",
            "currency": "EUR",
            "total_ht": "660.00",
            "vat": "132.00",
            "total_ttc": "792.00",
            "credited_ttc": "0.00",
            "settled": "264.00",
            "withheld": "0.00",
            "outstanding": "528.00",
        },
        {
            **common,
            "id": scenario.invoice_b.pk,
            "number": MARKER_INVOICE,
            "status": "paid",
            "issuer": {"id": scenario.firm_b.pk, "name": "Firm B"},
            "credited": None,
            "issued_on": "2026-02-05",
            "due_on": "2026-03-07",
            "currency": "EUR",
            "total_ht": "4666.39",
            "vat": "933.28",
            "total_ttc": "5599.67",
            "credited_ttc": "0.00",
            "settled": "5599.67",
            "withheld": "0.00",
            "outstanding": "0.00",
        },
    ]


def test_a_partner_gets_only_the_invoices_its_firm_issued(scenario: Scenario, partner_a: Any, partner_b: Any) -> None:
    url = reverse("api-contract-invoices", args=[scenario.contract.contract.pk])
    assert get_json(partner_a, url)["results"] == []
    assert [item["number"] for item in get_json(partner_b, url)["results"]] == [MARKER_INVOICE]


def test_payments_for_finance_only(scenario: Scenario, finance: Any, bid_manager: Any, partner_a: Any) -> None:
    contract = scenario.contract.contract
    body = get_json(finance, reverse("api-payment-list"))
    reference = {"id": contract.pk, "reference": "2026-AC-042"}
    assert [
        {key: item[key] for key in ("contract", "invoice", "kind", "firm", "received_on", "currency", "amount")}
        for item in body["results"]
    ] == [
        {
            "contract": reference,
            "invoice": {"id": scenario.invoice_a.pk, "number": "F-2026-001"},
            "kind": "cash",
            "firm": None,
            "received_on": "2026-03-06",
            "currency": "EUR",
            "amount": "264.00",
        },
        {
            "contract": reference,
            "invoice": {"id": scenario.invoice_b.pk, "number": MARKER_INVOICE},
            "kind": "direct",
            "firm": {"id": scenario.firm_b.pk, "name": "Firm B"},
            "received_on": "2026-03-07",
            "currency": "EUR",
            "amount": "5599.67",
        },
    ]
    assert {(item["withheld"], item["advance_recovered"], item["reversed_at"]) for item in body["results"]} == {
        ("0.00", "0.00", None)
    }
    assert [item["bank_reference"] for item in body["results"]] == ["VIR-1", "DIR-1"]
    url = reverse("api-payment-list")
    assert get_json(finance, f"{url}?contract={contract.pk}")["count"] == 2
    assert get_json(finance, f"{url}?contract={contract.pk + 1000}")["count"] == 0
    assert "contract" in get_json(finance, f"{url}?contract=abc", status=400)
    get_json(bid_manager, url, status=403)
    get_json(partner_a, url, status=403)


def test_statement_of_a_firm(scenario: Scenario, finance: Any, partner_a: Any) -> None:
    body = get_json(finance, reverse("api-statement-detail", args=[scenario.firm_a.pk]))
    on = body.pop("on")
    assert len(on) == 10
    assert body == {
        "firm": {"id": scenario.firm_a.pk, "name": "Firm A"},
        "currency": "EUR",
        "invoiced": "720.00",
        "received": "240.00",
        "withheld": "0.00",
        "pending": "480.00",
        "paid_out": "240.00",
        "collected_directly": "0.00",
        "contributed": "0.00",
        "balance": "0.00",
        "invoices": [
            {
                "invoice": scenario.invoice_a.pk,
                "contract": "2026-AC-042",
                "number": "F-2026-001",
                "issued_on": "2026-02-04",
                "due_on": "2026-03-06",
                "invoiced": "720.00",
                "received": "240.00",
                "withheld": "0.00",
                "pending": "480.00",
            }
        ],
        "payouts": [{"on": "2026-03-16", "reference": "VIRT-2026-03", "amount": "240.00"}],
        "collected": [],
        "contributions": [],
    }
    assert get_json(partner_a, reverse("api-statement-detail", args=[scenario.firm_a.pk])) == {**body, "on": on}
    b = get_json(finance, reverse("api-statement-detail", args=[scenario.firm_b.pk]))
    assert (b["received"], b["collected_directly"], b["balance"]) == ("5090.60", "5599.67", "-509.07")
    assert b["collected"] == [{"on": "2026-03-07", "reference": MARKER_INVOICE, "amount": "5599.67"}]


CONTRACT_READ = {
    "bid_manager": 200,
    "partner_a": 200,
    "partner_b": 200,
    "finance": 200,
    "outsider": 403,
    "anonymous": 403,
}
API = {
    "api-contract-list": CONTRACT_READ,
    "api-contract-detail": CONTRACT_READ,  # a contract of firms A and B
    "api-contract-invoices": CONTRACT_READ,
    "api-payment-list": {**dict.fromkeys(CONTRACT_READ, 403), "finance": 200},
    "api-statement-detail": {**CONTRACT_READ, "bid_manager": 403, "partner_b": 404},  # firm A's statement
}


def test_who_calls_which_endpoint(scenario: Scenario, personas: dict[str, Any]) -> None:
    args = {
        "api-contract-detail": [scenario.contract.contract.pk],
        "api-contract-invoices": [scenario.contract.contract.pk],
        "api-statement-detail": [scenario.firm_a.pk],
    }
    for name, expected in API.items():
        url = reverse(name, args=args.get(name, []))
        for persona, status in expected.items():
            response = client_for(personas[persona]).get(url)
            assert response.status_code == status, (name, persona)


def test_the_schema_describes_the_money_endpoints(finance: Any) -> None:
    response = client_for(finance).get(reverse("api-schema"), {"format": "json"})
    schema = json.loads(response.content)
    for path in ("/api/contracts/", "/api/contracts/{id}/", "/api/contracts/{id}/invoices/", "/api/payments/"):
        assert set(schema["paths"][path]) == {"get"}, path
    assert set(schema["paths"]["/api/statements/{firm_id}/"]) == {"get"}
    components = schema["components"]["schemas"]
    assert components["Statement"]["properties"]["balance"]["type"] == "string"
    assert components["ContractForCaller"]["oneOf"] == [
        {"$ref": "#/components/schemas/Contract"},
        {"$ref": "#/components/schemas/ContractSummary"},
    ]
