"""E-mails about invitations. A firm's mail goes only to that firm's own people and names no other firm."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from consortium.roles import Role
from partners.models import Contact, Membership

from .models import LIVE_STATUSES, Invitation

FIRM_KINDS = ("invited", "reminder", "superseded", "withdrawn")
BID_MANAGER_EVENTS = ("accepted", "declined", "expired")


def firm_recipients(firm_id: int) -> list[str]:
    users = Membership.objects.filter(firm_id=firm_id, user__is_active=True).exclude(user__email="")
    addresses = list(users.values_list("user__email", flat=True))
    addresses += list(Contact.objects.filter(firm_id=firm_id).exclude(email="").values_list("email", flat=True))
    return sorted({address.strip().lower() for address in addresses if address.strip()})


def bid_manager_recipients(invitation: Invitation) -> list[str]:
    sender = invitation.created_by
    if sender is not None and sender.is_active and sender.email:
        return [sender.email]
    managers = get_user_model().objects.filter(role=Role.BID_MANAGER, is_active=True).exclude(email="")
    return sorted(managers.values_list("email", flat=True))


def _link(name: str, *args: Any) -> str:
    return settings.GUICHET_BASE_URL.rstrip("/") + reverse(name, args=args)


def _send(template: str, context: dict[str, Any], recipients: list[str]) -> int:
    if not recipients:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string(f"bids/email/{template}_subject.txt", context).strip().replace("\n", " ")
        body = render_to_string(f"bids/email/{template}.txt", context)
    # One message per address: a firm's people never see each other's addresses, let alone another firm's.
    return send_mass_mail([(subject, body, settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients])


def mail_firm(invitation_id: int, kind: str) -> int:
    if kind not in FIRM_KINDS:
        raise ValueError(f"unknown firm mail {kind!r}")
    invitation = (
        Invitation.objects.select_related("package", "package__lot", "tender", "firm").filter(pk=invitation_id).first()
    )
    if invitation is None:
        return 0
    context = {"invitation": invitation, "link": _link("bids:invitation_detail", invitation.pk)}
    return _send(f"firm_{kind}", context, firm_recipients(invitation.firm_id))


def mail_bid_manager(invitation_id: int, event: str, successor_id: int | None = None) -> int:
    if event not in BID_MANAGER_EVENTS:
        raise ValueError(f"unknown bid manager mail {event!r}")
    invitation = (
        Invitation.objects.select_related("package", "package__lot", "tender", "firm", "created_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None:
        return 0
    successor = Invitation.objects.select_related("firm").filter(pk=successor_id).first() if successor_id else None
    others_live = (
        Invitation.objects.filter(package_id=invitation.package_id, status__in=LIVE_STATUSES)
        .exclude(pk=invitation.pk)
        .exists()
    )
    context = {
        "invitation": invitation,
        "successor": successor,
        "others_live": others_live,
        "event": event,
        "link": _link("bids:invitation_dashboard", invitation.tender_id),
    }
    return _send(f"manager_{event}", context, bid_manager_recipients(invitation))
