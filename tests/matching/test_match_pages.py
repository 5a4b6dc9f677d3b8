"""The matching pages: who may open what, the assignment and candidates shown with their reasons,
corrections, and no server error on bad input."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from bids.models import Assignment, AssignmentStatus, JobStatus, MatchRun, TenderExclusion
from bids.services.matching import exclude_firm, run_match
from tests.conftest import client_for

from .conftest import Network, make_tender
from .test_match_service import small_network

pytestmark = pytest.mark.django_db

STAFF_READ = {"bid_manager": 200, "finance": 200, "partner_a": 403, "partner_b": 403, "outsider": 403, "anonymous": 302}
BID_ONLY_POST = {
    "bid_manager": 302,
    "finance": 403,
    "partner_a": 403,
    "partner_b": 403,
    "outsider": 403,
    "anonymous": 302,
}


@pytest.fixture
def matched(network: Network, bid_manager: Any) -> Network:
    small_network(network)
    exclude_firm(actor=bid_manager, tender=network.tender, firm=network.firm("Rivals", skills={"PostgreSQL": 6}),
                 kind="competing", reason="membre du groupement Concurrent SA")  # fmt: skip
    run_match(actor=bid_manager, tender=network.tender)
    return network


def urls(net: Network) -> dict[str, tuple[str, str]]:
    tender, package = net.tender.pk, net.packages["Support PostgreSQL"].pk
    return {
        "bids:match_overview": ("get", reverse("bids:match_overview", args=[tender])),
        "bids:match_status": ("get", reverse("bids:match_status", args=[tender])),
        "bids:package_candidates": ("get", reverse("bids:package_candidates", args=[tender, package])),
        "bids:match_run": ("post", reverse("bids:match_run", args=[tender])),
        "bids:assignment_adjust": ("post", reverse("bids:assignment_adjust", args=[tender, package])),
        "bids:exclusion_add": ("post", reverse("bids:exclusion_add", args=[tender])),
        "bids:exclusion_remove": (
            "post",
            reverse("bids:exclusion_remove", args=[tender, net.firms["Rivals"].pk]),
        ),
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bids:match_overview", STAFF_READ),
        ("bids:match_status", STAFF_READ),
        ("bids:package_candidates", STAFF_READ),
        ("bids:match_run", BID_ONLY_POST),
        ("bids:assignment_adjust", BID_ONLY_POST),
        ("bids:exclusion_add", BID_ONLY_POST),
        ("bids:exclusion_remove", BID_ONLY_POST),
    ],
)
def test_status_per_persona(name: str, expected: dict[str, int], matched: Network, personas: dict[str, Any]) -> None:
    method, url = urls(matched)[name]
    seen = {persona: getattr(client_for(user), method)(url).status_code for persona, user in personas.items()}
    assert seen == expected
    if expected["anonymous"] == 302:
        assert getattr(client_for(None), method)(url)["Location"].startswith("/accounts/login/")


def test_overview_shows_assignment_chart_and_exclusions(matched: Network, bid_manager: Any) -> None:
    body = client_for(bid_manager).get(reverse("bids:match_overview", args=[matched.tender.pk])).content.decode()
    assert "Attribution proposée" in body
    assert "Maintainers" in body and "Experts" in body
    assert "aucune entreprise n&#x27;a la compétence Fortran" in body
    assert "Charge des entreprises retenues" in body and "20 j / 24 j" in body
    assert "engagée dans un groupement concurrent" in body and "membre du groupement Concurrent SA" in body
    assert "optimum prouvé" in body


def test_finance_reads_without_the_forms(matched: Network, finance: Any) -> None:
    body = client_for(finance).get(reverse("bids:match_overview", args=[matched.tender.pk])).content.decode()
    assert "Maintainers" in body
    assert reverse("bids:exclusion_add", args=[matched.tender.pk]) not in body
    assert reverse("bids:match_run", args=[matched.tender.pk]) not in body


def test_candidates_page_explains_each_score(matched: Network, bid_manager: Any) -> None:
    package = matched.packages["Support PostgreSQL"]
    body = (
        client_for(bid_manager)
        .get(reverse("bids:package_candidates", args=[matched.tender.pk, package.pk]))
        .content.decode()
    )
    assert "3 candidates classées" in body
    assert "PostgreSQL : mainteneur (preuve fournie), Python : expert" in body
    assert "Compétences" in body and "Capacité" in body and "Attestations" in body
    assert "width: 29.1%" in body  # the skills segment of the stacked bar, not localised
    assert "Rivals" in body and "membre du groupement Concurrent SA" in body


def test_status_json(matched: Network, finance: Any) -> None:
    data = client_for(finance).get(reverse("bids:match_status", args=[matched.tender.pk])).json()
    assert data["status"] == JobStatus.SUCCEEDED and data["finished"] is True and data["percent"] == 100
    other, _lot = make_tender("Vide", "empty")
    assert client_for(finance).get(reverse("bids:match_status", args=[other.pk])).json()["finished"] is True


def test_run_button_queues_a_run(matched: Network, bid_manager: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(bid_manager).post(reverse("bids:match_run", args=[matched.tender.pk]))
    assert response.status_code == 302
    assert MatchRun.objects.filter(tender=matched.tender).count() == 2
    assert MatchRun.objects.order_by("-id").first().status == JobStatus.SUCCEEDED  # type: ignore[union-attr]


def test_adjust_from_the_pages(matched: Network, bid_manager: Any) -> None:
    client = client_for(bid_manager)
    package = matched.packages["Support PostgreSQL"]
    url = reverse("bids:assignment_adjust", args=[matched.tender.pk, package.pk])
    response = client.post(url, {"lead": matched.firms["Integrators"].pk, "backup": "", "package": package.pk})
    assert response["Location"] == reverse("bids:package_candidates", args=[matched.tender.pk, package.pk])
    assignment = Assignment.objects.get(package=package)
    assert (assignment.lead.name, assignment.status) == ("Integrators", AssignmentStatus.ADJUSTED)  # type: ignore[union-attr]
    body = client.get(reverse("bids:match_overview", args=[matched.tender.pk])).content.decode()
    assert "ajustée" in body
    # Bad input: unknown firm, excluded firm, same backup: a message, nothing changed, never a 500.
    for data in (
        {"lead": 999999},
        {"lead": "abc"},
        {},
        {"lead": matched.firms["Rivals"].pk},
        {"lead": matched.firms["Experts"].pk, "backup": matched.firms["Experts"].pk},
    ):
        response = client.post(url, data, follow=True)
        assert response.status_code == 200
        assert any(message.level_tag == "error" for message in response.context["messages"])
    assert Assignment.objects.get(package=package).lead.name == "Integrators"  # type: ignore[union-attr]


def test_package_of_another_tender_is_404(matched: Network, bid_manager: Any) -> None:
    other, lot = make_tender("Autre", "other")
    stranger = Network(other, lot, skills=matched.skills).package("Ailleurs", skills={"PostgreSQL": 5})
    client = client_for(bid_manager)
    assert client.get(reverse("bids:package_candidates", args=[matched.tender.pk, stranger.pk])).status_code == 404
    url = reverse("bids:assignment_adjust", args=[matched.tender.pk, stranger.pk])
    assert client.post(url, {"lead": matched.firms["Experts"].pk}).status_code == 404
    assert client.get(reverse("bids:match_overview", args=[999999])).status_code == 404
    assert client.post(reverse("bids:exclusion_remove", args=[matched.tender.pk, 999999])).status_code == 404
    assert client.get(reverse("bids:match_run", args=[matched.tender.pk])).status_code == 405


def test_exclusions_from_the_pages(matched: Network, bid_manager: Any) -> None:
    client = client_for(bid_manager)
    add = reverse("bids:exclusion_add", args=[matched.tender.pk])
    response = client.post(add, {"firm_name": "experts", "kind": "manual", "reason": "indisponible"})
    assert response.status_code == 302
    assert TenderExclusion.objects.filter(firm=matched.firms["Experts"], reason="indisponible").exists()
    for data in (
        {"firm_name": "Inconnue SA", "kind": "manual"},
        {"firm": 999999, "kind": "manual"},
        {"firm_name": "Integrators", "kind": "competing"},  # the competing consortium must be named
        {"firm_name": "Integrators", "kind": "other"},
        {},
    ):
        response = client.post(add, data, follow=True)
        assert response.status_code == 200
        assert any(message.level_tag == "error" for message in response.context["messages"])
    assert TenderExclusion.objects.count() == 2
    remove = reverse("bids:exclusion_remove", args=[matched.tender.pk, matched.firms["Experts"].pk])
    assert client.post(remove).status_code == 302
    assert not TenderExclusion.objects.filter(firm=matched.firms["Experts"]).exists()
    assert client.post(remove, follow=True).status_code == 200  # not excluded any more: a message


def test_tender_page_links_to_the_match(matched: Network, finance: Any) -> None:
    body = client_for(finance).get(reverse("bids:tender_detail", args=[matched.tender.pk])).content.decode()
    assert reverse("bids:match_overview", args=[matched.tender.pk]) in body
