"""After the award: the contract, its parties, purchase orders, invoices and payments received.

Amounts are integer cents (`BigIntegerField`, names ending in `_cents`): sums are then exact on
every database (SQLite adds DecimalFields as floats). Unit prices keep the offer's Decimal.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

RATE: dict[str, Any] = {"max_digits": 7, "decimal_places": 4}
QUANTITY: dict[str, Any] = {"max_digits": 18, "decimal_places": 4}
UNIT_PRICE: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}


class FundingChannel(models.TextChoices):
    FISCAL_HOST = "fiscal_host", _("un hôte fiscal (Open Collective, Software Freedom Conservancy, ...)")
    FOUNDATION = "foundation", _("sa fondation ou son association")
    COMPANY = "company", _("l'entreprise qui l'édite")
    PLATFORM = "platform", _("une plateforme de dons (GitHub Sponsors, Liberapay, ...)")
    WORK_ONLY = "work_only", _("ne reçoit que du travail")


class UpstreamProject(models.Model):
    """An open-source project that receives the contribution levy (its fund is a ledger account)."""

    name = models.CharField(_("projet amont"), max_length=200, unique=True)
    slug = models.SlugField(_("identifiant"), max_length=200, unique=True)
    repository_url = models.URLField(_("dépôt"), max_length=500, blank=True)
    licence = models.CharField(_("licence"), max_length=100, blank=True)
    description = models.TextField(_("présentation"), blank=True)
    funding_manifest_url = models.URLField(_("manifeste de financement (funding.json)"), max_length=500, blank=True)
    funding_channel = models.CharField(
        _("reçoit l'argent par"), max_length=12, choices=FundingChannel.choices, blank=True
    )
    fiscal_host = models.CharField(_("hôte fiscal ou bénéficiaire"), max_length=200, blank=True)
    funding_url = models.URLField(_("page de financement"), max_length=500, blank=True)
    skills = models.ManyToManyField("partners.Skill", blank=True, related_name="upstream_projects")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("projet amont")
        verbose_name_plural = _("projets amont")

    def __str__(self) -> str:
        return self.name


class ContractKind(models.TextChoices):
    FRAMEWORK = "framework", _("accord-cadre à bons de commande")
    ORDINARY = "ordinary", _("marché ordinaire")


class InvoicingCircuit(models.TextChoices):
    MEMBERS = "members", _("chaque cotraitant facture, le mandataire valide")
    GLOBAL = "global", _("le mandataire envoie une facture globale")


class PaymentRoute(models.TextChoices):
    GUICHET = "guichet", _("payé par le guichet")
    SELF = "self", _("facturé et encaissé par le membre")
    DIRECT = "direct", _("paiement direct par l'acheteur")


class Contract(models.Model):
    """The won offer version, signed: its terms drive orders, invoices and the redistribution."""

    version = models.OneToOneField("bids.OfferVersion", on_delete=models.PROTECT, related_name="contract")
    reference = models.CharField(_("référence du marché"), max_length=100, unique=True)
    title = models.CharField(_("objet"), max_length=300)
    kind = models.CharField(_("forme"), max_length=10, choices=ContractKind.choices, default=ContractKind.FRAMEWORK)
    signed_on = models.DateField(_("notifié le"))
    starts_on = models.DateField(_("début"))
    ends_on = models.DateField(_("fin"))
    minimum_cents = models.BigIntegerField(_("minimum HT (centimes)"), null=True, blank=True)
    maximum_cents = models.BigIntegerField(_("maximum HT (centimes)"), null=True, blank=True)
    currency = models.CharField(_("devise"), max_length=3, default="EUR")
    vat_rate = models.DecimalField(_("TVA (%)"), **RATE)
    advance_rate = models.DecimalField(_("avance (%)"), default=0, **RATE)
    advance_recovery_start = models.DecimalField(_("remboursement de l'avance à partir de (%)"), default=65, **RATE)
    advance_recovery_end = models.DecimalField(_("avance remboursée à (%)"), default=80, **RATE)
    guarantee_rate = models.DecimalField(_("retenue de garantie (%)"), default=0, **RATE)
    guarantee_release_on = models.DateField(_("libération de la retenue"), null=True, blank=True)
    invoicing_circuit = models.CharField(
        _("circuit de facturation"), max_length=10, choices=InvoicingCircuit.choices, default=InvoicingCircuit.GLOBAL
    )
    payment_days = models.PositiveSmallIntegerField(_("délai de paiement (jours)"), default=30)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-signed_on", "-id"]
        verbose_name = _("marché")
        verbose_name_plural = _("marchés")
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="contract_dates"),
            models.CheckConstraint(condition=models.Q(guarantee_rate__lte=5), name="contract_guarantee_at_most_5"),
        ]

    def __str__(self) -> str:
        return self.reference


class ContractParty(models.Model):
    """A member or subcontractor of the contract and how its money reaches it."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="parties")
    firm = models.ForeignKey("partners.PartnerFirm", on_delete=models.PROTECT, related_name="contract_parties")
    role = models.CharField(_("rôle"), max_length=12)  # bids.offer_models.MemberRole values
    payment_route = models.CharField(
        _("circuit de paiement"), max_length=10, choices=PaymentRoute.choices, default=PaymentRoute.GUICHET
    )

    class Meta:
        ordering = ["contract", "firm__name"]
        constraints = [models.UniqueConstraint(fields=["contract", "firm"], name="contractparty_unique_firm")]

    def __str__(self) -> str:
        return f"{self.contract} / {self.firm}"


class PurchaseOrder(models.Model):
    """A bon de commande: lines of one lot at the offered unit prices."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="orders")
    lot = models.ForeignKey("bids.Lot", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("n° de bon de commande"), max_length=60)
    issued_on = models.DateField(_("émis le"))
    total_ht_cents = models.BigIntegerField(_("total HT (centimes)"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contract", "issued_on", "id"]
        verbose_name = _("bon de commande")
        verbose_name_plural = _("bons de commande")
        constraints = [models.UniqueConstraint(fields=["contract", "number"], name="order_unique_number")]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    offer_line = models.ForeignKey("bids.OfferLine", on_delete=models.PROTECT, related_name="+")
    firm = models.ForeignKey("partners.PartnerFirm", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("quantité"), **QUANTITY)
    unit_price = models.DecimalField(_("prix unitaire HT"), **UNIT_PRICE)
    amount_cents = models.BigIntegerField(_("montant HT (centimes)"))

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "offer_line"], name="orderline_unique_offer_line"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="orderline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.quantity} x {self.unit_price}"


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", _("facture")
    CREDIT_NOTE = "credit", _("avoir")


class InvoiceStatus(models.TextChoices):
    SUBMITTED = "submitted", _("à valider par le mandataire")
    ISSUED = "issued", _("émise")
    PAID = "paid", _("payée")


class Invoice(models.Model):
    """A claim on the buyer (or, for a credit note, its reduction). Posted to the ledger when issued."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="invoices")
    order = models.ForeignKey(PurchaseOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(_("n° de facture"), max_length=60)
    kind = models.CharField(_("type"), max_length=8, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    issuer = models.ForeignKey(
        "partners.PartnerFirm",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("vide : le mandataire"),
    )
    credited = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes")
    issued_on = models.DateField(_("date"))
    due_on = models.DateField(_("échéance"))
    total_ht_cents = models.BigIntegerField(_("total HT (centimes)"))
    vat_cents = models.BigIntegerField(_("TVA (centimes)"))
    total_ttc_cents = models.BigIntegerField(_("total TTC (centimes)"))
    status = models.CharField(_("statut"), max_length=10, choices=InvoiceStatus.choices)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    validated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contract", "issued_on", "id"]
        verbose_name = _("facture")
        verbose_name_plural = _("factures")
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="invoice_unique_number"),
            models.CheckConstraint(
                condition=models.Q(total_ttc_cents=models.F("total_ht_cents") + models.F("vat_cents")),
                name="invoice_ttc_is_ht_plus_vat",
            ),
            models.CheckConstraint(condition=models.Q(total_ttc_cents__gte=0), name="invoice_total_positive"),
        ]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="invoice_lines")
    quantity = models.DecimalField(_("quantité"), **QUANTITY)
    amount_cents = models.BigIntegerField(_("montant HT (centimes)"))

    class Meta:
        ordering = ["invoice", "id"]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.quantity}"


class ShareKind(models.TextChoices):
    FIRM = "firm", _("part du partenaire")
    FEE = "fee", _("frais de coordination")
    LEVY = "levy", _("contribution amont")


class InvoiceShare(models.Model):
    """Who an invoice's money belongs to: the offer's split of its lines, VAT included (TTC) to the cent.

    Settlements of the invoice are split along `ttc_cents`; a credit note's shares are negative.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="shares")
    kind = models.CharField(max_length=4, choices=ShareKind.choices)
    firm = models.ForeignKey("partners.PartnerFirm", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(UpstreamProject, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ht_cents = models.BigIntegerField()
    ttc_cents = models.BigIntegerField()

    class Meta:
        ordering = ["invoice", "id"]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.kind} {self.ttc_cents}"


class PaymentKind(models.TextChoices):
    CASH = "cash", _("virement reçu par le guichet")
    DIRECT = "direct", _("payé directement au membre")
    ADVANCE = "advance", _("avance")
    RELEASE = "release", _("libération de la retenue de garantie")


class Payment(models.Model):
    """Money the buyer paid: on an invoice (to the guichet or directly to a firm), an advance, or a release.

    For a payment on an invoice, the buyer's deductions travel with it: the withheld guarantee and the
    advance recovered. What it settles (cash + advance recovered) is redistributed.
    """

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(_("type"), max_length=8, choices=PaymentKind.choices, default=PaymentKind.CASH)
    firm = models.ForeignKey(
        "partners.PartnerFirm",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("pour un paiement direct : le membre payé"),
    )
    received_on = models.DateField(_("reçu le"))
    amount_cents = models.BigIntegerField(_("montant reçu (centimes)"))
    withheld_cents = models.BigIntegerField(_("retenue de garantie (centimes)"), default=0)
    advance_recovered_cents = models.BigIntegerField(_("avance remboursée (centimes)"), default=0)
    bank_reference = models.CharField(_("référence bancaire"), max_length=100, blank=True)
    reversed_at = models.DateTimeField(_("annulé le"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contract", "received_on", "id"]
        verbose_name = _("paiement reçu")
        verbose_name_plural = _("paiements reçus")
        indexes = [models.Index(fields=["invoice", "id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "bank_reference"],
                condition=~models.Q(bank_reference=""),
                name="payment_unique_bank_reference",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_cents__gte=0, withheld_cents__gte=0, advance_recovered_cents__gte=0),
                name="payment_amounts_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract} {self.received_on} {self.amount_cents}"

    @property
    def settled_cents(self) -> int:
        """What this payment settles of its invoice and is redistributed (the withheld part waits)."""
        return self.amount_cents + self.advance_recovered_cents


class PartnerBankAccount(models.Model):
    """Where payouts go: kept by finance, never shown to other firms."""

    firm = models.OneToOneField("partners.PartnerFirm", on_delete=models.CASCADE, related_name="bank_account")
    holder = models.CharField(_("titulaire"), max_length=70)
    iban = models.CharField(_("IBAN"), max_length=34)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("coordonnées bancaires")
        verbose_name_plural = _("coordonnées bancaires")

    def __str__(self) -> str:
        return f"{self.firm}: {self.iban[:4]}…{self.iban[-4:]}"
