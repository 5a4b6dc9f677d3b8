"""Work-package pages: who may open what, and each correction through the browser's forms."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bids.models import Line, SplitRule, Tender, WorkPackage
from bids.services.packages import split_tender
from tests.conftest import client_for

from .conftest import lot_of

pytestmark = pytest.mark.django_db

PERSONAS = ("bid_manager", "partner_a", "partner_b", "finance", "outsider", "anonymous")
STAFF_READ = {"bid_manager": 200, "finance": 200, "partner_a": 403, "partner_b": 403, "outsider": 403, "anonymous": 302}
BID_ONLY_POST = {
    "bid_manager": 302,
    "finance": 403,
    "partner_a": 403,
    "partner_b": 403,
    "outsider": 403,
    "anonymous": 302,
}
PAGES = {
    "bids:package_list": ("get", STAFF_READ),
    "bids:package_detail": ("get", STAFF_READ),
    "bids:package_split": ("post", BID_ONLY_POST),
    "bids:package_merge": ("post", BID_ONLY_POST),
    "bids:package_move": ("post", BID_ONLY_POST),
    "bids:package_divide": ("post", BID_ONLY_POST),
    "bids:package_rename": ("post", BID_ONLY_POST),
    "bids:package_requirements": ("post", BID_ONLY_POST),
    "bids:split_rule_new": ("post", BID_ONLY_POST),
}


@pytest.fixture
def split(tender: Tender) -> Tender:
    split_tender(actor=None, tender=tender)
    return tender


def url(name: str, tender: Tender, package: WorkPackage | None = None) -> str:
    if name in {"bids:package_list", "bids:package_split", "bids:package_merge"}:
        return reverse(name, args=[tender.pk])
    package = package or WorkPackage.objects.filter(tender=tender).first()
    assert package is not None
    return reverse(name, args=[tender.pk, package.pk])


def message_texts(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("name", PAGES)
def test_status_per_persona(name: str, personas: dict[str, Any], split: Tender) -> None:
    method, expected = PAGES[name]
    seen = {}
    for persona in PERSONAS:
        response = getattr(client_for(personas[persona]), method)(url(name, split))
        seen[persona] = response.status_code
    assert seen == expected
    anonymous = getattr(client_for(None), method)(url(name, split))
    assert anonymous["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", [name for name, (method, _) in PAGES.items() if method == "post"])
def test_post_only(name: str, bid_manager: Any, split: Tender) -> None:
    assert client_for(bid_manager).get(url(name, split)).status_code == 405


def test_unknown_tender_and_package_are_404(bid_manager: Any, split: Tender) -> None:
    client = client_for(bid_manager)
    assert client.get(reverse("bids:package_list", args=[999999])).status_code == 404
    assert client.get(reverse("bids:package_detail", args=[split.pk, 999999])).status_code == 404


def test_list_shows_packages_per_lot_and_the_chart(bid_manager: Any, split: Tender) -> None:
    response = client_for(bid_manager).get(url("bids:package_list", split))
    body = response.content.decode()
    assert "LOT-0001" in body and "LOT-0002" in body
    for name in ("PostgreSQL", "Nextcloud", "OCS Inventory NG", "Java (OpenJDK)"):
        assert name in body
    assert "Valeur estimée par lot de travaux" in body
    assert 'name="packages"' in body and reverse("bids:package_merge", args=[split.pk]) in body
    assert "PostgreSQL ×10" in body


def test_finance_reads_without_forms(finance: Any, split: Tender) -> None:
    body = client_for(finance).get(url("bids:package_list", split)).content.decode()
    assert "PostgreSQL" in body and 'name="packages"' not in body and "split-form" not in body
    detail = client_for(finance).get(url("bids:package_detail", split)).content.decode()
    assert 'name="lines"' not in detail and "requirements-form" not in detail


def test_list_query_count_does_not_grow_with_packages(bid_manager: Any, split: Tender) -> None:
    client = client_for(bid_manager)
    one_lot = url("bids:package_list", split) + f"?lot={lot_of(split, 'LOT-0001').pk}"
    with CaptureQueriesContext(connection) as small:
        client.get(one_lot)
    with CaptureQueriesContext(connection) as large:
        client.get(url("bids:package_list", split))
    assert len(large) == len(small)


def test_split_button_needs_confirmation_once_packages_exist(bid_manager: Any, tender: Tender) -> None:
    client = client_for(bid_manager)
    response = client.post(url("bids:package_split", tender))
    assert response.status_code == 302
    assert WorkPackage.objects.filter(tender=tender).count() == 42
    first_ids = set(WorkPackage.objects.values_list("pk", flat=True))
    response = client.post(url("bids:package_split", tender))
    assert any("confirmation" in text for text in message_texts(response))
    assert set(WorkPackage.objects.values_list("pk", flat=True)) == first_ids
    client.post(url("bids:package_split", tender), {"confirm": "1"})
    assert not set(WorkPackage.objects.values_list("pk", flat=True)) & first_ids


def test_merge_through_the_form(bid_manager: Any, split: Tender) -> None:
    lot = lot_of(split, "LOT-0001")
    ids = list(WorkPackage.objects.filter(lot=lot, name__in=["Drupal", "WordPress"]).values_list("pk", flat=True))
    response = client_for(bid_manager).post(url("bids:package_merge", split), {"packages": ids, "name": "Portails"})
    merged = WorkPackage.objects.get(lot=lot, name="Portails")
    assert response["Location"] == url("bids:package_detail", split, merged)
    # Posted again: both ids are gone or merged, a clear message, no 500.
    response = client_for(bid_manager).post(url("bids:package_merge", split), {"packages": ids, "name": "Portails"})
    assert response.status_code == 302
    assert any("rechargez" in text for text in message_texts(response))


def test_merge_with_bad_input_gives_a_message(bid_manager: Any, split: Tender) -> None:
    client = client_for(bid_manager)
    response = client.post(url("bids:package_merge", split), {"packages": ["abc"], "name": "x"})
    assert response.status_code == 302 and any("invalide" in text for text in message_texts(response))
    response = client.post(url("bids:package_merge", split), {"name": "x"})
    assert response.status_code == 302 and message_texts(response)


def test_detail_shows_lines_and_moves_them(bid_manager: Any, split: Tender) -> None:
    lot = lot_of(split, "LOT-0001")
    source = WorkPackage.objects.get(lot=lot, name="MariaDB")
    target = WorkPackage.objects.get(lot=lot, name="PostgreSQL")
    client = client_for(bid_manager)
    body = client.get(url("bids:package_detail", split, source)).content.decode()
    assert "MariaDB" in body and 'name="lines"' in body and f'value="{target.pk}"' in body
    line_ids = list(source.lines.values_list("pk", flat=True)[:2])
    response = client.post(url("bids:package_move", split, source), {"lines": line_ids, "target": target.pk})
    assert response.status_code == 302
    assert set(Line.objects.filter(pk__in=line_ids).values_list("work_package_id", flat=True)) == {target.pk}
    # Stale: the same lines posted again.
    response = client.post(url("bids:package_move", split, source), {"lines": line_ids, "target": target.pk})
    assert any("rechargez" in text for text in message_texts(response))


def test_move_to_another_lot_is_refused_with_a_message(bid_manager: Any, split: Tender) -> None:
    source = WorkPackage.objects.get(lot=lot_of(split, "LOT-0001"), name="QGIS")
    target = WorkPackage.objects.get(lot=lot_of(split, "LOT-0002"), name="QGIS")
    line_ids = list(source.lines.values_list("pk", flat=True)[:1])
    response = client_for(bid_manager).post(
        url("bids:package_move", split, source), {"lines": line_ids, "target": target.pk}
    )
    assert any("reste dans son lot" in text for text in message_texts(response))
    assert Line.objects.get(pk=line_ids[0]).work_package_id == source.pk


def test_divide_rename_requirements_and_rule(bid_manager: Any, split: Tender, cpv_codes: None) -> None:
    package = WorkPackage.objects.get(lot=lot_of(split, "LOT-0001"), name="Nextcloud")
    client = client_for(bid_manager)
    line_ids = list(package.lines.values_list("pk", flat=True)[:1])
    response = client.post(
        url("bids:package_divide", split, package), {"lines": line_ids, "name": "Nextcloud — formation"}
    )
    created = WorkPackage.objects.get(name="Nextcloud — formation")
    assert response["Location"] == url("bids:package_detail", split, created)
    client.post(url("bids:package_rename", split, created), {"name": "Formation Nextcloud"})
    created.refresh_from_db()
    assert created.name == "Formation Nextcloud"
    body = client.get(url("bids:package_detail", split, created)).content.decode()
    assert "requirements-form" in body and 'list="skill-names"' in body
    response = client.post(
        url("bids:package_requirements", split, created),
        {
            "rows": "3",
            "skill_0": "nextcloud",
            "weight_0": "8",
            "skill_1": "Thunderbird",
            "weight_1": "2",
            "cpv_codes": "72267000, 48000000",
        },
    )
    assert response.status_code == 302
    assert set(created.required_skills.values_list("skill__name", "weight", "inferred")) == {
        ("Nextcloud", 8, False),
        ("Thunderbird", 2, False),
    }
    created.refresh_from_db()
    assert created.cpv_codes == ["72267000", "48000000"]
    response = client.post(
        url("bids:package_requirements", split, created),
        {"rows": "1", "skill_0": "Logiciel inconnu", "weight_0": "3", "cpv_codes": ""},
    )
    assert any("Logiciel inconnu" in text for text in message_texts(response))
    assert created.required_skills.count() == 2
    response = client.post(
        url("bids:split_rule_new", split, created),
        {"pattern": "formation Nextcloud", "package_name": "Formation Nextcloud", "skill": "Nextcloud"},
    )
    rule = SplitRule.objects.get()
    assert (rule.pattern, rule.package_name, rule.skill and rule.skill.name) == (
        "formation Nextcloud",
        "Formation Nextcloud",
        "Nextcloud",
    )


def test_posting_to_a_deleted_package_gives_a_message(bid_manager: Any, split: Tender) -> None:
    package = WorkPackage.objects.filter(tender=split).first()
    assert package is not None
    target = url("bids:package_rename", split, package)
    package.delete()
    response = client_for(bid_manager).post(target, {"name": "Nouveau nom"})
    assert response["Location"] == reverse("bids:package_list", args=[split.pk])
    assert any("n'existe plus" in text for text in message_texts(response))


def test_tender_page_links_to_packages(bid_manager: Any, split: Tender) -> None:
    body = client_for(bid_manager).get(reverse("bids:tender_detail", args=[split.pk])).content.decode()
    assert reverse("bids:package_list", args=[split.pk]) in body
