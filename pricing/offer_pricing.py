"""`pricing`'s answer to the port `consortium.offer_pricing`, registered when the app is ready."""

from __future__ import annotations

from collections.abc import Iterable

from consortium.offer_pricing import LineToPrice, Policy, PricedOffer

from .arithmetic import price_offer
from .selectors import offer_policy
from .services.policy import copy_offer_policy, set_offer_policy


class OfferPricingAdapter:
    """Implements `consortium.offer_pricing.OfferPricing`; each method delegates to one service or selector."""

    def policy(self, version_id: int) -> Policy:
        return offer_policy(version_id)

    def set_policy(self, *, user: object, version_id: int, policy: Policy) -> Policy:
        return set_offer_policy(actor=user, version_id=version_id, policy=policy)

    def copy_policy(self, *, from_version_id: int, to_version_id: int) -> None:
        copy_offer_policy(from_version_id=from_version_id, to_version_id=to_version_id)

    def price(self, policy: Policy, lines: Iterable[LineToPrice]) -> PricedOffer:
        return price_offer(policy, lines)
