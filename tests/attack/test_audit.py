"""The audit trail: refused UPDATE (SQLite and PostgreSQL) and DELETE (PostgreSQL) in the database itself, a user
with a history that cannot be deleted (the admin says so, no 500), and an audit event behind every write
service of consortium, partners, bids and pricing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from consortium.models import AuditEvent
from consortium.services import record_event
from tests.attack.audit_graph import Graph, Key, service_modules
from tests.attack.conftest import FIGURES
from tests.conftest import make_user

TABLE = AuditEvent._meta.db_table


@pytest.fixture
def event(finance: Any) -> AuditEvent:
    return record_event(actor=finance, action="payment.recorded", obj=finance, amount_cents=12_345)


def refused(write: Callable[[], object]) -> None:
    """`write` fails in the database with the trigger's message, and the row is as it was."""
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        write()


def _raw(sql: str, *params: object) -> Callable[[], None]:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    return run


@pytest.mark.django_db
def test_update_is_refused_through_the_orm_and_raw_sql(event: AuditEvent, outsider: Any) -> None:
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(action="payment.cancelled"))
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(actor=outsider))
    event.details = {"amount_cents": 1}
    refused(event.save)
    refused(_raw(f"UPDATE {TABLE} SET details = %s WHERE id = %s", '{"amount_cents": 1}', event.pk))
    refused(_raw(f"UPDATE {TABLE} SET at = at"))
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.details) == ("payment.recorded", {"amount_cents": 12_345})
    assert stored.actor_id == event.actor_id


@pytest.mark.django_db
@pytest.mark.postgres
def test_delete_is_refused_through_the_orm_and_raw_sql_on_postgresql(event: AuditEvent) -> None:
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).delete())
    refused(AuditEvent.objects.get(pk=event.pk).delete)
    refused(_raw(f"DELETE FROM {TABLE} WHERE id = %s", event.pk))
    refused(_raw(f"DELETE FROM {TABLE}"))
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_appending_still_works(event: AuditEvent, finance: Any) -> None:
    record_event(actor=finance, action="payment.reversed", obj=finance)
    record_event(actor=None, action="sweep.ran")
    assert AuditEvent.objects.count() == 3


@pytest.fixture
def admin(db: None) -> Any:
    user = make_user("root", "admin")
    user.is_staff = user.is_superuser = True
    user.save()
    return user


@pytest.mark.django_db
def test_a_user_with_a_history_cannot_be_deleted(event: AuditEvent, finance: Any) -> None:
    with pytest.raises(ProtectedError), transaction.atomic():
        finance.delete()
    with pytest.raises(ProtectedError), transaction.atomic():
        get_user_model().objects.filter(pk=finance.pk).delete()
    assert get_user_model().objects.filter(pk=finance.pk).exists()
    assert AuditEvent.objects.filter(actor=finance).count() == 1


@pytest.mark.django_db
def test_the_admin_explains_instead_of_failing(event: AuditEvent, finance: Any, admin: Any) -> None:
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(admin)
    url = f"/admin/consortium/user/{finance.pk}/delete/"
    for response in (client.get(url), client.post(url, {"post": "yes"})):
        assert response.status_code == 200
        body = response.content.decode()
        assert "audit event" in body.lower() or "événement" in body.lower() or "auditevent" in body.lower()
    bulk = client.post(
        "/admin/consortium/user/", {"action": "delete_selected", "_selected_action": [finance.pk], "post": "yes"}
    )
    assert bulk.status_code == 200
    assert get_user_model().objects.filter(pk=finance.pk).exists()
    # a user without a history goes
    spare = make_user("spare", "partner")
    assert client.post(f"/admin/consortium/user/{spare.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not get_user_model().objects.filter(pk=spare.pk).exists()
    # and the trail itself cannot be edited or deleted from the admin
    assert client.get(f"/admin/consortium/auditevent/{event.pk}/delete/").status_code == 403
    assert client.post(f"/admin/consortium/auditevent/{event.pk}/change/", {"action": "x"}).status_code == 403


# ---------------------------------------------------------------- an audit event for every write service

# Public functions of the service modules that write nothing: helpers and checks. Verified below: none of them
# (nor what they call in the project) saves, updates, deletes, executes SQL or queues a task.
READ_ONLY: dict[str, set[str]] = {
    "consortium.services": {"cpv_level", "cpv_parent", "record_event"},  # record_event: the recorder itself
    "bids.services.imports": {"check_size"},
    "bids.services.jobs": {"stall_limit", "owned", "give_up_message"},  # `owned` is a queryset, for the caller
    "bids.services.invitations": {
        "safety_margin", "tender_deadline_of", "questions_deadline_of", "check_deadline", "default_deadline",
        "priced_lines", "candidate_chains",
    },
    "bids.services.packages": {"catalogue_index", "clean_cpv_codes"},
    "bids.services.tenders": {"lot_key"},
    "partners.services.api_writes": {"clean_departments"},
    "partners.services.network": {"check_partners"},  # the dry run of import_partners
    "partners.services.profile": {"profile_version"},
    "pricing.services.bank_accounts": {"masked_iban"},
    "pricing.services.commitments": {"free_project_slug"},
    "pricing.services.contracts": {"version_policy"},
    "pricing.services.payments": {"contract_base_cents", "last_payment_id"},
    "pricing.services.payouts": {"owed_to_firms"},
}  # fmt: skip
# Public functions that write, but only as a step of a service that records the event: verified below, every
# caller (up the chain of callers that do not record) is a function that records.
STEPS: dict[str, set[str]] = {
    "bids.services.imports": {"enqueue_import"},  # queues a job whose creation was recorded
    # A job's own bookkeeping (claim, heartbeat, fenced progress): the job's runner records its start and end.
    "bids.services.jobs": {"claim", "heartbeat", "still_owned"},
    "bids.services.offers": {"enqueue_rendering"},
    "bids.services.lines": {"insert_lines"},
    "bids.services.matching": {"enqueue_match", "insert_candidates"},
    "bids.services.packages": {"assign_lines", "refresh_packages"},
    "pricing.services.contracts": {"projects_of_packages"},  # upstream projects named on an invoice's shares
    "pricing.services.payments": {"post_payments"},
    "pricing.services.policy": {"copy_offer_policy"},  # through the consortium.offer_pricing port
}
# Services that reach their recorder through a port the call graph cannot follow: service -> the recorder.
THROUGH_PORT: dict[Key, Key] = {
    ("bids.services.offers", "set_policy"): ("pricing.services.policy", "set_offer_policy"),
}


@pytest.fixture(scope="module")
def graph() -> Graph:
    return Graph()


def _listed(table: dict[str, set[str]]) -> set[Key]:
    return {(module, name) for module, names in table.items() for name in names}


def test_every_write_service_records_an_audit_event(graph: Graph) -> None:
    exempt = _listed(READ_ONLY) | _listed(STEPS) | set(THROUGH_PORT)
    checked, missing = 0, []
    for module in service_modules():
        for function in graph.public_functions(module):
            if function.key in exempt:
                continue
            checked += 1
            if not graph.records(function.key):
                missing.append(f"{module}.{function.key[1]}")
    assert not missing, f"write services without record_event (or list them above, with the reason): {missing}"
    assert checked >= 60  # the scan found the services (71 when written)
    FIGURES["audit: write services recording an event"] = checked


def test_the_lists_above_hold(graph: Graph) -> None:
    public = {function.key for module in service_modules() for function in graph.public_functions(module)}
    listed = _listed(READ_ONLY) | _listed(STEPS) | set(THROUGH_PORT)
    assert listed <= public, f"listed but no longer a public service: {sorted(listed - public)}"
    writing = sorted(key for key in _listed(READ_ONLY) - {("consortium.services", "record_event")} if graph.writes(key))
    assert not writing, f"these write: they need record_event, not a place in READ_ONLY: {writing}"
    uncovered = {key: graph.only_called_by_recorders(key) for key in sorted(_listed(STEPS))}
    assert not any(uncovered.values()), f"steps called from code that records nothing: {uncovered}"
    for service, recorder in THROUGH_PORT.items():
        assert graph.records(recorder), recorder
        port_method = recorder[1].replace("offer_", "")
        assert port_method in graph.functions[service].attributes, (service, port_method)


def test_the_graph_sees_a_missing_event(graph: Graph) -> None:
    """The check can fail: a writer that records nothing is found as such."""
    assert graph.writes(("pricing.services.policy", "copy_offer_policy"))
    assert not graph.records(("pricing.services.policy", "copy_offer_policy"))
    assert graph.records(("pricing.services.policy", "set_offer_policy"))
    assert graph.records(("bids.services.imports", "import_file"))  # through save_tenders, in another module
