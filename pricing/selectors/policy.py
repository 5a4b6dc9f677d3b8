"""Reads: the price policy an offer version is priced with."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from consortium.offer_pricing import Policy, PricingRefused

from ..arithmetic import check_policy
from ..models import OfferPolicy


def default_policy() -> Policy:
    """The rates from the settings OFFER_FEE_RATE, OFFER_LEVY_RATE and OFFER_VAT_RATE (percent, as text)."""
    try:
        policy = Policy(
            fee_rate=Decimal(str(settings.OFFER_FEE_RATE)),
            levy_rate=Decimal(str(settings.OFFER_LEVY_RATE)),
            vat_rate=Decimal(str(settings.OFFER_VAT_RATE)),
        )
        return check_policy(policy)
    except (InvalidOperation, PricingRefused) as exc:
        raise ImproperlyConfigured(f"OFFER_FEE_RATE / OFFER_LEVY_RATE / OFFER_VAT_RATE: {exc}") from exc


def offer_policy(version_id: int) -> Policy:
    """The policy saved for this version, or the defaults when none was set."""
    saved = OfferPolicy.objects.filter(version_id=version_id).first()
    if saved is None:
        return default_policy()
    return Policy(fee_rate=saved.fee_rate, levy_rate=saved.levy_rate, vat_rate=saved.vat_rate)
