"""Who may open what: every URL of the product, for each persona of the matrix.

A URL name missing from MATRIX fails `test_every_url_is_in_the_matrix`, so a new page cannot
ship without its row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from bids.models import ImportJob
from bids.services.imports import create_import_job, import_file
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PERSONAS = ("bid_manager", "partner_a", "partner_b", "finance", "outsider", "anonymous")
STAFF_READ = {"bid_manager": 200, "finance": 200, "partner_a": 403, "partner_b": 403, "outsider": 403, "anonymous": 302}
BID_ONLY = {"bid_manager": 200, "finance": 403, "partner_a": 403, "partner_b": 403, "outsider": 403, "anonymous": 302}
BID_ONLY_POST = {**BID_ONLY, "bid_manager": 302}
ANY_USER = {"bid_manager": 302, "finance": 302, "partner_a": 200, "partner_b": 200, "outsider": 200, "anonymous": 302}
ADMIN_ONLY = dict.fromkeys(PERSONAS, 302)

# url name -> (method, expected status per persona)
MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "home": ("get", ANY_USER),
    "bids:tender_list": ("get", STAFF_READ),
    "bids:tender_detail": ("get", STAFF_READ),
    "bids:import_list": ("get", BID_ONLY),
    "bids:import_new": ("get", BID_ONLY),
    "bids:import_detail": ("get", BID_ONLY),
    "bids:import_status": ("get", BID_ONLY),
    "bids:import_retry": ("post", BID_ONLY_POST),
}
# Django's own views, checked elsewhere (auth flows) or reserved to superusers (admin).
NOT_PRODUCT_PAGES = ("admin:", "login", "logout", "password_", "set_language", "django.")


def _url_names(resolver: URLResolver, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= _url_names(pattern, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(prefix + pattern.name)
    return names


def test_every_url_is_in_the_matrix() -> None:
    names = {name for name in _url_names(get_resolver()) if not name.startswith(NOT_PRODUCT_PAGES)}
    assert names <= set(MATRIX), f"add these URLs to MATRIX: {sorted(names - set(MATRIX))}"


@pytest.fixture
def objects(samples: Path, bid_manager: Any, django_capture_on_commit_callbacks: Any) -> dict[str, int]:
    tender = (
        import_file(actor=bid_manager, data=(samples / "eforms/cn_24_FRA_comments.xml").read_bytes(), source="n.xml")
        .saved[0]
        .tender
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = create_import_job(actor=bid_manager, name="bad.csv", data=b"nothing;here\n1;2\n", fmt="csv")
    return {"tender": tender.pk, "job": job.pk}


def _url(name: str, objects: dict[str, int]) -> str:
    from django.urls import reverse

    if name == "bids:tender_detail":
        return reverse(name, args=[objects["tender"]])
    if name.startswith("bids:import_") and name not in {"bids:import_list", "bids:import_new"}:
        return reverse(name, args=[objects["job"]])
    return reverse(name)


@pytest.mark.parametrize("name", MATRIX)
def test_matrix(name: str, personas: dict[str, Any], objects: dict[str, int]) -> None:
    method, expected = MATRIX[name]
    url = _url(name, objects)
    seen = {}
    for persona in PERSONAS:
        client = client_for(personas[persona])
        response = getattr(client, method)(url)
        seen[persona] = response.status_code
    assert seen == expected


def test_anonymous_is_sent_to_login(objects: dict[str, int]) -> None:
    response = client_for(None).get(_url("bids:tender_detail", objects))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_job_of_unknown_id_is_404_not_500(bid_manager: Any) -> None:
    client = client_for(bid_manager)
    assert client.get("/imports/999999/").status_code == 404
    assert client.get("/imports/999999/status.json").status_code == 404
    assert client.get("/tenders/999999/").status_code == 404


def test_retry_refuses_get(bid_manager: Any, objects: dict[str, int]) -> None:
    assert client_for(bid_manager).get(_url("bids:import_retry", objects)).status_code == 405


def test_partner_sees_no_tender_data_on_home(personas: dict[str, Any], objects: dict[str, int]) -> None:
    body = client_for(personas["partner_a"]).get("/").content.decode()
    assert "Rouen Habitat" not in body
    assert ImportJob.objects.count() == 1
