from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from .roles import STAFF_ROLES, Role, user_role


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    role = user_role(request.user)
    if role in STAFF_ROLES:
        return redirect("bids:tender_list")
    if role == Role.PARTNER:
        return redirect("bids:invitation_list")  # the partner's portal: the packages offered to its firm
    return render(request, "home.html")
