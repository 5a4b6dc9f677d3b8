"""Login throttling by user, by address and by the pair, against forged forwarding headers.

Limits (consortium/settings.py, consortium/throttle.py): 5 failures for one username from one address, 10 for
one username from any address, 20 from one address for any username, counted over 15 minutes; then the
login answers 429 with the French lockout page, even to the right password. Each limit is checked at its
edge: one failure fewer still lets the right password in.
"""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

PAIR, USERNAME, ADDRESS = 5, 10, 20
SPOOFING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED", "HTTP_CLIENT_IP", "HTTP_TRUE_CLIENT_IP")


@pytest.fixture(autouse=True)
def _fast_hashes(settings: Any) -> None:
    """Hundreds of logins: a fast hasher here, argon2 is tested in tests/test_accounts.py."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login(username: str, password: str, address: str = "10.0.0.7", **headers: str) -> Any:
    return Client(REMOTE_ADDR=address).post("/accounts/login/", {"username": username, "password": password}, **headers)


def fail(username: str, address: str = "10.0.0.7", times: int = 1, **headers: str) -> list[int]:
    """Wrong passwords: the form again (200) until the failure that reaches a limit answers 429."""
    return [login(username, "wrong-password", address, **headers).status_code for _ in range(times)]


def reaching(limit: int) -> list[int]:
    return [200] * (limit - 1) + [429]


def assert_locked(response: Any) -> None:
    assert response.status_code == 429
    body = response.content.decode()
    assert "Connexion bloquée" in body
    assert "Trop d'échecs de connexion" in body
    assert "sessionid" not in response.cookies


def test_the_limits_are_the_documented_ones() -> None:
    assert (settings.AXES_FAILURE_LIMIT, settings.AXES_USERNAME_FAILURE_LIMIT) == (PAIR, USERNAME)
    assert settings.AXES_ADDRESS_FAILURE_LIMIT == ADDRESS
    assert settings.AXES_COOLOFF_TIME == 0.25


def test_the_pair_locks_after_five_failures_and_only_the_pair() -> None:
    make_user("target", "bid_manager")
    make_user("colleague", "bid_manager")
    assert fail("target", times=PAIR - 1) == [200] * (PAIR - 1)
    assert login("target", PASSWORD).status_code == 302  # four failures: still let in, and the pair forgiven
    assert fail("target", times=PAIR) == reaching(PAIR)
    assert_locked(login("target", PASSWORD))
    assert login("colleague", PASSWORD).status_code == 302  # same address, another account
    assert login("target", PASSWORD, "10.0.0.8").status_code == 302  # same account, another address


def test_one_username_guessed_from_many_addresses_locks_at_ten() -> None:
    make_user("target", "bid_manager")
    for n in range(USERNAME - 1):
        assert fail("target", f"198.51.100.{n + 1}") == [200]
    assert login("target", PASSWORD, "203.0.113.1").status_code == 302  # nine: let in
    assert fail("target", "198.51.100.200") == [429]  # the tenth failure, from yet another address
    assert_locked(login("target", PASSWORD, "203.0.113.2"))
    make_user("other", "finance")
    assert login("other", PASSWORD, "198.51.100.1").status_code == 302  # the addresses are not locked


def test_one_address_spraying_many_usernames_locks_at_twenty() -> None:
    make_user("victim", "finance")
    for n in range(ADDRESS - 1):
        assert fail(f"guess-{n}", "192.0.2.50") == [200]  # unknown names count too
    assert login("victim", PASSWORD, "192.0.2.50").status_code == 302  # nineteen: let in
    assert fail("guess-last", "192.0.2.50") == [429]
    assert_locked(login("victim", PASSWORD, "192.0.2.50"))
    assert login("victim", PASSWORD, "192.0.2.51").status_code == 302  # the account itself is not locked


def test_a_sprayer_logging_into_its_own_account_does_not_reset_the_address() -> None:
    make_user("sprayer", "partner")
    make_user("victim", "finance")
    assert [fail(f"guess-{n}", "192.0.2.60")[0] for n in range(ADDRESS - 1)] == [200] * (ADDRESS - 1)
    assert login("sprayer", PASSWORD, "192.0.2.60").status_code == 302
    assert fail("guess-again", "192.0.2.60") == [429]
    assert_locked(login("victim", PASSWORD, "192.0.2.60"))


@pytest.mark.parametrize("header", SPOOFING_HEADERS)
def test_a_forged_forwarding_header_neither_resets_nor_moves_the_count(header: str) -> None:
    make_user("target", "bid_manager")
    seen = []
    for n in range(PAIR):
        forged = f"for=203.0.113.{n}" if header == "HTTP_FORWARDED" else f"203.0.113.{n}, 10.9.9.{n}"
        seen += fail("target", **{header: forged})
    assert seen == reaching(PAIR)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.7"}
    assert_locked(login("target", PASSWORD, **{header: "127.0.0.1"}))
    assert_locked(login("target", PASSWORD, **{header: "for=10.0.0.8"}))


def test_behind_a_trusted_proxy_the_hop_it_appended_is_counted(settings: Any) -> None:
    settings.AXES_TRUSTED_PROXIES = ["127.0.0.1", "10.10.0.0/16"]
    make_user("target", "bid_manager")
    seen = []
    for n in range(PAIR):
        # the client forged the left part; the proxies (10.10.x, then 127.0.0.1) appended the real hop
        seen += fail("target", "127.0.0.1", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.9, 10.10.4.4")
    assert seen == reaching(PAIR)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}
    assert_locked(login("target", PASSWORD, "127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9"))
    assert login("target", PASSWORD, "127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.10").status_code == 302
    # a client that is not a trusted proxy writes what it likes: its own address is counted
    assert fail("target", "198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.10") == [200]
    assert AccessAttempt.objects.filter(ip_address="198.51.100.7").exists()


def test_an_ipv6_client_counts_for_its_whole_slash_64() -> None:
    make_user("victim", "finance")
    seen = [fail(f"guess-{n}", f"2001:db8:1:2::{n + 1:x}")[0] for n in range(ADDRESS)]
    assert seen == reaching(ADDRESS)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"2001:db8:1:2::"}
    assert_locked(login("victim", PASSWORD, "2001:db8:1:2:ffff::1"))
    assert login("victim", PASSWORD, "2001:db8:1:3::1").status_code == 302


def test_the_admin_login_is_throttled_too() -> None:
    user = make_user("root", "admin")
    user.is_staff = user.is_superuser = True
    user.save()
    seen = [
        Client(REMOTE_ADDR="10.0.0.7").post("/admin/login/", {"username": "root", "password": "wrong"}).status_code
        for _ in range(PAIR)
    ]
    assert seen == reaching(PAIR)
    response = Client(REMOTE_ADDR="10.0.0.7").post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert_locked(response)


def test_a_bad_trusted_proxy_setting_fails_loudly(settings: Any) -> None:
    settings.AXES_TRUSTED_PROXIES = ["proxy.internal"]
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        login("anyone", "x", "127.0.0.1")
