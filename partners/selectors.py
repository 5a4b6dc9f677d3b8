"""Reads of firms and skills, scoped to what the user may see: the one scoping helper lives here."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from consortium.roles import STAFF_ROLES, Role, user_role

from .models import Membership, PartnerFirm

FIRM_EDITORS = frozenset({Role.BID_MANAGER, Role.ADMIN})


def firms_for(user: Any, *, action: str = "view") -> QuerySet[PartnerFirm]:
    """The firms `user` may `view` or `change`; every page, export and API endpoint goes through here.

    The guichet's staff see every firm (bid managers and admins may also edit them); a partner user
    sees only the firms it holds an object permission on, never through a global permission.
    """
    role = user_role(user)
    if role in FIRM_EDITORS or (action == "view" and role in STAFF_ROLES):
        return PartnerFirm.objects.all()
    if role != Role.PARTNER:
        return PartnerFirm.objects.none()
    return get_objects_for_user(
        user, f"partners.{action}_partnerfirm", klass=PartnerFirm, accept_global_perms=False, with_superuser=False
    )


def can_edit_firm(user: Any, firm: PartnerFirm) -> bool:
    return firms_for(user, action="change").filter(pk=firm.pk).exists()


def firm_of(user: Any) -> PartnerFirm | None:
    """The firm a partner user belongs to, if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    membership = Membership.objects.filter(user_id=user.pk).select_related("firm").first()
    return membership.firm if membership else None
