"""The append-only, double-entry ledger and the payout batches.

A posting's `amount_cents` is a debit when positive and a credit when negative; the postings of one
entry sum to zero. Entries and postings are never updated or deleted (database triggers refuse it);
a correction is a reversal entry plus a new one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .contract_models import Contract, Invoice, Payment, UpstreamProject


class AccountKind(models.TextChoices):
    BANK = "bank", _("banque du guichet")
    RECEIVABLE = "receivable", _("créance sur l'acheteur")
    TO_REDISTRIBUTE = "billed", _("facturé, à redistribuer")
    PARTNER = "partner", _("dû au partenaire")
    DIRECT = "direct", _("payé directement au partenaire")
    FEE = "fee", _("frais de coordination")
    FUND = "fund", _("fonds de contribution amont")
    ADVANCE = "advance", _("avance reçue")
    GUARANTEE = "guarantee", _("retenue de garantie")


class Account(models.Model):
    code = models.CharField(max_length=60, unique=True)  # "partner:12", "fund:3", "receivable:7", "bank"
    kind = models.CharField(max_length=10, choices=AccountKind.choices)
    contract = models.ForeignKey(Contract, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    firm = models.ForeignKey("partners.PartnerFirm", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(UpstreamProject, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["code"]
        verbose_name = _("compte")
        verbose_name_plural = _("comptes")

    def __str__(self) -> str:
        return self.code


class EntryKind(models.TextChoices):
    INVOICE = "invoice", _("facture")
    CREDIT_NOTE = "credit", _("avoir")
    PAYMENT = "payment", _("paiement reçu")
    ADVANCE = "advance", _("avance reçue")
    RELEASE = "release", _("retenue libérée")
    REDISTRIBUTION = "redistrib", _("redistribution")
    PAYOUT = "payout", _("versement au partenaire")
    CONTRIBUTION = "contrib", _("versement à un projet amont")
    REVERSAL = "reversal", _("contre-passation")


class Entry(models.Model):
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    key = models.CharField(max_length=120, unique=True)  # idempotency: posting the same thing twice is refused
    contract = models.ForeignKey(Contract, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversal")
    posted_on = models.DateField()
    memo = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("écriture")
        verbose_name_plural = _("écritures")
        indexes = [models.Index(fields=["contract", "kind"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.key}"


class Posting(models.Model):
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False)
    amount_cents = models.BigIntegerField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "entry"], name="posting_account_entry")]
        constraints = [models.CheckConstraint(condition=~models.Q(amount_cents=0), name="posting_not_zero")]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.account_id} {self.amount_cents:+d}"


class PayoutBatch(models.Model):
    """Transfers to partners, posted once: a second run with the same key posts nothing."""

    key = models.CharField(_("clé d'idempotence"), max_length=100, unique=True)
    execution_date = models.DateField(_("date d'exécution"))
    total_cents = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lot de virements")
        verbose_name_plural = _("lots de virements")

    def __str__(self) -> str:
        return self.key


class PayoutItem(models.Model):
    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="items")
    firm = models.ForeignKey("partners.PartnerFirm", on_delete=models.PROTECT, related_name="+")
    holder = models.CharField(max_length=70)
    iban = models.CharField(max_length=34)
    bic = models.CharField(max_length=11, blank=True)
    amount_cents = models.BigIntegerField()
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="payout_item")

    class Meta:
        ordering = ["batch", "firm__name"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "firm"], name="payoutitem_unique_firm"),
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="payoutitem_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.firm_id} {self.amount_cents}"
