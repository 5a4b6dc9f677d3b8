from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from consortium.regions import Region

RATE: dict[str, Any] = {"max_digits": 10, "decimal_places": 2}
AMOUNT: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}


class SkillKind(models.TextChoices):
    SOFTWARE = "software", _("logiciel")
    LANGUAGE = "language", _("langage")
    PLATFORM = "platform", _("plateforme")
    PRACTICE = "practice", _("savoir-faire")


class Skill(models.Model):
    """A piece of software or a technology of the catalogue, seeded from the State's SILL."""

    name = models.CharField(_("nom"), max_length=200, unique=True)
    slug = models.SlugField(_("identifiant"), max_length=200, unique=True)
    kind = models.CharField(_("type"), max_length=10, choices=SkillKind.choices, default=SkillKind.SOFTWARE)
    function = models.TextField(_("fonction"), blank=True)
    aliases = models.JSONField(_("alias"), default=list, blank=True)
    keywords = models.JSONField(_("mots-clés"), default=list, blank=True)
    upstream_project = models.CharField(_("projet amont"), max_length=200, blank=True)
    repository_url = models.URLField(_("dépôt"), max_length=500, blank=True)
    licence = models.CharField(_("licence"), max_length=100, blank=True)
    wikidata_id = models.CharField(_("Wikidata"), max_length=20, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children", verbose_name=_("parent")
    )
    sector = models.CharField(_("secteur"), max_length=200, blank=True)
    component = models.CharField(_("composant"), max_length=200, blank=True)
    cpv_codes = models.JSONField(_("codes CPV"), default=list, blank=True)
    sill_id = models.PositiveIntegerField(_("n° SILL"), null=True, blank=True, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("compétence")
        verbose_name_plural = _("compétences")

    def __str__(self) -> str:
        return self.name


class SkillLevel(models.IntegerChoices):
    """Ordered: upstream contributors, maintainers and editors rank above integrators."""

    USER = 1, _("utilisateur")
    INTEGRATOR = 2, _("intégrateur")
    EXPERT = 3, _("expert")
    CONTRIBUTOR = 4, _("contributeur")
    MAINTAINER = 5, _("mainteneur")
    EDITOR = 6, _("éditeur")


EVIDENCED_LEVELS = frozenset({SkillLevel.CONTRIBUTOR, SkillLevel.MAINTAINER, SkillLevel.EDITOR})


class PartnerFirm(models.Model):
    name = models.CharField(_("raison sociale"), max_length=200, unique=True)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True, db_index=True)
    siret = models.CharField(_("SIRET"), max_length=14, blank=True)
    vat_number = models.CharField(_("n° de TVA intracommunautaire"), max_length=13, blank=True)
    address = models.CharField(_("adresse"), max_length=300, blank=True)
    postcode = models.CharField(_("code postal"), max_length=10, blank=True)
    city = models.CharField(_("ville"), max_length=120, blank=True)
    region = models.CharField(_("région"), max_length=2, choices=Region.choices, blank=True)
    departments = models.JSONField(_("départements couverts"), default=list, blank=True)
    is_sme = models.BooleanField(_("PME"), default=True)
    website = models.URLField(_("site web"), max_length=300, blank=True)
    description = models.TextField(_("présentation"), blank=True)
    daily_rate = models.DecimalField(_("tarif journalier par défaut (HT)"), null=True, blank=True, **RATE)
    currency = models.CharField(_("devise"), max_length=3, default="EUR")
    publishes_contributions = models.BooleanField(
        _("publier nos contributions amont (argent et jours) sur la page de transparence"), default=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("entreprise partenaire")
        verbose_name_plural = _("entreprises partenaires")
        constraints = [
            models.UniqueConstraint(fields=["siret"], condition=~models.Q(siret=""), name="partnerfirm_unique_siret")
        ]

    def __str__(self) -> str:
        return self.name


class FirmUserObjectPermission(UserObjectPermissionBase):
    """django-guardian's direct foreign-key permission table for firms (no generic relation)."""

    content_object = models.ForeignKey(PartnerFirm, on_delete=models.CASCADE)


class FirmGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(PartnerFirm, on_delete=models.CASCADE)


class Membership(models.Model):
    """A partner user belongs to exactly one firm."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    firm = models.ForeignKey(PartnerFirm, on_delete=models.CASCADE, related_name="memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.firm}"


class Contact(models.Model):
    firm = models.ForeignKey(PartnerFirm, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("nom"), max_length=200)
    role = models.CharField(_("fonction"), max_length=200, blank=True)
    email = models.EmailField(_("courriel"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)
    is_primary = models.BooleanField(_("contact principal"), default=False)

    class Meta:
        ordering = ["-is_primary", "name"]

    def __str__(self) -> str:
        return self.name


class AttestationKind(models.TextChoices):
    URSSAF = "urssaf", _("attestation de vigilance URSSAF")
    TAX = "tax", _("attestation de régularité fiscale")
    KBIS = "kbis", _("extrait Kbis")
    INSURANCE = "insurance", _("assurance responsabilité civile professionnelle")


class Attestation(models.Model):
    firm = models.ForeignKey(PartnerFirm, on_delete=models.CASCADE, related_name="attestations")
    kind = models.CharField(_("type"), max_length=10, choices=AttestationKind.choices)
    reference = models.CharField(_("référence"), max_length=200, blank=True)
    issued_on = models.DateField(_("délivrée le"), null=True, blank=True)
    valid_until = models.DateField(_("valable jusqu'au"))

    class Meta:
        ordering = ["kind"]
        constraints = [models.UniqueConstraint(fields=["firm", "kind"], name="attestation_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.valid_until})"


class Reference(models.Model):
    """A past contract the firm can cite."""

    firm = models.ForeignKey(PartnerFirm, on_delete=models.CASCADE, related_name="references")
    title = models.CharField(_("objet"), max_length=500)
    buyer = models.CharField(_("acheteur"), max_length=300)
    year = models.PositiveSmallIntegerField(_("année"))
    amount = models.DecimalField(_("montant HT"), null=True, blank=True, **AMOUNT)
    currency = models.CharField(_("devise"), max_length=3, default="EUR")
    cpv_codes = models.JSONField(_("codes CPV"), default=list, blank=True)

    class Meta:
        ordering = ["-year", "title"]

    def __str__(self) -> str:
        return f"{self.title} ({self.buyer}, {self.year})"


class FirmSkill(models.Model):
    firm = models.ForeignKey(PartnerFirm, on_delete=models.CASCADE, related_name="skills")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="firm_skills")
    level = models.PositiveSmallIntegerField(_("niveau"), choices=SkillLevel.choices)
    years = models.PositiveSmallIntegerField(_("années de pratique"), null=True, blank=True)
    evidence_url = models.URLField(_("preuve (lien)"), max_length=500, blank=True)
    daily_rate = models.DecimalField(_("tarif journalier sur cette compétence"), null=True, blank=True, **RATE)

    class Meta:
        ordering = ["-level", "skill__name"]
        constraints = [models.UniqueConstraint(fields=["firm", "skill"], name="firmskill_unique")]
        indexes = [models.Index(fields=["skill", "level"])]

    def __str__(self) -> str:
        return f"{self.skill}: {self.get_level_display()}"


class LevelRate(models.Model):
    """The firm's daily rate for one skill level, between the per-skill rate and the firm's default."""

    firm = models.ForeignKey(PartnerFirm, on_delete=models.CASCADE, related_name="level_rates")
    level = models.PositiveSmallIntegerField(_("niveau"), choices=SkillLevel.choices)
    daily_rate = models.DecimalField(_("tarif journalier HT"), **RATE)

    class Meta:
        ordering = ["level"]
        constraints = [models.UniqueConstraint(fields=["firm", "level"], name="levelrate_unique")]

    def __str__(self) -> str:
        return f"{self.get_level_display()}: {self.daily_rate}"


class CapacityMonth(models.Model):
    """Days the firm can give the guichet in one month (the first day of the month)."""

    firm = models.ForeignKey(PartnerFirm, on_delete=models.CASCADE, related_name="capacity")
    month = models.DateField(_("mois"))
    days = models.DecimalField(_("jours disponibles"), max_digits=6, decimal_places=1)

    class Meta:
        ordering = ["month"]
        constraints = [models.UniqueConstraint(fields=["firm", "month"], name="capacitymonth_unique")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.days}"
