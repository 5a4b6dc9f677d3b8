"""The group offer: versions, members, who does which package, the priced lines and the documents.

A version is a draft until frozen; a frozen version never changes (its lines and documents are
stored, the documents with their SHA-256); a change means a new version.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Abs
from django.db.models.lookups import LessThan
from django.utils.translation import gettext_lazy as _

from bids.models import QUANTITY, JobStatus, Line, Tender, WorkPackage

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}
RATE: dict[str, Any] = {"max_digits": 7, "decimal_places": 4}  # a percentage: 8.5000 means 8.5 %


class OfferStatus(models.TextChoices):
    DRAFT = "draft", _("brouillon")
    FROZEN = "frozen", _("figée")
    SUBMITTED = "submitted", _("remise")
    WON = "won", _("gagnée")
    LOST = "lost", _("perdue")


OFFER_MOVES: dict[str, frozenset[str]] = {
    OfferStatus.DRAFT: frozenset({OfferStatus.FROZEN}),
    OfferStatus.FROZEN: frozenset({OfferStatus.SUBMITTED}),
    OfferStatus.SUBMITTED: frozenset({OfferStatus.WON, OfferStatus.LOST}),
    OfferStatus.WON: frozenset(),
    OfferStatus.LOST: frozenset(),
}


class GroupementForm(models.TextChoices):
    JOINT = "joint", _("groupement conjoint")
    JOINT_SEVERAL = "several", _("groupement solidaire")
    SOLE = "sole", _("titulaire unique avec sous-traitants")


class MemberRole(models.TextChoices):
    COCONTRACTOR = "cotraitant", _("cotraitant")
    SUBCONTRACTOR = "soustraitant", _("sous-traitant")


class DocumentKind(models.TextChoices):
    SCHEDULE = "schedule", _("bordereau de prix rempli")
    MEMO = "memo", _("mémoire technique")
    GROUPEMENT = "groupement", _("tableau du groupement (DC1 / DC4)")
    PART_SCHEDULE = "part_schedule", _("part du partenaire : prix")
    PART_GROUPEMENT = "part_groupement", _("part du partenaire : groupement")


class GroupOffer(models.Model):
    tender = models.OneToOneField(Tender, on_delete=models.CASCADE, related_name="group_offer")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("offre du groupement")

    def __str__(self) -> str:
        return f"{self.tender}"


class OfferVersion(models.Model):
    offer = models.ForeignKey(GroupOffer, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("statut"), max_length=10, choices=OfferStatus.choices, default=OfferStatus.DRAFT)
    form = models.CharField(
        _("forme du groupement"), max_length=10, choices=GroupementForm.choices, default=GroupementForm.JOINT
    )
    mandataire_name = models.CharField(_("mandataire"), max_length=200)
    mandataire_siret = models.CharField(_("SIRET du mandataire"), max_length=14, blank=True)
    mandataire_address = models.CharField(_("adresse du mandataire"), max_length=300, blank=True)
    # The policy the lines were priced with, copied from pricing/ when the version is frozen.
    fee_rate = models.DecimalField(_("frais de coordination (%)"), null=True, blank=True, **RATE)
    levy_rate = models.DecimalField(_("contribution amont (%)"), null=True, blank=True, **RATE)
    vat_rate = models.DecimalField(_("TVA (%)"), null=True, blank=True, **RATE)
    currency = models.CharField(_("devise"), max_length=3, default="EUR")
    total_ht = models.DecimalField(_("total HT"), null=True, blank=True, **MONEY)
    total_vat = models.DecimalField(_("TVA"), null=True, blank=True, **MONEY)
    total_ttc = models.DecimalField(_("total TTC"), null=True, blank=True, **MONEY)
    content_hash = models.CharField(_("empreinte SHA-256"), max_length=64, blank=True)
    frozen_at = models.DateTimeField(_("figée le"), null=True, blank=True)
    frozen_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(_("remise le"), null=True, blank=True)
    decided_at = models.DateTimeField(_("résultat le"), null=True, blank=True)
    # Rendering the documents of a frozen version (a background job).
    render_status = models.CharField(max_length=12, choices=JobStatus.choices, blank=True)
    render_stage = models.CharField(max_length=100, blank=True)
    render_done = models.PositiveIntegerField(default=0)
    render_total = models.PositiveIntegerField(default=0)
    render_errors = models.JSONField(default=list, blank=True)
    render_attempts = models.PositiveSmallIntegerField(default=0)
    render_heartbeat_at = models.DateTimeField(null=True, blank=True)  # last sign of life while rendering
    revision = models.PositiveIntegerField(default=1)  # bumped by every change of a draft: stale forms
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["offer", "-number"]
        verbose_name = _("version d'offre")
        constraints = [
            models.UniqueConstraint(fields=["offer", "number"], name="offerversion_unique_number"),
            models.UniqueConstraint(
                fields=["offer"], condition=models.Q(status="draft"), name="offerversion_one_draft"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offer} v{self.number}"

    @property
    def is_draft(self) -> bool:
        return self.status == OfferStatus.DRAFT


class OfferMember(models.Model):
    version = models.ForeignKey(OfferVersion, on_delete=models.CASCADE, related_name="members")
    firm = models.ForeignKey("partners.PartnerFirm", on_delete=models.PROTECT, related_name="offer_memberships")
    role = models.CharField(_("rôle"), max_length=12, choices=MemberRole.choices)
    direct_payment = models.BooleanField(_("paiement direct"), default=False)

    class Meta:
        ordering = ["version", "firm__name"]
        constraints = [models.UniqueConstraint(fields=["version", "firm"], name="offermember_unique")]

    def __str__(self) -> str:
        return f"{self.firm} ({self.get_role_display()})"


class OfferAllocation(models.Model):
    """Which firm does which work package, from its accepted invitation."""

    version = models.ForeignKey(OfferVersion, on_delete=models.CASCADE, related_name="allocations")
    package = models.ForeignKey(WorkPackage, on_delete=models.PROTECT, related_name="+")
    firm = models.ForeignKey("partners.PartnerFirm", on_delete=models.PROTECT, related_name="+")
    invitation = models.ForeignKey("Invitation", null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["version", "package__lot__position", "package__position"]
        constraints = [models.UniqueConstraint(fields=["version", "package"], name="offerallocation_unique")]

    def __str__(self) -> str:
        return f"{self.package_id} -> {self.firm_id}"


# An offer line's figures, in the order SnapshotLine holds them: one list for writing and reading them back.
OFFER_LINE_FIGURES = ("quantity", "firm_unit_price", "unit_price", "amount", "firm_amount", "fee_amount", "levy_amount")
SPLIT_SUM = models.F("firm_amount") + models.F("fee_amount") + models.F("levy_amount")


class OfferLine(models.Model):
    """A priced line of a frozen version: what the buyer pays, and how it splits, to the cent."""

    version = models.ForeignKey(OfferVersion, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line = models.ForeignKey(Line, on_delete=models.PROTECT, related_name="+", db_index=False)
    lot = models.ForeignKey("Lot", on_delete=models.PROTECT, related_name="+", db_index=False)
    package = models.ForeignKey(WorkPackage, on_delete=models.PROTECT, related_name="+", db_index=False)
    firm = models.ForeignKey("partners.PartnerFirm", on_delete=models.PROTECT, related_name="+", db_index=False)
    quantity = models.DecimalField(_("quantité"), null=True, blank=True, **QUANTITY)  # none: BPU only
    firm_unit_price = models.DecimalField(_("prix unitaire du partenaire HT"), **MONEY)
    unit_price = models.DecimalField(_("prix unitaire offert HT"), **MONEY)
    amount = models.DecimalField(_("montant HT"), **MONEY)
    firm_amount = models.DecimalField(_("part du partenaire"), **MONEY)
    fee_amount = models.DecimalField(_("frais de coordination"), **MONEY)
    levy_amount = models.DecimalField(_("contribution amont"), **MONEY)

    class Meta:
        ordering = ["version", "lot", "line"]
        indexes = [
            models.Index(fields=["version", "lot"]),
            models.Index(fields=["version", "firm"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["version", "line"], name="offerline_unique"),
            # Less than half a cent apart, not equal: SQLite compares its decimals as floats.
            models.CheckConstraint(
                condition=LessThan(Abs(models.F("amount") - SPLIT_SUM), Decimal("0.005")),
                name="offerline_split_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_id}: {self.amount}"


class OfferDocument(models.Model):
    """A rendered document of a frozen version, never rewritten."""

    version = models.ForeignKey(OfferVersion, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(_("document"), max_length=16, choices=DocumentKind.choices)
    firm = models.ForeignKey(
        "partners.PartnerFirm", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # set on a partner's own part
    filename = models.CharField(_("fichier"), max_length=255)
    content_type = models.CharField(max_length=100)
    content = models.FileField(upload_to="offers/%Y/%m/")
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["version", "firm__name", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "kind"], condition=models.Q(firm__isnull=True), name="offerdocument_one_per_kind"
            ),
            models.UniqueConstraint(
                fields=["version", "kind", "firm"],
                condition=models.Q(firm__isnull=False),
                name="offerdocument_one_per_firm",
            ),
        ]

    def __str__(self) -> str:
        return self.filename
