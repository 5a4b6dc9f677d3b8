from __future__ import annotations

from django.http import HttpRequest

from .roles import Role, user_role


def roles(request: HttpRequest) -> dict[str, object]:
    role = user_role(request.user)
    return {
        "current_role": role,
        "is_bid_manager": role in {Role.BID_MANAGER, Role.ADMIN},
        "is_finance": role in {Role.FINANCE, Role.ADMIN},
        "is_partner": role == Role.PARTNER,
    }
