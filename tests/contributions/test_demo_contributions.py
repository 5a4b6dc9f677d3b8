"""The demo's upstream contributions: every status and kind of commitment, money only from what the funds hold,
the projects' public data and signals, a clean reconcile, and a second load_demo that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from consortium.models import AuditEvent

pytestmark = pytest.mark.django_db


def _snapshot() -> dict[str, Any]:
    from pricing.ledger_models import Entry, Posting
    from pricing.models import (
        Commitment,
        CommitmentDue,
        ContributionPayment,
        ProjectSignal,
        UpstreamProject,
        WorkDelivery,
    )
    from pricing.selectors.commitments import commitments_progress

    progress = commitments_progress(Commitment.objects.all())
    return {
        "commitments": sorted(
            Commitment.objects.values_list("pk", "kind", "project_id", "contract_id", "firm_id", "title")
        ),
        "statuses": sorted((pk, state.status, state.delivered) for pk, state in progress.items()),
        "dues": CommitmentDue.objects.count(),
        "payments": sorted(ContributionPayment.objects.values_list("pk", "amount_cents", "entry_id")),
        "work": sorted(WorkDelivery.objects.values_list("pk", "days")),
        "signals": sorted(ProjectSignal.objects.values_list("project_id", "observed_on", "active_contributors")),
        "projects": sorted(
            UpstreamProject.objects.values_list("pk", "repository_url", "licence", "funding_channel", "fiscal_host")
        ),
        "entries": Entry.objects.count(),
        "postings": Posting.objects.count(),
        "events": AuditEvent.objects.filter(action__startswith="commitment.").count()
        + AuditEvent.objects.filter(action__startswith="project.").count(),
    }


def test_the_demo_has_commitments_in_every_status_and_kind_and_loads_twice_alike() -> None:
    from pricing.commitment_rules import CommitmentStatus
    from pricing.models import Commitment, CommitmentKind, UpstreamProject
    from pricing.selectors.commitments import commitments_progress, fund_balance
    from pricing.selectors.reconcile import reconcile

    call_command("load_demo")
    commitments = list(Commitment.objects.select_related("firm", "project"))
    progress = commitments_progress(commitments)
    assert {state.status for state in progress.values()} == set(CommitmentStatus)
    assert {c.kind for c in commitments} == set(CommitmentKind)
    assert any(c.kind == CommitmentKind.LEVY and c.contract_id is not None and c.firm_id is None for c in commitments)
    assert any(c.contract_id is None for c in commitments)  # network-wide
    assert any(c.kind == CommitmentKind.AMOUNT and c.firm_id is None for c in commitments)
    assert any(c.kind == CommitmentKind.DAYS and c.firm_id is not None for c in commitments)
    assert all(state.delivered > 0 for state in progress.values())  # something paid or delivered on each

    for project_id in [None, *UpstreamProject.objects.values_list("pk", flat=True)]:
        assert fund_balance(project_id) >= 0, project_id  # the payments never took more than a fund held

    for commitment in commitments:
        for delivery in commitment.deliveries.all():
            assert "démonstration" in delivery.description
            assert all(link["kind"] == "change" for link in delivery.links)
            assert all(link["url"].startswith(commitment.project.repository_url + "/pull/") for link in delivery.links)

    completed = UpstreamProject.objects.exclude(repository_url="").exclude(licence="")
    assert completed.count() == UpstreamProject.objects.count() >= 4
    assert not UpstreamProject.objects.exclude(funding_manifest_url="").exists()  # none is known: none invented
    for project in completed:
        assert project.skills.exists() and project.funding_channel
        assert project.signals.values("observed_on").distinct().count() >= 3
    assert reconcile().ok

    first = _snapshot()
    call_command("load_demo")
    assert _snapshot() == first
    assert reconcile().ok

    # Every contribution page opens on the demo's data, for each role that may see it.
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    pages = [reverse("contributions:commitment_list"), reverse("transparency:index"), reverse("transparency:data_json")]
    pages += [reverse("contributions:commitment_detail", args=[c.pk]) for c in commitments]
    staff_pages = [reverse("contributions:project_list")]
    staff_pages += [reverse("contributions:project_detail", args=[p.slug]) for p in completed]
    for username in ("finance", "chargee", "alice", "bruno"):
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        for url in pages + (staff_pages if username in ("finance", "chargee") else []):
            assert client.get(url).status_code in (200, 404), (username, url)  # 404: another firm's commitment
    assert Client().get(reverse("transparency:index")).status_code == 200
