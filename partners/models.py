from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PartnerFirm(models.Model):
    """A firm of the network. The full profile (skills, capacity, rates) grows with the partner issue."""

    name = models.CharField(_("raison sociale"), max_length=200, unique=True)
    siret = models.CharField(_("SIRET"), max_length=14, blank=True)
    region = models.CharField(_("région"), max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("entreprise partenaire")
        verbose_name_plural = _("entreprises partenaires")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A partner user belongs to exactly one firm."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    firm = models.ForeignKey(PartnerFirm, on_delete=models.CASCADE, related_name="memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.firm}"
