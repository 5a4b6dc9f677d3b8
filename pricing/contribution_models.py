"""Upstream contribution commitments: what is promised to an open-source project, and what was delivered.

A commitment binds a contract (or the whole network when none), a partner firm (or the guichet when
none) and an upstream project. Money delivered is a ledger entry (`ContributionPayment.entry`); work
delivered is days with links to merged changes, releases or issues. Accrual and status are computed
by `pricing.selectors.commitments`, never stored.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .contract_models import Contract, UpstreamProject
from .ledger_models import Entry

DAYS: dict[str, Any] = {"max_digits": 8, "decimal_places": 2}


class CommitmentKind(models.TextChoices):
    LEVY = "levy", _("part du chiffre d'affaires (contribution amont)")
    AMOUNT = "amount", _("montant fixe")
    DAYS = "days", _("jours de développement")


class Commitment(models.Model):
    project = models.ForeignKey(UpstreamProject, on_delete=models.PROTECT, related_name="commitments")
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.PROTECT, related_name="commitments", verbose_name=_("marché")
    )
    firm = models.ForeignKey(
        "partners.PartnerFirm",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contribution_commitments",
        verbose_name=_("entreprise engagée"),
    )
    kind = models.CharField(_("nature"), max_length=6, choices=CommitmentKind.choices)
    title = models.CharField(_("engagement"), max_length=200)
    amount_cents = models.BigIntegerField(_("montant promis (centimes)"), null=True, blank=True)
    days = models.DecimalField(_("jours promis"), null=True, blank=True, **DAYS)
    starts_on = models.DateField(_("du"))
    ends_on = models.DateField(_("au"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["ends_on", "id"]
        verbose_name = _("engagement de contribution")
        verbose_name_plural = _("engagements de contribution")
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="commitment_dates"),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="levy", amount_cents__isnull=True, days__isnull=True)
                    | models.Q(kind="amount", amount_cents__gt=0, days__isnull=True)
                    | models.Q(kind="days", days__gt=0, amount_cents__isnull=True)
                ),
                name="commitment_promise_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class CommitmentDue(models.Model):
    """A due date. Amount and days commitments: the part due by then (the parts add up to the promise).
    Levy commitments: the levy accrued up to LEVY_SETTLEMENT_DAYS before the date is due by then."""

    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="dues")
    due_on = models.DateField(_("échéance"))
    amount_cents = models.BigIntegerField(_("montant dû (centimes)"), null=True, blank=True)
    days = models.DecimalField(_("jours dus"), null=True, blank=True, **DAYS)

    class Meta:
        ordering = ["commitment", "due_on"]
        verbose_name = _("échéance")
        verbose_name_plural = _("échéances")
        constraints = [models.UniqueConstraint(fields=["commitment", "due_on"], name="commitmentdue_unique_date")]

    def __str__(self) -> str:
        return f"{self.commitment_id} {self.due_on}"


class PaymentSource(models.TextChoices):
    FUND = "fund", _("fonds du projet (contribution amont collectée)")
    NETWORK_FUND = "network", _("fonds commun du réseau")
    FEE = "fee", _("frais de coordination du guichet")
    FIRM = "firm", _("sommes dues à l'entreprise engagée")


class ContributionPayment(models.Model):
    """Money paid to the project by the guichet's bank: one ledger entry (source debited, bank credited)."""

    commitment = models.ForeignKey(Commitment, on_delete=models.PROTECT, related_name="payments")
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="contribution_payment")
    source = models.CharField(_("payé sur"), max_length=8, choices=PaymentSource.choices)
    amount_cents = models.BigIntegerField(_("montant (centimes)"))
    paid_on = models.DateField(_("payé le"))
    reference = models.CharField(_("référence du virement ou du reçu"), max_length=140)
    evidence_url = models.URLField(_("preuve (reçu, facture, transaction)"), max_length=500, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)  # set with the reversal entry
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["paid_on", "id"]
        verbose_name = _("versement à un projet amont")
        verbose_name_plural = _("versements à des projets amont")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="contributionpayment_positive")
        ]

    def __str__(self) -> str:
        return f"{self.commitment_id} {self.amount_cents}"


class LinkKind(models.TextChoices):
    CHANGE = "change", _("modification fusionnée")
    RELEASE = "release", _("version publiée")
    ISSUE = "issue", _("ticket")


class WorkDelivery(models.Model):
    """Days of work delivered to the project, with the links that show it (checked for form, kept as given)."""

    commitment = models.ForeignKey(Commitment, on_delete=models.PROTECT, related_name="deliveries")
    days = models.DecimalField(_("jours"), **DAYS)
    delivered_on = models.DateField(_("livré le"))
    description = models.TextField(_("travail réalisé"))
    links = models.JSONField(_("liens"), default=list)  # [{"url": ..., "kind": LinkKind}]
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivered_on", "id"]
        verbose_name = _("travail livré")
        verbose_name_plural = _("travaux livrés")
        constraints = [models.CheckConstraint(condition=models.Q(days__gt=0), name="workdelivery_positive")]

    def __str__(self) -> str:
        return f"{self.commitment_id} {self.days} j"


class ReminderStage(models.TextChoices):
    BEFORE = "before", _("avant l'échéance")
    AFTER = "after", _("après l'échéance")


class CommitmentReminder(models.Model):
    """A reminder sent for one due date and stage; the unique constraint makes it once only."""

    due = models.ForeignKey(CommitmentDue, on_delete=models.CASCADE, related_name="reminders")
    stage = models.CharField(max_length=6, choices=ReminderStage.choices)
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [models.UniqueConstraint(fields=["due", "stage"], name="commitmentreminder_once")]

    def __str__(self) -> str:
        return f"{self.due_id} {self.stage}"


class SignalSource(models.TextChoices):
    ENTERED = "entered", _("saisi")
    IMPORTED = "imported", _("importé")


class ProjectSignal(models.Model):
    """What was observed of the project's community on one day (entered by staff or imported from a file)."""

    project = models.ForeignKey(UpstreamProject, on_delete=models.CASCADE, related_name="signals")
    observed_on = models.DateField(_("observé le"))
    active_contributors = models.PositiveIntegerField(_("contributeurs actifs (12 mois)"), null=True, blank=True)
    releases_last_year = models.PositiveIntegerField(_("versions publiées (12 mois)"), null=True, blank=True)
    last_release_on = models.DateField(_("dernière version le"), null=True, blank=True)
    source = models.CharField(_("origine"), max_length=8, choices=SignalSource.choices, default=SignalSource.ENTERED)
    source_url = models.URLField(_("source"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-observed_on"]
        verbose_name = _("signal de communauté")
        verbose_name_plural = _("signaux de communauté")
        constraints = [models.UniqueConstraint(fields=["project", "observed_on"], name="projectsignal_one_per_day")]

    def __str__(self) -> str:
        return f"{self.project_id} {self.observed_on}"
