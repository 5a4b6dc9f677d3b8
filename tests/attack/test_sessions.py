"""Sessions: a new key and CSRF secret at login, every other session cut when the password changes (by the
user, by an admin, by a reset e-mail) or the account is disabled, and a logged-out cookie dead on the server.

tests/test_accounts.py already checks a fixated key is replaced at login and that changing one's own password
cuts one's other sessions; here, the same guarantees on every other path.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client

from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "une-toute-autre-phrase-secrete-31"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def is_signed_in(client: Client) -> bool:
    page = client.get("/tenders/")
    api = client.get("/api/firms/")
    assert (page.status_code == 200) == (api.status_code == 200), "pages and API disagree on the session"
    return page.status_code == 200


@pytest.fixture
def admin(db: None) -> Any:
    user = make_user("root", "admin")
    user.is_staff = user.is_superuser = True
    user.save()
    return user


def test_login_gives_a_new_session_key_and_a_new_csrf_secret(bid_manager: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    csrf_before = client.cookies["csrftoken"].value
    client.cookies["sessionid"] = "planted-by-an-attacker"
    response = client.post(
        "/accounts/login/", {"username": "bid-manager", "password": PASSWORD, "csrfmiddlewaretoken": token[1]}
    )
    assert response.status_code == 302
    assert client.cookies["sessionid"].value not in {"", "planted-by-an-attacker"}
    assert client.cookies["csrftoken"].value != csrf_before
    assert not Session.objects.filter(session_key="planted-by-an-attacker").exists()


def test_logout_kills_the_cookie_on_the_server(bid_manager: Any) -> None:
    client = signed_in(bid_manager)
    old = client.cookies["sessionid"].value
    assert Session.objects.filter(session_key=old).exists()
    assert client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=old).exists()
    replay = Client()
    replay.cookies["sessionid"] = old
    assert not is_signed_in(replay)


def test_logout_by_get_is_refused(bid_manager: Any) -> None:
    """A link or an <img> elsewhere cannot sign the user out: logout takes a POST with its CSRF token."""
    client = signed_in(bid_manager)
    assert client.get("/accounts/logout/").status_code == 405
    assert is_signed_in(client)


def test_own_password_change_keeps_this_session_and_cuts_the_others(bid_manager: Any) -> None:
    laptop, phone = signed_in(bid_manager), signed_in(bid_manager)
    response = laptop.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)


@pytest.mark.parametrize("usable", ["true", "false"])
def test_a_password_set_by_an_admin_cuts_every_session_of_the_user(admin: Any, finance: Any, usable: str) -> None:
    """A new password, or password sign-in disabled: the user's sessions end; the admin's own goes on."""
    sessions = [signed_in(finance), signed_in(finance)]
    admin_client = signed_in(admin)
    data = {"usable_password": usable, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    if usable == "false":
        data = {"usable_password": usable, "unset-password": "1"}
    response = admin_client.post(f"/admin/consortium/user/{finance.pk}/password/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    finance.refresh_from_db()
    assert finance.has_usable_password() == (usable == "true")
    assert [is_signed_in(client) for client in sessions] == [False, False]
    assert admin_client.get("/admin/").status_code == 200


def test_a_password_reset_by_email_cuts_every_session(finance: Any) -> None:
    finance.email = "finance@guichet.test"
    finance.save(update_fields=["email"])
    sessions = [signed_in(finance), signed_in(finance)]
    visitor = Client()
    assert visitor.post("/accounts/password_reset/", {"email": "finance@guichet.test"}).status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://[^/\s]+(/accounts/reset/[^\s]+/)", mail.outbox[0].body)
    assert link is not None, mail.outbox[0].body
    form_page = visitor.get(link[1], follow=True)
    assert form_page.status_code == 200
    set_password_url = form_page.redirect_chain[-1][0]
    done = visitor.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/reset/done/"
    assert [is_signed_in(client) for client in sessions] == [False, False]
    assert Client().post("/accounts/login/", {"username": "finance", "password": NEW_PASSWORD}).status_code == 302
    # the link works once
    again = Client().get(link[1], follow=True)
    assert again.status_code == 200
    assert "new_password1" not in again.content.decode()


def test_a_disabled_account_loses_its_sessions(partner_a: Any) -> None:
    session = signed_in(partner_a)
    assert session.get("/invitations/").status_code == 200
    partner_a.is_active = False
    partner_a.save(update_fields=["is_active"])
    assert session.get("/invitations/").status_code == 302
    assert session.get("/api/invitations/").status_code == 403
