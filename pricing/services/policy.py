"""Writes: the price policy of an offer version, set while it is a draft."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from bids.offer_models import OfferStatus, OfferVersion
from consortium.offer_pricing import Policy, PricingRefused
from consortium.services import record_event

from ..arithmetic import check_policy
from ..models import OfferPolicy


def _draft_for_update(version_id: int) -> OfferVersion:
    """The version, locked until the end of the transaction, or PricingRefused if it is gone or not a draft."""
    version = OfferVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None:
        raise PricingRefused(_("Cette version de l'offre n'existe pas."))
    if version.status != OfferStatus.DRAFT:
        raise PricingRefused(
            _(
                "La version %(number)s de l'offre est « %(status)s » : ses prix ne changent plus. "
                "Créez une nouvelle version pour les modifier."
            )
            % {"number": version.number, "status": version.get_status_display()}
        )
    return version


@transaction.atomic
def set_offer_policy(*, actor: Any, version_id: int, policy: Policy) -> Policy:
    """Save the fee, levy and VAT rates of a draft version; refuses rates out of range or a non-draft."""
    check_policy(policy)
    version = _draft_for_update(version_id)
    OfferPolicy.objects.update_or_create(
        version=version,
        defaults={
            "fee_rate": policy.fee_rate,
            "levy_rate": policy.levy_rate,
            "vat_rate": policy.vat_rate,
            "updated_by": actor if getattr(actor, "pk", None) else None,
        },
    )
    record_event(
        actor=actor,
        action="offer.policy",
        obj=version,
        fee_rate=str(policy.fee_rate),
        levy_rate=str(policy.levy_rate),
        vat_rate=str(policy.vat_rate),
    )
    return policy


@transaction.atomic
def copy_offer_policy(*, from_version_id: int, to_version_id: int) -> None:
    """A new version keeps the policy of the one it replaces; nothing to copy when none was saved."""
    saved = OfferPolicy.objects.filter(version_id=from_version_id).first()
    if saved is None:
        return
    version = _draft_for_update(to_version_id)
    OfferPolicy.objects.update_or_create(
        version=version,
        defaults={
            "fee_rate": saved.fee_rate,
            "levy_rate": saved.levy_rate,
            "vat_rate": saved.vat_rate,
            "updated_by": saved.updated_by,
        },
    )
