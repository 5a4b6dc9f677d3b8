"""Admin: offer price policies, to look at only (they change through the offer page, with an audit row)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import OfferPolicy


@admin.register(OfferPolicy)
class OfferPolicyAdmin(admin.ModelAdmin):
    list_display = ["version", "fee_rate", "levy_rate", "vat_rate", "updated_by", "updated_at"]
    list_select_related = ["version__offer__tender", "updated_by"]
    readonly_fields = ["version", "fee_rate", "levy_rate", "vat_rate", "updated_by", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
