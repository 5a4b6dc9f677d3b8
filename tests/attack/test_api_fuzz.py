"""The API fuzzed by schemathesis against its own OpenAPI schema (/api/schema/?format=json): no 5xx, ever.

Each operation of the schema gets schemathesis' examples, its coverage cases (boundaries, missing and wrong
types) and up to MAX_EXAMPLES generated cases, derandomized so that CI sees the same requests. They go
through the real WSGI application (middleware, CSRF and all), signed in as the bid manager, then as a
partner user: a session cookie, and the CSRF cookie and header for the writes. Every other case of an
operation aims at objects that exist (the ids of the world of tests/attack/world.py), so writes reach validation and
the services instead of stopping at a 404. The number of requests sent is printed in the summary.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.attack.conftest import FIGURES
from tests.attack.world import World, build_world

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))  # generated cases per operation and caller
SENT: Counter[str] = Counter()  # per operation, both callers
CSRF_SECRET = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuz1"  # a CSRF cookie secret: 32 letters and digits


@pytest.fixture
def world(personas: dict[str, Any], django_capture_on_commit_callbacks: Any) -> World:
    return build_world(personas, django_capture_on_commit_callbacks)


@pytest.fixture(params=["bid_manager", "partner_a"])
def caller(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def session_cookie(world: World, caller: str) -> str:
    browser = Client()
    browser.force_login(world.users[caller])
    return str(browser.cookies["sessionid"].value)


@pytest.fixture
def api_schema(world: World, caller: str) -> Iterator[Any]:
    """The schema the API serves to this caller, its operations called on the production WSGI handler.

    Inside the test's transaction the handler must not close the connection at the end of each request (that
    would end the transaction): like Django's test client, the fuzz unhooks `close_old_connections` meanwhile.
    """
    browser = Client()
    browser.force_login(world.users[caller])
    served = browser.get("/api/schema/", {"format": "json"})  # before the unhooking: the test client re-hooks
    assert served.status_code == 200
    loaded = schemathesis.openapi.from_dict(served.json())
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        loaded.app = WSGIHandler()
        yield loaded
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def known_ids(world: World) -> dict[str, int]:
    """The first path segment of an operation -> the id of an object of the world behind it."""
    market = world.ledger.market
    return {
        "firms": market.firm_a.pk,
        "skills": market.packages["PostgreSQL"].required_skills.first().skill_id,  # type: ignore[union-attr]
        "tenders": market.tender.pk,
        "work-packages": market.packages["PostgreSQL"].pk,
        "invitations": market.invitations["PostgreSQL"].pk,
        "contracts": world.ledger.contract.pk,
        "statements": market.firm_a.pk,
        "commitments": world.commitment.pk,
    }


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 renames the running test through `node._nodeid`, which pytest 9.2 no longer has."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_the_api_never_answers_a_server_error(case: Any, world: World, caller: str, session_cookie: str) -> None:
    SENT[case.operation.label] += 1
    if SENT[case.operation.label] % 2 and case.path_parameters:  # every other case, at a real object
        segment = case.path.strip("/").split("/")[1]
        case.path_parameters = dict.fromkeys(case.path_parameters, known_ids(world)[segment])
    response = case.call(
        cookies={"sessionid": session_cookie, "csrftoken": CSRF_SECRET}, headers={"X-CSRFToken": CSRF_SECRET}
    )
    FIGURES[f"api fuzz: requests sent as {caller}"] += 1
    FIGURES[f"api fuzz: {response.status_code} answers"] += 1
    case.validate_response(response, checks=[not_a_server_error])
