from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .roles import Role


class User(AbstractUser):
    role = models.CharField(_("rôle"), max_length=20, choices=Role.choices, blank=True)

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")


class AuditEvent(models.Model):
    """An append-only record of a state change: who did what to which object."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # PROTECT: the trail is never rewritten, so a user with a history is deactivated, not deleted.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"


class CpvCode(models.Model):
    """The Common Procurement Vocabulary (CPV 2008): 8-digit code, check digit, labels."""

    code = models.CharField(max_length=8, primary_key=True)
    check_digit = models.CharField(max_length=1)
    label_fr = models.CharField(max_length=400)
    label_en = models.CharField(max_length=400)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    level = models.PositiveSmallIntegerField()  # 2 = division ... 8 = most precise

    class Meta:
        ordering = ["code"]
        verbose_name = _("code CPV")

    def __str__(self) -> str:
        return f"{self.code} {self.label_fr}"
