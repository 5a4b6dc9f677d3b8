"""Admin for the partner registry: firms with their whole profile inline, the skills catalogue, memberships.

Firms use guardian's GuardedModelAdmin, so an admin can also see and grant object permissions per firm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdmin

from .models import (
    Attestation,
    CapacityMonth,
    Contact,
    FirmSkill,
    LevelRate,
    Membership,
    PartnerFirm,
    Reference,
    Skill,
)

# Django 6 reads a URL typed without a scheme as https; say so now rather than rely on the old default.
HTTPS_URLS: Mapping[type[models.Field[Any, Any]], Mapping[str, Any]] = {models.URLField: {"assume_scheme": "https"}}


class FirmSkillInline(admin.TabularInline):
    formfield_overrides = HTTPS_URLS
    model = FirmSkill
    extra = 0
    autocomplete_fields = ["skill"]
    fields = ["skill", "level", "years", "evidence_url", "daily_rate"]


class ContactInline(admin.TabularInline):
    formfield_overrides = HTTPS_URLS
    model = Contact
    extra = 0


class AttestationInline(admin.TabularInline):
    model = Attestation
    extra = 0


class ReferenceInline(admin.StackedInline):
    formfield_overrides = HTTPS_URLS
    model = Reference
    extra = 0


class LevelRateInline(admin.TabularInline):
    model = LevelRate
    extra = 0


class CapacityInline(admin.TabularInline):
    model = CapacityMonth
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(PartnerFirm)
class PartnerFirmAdmin(GuardedModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["name", "siret", "city", "region", "is_sme", "daily_rate", "skill_count"]
    list_filter = ["region", "is_sme"]
    search_fields = ["name", "siren", "siret", "city"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [
        MembershipInline,
        ContactInline,
        FirmSkillInline,
        LevelRateInline,
        CapacityInline,
        AttestationInline,
        ReferenceInline,
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PartnerFirm]:
        return super().get_queryset(request).annotate(skills_held=Count("skills"))

    @admin.display(description=_("compétences"), ordering="skills_held")
    def skill_count(self, firm: PartnerFirm) -> int:
        return int(getattr(firm, "skills_held", 0))


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["name", "kind", "sill_id", "licence", "upstream_project", "parent"]
    list_filter = ["kind", "sector"]
    search_fields = ["name", "slug", "upstream_project"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]
    list_select_related = ["parent"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "firm"]
    search_fields = ["user__username", "firm__name"]
    autocomplete_fields = ["user", "firm"]
    list_select_related = ["user", "firm"]
