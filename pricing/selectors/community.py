"""Reads: the community behind each upstream project, the inputs of its score, and how the score moved.

A project's skills are the catalogue skills linked to it (`UpstreamProject.skills`) plus those whose
`Skill.upstream_project` is the project's name (the link `projects_of_packages` follows when it routes a
levy). A firm supports a project when it has one of these skills; its level is its highest on them.

As of a date D, the score reads:
- money: payments to the project (`ContributionPayment`, reversed ones excluded: a reversal undoes a
  payment recorded by mistake) paid in the 12 months ending on D (after the same day a year before);
- days: work delivered (`WorkDelivery`) in the same 12 months;
- contracts: contracts in force on D (signed on or before D, not ended before D) that have a commitment to
  the project, or whose won offer allocates a work package requiring one of the project's skills;
- signals: the latest `ProjectSignal` observed on or before D; the days since the last release count to D;
- firms: today's skill levels, whatever D is. No history of the firms' skills is kept, so the support part
  of a past score is the current one.

Every function loads what it needs in a fixed number of queries, whatever the number of projects, firms
or dates.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from bids.offer_models import OfferAllocation
from partners.models import EVIDENCED_LEVELS, FirmSkill, Skill, SkillLevel

from ..community_score import Score, ScoreInputs, community_score
from ..models import Commitment, ContributionPayment, ProjectSignal, UpstreamProject, WorkDelivery


@dataclass(frozen=True)
class FirmSupport:
    firm_id: int
    firm_name: str
    level: int
    level_label: str


def project_skills(project_ids: Iterable[int]) -> dict[int, set[int]]:
    """Skill ids of each project: linked in the catalogue, or naming the project as their upstream."""
    ids = set(project_ids)
    skills: dict[int, set[int]] = {pk: set() for pk in ids}
    if not ids:
        return skills
    through = UpstreamProject.skills.through.objects.filter(upstreamproject_id__in=ids)
    for project_id, skill_id in through.values_list("upstreamproject_id", "skill_id"):
        skills[project_id].add(skill_id)
    by_name = dict(UpstreamProject.objects.filter(pk__in=ids).values_list("name", "pk"))
    for skill_id, name in Skill.objects.filter(upstream_project__in=by_name).values_list("pk", "upstream_project"):
        skills[by_name[name]].add(skill_id)
    return skills


def project_support(
    project_ids: Iterable[int], *, skills: dict[int, set[int]] | None = None
) -> dict[int, list[FirmSupport]]:
    """The firms practising one of each project's skills, at their highest level on them, highest first."""
    skills = project_skills(project_ids) if skills is None else skills
    projects_of_skill: dict[int, list[int]] = defaultdict(list)
    for project_id, skill_ids in skills.items():
        for skill_id in skill_ids:
            projects_of_skill[skill_id].append(project_id)
    best: dict[int, dict[int, tuple[int, str]]] = {project_id: {} for project_id in skills}
    rows = FirmSkill.objects.filter(skill_id__in=projects_of_skill).values_list(
        "firm_id", "firm__name", "skill_id", "level"
    )
    for firm_id, firm_name, skill_id, level in rows:
        for project_id in projects_of_skill[skill_id]:
            known = best[project_id].get(firm_id)
            if known is None or level > known[0]:
                best[project_id][firm_id] = (level, firm_name)
    return {
        project_id: sorted(
            (
                FirmSupport(firm_id, name, level, str(SkillLevel(level).label))
                for firm_id, (level, name) in firms.items()
            ),
            key=lambda support: (-support.level, support.firm_name.casefold(), support.firm_id),
        )
        for project_id, firms in best.items()
    }


def year_before(day: dt.date) -> dt.date:
    """The same day a year earlier (29 February gives 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True)
class _Signal:
    observed_on: dt.date
    active_contributors: int | None
    releases_last_year: int | None
    last_release_on: dt.date | None


@dataclass
class _Facts:
    """Everything the scores of some projects need between two dates, loaded once."""

    support: dict[int, list[FirmSupport]]
    days: dict[int, list[tuple[dt.date, Decimal]]] = field(default_factory=lambda: defaultdict(list))
    money: dict[int, list[tuple[dt.date, int]]] = field(default_factory=lambda: defaultdict(list))
    contracts: dict[int, dict[int, tuple[dt.date, dt.date]]] = field(default_factory=lambda: defaultdict(dict))
    signals: dict[int, list[_Signal]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def load(cls, project_ids: Iterable[int], *, first: dt.date, last: dt.date) -> _Facts:
        """For scores as of any date from `first` to `last`."""
        ids = set(project_ids)
        skills = project_skills(ids)
        facts = cls(support=project_support(ids, skills=skills))
        if not ids:
            return facts
        since = year_before(first)
        work = WorkDelivery.objects.filter(
            commitment__project_id__in=ids, delivered_on__gt=since, delivered_on__lte=last
        ).values_list("commitment__project_id", "delivered_on", "days")
        for project_id, day, days in work:
            facts.days[project_id].append((day, Decimal(days)))
        paid = ContributionPayment.objects.filter(
            commitment__project_id__in=ids, reversed_at__isnull=True, paid_on__gt=since, paid_on__lte=last
        ).values_list("commitment__project_id", "paid_on", "amount_cents")
        for project_id, day, cents in paid:
            facts.money[project_id].append((day, int(cents)))
        facts._load_contracts(ids, skills, first=first, last=last)
        facts._load_signals(ids, first=first, last=last)
        return facts

    def _load_contracts(self, ids: set[int], skills: dict[int, set[int]], *, first: dt.date, last: dt.date) -> None:
        in_period = {"signed_on__lte": last, "ends_on__gte": first}
        committed = Commitment.objects.filter(
            project_id__in=ids, contract__isnull=False, **{f"contract__{k}": v for k, v in in_period.items()}
        ).values_list("project_id", "contract_id", "contract__signed_on", "contract__ends_on")
        for project_id, contract_id, signed_on, ends_on in committed:
            self.contracts[project_id][contract_id] = (signed_on, ends_on)
        projects_of_skill: dict[int, list[int]] = defaultdict(list)
        for project_id, skill_ids in skills.items():
            for skill_id in skill_ids:
                projects_of_skill[skill_id].append(project_id)
        if not projects_of_skill:
            return
        allocated = (
            OfferAllocation.objects.filter(
                package__required_skills__skill_id__in=projects_of_skill,
                **{f"version__contract__{k}": v for k, v in in_period.items()},
            )
            .values_list(
                "package__required_skills__skill_id",
                "version__contract__id",
                "version__contract__signed_on",
                "version__contract__ends_on",
            )
            .distinct()
        )
        for skill_id, contract_id, signed_on, ends_on in allocated:
            for project_id in projects_of_skill[skill_id]:
                self.contracts[project_id][contract_id] = (signed_on, ends_on)

    def _load_signals(self, ids: set[int], *, first: dt.date, last: dt.date) -> None:
        """The latest observation on or before `first`, and every one after it up to `last`."""
        latest_by_first = (
            ProjectSignal.objects.filter(project_id=OuterRef("project_id"), observed_on__lte=first)
            .order_by("-observed_on")
            .values("observed_on")[:1]
        )
        rows = (
            ProjectSignal.objects.filter(project_id__in=ids)
            .filter(Q(observed_on__gt=first, observed_on__lte=last) | Q(observed_on=Subquery(latest_by_first)))
            .order_by("project_id", "observed_on")
            .values_list("project_id", "observed_on", "active_contributors", "releases_last_year", "last_release_on")
        )
        for project_id, observed_on, contributors, releases, released_on in rows:
            self.signals[project_id].append(_Signal(observed_on, contributors, releases, released_on))

    def inputs(self, project_id: int, as_of: dt.date) -> ScoreInputs:
        since = year_before(as_of)
        support = self.support.get(project_id, [])
        signal = self._signal(project_id, as_of)
        released_on = signal.last_release_on if signal is not None else None
        return ScoreInputs(
            supporting_firms=len(support),
            maintainers_or_contributors=sum(1 for s in support if s.level in EVIDENCED_LEVELS),
            days_12m=sum((days for day, days in self.days.get(project_id, []) if since < day <= as_of), Decimal(0)),
            money_12m_cents=sum(cents for day, cents in self.money.get(project_id, []) if since < day <= as_of),
            contracts=sum(
                1 for signed_on, ends_on in self.contracts.get(project_id, {}).values() if signed_on <= as_of <= ends_on
            ),
            active_contributors=signal.active_contributors if signal is not None else None,
            releases_12m=signal.releases_last_year if signal is not None else None,
            days_since_release=(as_of - released_on).days if released_on is not None else None,
        )

    def _signal(self, project_id: int, as_of: dt.date) -> _Signal | None:
        signals = self.signals.get(project_id, [])
        index = bisect.bisect_right([s.observed_on for s in signals], as_of)
        return signals[index - 1] if index else None


def score_inputs(project_ids: Iterable[int], as_of: dt.date) -> dict[int, ScoreInputs]:
    ids = set(project_ids)
    facts = _Facts.load(ids, first=as_of, last=as_of)
    return {project_id: facts.inputs(project_id, as_of) for project_id in ids}


def project_scores(project_ids: Iterable[int], as_of: dt.date) -> dict[int, Score]:
    return {project_id: community_score(inputs) for project_id, inputs in score_inputs(project_ids, as_of).items()}


def month_ends(as_of: dt.date, months: int) -> list[dt.date]:
    """The last day of each of the `months` months up to `as_of`'s, oldest first; the current month ends on `as_of`."""
    ends: list[dt.date] = []
    year, month = as_of.year, as_of.month
    for _step in range(months):
        ends.append(min(dt.date(year, month, calendar.monthrange(year, month)[1]), as_of))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return ends[::-1]


def score_history(project_id: int, months: int = 12, as_of: dt.date | None = None) -> list[tuple[dt.date, Decimal]]:
    """The score at each month end of the last `months` months (the last point is `as_of`, today by default).

    Each point is computed as of its date (see the module docstring), except the firms' support, which is
    today's: no history of the firms' skill levels is kept.
    """
    as_of = as_of or timezone.localdate()
    dates = month_ends(as_of, max(months, 1))
    facts = _Facts.load([project_id], first=dates[0], last=dates[-1])
    return [(day, community_score(facts.inputs(project_id, day)).total) for day in dates]
