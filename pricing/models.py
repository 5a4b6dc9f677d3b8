"""Offer prices: the fee, levy and VAT policy of a group offer version.

Contracts, invoices and payments: contract_models.py; the ledger and payouts: ledger_models.py.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

RATE: dict[str, Any] = {"max_digits": 7, "decimal_places": 4}  # a percentage: 8.5000 means 8.5 %


class OfferPolicy(models.Model):
    """The rates one offer version is priced with; a version without one uses the settings' defaults."""

    version = models.OneToOneField("bids.OfferVersion", on_delete=models.CASCADE, related_name="price_policy")
    fee_rate = models.DecimalField(_("frais de coordination (%)"), **RATE)
    levy_rate = models.DecimalField(_("contribution amont (%)"), **RATE)
    vat_rate = models.DecimalField(_("TVA (%)"), **RATE)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("politique de prix d'une offre")
        verbose_name_plural = _("politiques de prix des offres")

    def __str__(self) -> str:
        return f"{self.version}: {self.fee_rate} % + {self.levy_rate} %, TVA {self.vat_rate} %"


from .contract_models import (  # noqa: E402  (one models module per concern, one app)
    Contract,
    ContractKind,
    ContractParty,
    FundingChannel,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceShare,
    InvoiceStatus,
    InvoicingCircuit,
    OrderLine,
    PartnerBankAccount,
    Payment,
    PaymentKind,
    PaymentRoute,
    PurchaseOrder,
    ShareKind,
    UpstreamProject,
)
from .contribution_models import (  # noqa: E402
    Commitment,
    CommitmentDue,
    CommitmentKind,
    CommitmentReminder,
    ContributionPayment,
    LinkKind,
    PaymentSource,
    ProjectSignal,
    ReminderStage,
    SignalSource,
    WorkDelivery,
)
from .ledger_models import Account, AccountKind, Entry, EntryKind, PayoutBatch, PayoutItem, Posting  # noqa: E402

__all__ = [
    "Account",
    "AccountKind",
    "Commitment",
    "CommitmentDue",
    "CommitmentKind",
    "CommitmentReminder",
    "Contract",
    "ContractKind",
    "ContractParty",
    "ContributionPayment",
    "Entry",
    "EntryKind",
    "FundingChannel",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceShare",
    "InvoiceStatus",
    "InvoicingCircuit",
    "LinkKind",
    "OfferPolicy",
    "OrderLine",
    "PartnerBankAccount",
    "Payment",
    "PaymentKind",
    "PaymentRoute",
    "PaymentSource",
    "PayoutBatch",
    "PayoutItem",
    "Posting",
    "ProjectSignal",
    "PurchaseOrder",
    "ReminderStage",
    "ShareKind",
    "SignalSource",
    "UpstreamProject",
    "WorkDelivery",
]
