"""The contribution API (pricing/contribution_api.py): who reaches which endpoint, the scoping of commitments
(partner B never sees firm A's, neither in the list nor by id), the progress figures equal to the selector's,
recording work (400 naming the field for every bad body, never a 500, nothing saved), and a list whose query
count does not grow with the number of commitments.

The clock is frozen on NOW, so each commitment's status is known: firm A's days commitment is overdue, firm
A's amount at risk, firm B's days on track, the guichet's levy on track and the guichet's amount fulfilled.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pricing import ledger
from pricing.models import Commitment, CommitmentKind, UpstreamProject, WorkDelivery
from pricing.selectors.commitments import commitments_progress
from pricing.services.commitments import (
    CommitmentInput,
    ContributionPaymentInput,
    create_commitment,
    record_contribution_payment,
    record_work,
)
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from tests.conftest import client_for, make_user
from tests.ledger.conftest import SIGNED_ON, LedgerContract

pytestmark = pytest.mark.django_db

NOW = dt.date(2026, 9, 15)
PERSONAS = ("bid_manager", "partner_a", "partner_b", "finance", "outsider", "anonymous")
ROLE_HOLDERS = {
    "bid_manager": 200,
    "partner_a": 200,
    "partner_b": 200,
    "finance": 200,
    "outsider": 403,
    "anonymous": 403,
}
FIRM_A_READ = {**ROLE_HOLDERS, "partner_b": 404}
# An empty body reaches validation (400) only for those who may record work on firm A's commitment.
FIRM_A_WORK = {**FIRM_A_READ, "bid_manager": 400, "partner_a": 400, "finance": 400}

# url name -> (method, expected status per persona); firm A's days commitment is the object.
# tests/api/test_api_permissions.py checks that every API URL has its row here or in another matrix.
CONTRIBUTION_API_MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "api-commitment-list": ("get", ROLE_HOLDERS),
    "api-commitment-detail": ("get", FIRM_A_READ),
    "api-commitment-deliveries": ("post", FIRM_A_WORK),
    "api-project-list": ("get", ROLE_HOLDERS),
}

LINK = "https://github.com/postgres/postgres/commit/1a2b3c4d"


def day(n: int) -> dt.date:
    return NOW + dt.timedelta(days=n)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(dt.datetime.combine(NOW, dt.time(12), tzinfo=dt.UTC), tick=False):
        yield


@dataclass
class World:
    contract: LedgerContract
    a_days: Commitment
    a_amount: Commitment
    b_days: Commitment
    levy: Commitment
    fulfilled: Commitment

    @property
    def firm_a(self) -> list[int]:
        return [self.a_days.pk, self.a_amount.pk]

    @property
    def everything(self) -> list[int]:
        return [self.a_days.pk, self.a_amount.pk, self.b_days.pk, self.levy.pk, self.fulfilled.pk]


def commit(contract: LedgerContract, project: UpstreamProject, kind: str, dues: list[Any], **fields: Any) -> Commitment:
    promise = sum(part for _on, part in dues) if kind != CommitmentKind.LEVY else None
    data = CommitmentInput(
        project_id=project.pk,
        kind=kind,
        title=fields.pop("title", f"{kind} pour {project.name}"),
        starts_on=fields.pop("starts_on", SIGNED_ON),
        ends_on=fields.pop("ends_on", day(200)),
        dues=dues,
        amount_cents=promise if kind == CommitmentKind.AMOUNT else None,
        days=promise if kind == CommitmentKind.DAYS else None,
        **fields,
    )
    return create_commitment(actor=contract.finance, data=data)


def build_world(contract: LedgerContract) -> World:
    finance = contract.finance
    invoice = issue_invoice(actor=finance, order=contract.order(), number="F-1", issued_on=SIGNED_ON + dt.timedelta(20))
    record_payment(
        actor=finance, payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(40), invoice.total_ttc_cents)
    )
    postgres = UpstreamProject.objects.get(name="PostgreSQL Global Development Group")
    nginx = UpstreamProject.objects.get(name="nginx")
    firm_a, firm_b = contract.market.firm_a.pk, contract.market.firm_b.pk
    on_contract = contract.contract.pk
    a_days = commitment = commit(
        contract, postgres, CommitmentKind.DAYS, [(day(-10), Decimal(1)), (day(60), Decimal(3))],
        contract_id=on_contract, firm_id=firm_a, title="Quatre jours sur la réplication",
    )  # fmt: skip
    record_work(
        actor=contract.market.partner_a, commitment=commitment, days=Decimal("0.5"), delivered_on=day(-20),
        description="Revue de correctifs", links=[LINK, "https://github.com/postgres/postgres/issues/12"],
    )  # fmt: skip
    a_amount = commit(contract, nginx, CommitmentKind.AMOUNT, [(day(5), 100_000)], firm_id=firm_a)
    record_contribution_payment(
        actor=finance, commitment=a_amount,
        payment=ContributionPaymentInput(20_000, day(-3), "VIR-A-1", "firm", "https://opencollective.com/nginx/t/1"),
    )  # fmt: skip
    b_days = commit(
        contract, nginx, CommitmentKind.DAYS, [(day(60), Decimal(2))], contract_id=on_contract, firm_id=firm_b
    )
    levy = commit(
        contract, postgres, CommitmentKind.LEVY, [(day(130), None)], contract_id=on_contract, ends_on=day(100)
    )
    fulfilled = commit(contract, nginx, CommitmentKind.AMOUNT, [(day(-5), 5_000)], contract_id=on_contract)
    record_contribution_payment(
        actor=finance, commitment=fulfilled, payment=ContributionPaymentInput(5_000, day(-6), "VIR-G-1", "fee")
    )
    return World(contract, a_days, a_amount, b_days, levy, fulfilled)


@pytest.fixture
def world(ledger_contract: LedgerContract) -> World:
    return build_world(ledger_contract)


def items(user: Any, query: str = "") -> list[dict[str, Any]]:
    response = client_for(user).get(reverse("api-commitment-list") + query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"])
    return list(body["results"])


def ids(user: Any, query: str = "") -> list[int]:
    return [item["id"] for item in items(user, query)]


def _url(name: str, world: World) -> str:
    if name in ("api-commitment-detail", "api-commitment-deliveries"):
        return reverse(name, args=[world.a_days.pk])
    return reverse(name)


def _call(client: Any, method: str, url: str) -> Any:
    if method == "post":
        return client.post(url, data={}, content_type="application/json")
    return client.get(url)


# who reaches what -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONTRIBUTION_API_MATRIX)
def test_matrix(name: str, personas: dict[str, Any], world: World) -> None:
    method, expected = CONTRIBUTION_API_MATRIX[name]
    url = _url(name, world)
    deliveries = WorkDelivery.objects.count()
    seen = {persona: _call(client_for(personas[persona]), method, url).status_code for persona in PERSONAS}
    assert seen == expected
    assert WorkDelivery.objects.count() == deliveries  # empty bodies record nothing


def test_admin_reaches_everything(world: World) -> None:
    client = client_for(make_user("admin", "admin"))
    for name, (method, _expected) in CONTRIBUTION_API_MATRIX.items():
        assert _call(client, method, _url(name, world)).status_code == (200 if method == "get" else 400), name


def test_each_caller_sees_its_own_commitments(personas: dict[str, Any], world: World) -> None:
    assert sorted(ids(personas["finance"])) == sorted(world.everything)
    assert sorted(ids(personas["bid_manager"])) == sorted(world.everything)
    assert sorted(ids(personas["partner_a"])) == sorted(world.firm_a)
    assert ids(personas["partner_b"]) == [world.b_days.pk]


def test_partner_b_never_reaches_firm_a_s_commitment(personas: dict[str, Any], world: World) -> None:
    client = client_for(personas["partner_b"])
    for commitment in (world.a_days, world.a_amount, world.levy, world.fulfilled):
        assert client.get(reverse("api-commitment-detail", args=[commitment.pk])).status_code == 404
        response = client.post(
            reverse("api-commitment-deliveries", args=[commitment.pk]),
            data={"days": "1", "delivered_on": str(day(-1)), "description": "x", "links": [LINK]},
            content_type="application/json",
        )
        assert response.status_code == 404
    listed = json.dumps(items(personas["partner_b"]))
    assert "Firm A" not in listed and "réplication" not in listed and "VIR-A-1" not in listed
    assert ids(personas["partner_b"], "?project=postgresql-global-development-group") == []
    assert WorkDelivery.objects.count() == 1


def test_partner_a_may_not_record_work_on_firm_b_s_or_the_guichet_s(personas: dict[str, Any], world: World) -> None:
    client = client_for(personas["partner_a"])
    for commitment in (world.b_days, world.levy):
        response = client.post(reverse("api-commitment-deliveries", args=[commitment.pk]), data={})
        assert response.status_code == 404


@pytest.mark.parametrize("url", ["/api/commitments/999999/", "/api/commitments/99999999999999999999999/"])
def test_unknown_commitment_is_json_404(finance: Any, url: str) -> None:
    response = client_for(finance).get(url)
    assert response.status_code == 404
    assert "detail" in response.json()


# the figures ------------------------------------------------------------------------------------------------


def as_text(value: int | Decimal, in_days: bool) -> str:
    return f"{Decimal(value):.2f}" if in_days else f"{Decimal(value) / 100:.2f}"


def test_the_figures_are_the_selector_s(finance: Any, world: World) -> None:
    listed = {item["id"]: item for item in items(finance)}
    progress = commitments_progress(Commitment.objects.all(), today=NOW)
    for pk, item in listed.items():
        figures = progress[pk]
        for field in ("promised", "accrued", "delivered", "outstanding", "left_to_deliver"):
            assert item[field] == as_text(getattr(figures, field), figures.in_days), (pk, field)
        assert item["status"] == figures.status
        assert item["next_due"] == (figures.next_due.isoformat() if figures.next_due else None)
        assert item["currency"] == (None if figures.in_days else "EUR")
    levy_cents = -ledger.balance([ledger.fund(world.levy.project_id)])
    assert levy_cents > 0
    assert {
        pk: (item["status"], item["promised"], item["accrued"], item["delivered"]) for pk, item in listed.items()
    } == {
        world.a_days.pk: ("overdue", "4.00", "1.00", "0.50"),
        world.a_amount.pk: ("at_risk", "1000.00", "0.00", "200.00"),
        world.b_days.pk: ("on_track", "2.00", "0.00", "0.00"),
        world.levy.pk: ("on_track", f"{Decimal(levy_cents) / 100:.2f}", f"{Decimal(levy_cents) / 100:.2f}", "0.00"),
        world.fulfilled.pk: ("fulfilled", "50.00", "50.00", "50.00"),
    }
    assert listed[world.a_days.pk]["outstanding"] == "0.50"
    assert listed[world.a_days.pk]["next_due"] == day(60).isoformat()  # the next one to come, the missed one apart
    assert listed[world.a_days.pk]["status_label"] == "en retard"
    assert listed[world.a_amount.pk]["contract"] is None  # network-wide
    assert listed[world.levy.pk]["firm"] is None  # the guichet's
    assert listed[world.a_days.pk]["firm"] == {"id": world.contract.market.firm_a.pk, "name": "Firm A"}
    assert listed[world.a_days.pk]["project"]["slug"] == "postgresql-global-development-group"
    for item in listed.values():  # figures are strings, never floats
        assert all(isinstance(item[field], str) for field in ("promised", "accrued", "delivered", "outstanding"))


def test_the_detail_has_dues_payments_and_deliveries(partner_a: Any, world: World) -> None:
    response = client_for(partner_a).get(reverse("api-commitment-detail", args=[world.a_days.pk]))
    assert response.status_code == 200
    body = response.json()
    assert body["dues"] == [
        {"due_on": day(-10).isoformat(), "expected": "1.00", "met": False},
        {"due_on": day(60).isoformat(), "expected": "4.00", "met": False},
    ]
    assert body["payments"] == []
    [delivery] = body["deliveries"]
    assert (delivery["days"], delivery["delivered_on"], delivery["description"]) == (
        "0.50",
        day(-20).isoformat(),
        "Revue de correctifs",
    )
    assert delivery["links"] == [
        {"url": LINK, "kind": "change"},
        {"url": "https://github.com/postgres/postgres/issues/12", "kind": "issue"},
    ]
    money = client_for(partner_a).get(reverse("api-commitment-detail", args=[world.a_amount.pk])).json()
    [payment] = money["payments"]
    assert {k: payment[k] for k in ("amount", "currency", "source", "reference", "reversed_at")} == {
        "amount": "200.00", "currency": "EUR", "source": "firm", "reference": "VIR-A-1", "reversed_at": None,
    }  # fmt: skip
    assert money["dues"] == [{"due_on": day(5).isoformat(), "expected": "1000.00", "met": False}]


def test_filters(finance: Any, world: World) -> None:
    assert ids(finance, "?status=overdue") == [world.a_days.pk]
    assert ids(finance, "?status=at_risk") == [world.a_amount.pk]
    assert sorted(ids(finance, "?status=on_track")) == sorted([world.b_days.pk, world.levy.pk])
    assert ids(finance, "?status=fulfilled") == [world.fulfilled.pk]
    assert sorted(ids(finance, "?project=nginx")) == sorted([world.a_amount.pk, world.b_days.pk, world.fulfilled.pk])
    assert ids(finance, "?project=nginx&status=at_risk") == [world.a_amount.pk]
    assert ids(finance, "?project=unknown") == []
    assert sorted(ids(finance, "?status=&project=")) == sorted(world.everything)
    client = client_for(finance)
    for query in ("?status=late", "?project=not a slug", "?project=" + "a" * 201):
        response = client.get(reverse("api-commitment-list") + query)
        assert response.status_code == 400, query
        assert response.json()


# recording work ---------------------------------------------------------------------------------------------


def post_work(user: Any, commitment: Commitment, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client_for(user).post(
        reverse("api-commitment-deliveries", args=[commitment.pk]), data=data, content_type="application/json", **extra
    )


def test_recording_work(partner_a: Any, world: World) -> None:
    body = {
        "days": 0.5,  # a JSON number is read as an exact decimal
        "delivered_on": NOW.isoformat(),
        "description": "Correctif fusionné",
        "links": ["https://github.com/postgres/postgres/pull/77", "https://pypi.org/project/psycopg/3.2.1/"],
    }
    response = post_work(partner_a, world.a_days, body)
    assert response.status_code == 201, response.content
    answer = response.json()
    assert (answer["id"], answer["delivered"], answer["status"]) == (world.a_days.pk, "1.00", "on_track")
    assert answer["deliveries"][-1]["links"] == [
        {"url": "https://github.com/postgres/postgres/pull/77", "kind": "change"},
        {"url": "https://pypi.org/project/psycopg/3.2.1/", "kind": "release"},
    ]
    saved = WorkDelivery.objects.get(pk=answer["deliveries"][-1]["id"])
    assert (saved.days, saved.created_by) == (Decimal("0.50"), partner_a)


def test_staff_record_work_for_a_firm(bid_manager: Any, world: World) -> None:
    body = {"days": "2", "delivered_on": NOW.isoformat(), "description": "Module", "links": [LINK]}
    assert post_work(bid_manager, world.b_days, body).status_code == 201


GOOD = {"days": "1.5", "description": "Travail", "links": [LINK]}
TOO_LONG = "https://github.com/a/b/pull/" + "1" * 600


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "days"),
        ({**GOOD, "days": "abc"}, "days"),
        ({**GOOD, "days": "NaN"}, "days"),
        ({**GOOD, "days": "Infinity"}, "days"),
        ({**GOOD, "days": "1e400"}, "days"),
        ({**GOOD, "days": "0"}, "days"),
        ({**GOOD, "days": "-1"}, "days"),
        ({**GOOD, "days": "0.001"}, "days"),
        ({**GOOD, "days": "1000.01"}, "days"),
        ({**GOOD, "days": True}, "days"),
        ({**GOOD, "days": [1]}, "days"),
        ({**GOOD, "delivered_on": "2026-02-30"}, "delivered_on"),
        ({**GOOD, "delivered_on": "demain"}, "delivered_on"),
        ({**GOOD, "delivered_on": "FUTURE"}, "delivered_on"),
        ({**GOOD, "delivered_on": "BEFORE"}, "delivered_on"),
        ({**GOOD, "description": ""}, "description"),
        ({**GOOD, "description": "   "}, "description"),
        ({**GOOD, "description": "x" * 10_001}, "description"),
        ({**GOOD, "description": None}, "description"),
        ({**GOOD, "links": []}, "links"),
        ({**GOOD, "links": "https://github.com/a/b/pull/1"}, "links"),
        ({**GOOD, "links": [""]}, "links"),
        ({**GOOD, "links": [12]}, "links"),
        ({**GOOD, "links": [{"url": LINK}]}, "links"),
        ({**GOOD, "links": ["http://github.com/a/b/pull/1"]}, "links"),
        ({**GOOD, "links": ["javascript:alert(1)"]}, "links"),
        ({**GOOD, "links": ["https://[::1/pull/1"]}, "links"),
        ({**GOOD, "links": ["https://github.com/a"]}, "links"),
        ({**GOOD, "links": [TOO_LONG]}, "links"),
        ({**GOOD, "links": [f"https://github.com/a/b/pull/{n}" for n in range(21)]}, "links"),
        ({**GOOD, "links": [f"https://github.com/a/b/pull/{n}" for n in range(500)]}, "links"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(partner_a: Any, world: World, body: dict[str, Any], field: str) -> None:
    dates = {"FUTURE": day(1).isoformat(), "BEFORE": (SIGNED_ON - dt.timedelta(days=1)).isoformat()}
    body = {"delivered_on": NOW.isoformat(), **body}
    if body.get("delivered_on") in dates:
        body["delivered_on"] = dates[body["delivered_on"]]
    response = post_work(partner_a, world.a_days, body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["detail"]
    assert any(error.startswith(field) for error in answer["errors"]), answer
    assert WorkDelivery.objects.count() == 1


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b'"text"', b"null", b'{"days": NaN}', b"[" * 5000, b'{"a": "' + b"x" * 70_000 + b'"}'],
)
def test_malformed_bodies_are_400(partner_a: Any, world: World, raw: bytes) -> None:
    response = post_work(partner_a, world.a_days, raw)
    assert response.status_code == 400, raw[:20]
    assert "detail" in response.json()
    assert WorkDelivery.objects.count() == 1


def test_a_form_post_is_refused_without_a_500(partner_a: Any, world: World) -> None:
    response = client_for(partner_a).post(reverse("api-commitment-deliveries", args=[world.a_days.pk]), data=GOOD)
    assert response.status_code == 415
    assert WorkDelivery.objects.count() == 1


def test_work_on_a_money_commitment_is_refused(finance: Any, world: World) -> None:
    body = {**GOOD, "delivered_on": NOW.isoformat()}
    response = post_work(finance, world.a_amount, body)
    assert response.status_code == 400
    assert "versement" in response.json()["errors"][0]
    assert WorkDelivery.objects.count() == 1


def test_reads_refuse_writes(finance: Any, world: World) -> None:
    client = client_for(finance)
    assert client.post(reverse("api-commitment-list"), data={}, content_type="application/json").status_code == 405
    detail = reverse("api-commitment-detail", args=[world.a_days.pk])
    assert client.patch(detail, data={}, content_type="application/json").status_code == 405
    assert client.delete(detail).status_code == 405
    assert client.get(reverse("api-commitment-deliveries", args=[world.a_days.pk])).status_code == 405
    assert client.post(reverse("api-project-list"), data={}, content_type="application/json").status_code == 405


# query count ------------------------------------------------------------------------------------------------


def list_queries(user: Any, query: str = "") -> int:
    client = client_for(user)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("api-commitment-list") + query).status_code == 200
    return len(captured)


@pytest.mark.parametrize("query", ["", "?status=on_track", "?project=nginx"])
def test_the_list_does_not_grow_with_the_commitments(finance: Any, partner_a: Any, world: World, query: str) -> None:
    before = {user: list_queries(user, query) for user in (finance, partner_a)}
    contract = world.contract
    firm_a = contract.market.firm_a.pk
    for n in range(3):
        project = UpstreamProject.objects.create(name=f"Projet {n}", slug=f"projet-{n}")
        commit(contract, project, CommitmentKind.DAYS, [(day(30), Decimal(1))], firm_id=firm_a)
        commit(contract, project, CommitmentKind.AMOUNT, [(day(30), 1_000), (day(40), 2_000)], firm_id=firm_a)
        commit(contract, project, CommitmentKind.LEVY, [(day(300), None)], contract_id=contract.contract.pk)
    nginx = UpstreamProject.objects.get(slug="nginx")
    commit(contract, nginx, CommitmentKind.DAYS, [(day(30), Decimal(1))], firm_id=firm_a)
    assert Commitment.objects.count() == 15
    assert {user: list_queries(user, query) for user in (finance, partner_a)} == before


# projects ---------------------------------------------------------------------------------------------------


def test_projects_show_public_fields_only(partner_b: Any, world: World) -> None:
    UpstreamProject.objects.filter(slug="nginx").update(
        repository_url="https://github.com/nginx/nginx",
        licence="BSD-2-Clause",
        funding_channel="company",
        funding_url="https://nginx.org/donate",
    )
    response = client_for(partner_b).get(reverse("api-project-list"))
    assert response.status_code == 200
    projects = {item["slug"]: item for item in response.json()["results"]}
    assert set(projects) == {"nginx", "postgresql-global-development-group"}
    assert set(projects["nginx"]) == {
        "id", "name", "slug", "description", "repository_url", "licence", "funding_manifest_url",
        "funding_channel", "fiscal_host", "funding_url",
    }  # fmt: skip
    assert (projects["nginx"]["licence"], projects["nginx"]["funding_channel"]) == ("BSD-2-Clause", "company")
    text = response.content.decode()
    assert "VIR-" not in text and "Firm" not in text and "200.00" not in text


@pytest.mark.parametrize("persona", ["finance", "partner_a"])
def test_browsable_api_renders(personas: dict[str, Any], world: World, persona: str) -> None:
    client = client_for(personas[persona])
    for name in CONTRIBUTION_API_MATRIX:
        response = client.get(_url(name, world), HTTP_ACCEPT="text/html")
        assert response.status_code == (405 if name == "api-commitment-deliveries" else 200), name
        assert response["Content-Type"].startswith("text/html")
