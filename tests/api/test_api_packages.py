"""Work packages, match results and the tender's assignment through the API (staff only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bids.models import Assignment, JobStatus
from tests.api.conftest import add_candidate, make_package, make_run
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_work_package_detail(finance: Any, matched: dict[str, Any], skills: dict[str, Any]) -> None:
    package = matched["package"]
    body = client_for(finance).get(f"/api/work-packages/{package.pk}/").json()
    assert body["id"] == package.pk
    assert body["tender"] == matched["tender"].pk
    assert body["lot"] == {"id": package.lot_id, "source_id": package.lot.source_id, "title": package.lot.title}
    assert (body["name"], body["basis"], body["flagged"]) == ("PostgreSQL", "skill", False)
    assert (body["cpv_codes"], body["line_count"]) == (["72260000"], 3)
    assert (body["estimated_value"], body["estimated_days"]) == ("12345.60", "20.5")
    assert body["currency"] == (package.lot.currency or matched["tender"].currency)
    assert body["skills"] == [
        {"skill": skills["python"].pk, "name": "Python", "weight": 2, "inferred": True},
        {"skill": skills["postgresql"].pk, "name": "PostgreSQL", "weight": 1, "inferred": False},
    ]


def test_tender_work_packages(bid_manager: Any, matched: dict[str, Any]) -> None:
    body = client_for(bid_manager).get(f"/api/tenders/{matched['tender'].pk}/work-packages/").json()
    assert body["count"] == 2
    assert [row["name"] for row in body["results"]] == ["PostgreSQL", "Autres"]


def test_match_shows_latest_finished_run(bid_manager: Any, matched: dict[str, Any]) -> None:
    package, firms = matched["package"], matched["run"].candidates.order_by("rank")
    firm_a, firm_b = (candidate.firm for candidate in firms)
    newer = make_run(matched["tender"])
    add_candidate(newer, package, firm_b, 1, "90.0")
    add_candidate(newer, package, firm_a, 2, "80.0")
    running = make_run(matched["tender"], JobStatus.RUNNING)  # not finished: ignored
    add_candidate(running, package, firm_a, 1, "99.0")
    body = client_for(bid_manager).get(f"/api/work-packages/{package.pk}/match/").json()
    assert body["package"]["id"] == package.pk
    assert (body["run"]["id"], body["run"]["status"]) == (newer.pk, "succeeded")
    assert [(row["rank"], row["firm"]["name"], row["score"]) for row in body["candidates"]] == [
        (1, "Firm B", "90.0"),
        (2, "Firm A", "80.0"),
    ]
    assert body["candidates"][0]["components"][0]["key"] == "skill"
    assignment = body["assignment"]
    assert (assignment["lead"]["name"], assignment["backup"]["name"]) == ("Firm A", "Firm B")
    assert (assignment["status"], assignment["lead_days"], assignment["run"]) == ("proposed", "10.0", matched["run"].pk)


def test_match_before_any_run(bid_manager: Any, samples: Any, skills: dict[str, Any]) -> None:
    from tests.api.conftest import import_tender

    package = make_package(import_tender(samples, bid_manager), "Seul", [skills["python"]])
    body = client_for(bid_manager).get(f"/api/work-packages/{package.pk}/match/").json()
    assert (body["run"], body["candidates"], body["assignment"]) == (None, [], None)


def test_tender_assignment_lists_every_package(finance: Any, matched: dict[str, Any]) -> None:
    Assignment.objects.create(package=matched["other"], unassigned_reason="Aucune entreprise disponible")
    body = client_for(finance).get(f"/api/tenders/{matched['tender'].pk}/assignment/").json()
    rows = body["results"]
    assert [row["package"]["name"] for row in rows] == ["PostgreSQL", "Autres"]
    assert rows[0]["assignment"]["lead"]["name"] == "Firm A"
    assert rows[1]["assignment"]["lead"] is None
    assert rows[1]["assignment"]["unassigned_reason"] == "Aucune entreprise disponible"


def test_package_without_assignment_is_null(bid_manager: Any, matched: dict[str, Any]) -> None:
    rows = client_for(bid_manager).get(f"/api/tenders/{matched['tender'].pk}/assignment/").json()["results"]
    assert rows[1]["assignment"] is None


def test_package_lists_query_count_does_not_grow(
    bid_manager: Any, matched: dict[str, Any], skills: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    tender, package = matched["tender"], matched["package"]
    client = client_for(bid_manager)
    urls = (
        f"/api/tenders/{tender.pk}/work-packages/",
        f"/api/tenders/{tender.pk}/assignment/",
        f"/api/work-packages/{package.pk}/match/",
    )
    baseline = {}
    for url in urls:
        with CaptureQueriesContext(connection) as few:
            assert client.get(url).status_code == 200
        baseline[url] = len(few)
    firms = [candidate.firm for candidate in matched["run"].candidates.all()]
    for number in range(30):
        extra = make_package(tender, f"Paquet {number}", [skills["python"], skills["postgresql"]], position=number + 2)
        Assignment.objects.create(package=extra, lead=firms[0], backup=firms[1], lead_days=Decimal(1))
    for number in range(30):
        add_candidate(matched["run"], package, firms[number % 2], number + 3, "10.0")
    for url in urls:
        with django_assert_max_num_queries(baseline[url]):
            response = client.get(url)
        assert response.status_code == 200
    assert len(response.json()["candidates"]) == 32
    assert max(baseline.values()) <= 6
