"""Task results: how a job's progress reaches users, who may read it, what it says; and what Celery keeps.

Background work (imports, matching, document rendering) reports progress on its own row, read back by the
pages through the `status.json` URLs they poll; no API endpoint exposes jobs. Each of those URLs has its row,
for every persona, in a permission matrix, and answers only figures and labels. Celery tasks keep no result
(no result backend, `ignore_result`), and what a task returns is counts and ids, never a price or a name.
"""

from __future__ import annotations

import datetime as dt
import inspect
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings

from consortium.celery import app
from tests.attack.world import ALL_ROWS, PERSONAS, World, build_world, url_patterns
from tests.conftest import client_for, make_user
from tests.invitations.conftest import MARKER_PRICE
from tests.ledger.conftest import SIGNED_ON

# The progress a page polls, and the page that polls it.
PROGRESS = {"bids:import_status": "bids:import_detail", "bids:match_status": "bids:match_overview",
            "bids:offer_status": "bids:offer_detail"}  # fmt: skip
PROGRESS_KEYS = {"run", "status", "status_label", "stage", "percent", "done", "total", "finished"}
OUR_APPS = ("consortium", "partners", "bids", "pricing")


@pytest.fixture
def world(personas: dict[str, Any], django_capture_on_commit_callbacks: Any) -> World:
    return build_world(personas, django_capture_on_commit_callbacks)


def test_every_progress_url_and_its_page_have_a_row_for_every_persona() -> None:
    polled = {pattern.name for pattern in url_patterns() if pattern.route.endswith("status.json")}
    assert polled == set(PROGRESS), "a new progress URL: add it to PROGRESS and to a permission matrix"
    api_routes = [pattern.route for pattern in url_patterns() if pattern.route.startswith("api/")]
    assert not [route for route in api_routes if "job" in route or "status" in route or "run" in route]
    for name in [*PROGRESS, *PROGRESS.values()]:
        assert set(ALL_ROWS[name]) == set(PERSONAS), name


@pytest.mark.django_db
def test_progress_answers_figures_and_labels_only(world: World) -> None:
    from tests.test_permissions import _url

    secrets = {"Firm A", "Firm B", "Firm C", str(MARKER_PRICE), "4 242,17", "4242,17"}
    read = 0
    for name in PROGRESS:
        url = _url(name, world.objects)
        for persona in PERSONAS:
            response = client_for(world.users.get(persona)).get(url)
            assert response.status_code == ALL_ROWS[name][persona], (name, persona)
            if response.status_code != 200:
                continue
            body = response.json()
            assert set(body) <= PROGRESS_KEYS, (name, set(body) - PROGRESS_KEYS)
            assert all(isinstance(value, bool | int | str) for value in body.values()), body
            text = response.content.decode("unicode_escape")
            assert not [secret for secret in secrets if secret in text], (name, persona, text)
            read += 1
    assert read >= 6
    stranger = make_user("partner-c", "partner", firm="Firm C")  # a partner of a firm outside the offer
    assert client_for(stranger).get(_url("bids:offer_status", world.objects)).status_code == 404


def _our_tasks() -> dict[str, Any]:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.split(".")[0] in OUR_APPS}


def test_celery_keeps_no_task_result() -> None:
    tasks = _our_tasks()
    expected = {"bids.tasks.run_import", "bids.tasks.run_match", "bids.tasks.render_offer", "pricing.tasks.run_payouts"}
    assert expected <= set(tasks)
    assert not getattr(settings, "CELERY_RESULT_BACKEND", None)
    assert type(app.backend).__name__ == "DisabledBackend"
    kept = sorted(name for name, task in tasks.items() if not task.ignore_result)
    assert not kept, f"tasks keeping their result: {kept}"


# A task that returns something: how to run it here. Its answer must be counts and ids only.
RUNS = {
    "bids.tasks.sweep": lambda world: (),
    "bids.tasks.sweep_jobs": lambda world: (),
    "pricing.tasks.remind_commitments": lambda world: (),
    "pricing.tasks.run_payouts": lambda world: ("attack-2", (SIGNED_ON + dt.timedelta(days=60)).isoformat(),
                                                world.users["finance"].pk),
}  # fmt: skip


def _counts_only(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and _counts_only(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(_counts_only(item) for item in value)
    return value is None or (isinstance(value, bool | int) and not isinstance(value, Decimal))


@pytest.mark.django_db
def test_what_a_task_returns_is_counts_and_ids(world: World) -> None:
    returning = {
        name: task
        for name, task in _our_tasks().items()
        if inspect.signature(task.run).return_annotation not in (None, "None", inspect.Signature.empty)
    }
    assert set(returning) == set(RUNS), "a task that returns something: add how to run it to RUNS"
    for name, task in sorted(returning.items()):
        result = task.apply(args=RUNS[name](world)).get()
        assert _counts_only(result), (name, result)
    answer = _our_tasks()["pricing.tasks.run_payouts"].apply(args=RUNS["pricing.tasks.run_payouts"](world)).get()
    assert set(answer) == {"batch", "created", "items"}
