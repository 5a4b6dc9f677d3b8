"""Who may call what in the API: every endpoint for each persona of the matrix, plus admins.

DRF answers an anonymous caller with 403 (session authentication has no login challenge), never a redirect.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone

from bids.models import Invitation, InvitationSource
from consortium import api_urls
from tests.conftest import client_for, make_user
from tests.contributions.test_contribution_api import CONTRIBUTION_API_MATRIX
from tests.ledger.test_money_permissions import MONEY_API_MATRIX

pytestmark = pytest.mark.django_db

PERSONAS = ("bid_manager", "partner_a", "partner_b", "finance", "outsider", "anonymous")
ROLE_HOLDERS = {
    "bid_manager": 200,
    "partner_a": 200,
    "partner_b": 200,
    "finance": 200,
    "outsider": 403,
    "anonymous": 403,
}
STAFF_READ = {"bid_manager": 200, "partner_a": 403, "partner_b": 403, "finance": 200, "outsider": 403, "anonymous": 403}
FIRM_A_READ = {**ROLE_HOLDERS, "partner_b": 404}
FIRM_A_PATCH = {**FIRM_A_READ, "finance": 403}
INVITATION_LIST = ROLE_HOLDERS
# Firm A's invitation. An empty answer reaches body validation (400) only for those who may answer for Firm A;
# tests/api/test_api_invitations.py answers it for real.
FIRM_A_INVITATION_READ = FIRM_A_READ
FIRM_A_INVITATION_ANSWER = {**FIRM_A_PATCH, "bid_manager": 400, "partner_a": 400}

# url name -> (method, expected status per persona); Firm A is the object of the firm endpoints.
API_MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "api-root": ("get", ROLE_HOLDERS),
    "api-schema": ("get", ROLE_HOLDERS),
    "api-firm-list": ("get", ROLE_HOLDERS),
    "api-firm-detail": ("get", FIRM_A_READ),
    "api-skill-list": ("get", ROLE_HOLDERS),
    "api-skill-detail": ("get", ROLE_HOLDERS),
    "api-tender-work-packages": ("get", STAFF_READ),
    "api-tender-assignment": ("get", STAFF_READ),
    "api-work-package-detail": ("get", STAFF_READ),
    "api-work-package-match": ("get", STAFF_READ),
    "api-invitation-list": ("get", INVITATION_LIST),
    "api-invitation-detail": ("get", FIRM_A_INVITATION_READ),
    "api-invitation-accept": ("post", FIRM_A_INVITATION_ANSWER),
    "api-invitation-decline": ("post", FIRM_A_INVITATION_ANSWER),
}


@pytest.fixture
def invitation_a(matched: dict[str, Any], firm_a: Any) -> Invitation:
    now = timezone.now()
    return Invitation.objects.create(
        tender=matched["tender"],
        package=matched["package"],
        firm=firm_a,
        source=InvitationSource.LEAD,
        deadline=now + dt.timedelta(days=10),
        sent_at=now,
    )


def _call(client: Any, method: str, url: str) -> Any:
    """A GET, or a POST of an empty JSON object (the answer endpoints take JSON only)."""
    if method == "post":
        return client.post(url, data={}, content_type="application/json")
    return getattr(client, method)(url)


def _url(name: str, matched: dict[str, Any], skills: dict[str, Any], firm_a: Any, invitation: Any = None) -> str:
    invitation_args = [invitation.pk] if invitation is not None else []
    args: dict[str, list[int]] = {
        "api-invitation-detail": invitation_args,
        "api-invitation-accept": invitation_args,
        "api-invitation-decline": invitation_args,
        "api-firm-detail": [firm_a.pk],
        "api-skill-detail": [skills["postgresql"].pk],
        "api-tender-work-packages": [matched["tender"].pk],
        "api-tender-assignment": [matched["tender"].pk],
        "api-work-package-detail": [matched["package"].pk],
        "api-work-package-match": [matched["package"].pk],
    }
    return reverse(name, args=args.get(name, []))


def test_every_api_url_is_in_the_matrix() -> None:
    names = {pattern.name for pattern in api_urls.urlpatterns if isinstance(pattern, URLPattern)}
    # the money endpoints: tests/ledger/; the contribution ones: tests/contributions/
    assert names == set(API_MATRIX) | set(MONEY_API_MATRIX) | set(CONTRIBUTION_API_MATRIX)
    assert all(name in get_resolver().reverse_dict for name in API_MATRIX)


@pytest.mark.parametrize("name", API_MATRIX)
def test_matrix(
    name: str, personas: dict[str, Any], matched: dict[str, Any], skills: Any, firm_a: Any, invitation_a: Invitation
) -> None:
    method, expected = API_MATRIX[name]
    url = _url(name, matched, skills, firm_a, invitation_a)
    seen = {persona: _call(client_for(personas[persona]), method, url).status_code for persona in PERSONAS}
    assert seen == expected
    invitation_a.refresh_from_db()
    assert (invitation_a.status, invitation_a.version) == ("sent", 1)  # nobody changed it


def test_firm_patch_matrix(personas: dict[str, Any], firm_a: Any) -> None:
    url = reverse("api-firm-detail", args=[firm_a.pk])
    seen = {}
    for persona in PERSONAS:
        response = client_for(personas[persona]).patch(
            url, data=json.dumps({"city": f"Ville de {persona}"}), content_type="application/json"
        )
        seen[persona] = response.status_code
    assert seen == FIRM_A_PATCH


def test_admin_reaches_everything(matched: dict[str, Any], skills: Any, firm_a: Any, invitation_a: Any) -> None:
    client = client_for(make_user("admin", "admin"))
    for name, (method, _expected) in API_MATRIX.items():
        url = _url(name, matched, skills, firm_a, invitation_a)
        assert _call(client, method, url).status_code == (200 if method == "get" else 400), name
    url = reverse("api-firm-detail", args=[firm_a.pk])
    response = client.patch(url, data={"city": "Lille"}, content_type="application/json")
    assert response.status_code == 200


def test_anonymous_gets_json_403_not_a_redirect(matched: dict[str, Any]) -> None:
    response = client_for(None).get(reverse("api-work-package-match", args=[matched["package"].pk]))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_partner_gets_no_package_data(partner_a: Any, matched: dict[str, Any]) -> None:
    for name in ("api-work-package-match", "api-work-package-detail"):
        response = client_for(partner_a).get(reverse(name, args=[matched["package"].pk]))
        assert response.status_code == 403
        assert "Firm" not in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/api/firms/999999/",
        "/api/firms/99999999999999999999999999/",
        "/api/skills/999999/",
        "/api/tenders/999999/work-packages/",
        "/api/tenders/999999/assignment/",
        "/api/work-packages/999999/",
        "/api/work-packages/999999/match/",
        "/api/work-packages/99999999999999999999999999/match/",
        "/api/invitations/999999/",
        "/api/invitations/99999999999999999999999999/",
    ],
)
def test_unknown_ids_are_json_404(bid_manager: Any, url: str) -> None:
    response = client_for(bid_manager).get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize("action", ["accept", "decline"])
def test_answering_an_unknown_invitation_is_json_404(bid_manager: Any, action: str) -> None:
    response = client_for(bid_manager).post(
        f"/api/invitations/999999/{action}/", data={"version": 1}, content_type="application/json"
    )
    assert response.status_code == 404
    assert "detail" in response.json()


def test_bad_page_is_404_not_500(bid_manager: Any, firm_a: Any) -> None:
    assert client_for(bid_manager).get("/api/firms/?page=999").status_code == 404
    assert client_for(bid_manager).get("/api/firms/?page=abc").status_code == 404


def test_read_only_endpoints_refuse_writes(
    bid_manager: Any, matched: dict[str, Any], firm_a: Any, invitation_a: Invitation
) -> None:
    client = client_for(bid_manager)
    assert client.post("/api/firms/", data={}, content_type="application/json").status_code == 405
    assert client.put(f"/api/firms/{firm_a.pk}/", data={}, content_type="application/json").status_code == 405
    assert client.delete(f"/api/firms/{firm_a.pk}/").status_code == 405
    assert client.patch(f"/api/work-packages/{matched['package'].pk}/", data={}).status_code == 405
    assert client.delete(f"/api/work-packages/{matched['package'].pk}/").status_code == 405
    assert client.post("/api/invitations/", data={}, content_type="application/json").status_code == 405
    invitation = f"/api/invitations/{invitation_a.pk}/"
    assert client.patch(invitation, data={}, content_type="application/json").status_code == 405
    assert client.delete(invitation).status_code == 405
    assert client.get(f"{invitation}accept/").status_code == 405


@pytest.mark.parametrize("persona", ["bid_manager", "partner_a", "finance"])
def test_browsable_api_renders(personas: dict[str, Any], persona: str, firm_a: Any) -> None:
    client = client_for(personas[persona])
    for url in (f"/api/firms/{firm_a.pk}/", "/api/firms/", "/api/skills/", "/api/invitations/", "/api/"):
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html")


def test_patch_needs_the_csrf_token(partner_a: Any, firm_a: Any) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_a)
    response = client.patch(f"/api/firms/{firm_a.pk}/", data={"city": "Lyon"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    firm_a.refresh_from_db()
    assert firm_a.city == ""
