"""The match service: candidates stored with their reasons, the assignment within capacities, exclusions and
adjustments, the queued run, and a number of queries that does not grow with the tender."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bids.matching import candidates as candidates_module
from bids.matching.scoring import WEIGHTS
from bids.models import Assignment, AssignmentStatus, JobStatus, Line, MatchCandidate, MatchRun, TenderExclusion
from bids.selectors.matching import match_payload
from bids.services.matching import (
    MatchRefused,
    adjust_assignment,
    create_match_run,
    exclude_firm,
    include_firm,
    run_match,
    run_match_job,
)
from consortium.models import AuditEvent

from .conftest import Network, component, make_tender

pytestmark = pytest.mark.django_db


def small_network(network: Network) -> Network:
    network.firm("Maintainers", skills={"PostgreSQL": (5, "https://example.org/mr/1"), "Python": 3}, days_per_month=2)
    network.firm("Integrators", skills={"PostgreSQL": 2}, days_per_month=10, region="76")
    network.firm("Experts", skills={"PostgreSQL": 3, "Python": 3}, days_per_month=10, references=[["72267000"]])
    network.package("Support PostgreSQL", skills={"PostgreSQL": 8, "Python": 2}, days="20")
    network.package("Support PostgreSQL 2", skills={"PostgreSQL": 5}, days="20")
    network.package("Support Fortran", skills={"Fortran": 5}, days="5")
    return network


def test_run_stores_ranked_explained_candidates_and_an_assignment_within_capacity(network: Network) -> None:
    small_network(network)
    run = run_match(actor=None, tender=network.tender)
    assert run.status == JobStatus.SUCCEEDED
    assert run.counts["packages"] == 3 and run.counts["assigned"] == 2 and run.counts["unassigned"] == 1
    first = network.packages["Support PostgreSQL"]
    ranked = list(MatchCandidate.objects.filter(run=run, package=first).order_by("rank"))
    assert [c.rank for c in ranked] == [1, 2, 3]
    assert [c.firm.name for c in ranked] == ["Maintainers", "Experts", "Integrators"]
    for candidate in ranked:
        assert sum(Decimal(str(part["points"])) for part in candidate.components) == candidate.score
        assert [part["key"] for part in candidate.components] == list(WEIGHTS)
    assert component(ranked[0].components, "skills")["text"] == (
        "PostgreSQL : mainteneur (preuve fournie), Python : expert"
    )
    assert component(ranked[0].components, "region")["text"] == "même région que l'acheteur (Île-de-France)"
    # Maintainers have 24 free days: one 20-day package only, the one where they beat Experts by most
    # (PostgreSQL alone: 0.9 against 0.55; with Python the gap is 0.83 against 0.55).
    leads = {a.package.name: a.lead.name if a.lead else None for a in Assignment.objects.select_related("lead")}
    assert leads == {"Support PostgreSQL": "Experts", "Support PostgreSQL 2": "Maintainers", "Support Fortran": None}
    fortran = Assignment.objects.get(package=network.packages["Support Fortran"])
    assert fortran.unassigned_reason == "aucune entreprise n'a la compétence Fortran"
    first_assignment = Assignment.objects.get(package=first)
    assert first_assignment.backup.name == "Integrators"  # ranked above, Maintainers have only 4 days left
    assert first_assignment.lead_days == Decimal("20.0")
    assert run.solver["status"] == "optimal" and run.solver["gap"] == 0
    assert AuditEvent.objects.filter(action="match.succeeded").count() == 1


def test_capacity_is_never_exceeded_and_other_tenders_count(network: Network) -> None:
    network.firm("Solo", skills={"PostgreSQL": 5}, days_per_month=1)  # 12 days over the period
    network.package("A", skills={"PostgreSQL": 5}, days="8")
    network.package("B", skills={"PostgreSQL": 5}, days="8")
    run_match(actor=None, tender=network.tender)
    assert Assignment.objects.filter(lead__isnull=False).count() == 1
    unassigned = Assignment.objects.get(lead__isnull=True)
    assert unassigned.unassigned_reason == "capacité insuffisante chez la seule candidate"
    # The same firm already leads 8 days elsewhere: nothing fits any more here.
    other, lot = make_tender("Autre", "match-2")
    busy = Network(other, lot, skills=network.skills)
    busy.package("C", skills={"PostgreSQL": 5}, days="8")
    run_match(actor=None, tender=other)
    assert Assignment.objects.get(package=busy.packages["C"]).lead is None


def test_exclusions_remove_candidates_with_their_reason(network: Network, bid_manager: Any) -> None:
    small_network(network)
    run_match(actor=bid_manager, tender=network.tender)
    maintainers = network.firms["Maintainers"]
    exclude_firm(
        actor=bid_manager, tender=network.tender, firm=maintainers, kind="competing", reason="Groupement Concurrent SA"
    )
    cleared = Assignment.objects.get(package=network.packages["Support PostgreSQL 2"])
    assert cleared.lead is None and "écartée" in cleared.unassigned_reason
    run = run_match(actor=bid_manager, tender=network.tender)
    assert not MatchCandidate.objects.filter(run=run, firm=maintainers).exists()
    payload = match_payload(network.tender, run)
    assert payload["excluded"] == [
        {"firm": "Maintainers", "firm_id": maintainers.pk, "kind": "competing", "reason": "Groupement Concurrent SA"}
    ]
    for firm in ("Integrators", "Experts"):
        exclude_firm(actor=bid_manager, tender=network.tender, firm=network.firms[firm])
    run_match(actor=bid_manager, tender=network.tender)
    reason = Assignment.objects.get(package=network.packages["Support PostgreSQL 2"]).unassigned_reason
    assert reason == "toutes les candidates sont écartées (3)"
    assert include_firm(actor=bid_manager, tender=network.tender, firm=maintainers)
    assert not include_firm(actor=bid_manager, tender=network.tender, firm=maintainers)
    assert TenderExclusion.objects.count() == 2
    with pytest.raises(MatchRefused):
        exclude_firm(actor=bid_manager, tender=network.tender, firm=maintainers, kind="nonsense")


def test_adjusted_assignment_is_kept_while_its_lead_stays_a_candidate(network: Network, bid_manager: Any) -> None:
    small_network(network)
    run_match(actor=bid_manager, tender=network.tender)
    package = network.packages["Support PostgreSQL"]
    adjusted = adjust_assignment(
        actor=bid_manager, package=package, lead=network.firms["Integrators"], backup=network.firms["Experts"]
    )
    assert adjusted.assignment.status == AssignmentStatus.ADJUSTED and adjusted.warnings == []
    run = run_match(actor=bid_manager, tender=network.tender)
    kept = Assignment.objects.get(package=package)
    assert (kept.lead.name, kept.status, kept.run_id) == ("Integrators", AssignmentStatus.ADJUSTED, run.pk)
    assert run.counts["kept_adjustments"] == 1
    # Its lead no longer holds the skill: the next run replaces the adjustment by a proposal.
    network.firms["Integrators"].skills.all().delete()
    run = run_match(actor=bid_manager, tender=network.tender)
    replaced = Assignment.objects.get(package=package)
    assert replaced.status == AssignmentStatus.PROPOSED and replaced.lead.name != "Integrators"
    assert run.counts["replaced_adjustments"] == 1


def test_adjustment_refuses_excluded_firms_and_warns_over_capacity(network: Network, bid_manager: Any) -> None:
    small_network(network)
    run_match(actor=bid_manager, tender=network.tender)
    maintainers = network.firms["Maintainers"]
    adjusted = adjust_assignment(actor=bid_manager, package=network.packages["Support PostgreSQL"], lead=maintainers)
    assert adjusted.warnings == ["Maintainers dépasse sa capacité : 40.0 j retenus pour 24.0 j libres."]
    with pytest.raises(MatchRefused, match="différente"):
        adjust_assignment(
            actor=bid_manager, package=network.packages["Support PostgreSQL 2"], lead=maintainers, backup=maintainers
        )
    exclude_firm(actor=bid_manager, tender=network.tender, firm=maintainers, reason="conflit d'intérêts")
    with pytest.raises(MatchRefused, match="conflit d'intérêts"):
        adjust_assignment(actor=bid_manager, package=network.packages["Support PostgreSQL"], lead=maintainers)


def test_queued_run_goes_through_the_task(
    network: Network, bid_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    small_network(network)
    with django_capture_on_commit_callbacks(execute=True):
        run = create_match_run(actor=bid_manager, tender=network.tender)
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED and run.percent == 100
    assert run_match_job(run_id=run.pk) == run  # finished: left alone
    assert MatchCandidate.objects.filter(run=run).count() == 6  # 3 + 3; nobody knows Fortran


def test_a_failing_run_ends_failed_with_its_error(
    network: Network, bid_manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_network(network)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disque plein")

    monkeypatch.setattr("bids.services.matching.load_match_input", broken)
    run = MatchRun.objects.create(tender=network.tender, created_by=bid_manager)
    run_match_job(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED
    assert run.errors == [{"where": "rapprochement", "message": "disque plein"}]


def test_queries_do_not_grow_with_the_tender(network: Network) -> None:
    def queries_for(packages: int, tender_name: str) -> int:
        tender, lot = make_tender(tender_name, tender_name)
        local = Network(tender, lot, skills=network.skills, firms=network.firms)
        for n in range(packages):
            local.package(f"P{n}", skills={"PostgreSQL": 5, "Python": 1}, days="1")
        with CaptureQueriesContext(connection) as captured:
            run_match(actor=None, tender=tender)
        return len(captured)

    for n in range(6):
        network.firm(f"Firm {n}", skills={"PostgreSQL": 2 + n % 4, "Python": 3}, days_per_month=5)
    assert queries_for(2, "q1") == queries_for(12, "q2")


def test_candidate_limits(network: Network, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(candidates_module, "SOLVER_CANDIDATES", 3)
    monkeypatch.setattr("bids.services.matching.STORED_CANDIDATES", 2)
    for n in range(5):
        network.firm(f"Firm {n}", skills={"PostgreSQL": (1 + n, "https://example.org/mr/1")}, days_per_month=5)
    network.package("P", skills={"PostgreSQL": 5}, days="1")
    run = run_match(actor=None, tender=network.tender)
    stored = list(MatchCandidate.objects.filter(run=run).order_by("rank").values_list("firm__name", "rank"))
    assert stored == [("Firm 4", 1), ("Firm 3", 2)]


def test_split_first_when_the_tender_has_no_packages(network: Network) -> None:
    network.firm("Maintainers", skills={"PostgreSQL": (5, "https://example.org/mr/1")}, days_per_month=20)
    Line.objects.create(
        tender=network.tender, lot=network.lot, position=0, origin="schedule", designation="Support PostgreSQL 16"
    )
    run = run_match(actor=None, tender=network.tender)
    assert run.status == JobStatus.SUCCEEDED
    assert run.counts["packages"] >= 1
    payload = match_payload(network.tender, run)
    assert any(package["assigned"] == "Maintainers" for package in payload["packages"])
