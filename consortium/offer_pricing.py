"""How `bids` asks `pricing` for an offer's prices without importing it.

Apps depend one way (consortium <- partners <- bids <- pricing), yet the price policy and its
arithmetic belong to `pricing`. So the question is declared here, in the shared kernel, and
`pricing` registers its answer when the app is ready.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from consortium.money import round_money


@dataclass(frozen=True, slots=True)
class Policy:
    """Rates in percent: Decimal("8.5") is 8.5 %."""

    fee_rate: Decimal
    levy_rate: Decimal
    vat_rate: Decimal


@dataclass(frozen=True, slots=True)
class LineToPrice:
    key: int  # the caller's id for the line
    group: int  # the caller's id for the lot the line's amount is totalled under
    firm_unit_price: Decimal  # the firm's own unit price, excl. VAT, to the cent
    quantity: Decimal | None  # None: a unit price only (BPU), no amount


@dataclass(frozen=True, slots=True)
class PricedLine:
    key: int
    group: int
    quantity: Decimal | None
    firm_unit_price: Decimal
    unit_price: Decimal  # offered: firm price plus fee plus levy, rounded once
    amount: Decimal  # quantity x offered unit price, to the cent; 0.00 without quantity
    firm_amount: Decimal
    fee_amount: Decimal
    levy_amount: Decimal  # firm_amount + fee_amount + levy_amount == amount, always


@dataclass(frozen=True, slots=True)
class Totals:
    amount: Decimal  # excl. VAT
    vat: Decimal
    amount_with_vat: Decimal
    firm_amount: Decimal
    fee_amount: Decimal
    levy_amount: Decimal

    @classmethod
    def of_lot(cls, *, amount: Decimal, firm: Decimal, fee: Decimal, levy: Decimal, vat_rate: Decimal) -> Totals:
        """A lot's totals: its lines summed, VAT on the amount excl. VAT, rounded once."""
        vat = round_money(amount * vat_rate / 100)
        return cls(amount, vat, amount + vat, firm, fee, levy)

    @classmethod
    def add(cls, parts: Iterable[Totals]) -> Totals:
        """Several lots' totals summed field by field: VAT is never computed again on the sum."""
        amount = vat = firm = fee = levy = Decimal("0.00")
        for part in parts:
            amount += part.amount
            vat += part.vat
            firm += part.firm_amount
            fee += part.fee_amount
            levy += part.levy_amount
        return cls(amount, vat, amount + vat, firm, fee, levy)


@dataclass(frozen=True)
class PricedOffer:
    policy: Policy
    lines: list[PricedLine]
    groups: dict[int, Totals]  # per lot
    total: Totals  # the sum of the lots, to the cent


class PricingRefused(Exception):
    """A policy that can't be set (a frozen version, a rate out of range): the message says why."""


class OfferPricing(Protocol):
    def policy(self, version_id: int) -> Policy: ...

    def set_policy(self, *, user: object, version_id: int, policy: Policy) -> Policy: ...

    def copy_policy(self, *, from_version_id: int, to_version_id: int) -> None: ...

    def price(self, policy: Policy, lines: Iterable[LineToPrice]) -> PricedOffer: ...


_pricing: OfferPricing | None = None


def register(pricing: OfferPricing) -> None:
    global _pricing
    _pricing = pricing


def offer_pricing() -> OfferPricing:
    if _pricing is None:
        raise RuntimeError("no offer pricing registered: is the 'pricing' app installed?")
    return _pricing
