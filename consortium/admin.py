from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import AuditEvent, CpvCode, User


@admin.register(User)
class GuichetUserAdmin(UserAdmin):
    list_display = ("username", "email", "role", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Guichet", {"fields": ("role",)}))


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(CpvCode)
class CpvCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "label_fr", "label_en", "level")
    search_fields = ("code", "label_fr", "label_en")
