"""Who may edit a firm: django-guardian object permissions, granted when a user joins a firm."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from consortium.services import record_event

from ..models import Membership, PartnerFirm

MEMBER_PERMISSIONS = ("partners.view_partnerfirm", "partners.change_partnerfirm")


@transaction.atomic
def add_member(*, actor: Any, user: Any, firm: PartnerFirm) -> Membership:
    """Make `user` a member of `firm` (leaving any previous firm) with the right to see and edit it."""
    previous = Membership.objects.filter(user=user).select_related("firm").first()
    if previous is not None and previous.firm_id != firm.pk:
        for perm in MEMBER_PERMISSIONS:
            remove_perm(perm, user, previous.firm)
    membership, _ = Membership.objects.update_or_create(user=user, defaults={"firm": firm})
    for perm in MEMBER_PERMISSIONS:
        assign_perm(perm, user, firm)
    record_event(actor=actor, action="partners.member_added", obj=firm, user=user.username)
    return membership
