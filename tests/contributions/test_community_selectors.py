"""The community selectors: who supports a project (through both skill links), the score's inputs as of a date,
its history, and query counts that do not grow with the number of projects."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.models import FirmSkill, PartnerFirm, Skill, SkillLevel
from pricing import ledger
from pricing.models import (
    Commitment,
    CommitmentKind,
    ContributionPayment,
    Entry,
    EntryKind,
    PaymentSource,
    ProjectSignal,
    UpstreamProject,
)
from pricing.selectors.community import (
    month_ends,
    project_scores,
    project_support,
    score_history,
    score_inputs,
    year_before,
)
from pricing.services.commitments import (
    CommitmentInput,
    ProjectInput,
    SignalInput,
    create_commitment,
    record_signals,
    record_work,
    save_project,
)
from tests.ledger.conftest import SIGNED_ON, LedgerContract

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 6, 15)
LINK = ["https://github.com/example/project/pull/1"]


def skill(name: str, upstream: str = "") -> Skill:
    return Skill.objects.create(name=name, slug=name.lower().replace(" ", "-"), upstream_project=upstream)


def firm(name: str, **levels: Any) -> PartnerFirm:
    made = PartnerFirm.objects.create(name=name)
    for skill_obj, level in levels.values():
        FirmSkill.objects.create(firm=made, skill=skill_obj, level=level)
    return made


def project(name: str, skills: tuple[Skill, ...] = ()) -> UpstreamProject:
    return save_project(actor=None, data=ProjectInput(name=name, skill_ids=[s.pk for s in skills]))


def commitment(project_obj: UpstreamProject, kind: str, *, contract_id: int | None = None) -> Commitment:
    starts, ends = dt.date(2024, 1, 1), dt.date(2027, 12, 31)
    if kind == CommitmentKind.DAYS:
        extra: dict[str, Any] = {"days": Decimal(500), "dues": [(ends, Decimal(500))]}
    else:
        extra = {"amount_cents": 10**9, "dues": [(ends, 10**9)]}
    return create_commitment(
        actor=None,
        data=CommitmentInput(
            project_id=project_obj.pk, kind=kind, title=f"{kind} {project_obj.name}", starts_on=starts,
            ends_on=ends, contract_id=contract_id, **extra,
        ),
    )  # fmt: skip


def paid(commitment_obj: Commitment, cents: int, on: dt.date, *, reversed_: bool = False) -> ContributionPayment:
    """A payment to the project as the selectors read it (the ledger side is tested with the service)."""
    draft = ledger.EntryDraft(kind=EntryKind.CONTRIBUTION, key=f"test:{commitment_obj.pk}:{on}:{cents}", posted_on=on)
    draft.add(ledger.fund(commitment_obj.project_id), cents)
    draft.add(ledger.BANK, -cents)  # balanced: PostgreSQL checks every entry at commit
    ledger.post_entries([draft])
    entry = Entry.objects.get(key=draft.key)
    return ContributionPayment.objects.create(
        commitment=commitment_obj, entry=entry, source=PaymentSource.FUND, amount_cents=cents, paid_on=on,
        reference=f"VIR-{on}-{cents}", reversed_at=timezone.now() if reversed_ else None,
    )  # fmt: skip


def worked(commitment_obj: Commitment, days: str, on: dt.date) -> None:
    record_work(actor=None, commitment=commitment_obj, days=Decimal(days), delivered_on=on, description="x", links=LINK)


# ---------------------------------------------------------------- support


def test_support_comes_from_both_skill_links_at_the_highest_level() -> None:
    linked = skill("Grafana")  # linked to the project in the catalogue
    named = skill("Grafana Loki", upstream="Grafana")  # names the project as its upstream
    other = skill("Nginx", upstream="nginx")
    grafana = project("Grafana", (linked,))
    firm("Both", a=(linked, SkillLevel.INTEGRATOR), b=(named, SkillLevel.MAINTAINER))
    firm("Linked only", a=(linked, SkillLevel.EXPERT))
    firm("Named only", a=(named, SkillLevel.USER))
    firm("Elsewhere", a=(other, SkillLevel.EDITOR))
    support = project_support([grafana.pk])[grafana.pk]
    assert [(s.firm_name, s.level, s.level_label) for s in support] == [
        ("Both", SkillLevel.MAINTAINER, "mainteneur"),
        ("Linked only", SkillLevel.EXPERT, "expert"),
        ("Named only", SkillLevel.USER, "utilisateur"),
    ]
    inputs = score_inputs([grafana.pk], AS_OF)[grafana.pk]
    assert inputs.supporting_firms == 3
    assert inputs.maintainers_or_contributors == 1


def test_contributor_maintainer_and_editor_count_as_upstream_firms() -> None:
    s = skill("Django")
    django_project = project("Django", (s,))
    for level in SkillLevel:
        firm(f"Firm {level.label}", a=(s, level))
    inputs = score_inputs([django_project.pk], AS_OF)[django_project.pk]
    assert (inputs.supporting_firms, inputs.maintainers_or_contributors) == (6, 3)


def test_a_project_without_skills_or_data_has_empty_support_and_a_zero_score() -> None:
    lonely = project("Lonely")
    assert project_support([lonely.pk]) == {lonely.pk: []}
    assert project_scores([lonely.pk], AS_OF)[lonely.pk].total == Decimal("0.0")
    assert project_support([]) == {}
    assert score_inputs([], AS_OF) == {}


# ---------------------------------------------------------------- as of a date


def test_money_and_days_count_the_twelve_months_ending_on_the_date() -> None:
    p = project("Window")
    money, days = commitment(p, CommitmentKind.AMOUNT), commitment(p, CommitmentKind.DAYS)
    start = year_before(AS_OF)  # 2025-06-15: excluded, the day after included
    paid(money, 100, start)
    paid(money, 2_000, start + dt.timedelta(days=1))
    paid(money, 30_000, AS_OF)
    paid(money, 400_000, AS_OF + dt.timedelta(days=1))
    paid(money, 5_000_000, AS_OF - dt.timedelta(days=10), reversed_=True)
    worked(days, "1", start)
    worked(days, "2.5", start + dt.timedelta(days=1))
    worked(days, "4", AS_OF)
    worked(days, "8", AS_OF + dt.timedelta(days=1))
    inputs = score_inputs([p.pk], AS_OF)[p.pk]
    assert inputs.money_12m_cents == 32_000
    assert inputs.days_12m == Decimal("6.5")
    later = score_inputs([p.pk], AS_OF + dt.timedelta(days=1))[p.pk]  # the window slid by a day
    assert later.money_12m_cents == 430_000
    assert later.days_12m == Decimal(12)


def test_signals_are_the_latest_observed_on_or_before_the_date() -> None:
    p = project("Signals")
    record_signals(
        actor=None,
        project=p,
        signals=[
            SignalInput(dt.date(2026, 1, 10), active_contributors=5, releases_last_year=1,
                        last_release_on=dt.date(2025, 12, 1)),
            SignalInput(dt.date(2026, 5, 1), active_contributors=12),
        ],
    )  # fmt: skip
    before = score_inputs([p.pk], dt.date(2026, 1, 9))[p.pk]
    assert (before.active_contributors, before.releases_12m, before.days_since_release) == (None, None, None)
    first = score_inputs([p.pk], dt.date(2026, 3, 1))[p.pk]
    assert (first.active_contributors, first.releases_12m) == (5, 1)
    assert first.days_since_release == (dt.date(2026, 3, 1) - dt.date(2025, 12, 1)).days
    second = score_inputs([p.pk], AS_OF)[p.pk]
    assert (second.active_contributors, second.releases_12m, second.days_since_release) == (12, None, None)


def test_contracts_in_force_that_depend_on_the_project(ledger_contract: LedgerContract) -> None:
    """Firm A's package needs the PostgreSQL skill, whose upstream project is named below; nginx gets only a
    commitment on the contract; a project with neither does not depend."""
    contract = ledger_contract.contract
    by_skill = UpstreamProject.objects.filter(name="PostgreSQL Global Development Group").first() or project(
        "PostgreSQL Global Development Group"
    )
    by_commitment = project("Only committed")
    commitment(by_commitment, CommitmentKind.DAYS, contract_id=contract.pk)
    unrelated = project("Unrelated")
    ids = [by_skill.pk, by_commitment.pk, unrelated.pk]
    running = score_inputs(ids, SIGNED_ON + dt.timedelta(days=30))
    assert [running[pk].contracts for pk in ids] == [1, 1, 0]
    assert [score_inputs(ids, SIGNED_ON - dt.timedelta(days=1))[pk].contracts for pk in ids] == [0, 0, 0]
    assert [score_inputs(ids, contract.ends_on + dt.timedelta(days=1))[pk].contracts for pk in ids] == [0, 0, 0]
    assert [score_inputs(ids, contract.ends_on)[pk].contracts for pk in ids] == [1, 1, 0]
    linked = project("Linked skill", (Skill.objects.get(name="Nginx"),))  # firm B's package, through the M2M
    assert score_inputs([linked.pk], SIGNED_ON)[linked.pk].contracts == 1


def test_month_ends_and_year_before() -> None:
    assert month_ends(dt.date(2026, 2, 10), 3) == [dt.date(2025, 12, 31), dt.date(2026, 1, 31), dt.date(2026, 2, 10)]
    assert month_ends(dt.date(2026, 3, 31), 2) == [dt.date(2026, 2, 28), dt.date(2026, 3, 31)]
    assert len(month_ends(AS_OF, 12)) == 12
    assert year_before(dt.date(2028, 2, 29)) == dt.date(2027, 2, 28)
    assert year_before(AS_OF) == dt.date(2025, 6, 15)


def test_history_is_each_month_end_computed_as_of_that_date() -> None:
    s = skill("Moved")
    p = project("Moved", (s,))
    firm("Maintainer", a=(s, SkillLevel.MAINTAINER))
    days = commitment(p, CommitmentKind.DAYS)
    worked(days, "30", dt.date(2026, 4, 10))  # 7.5 points from April's end
    record_signals(actor=None, project=p, signals=[SignalInput(dt.date(2026, 5, 20), releases_last_year=4)])
    history = score_history(p.pk, months=4, as_of=AS_OF)
    assert [day for day, _total in history] == [
        dt.date(2026, 3, 31), dt.date(2026, 4, 30), dt.date(2026, 5, 31), AS_OF,
    ]  # fmt: skip
    # today's support at every date: 1 firm of 5 (4.0) and 1 maintainer of 3 (6.7); then 30 days (7.5); 4 releases (5)
    assert [total for _day, total in history] == [Decimal(v) for v in ("10.7", "18.2", "23.2", "23.2")]
    for day, total in history:
        assert project_scores([p.pk], day)[p.pk].total == total


def test_history_defaults_to_twelve_months_to_today() -> None:
    p = project("Today")
    history = score_history(p.pk)
    assert len(history) == 12
    assert history[-1][0] == dt.date.today()


# ---------------------------------------------------------------- query counts


def _populate(count: int) -> list[int]:
    ids = []
    for n in range(count):
        linked, named = skill(f"Linked {n}"), skill(f"Named {n}", upstream=f"Project {n}")
        p = project(f"Project {n}", (linked,))
        firm(f"Firm {n} a", a=(linked, SkillLevel.CONTRIBUTOR), b=(named, SkillLevel.EXPERT))
        firm(f"Firm {n} b", a=(named, SkillLevel.USER))
        days, money = commitment(p, CommitmentKind.DAYS), commitment(p, CommitmentKind.AMOUNT)
        worked(days, "3", AS_OF - dt.timedelta(days=20 + n))
        paid(money, 10_000 + n, AS_OF - dt.timedelta(days=40 + n))
        ProjectSignal.objects.create(project=p, observed_on=AS_OF - dt.timedelta(days=60), active_contributors=n)
        ProjectSignal.objects.create(project=p, observed_on=AS_OF - dt.timedelta(days=5), releases_last_year=n)
        ids.append(p.pk)
    return ids


def _queries(call: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def test_queries_do_not_grow_with_the_number_of_projects() -> None:
    ids = _populate(6)
    for read in (project_support, lambda chosen: score_inputs(chosen, AS_OF), lambda c: project_scores(c, AS_OF)):
        assert _queries(lambda read=read: read(ids[:1])) == _queries(lambda read=read: read(ids))
    scores = project_scores(ids, AS_OF)
    assert all(scores[pk].total > 0 for pk in ids)


def test_history_queries_do_not_grow_with_the_months() -> None:
    ids = _populate(2)
    assert _queries(lambda: score_history(ids[0], months=3, as_of=AS_OF)) == _queries(
        lambda: score_history(ids[0], months=24, as_of=AS_OF)
    )
