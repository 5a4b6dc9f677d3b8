"""The price policy of an offer version: defaults, set while a draft, audited, copied to a new version."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from bids.models import GroupOffer, OfferVersion, Tender
from consortium.models import AuditEvent
from consortium.offer_pricing import LineToPrice, OfferPricing, Policy, PricingRefused, offer_pricing
from pricing.models import OfferPolicy
from pricing.offer_pricing import OfferPricingAdapter

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def offer() -> GroupOffer:
    return GroupOffer.objects.create(tender=Tender.objects.create(title="t", source_format="eforms"))


@pytest.fixture
def draft(offer: GroupOffer) -> OfferVersion:
    return OfferVersion.objects.create(offer=offer, number=1, mandataire_name="G")


@pytest.fixture
def pricing() -> OfferPricing:
    return offer_pricing()


def test_the_app_registers_its_implementation() -> None:
    assert isinstance(offer_pricing(), OfferPricingAdapter)


def test_defaults_come_from_the_settings(settings: Any, draft: OfferVersion, pricing: OfferPricing) -> None:
    settings.OFFER_FEE_RATE = "7.5"
    settings.OFFER_LEVY_RATE = "2.25"
    settings.OFFER_VAT_RATE = "20"
    assert pricing.policy(draft.pk) == Policy(fee_rate=D("7.5"), levy_rate=D("2.25"), vat_rate=D("20"))


def test_broken_defaults_fail_loudly(settings: Any, draft: OfferVersion, pricing: OfferPricing) -> None:
    settings.OFFER_LEVY_RATE = "deux"
    with pytest.raises(ImproperlyConfigured, match="OFFER_LEVY_RATE"):
        pricing.policy(draft.pk)


def test_set_then_get(bid_manager: Any, draft: OfferVersion, pricing: OfferPricing) -> None:
    wanted = Policy(fee_rate=D("7.1234"), levy_rate=D("1.5"), vat_rate=D("5.5"))
    assert pricing.set_policy(user=bid_manager, version_id=draft.pk, policy=wanted) == wanted
    assert pricing.policy(draft.pk) == wanted
    saved = OfferPolicy.objects.get(version=draft)
    assert (saved.fee_rate, saved.levy_rate, saved.vat_rate) == (D("7.1234"), D("1.5000"), D("5.5000"))
    assert saved.updated_by == bid_manager
    # Setting again changes the same row.
    pricing.set_policy(user=bid_manager, version_id=draft.pk, policy=Policy(D("0"), D("0"), D("0")))
    assert pricing.policy(draft.pk) == Policy(D("0"), D("0"), D("0"))
    assert OfferPolicy.objects.count() == 1


def test_setting_a_policy_is_audited(bid_manager: Any, draft: OfferVersion, pricing: OfferPricing) -> None:
    pricing.set_policy(user=bid_manager, version_id=draft.pk, policy=Policy(D("8.5"), D("2"), D("20")))
    event = AuditEvent.objects.get(action="offer.policy")
    assert event.actor == bid_manager
    assert (event.object_type, event.object_id) == ("bids.offerversion", str(draft.pk))
    assert event.details == {"fee_rate": "8.5", "levy_rate": "2", "vat_rate": "20"}


@pytest.mark.parametrize(
    ("status", "label"), [("frozen", "figée"), ("submitted", "remise"), ("won", "gagnée"), ("lost", "perdue")]
)
def test_a_version_that_is_not_a_draft_keeps_its_policy(
    bid_manager: Any, draft: OfferVersion, pricing: OfferPricing, status: str, label: str
) -> None:
    OfferVersion.objects.filter(pk=draft.pk).update(status=status)
    with pytest.raises(PricingRefused, match=f"est « {label} » : ses prix ne changent plus"):
        pricing.set_policy(user=bid_manager, version_id=draft.pk, policy=Policy(D("9"), D("1"), D("20")))
    assert not OfferPolicy.objects.exists()
    assert not AuditEvent.objects.filter(action="offer.policy").exists()


def test_an_unknown_version_is_refused(bid_manager: Any, pricing: OfferPricing) -> None:
    with pytest.raises(PricingRefused, match="n'existe pas"):
        pricing.set_policy(user=bid_manager, version_id=999_999, policy=Policy(D("9"), D("1"), D("20")))


@pytest.mark.parametrize(
    ("wanted", "field"),
    [
        (Policy(D("101"), D("1"), D("20")), "frais de coordination"),
        (Policy(D("8"), D("0.00001"), D("20")), "contribution amont"),
        (Policy(D("8"), D("2"), D("-1")), "TVA"),
    ],
)
def test_bad_rates_are_refused_and_nothing_is_saved(
    bid_manager: Any, draft: OfferVersion, pricing: OfferPricing, wanted: Policy, field: str
) -> None:
    with pytest.raises(PricingRefused, match=f"« {field} »"):
        pricing.set_policy(user=bid_manager, version_id=draft.pk, policy=wanted)
    assert not OfferPolicy.objects.exists()
    assert not AuditEvent.objects.filter(action="offer.policy").exists()


def test_copy_to_a_new_version(bid_manager: Any, offer: GroupOffer, draft: OfferVersion, pricing: OfferPricing) -> None:
    wanted = Policy(fee_rate=D("6.25"), levy_rate=D("3"), vat_rate=D("10"))
    pricing.set_policy(user=bid_manager, version_id=draft.pk, policy=wanted)
    OfferVersion.objects.filter(pk=draft.pk).update(status="frozen")
    second = OfferVersion.objects.create(offer=offer, number=2, mandataire_name="G")
    pricing.copy_policy(from_version_id=draft.pk, to_version_id=second.pk)
    assert pricing.policy(second.pk) == wanted
    assert OfferPolicy.objects.get(version=second).updated_by == bid_manager


def test_copy_without_a_saved_policy_does_nothing(
    offer: GroupOffer, draft: OfferVersion, pricing: OfferPricing
) -> None:
    OfferVersion.objects.filter(pk=draft.pk).update(status="frozen")
    second = OfferVersion.objects.create(offer=offer, number=2, mandataire_name="G")
    pricing.copy_policy(from_version_id=draft.pk, to_version_id=second.pk)
    assert not OfferPolicy.objects.exists()


def test_copy_onto_a_frozen_version_is_refused(
    bid_manager: Any, offer: GroupOffer, draft: OfferVersion, pricing: OfferPricing
) -> None:
    pricing.set_policy(user=bid_manager, version_id=draft.pk, policy=Policy(D("1"), D("1"), D("1")))
    OfferVersion.objects.filter(pk=draft.pk).update(status="frozen")
    second = OfferVersion.objects.create(offer=offer, number=2, mandataire_name="G")
    pricing.copy_policy(from_version_id=second.pk, to_version_id=draft.pk)  # second has none: nothing to copy
    with pytest.raises(PricingRefused, match="ne changent plus"):
        pricing.copy_policy(from_version_id=draft.pk, to_version_id=draft.pk)


def test_price_through_the_port(pricing: OfferPricing) -> None:
    offer = pricing.price(Policy(D("8"), D("2"), D("20")), [LineToPrice(1, 1, D("100.00"), D("2"))])
    assert offer.total.amount == D("220.00")
    assert offer.total.amount_with_vat == D("264.00")
