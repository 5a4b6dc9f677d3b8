"""The roles of Guichet and the access helpers every view uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    BID_MANAGER = "bid_manager", _("Chargé d'affaires")
    PARTNER = "partner", _("Entreprise partenaire")
    FINANCE = "finance", _("Finance")
    ADMIN = "admin", _("Administrateur")


STAFF_ROLES = frozenset({Role.BID_MANAGER, Role.FINANCE, Role.ADMIN})


def user_role(user: Any) -> str:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ""
    if user.is_superuser:
        return Role.ADMIN
    return str(getattr(user, "role", "") or "")


def has_role(user: Any, *roles: str) -> bool:
    return user_role(user) in roles


def role_required(*roles: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Log in first, then 403 unless the user holds one of `roles` (admins always pass)."""

    allowed = set(roles) | {Role.ADMIN}

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if user_role(request.user) not in allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator
