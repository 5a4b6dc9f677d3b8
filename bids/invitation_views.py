"""Pages of the invitations (being written)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def _todo(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    raise Http404


invitation_list = invitation_detail = invitation_accept = invitation_decline = invitation_sheet = _todo
invitation_upload = invitation_withdraw = invitation_dashboard = invitation_send = invitation_invite_firm = _todo
