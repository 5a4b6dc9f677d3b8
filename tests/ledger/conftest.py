"""A won group offer turned into a contract, for the ledger tests.

`ledger_contract` gives the offer market of tests/offers (firm A's PostgreSQL package, firm B's Nginx
package, one lot), its version frozen and marked won (the rendering and submission are tested with
the offer), and a framework contract on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from bids.offer_models import OfferLine, OfferStatus, OfferVersion
from pricing.models import Contract, PurchaseOrder
from pricing.services.contracts import ContractTerms, create_contract, create_order
from tests.offers.conftest import OfferMarket, build_offer_market, freeze

SIGNED_ON = dt.date(2026, 1, 5)


@dataclass
class LedgerContract:
    market: OfferMarket
    version: OfferVersion
    contract: Contract
    finance: Any

    def offer_lines(self, firm: str | None = None) -> list[OfferLine]:
        lines = OfferLine.objects.filter(version=self.version, quantity__gt=0).order_by("pk")
        if firm is not None:
            lines = lines.filter(firm=self.market.firm_a if firm == "A" else self.market.firm_b)
        return list(lines)

    def order(self, number: str = "BC-1", *, quantity: Decimal = Decimal(1), firm: str | None = None) -> PurchaseOrder:
        return create_order(
            actor=self.finance,
            contract=self.contract,
            lot_id=self.market.lot.pk,
            number=number,
            issued_on=SIGNED_ON + dt.timedelta(days=10),
            lines=[(line.pk, quantity) for line in self.offer_lines(firm)],
        )


def won_version(market: OfferMarket) -> OfferVersion:
    version = freeze(market)
    OfferVersion.objects.filter(pk=version.pk).update(status=OfferStatus.WON, decided_at=timezone.now())
    version.refresh_from_db()
    return version


def build_ledger_contract(
    *, bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any, **terms: Any
) -> LedgerContract:
    market = build_offer_market(bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b)
    version = won_version(market)
    defaults: dict[str, Any] = {
        "reference": "2026-AC-001",
        "title": "Support des logiciels libres",
        "kind": "framework",
        "signed_on": SIGNED_ON,
        "starts_on": SIGNED_ON,
        "ends_on": SIGNED_ON + dt.timedelta(days=4 * 365),
        "maximum_cents": 50_000_000,
    }
    defaults.update(terms)
    contract = create_contract(actor=finance, version=version, terms=ContractTerms(**defaults))
    return LedgerContract(market=market, version=version, contract=contract, finance=finance)


@pytest.fixture
def ledger_contract(bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any) -> LedgerContract:
    return build_ledger_contract(bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance)
