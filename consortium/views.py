from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .roles import STAFF_ROLES, user_role


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if user_role(request.user) in STAFF_ROLES:
        return redirect("bids:tender_list")
    return render(request, "home.html")
