"""Login throttling: three failure counters, each with its own limit, over django-axes' records.

- the pair (username, address), `AXES_FAILURE_LIMIT`: someone mistyping, or guessing one account from one place;
- the username from any address, `AXES_USERNAME_FAILURE_LIMIT`: one account guessed from many addresses;
- the address for any username, `AXES_ADDRESS_FAILURE_LIMIT`: many accounts sprayed from one address.

Axes sums the failures of each group listed in `AXES_LOCKOUT_PARAMETERS` but compares them all with one
limit. `ThrottleHandler.get_failures` hands axes, instead of the largest count, the count of the group
nearest to its own limit shifted onto the pair's limit, so "count >= AXES_FAILURE_LIMIT" holds exactly
when some group has reached its own limit.

The address is REMOTE_ADDR (an IPv6 address counts for its /64, which one machine usually holds whole);
a forwarding header is read only when REMOTE_ADDR is one of `AXES_TRUSTED_PROXIES`, and then only the
hops those proxies appended: what the client wrote in the header never moves the count.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Sum
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPV6_PREFIX = 64


def group_limit(parameter: str | list[str]) -> int:
    """The failure limit of one group of `AXES_LOCKOUT_PARAMETERS`."""
    fields = {parameter} if isinstance(parameter, str) else set(parameter)
    if fields == {"username"}:
        return int(settings.AXES_USERNAME_FAILURE_LIMIT)
    if fields == {"ip_address"}:
        return int(settings.AXES_ADDRESS_FAILURE_LIMIT)
    return int(settings.AXES_FAILURE_LIMIT)


class ThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit per group, and a success that forgives only its own pair."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        groups = get_lockout_parameters(request, credentials)
        attempts = self.get_user_attempts(request, credentials)
        pair_limit = int(settings.AXES_FAILURE_LIMIT)
        return max(
            (queryset.aggregate(total=Sum("failures_since_start"))["total"] or 0) + pair_limit - group_limit(group)
            for group, queryset in zip(groups, attempts, strict=True)
        )

    def reset_user_attempts(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        # Axes would clear every group the login matches: one good password of a sprayer's own account would
        # then wipe the address's count for all the accounts it tried.
        username = get_client_username(request, credentials)
        count, _deleted = AccessAttempt.objects.filter(username=username, ip_address=request.axes_ip_address).delete()
        return count


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
            ) from None
    return tuple(networks)


def trusted_proxies() -> tuple[Network, ...]:
    return _networks(tuple(settings.AXES_TRUSTED_PROXIES))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _counted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False).network_address)
    return str(address)


def client_address(request: HttpRequest) -> str | None:
    """The address a login failure is counted against (`AXES_CLIENT_IP_CALLABLE`)."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return None
    proxies = trusted_proxies()
    if not any(remote in network for network in proxies):
        return _counted(remote)
    # Each trusted proxy appends the address it received from: read from the right, the first hop that is
    # not one of ours is the client; anything further left was written by the client and is ignored.
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        if not any(address in network for network in proxies):
            return _counted(address)
    return _counted(remote)
