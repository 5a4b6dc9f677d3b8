"""The global assignment: one lead firm per work package, under every firm's capacity, spread across the network.

An integer program solved by HiGHS (scipy.optimize.milp). Variables: x[p,f] in {0,1} for each candidate
pair; y[f,k] for the k-th package of firm f (k >= 2). Constraints: at most one lead per package; the days
of a firm's packages within its free days; a firm's packages <= 1 + sum_k y[f,k]. Objective, in order:
as many packages assigned as possible, then the most score points, minus a convex spreading penalty
(the k-th package of a firm costs `spread` x (k - 1)), so that the work spreads across the network.

Scores and days are integers (tenths), so the objective is exact. The problem splits into independent
connected components (packages and firms linked by candidate pairs): the linear relaxation of the whole
is solved once; a component whose relaxed solution is already integral is optimal as is, and the others
go to the branch and bound, one component at a time.

With days as capacities this is a generalised assignment problem (NP-hard): when candidates share firms
with tight capacities, one component can hold thousands of packages, and HiGHS needs tens of seconds to
prove its optimum (the 1,000-lot benchmark: 35 s). Components over `EXACT_PAIRS` pairs are therefore
rounded from the relaxation and improved by moves, and the relaxation bounds how far they may be from
the optimum (`Solution.gap`, shown on the run).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_array, csr_array, vstack
from scipy.sparse.csgraph import connected_components

SPREAD_TENTHS = 50  # the k-th package of one firm costs 5 points x (k - 1)
BASE_TENTHS = 2000  # what assigning a package is worth before its score: more than any score
TIME_LIMIT = 30.0  # seconds for one branch and bound; the best solution found is kept
INTEGRAL = 1e-6
EXACT_PAIRS = 2500  # components up to this many candidate pairs are solved exactly...
EXACT_BUDGET = 2500  # ...smallest first, while the pairs solved exactly stay within this budget

Ints = NDArray[np.int64]


@dataclass(frozen=True)
class Problem:
    """Candidate pairs (one entry per pair in each array) and each firm's free days, all in tenths."""

    packages: Ints
    firms: Ints
    scores: Ints
    days: Ints
    capacity: Mapping[int, int]
    spread: int = SPREAD_TENTHS

    @classmethod
    def from_pairs(
        cls, pairs: Iterable[tuple[int, int, int, int]], capacity: Mapping[int, int], spread: int = SPREAD_TENTHS
    ) -> Problem:
        """From (package, firm, score tenths, days tenths) tuples."""
        rows = np.array(list(pairs), dtype=np.int64).reshape(-1, 4)
        return cls(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], dict(capacity), spread)


@dataclass(frozen=True)
class Solution:
    leads: dict[int, int]  # package -> firm
    backups: dict[int, int]  # package -> firm
    count: int
    value: int  # score tenths of the leads minus the spreading penalty
    status: str = "optimal"
    seconds: float = 0.0
    components: int = 0
    branched: int = 0  # components that needed the branch and bound
    gap: int = 0  # tenths: at most this far from the optimum (0 when proven optimal)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "assigned": self.count,
            "objective": self.value / 10,
            "seconds": round(self.seconds, 3),
            "components": self.components,
            "branched": self.branched,
            "gap": self.gap / 10,
            "solver": "HiGHS (scipy.optimize.milp)",
            "notes": self.notes,
        }


def penalty(counts: Iterable[int], spread: int) -> int:
    return sum(spread * n * (n - 1) // 2 for n in counts)


def objective(problem: Problem, leads: Mapping[int, int]) -> tuple[int, int]:
    """(packages assigned, score tenths minus spreading penalty) of an assignment: what the solver maximises."""
    scores = {(int(p), int(f)): int(s) for p, f, s in zip(problem.packages, problem.firms, problem.scores, strict=True)}
    per_firm: dict[int, int] = {}
    for firm in leads.values():
        per_firm[firm] = per_firm.get(firm, 0) + 1
    value = sum(scores[(package, firm)] for package, firm in leads.items())
    return len(leads), value - penalty(per_firm.values(), problem.spread)


def fits(problem: Problem, leads: Mapping[int, int]) -> bool:
    """True when no firm gets more days than its capacity."""
    days = {(int(p), int(f)): int(d) for p, f, d in zip(problem.packages, problem.firms, problem.days, strict=True)}
    used: dict[int, int] = {}
    for package, firm in leads.items():
        used[firm] = used.get(firm, 0) + days[(package, firm)]
    return all(total <= problem.capacity.get(firm, 0) for firm, total in used.items())


@dataclass
class Model:
    """The integer program of the whole problem, in scipy's terms, plus its components."""

    package_ids: Ints
    firm_ids: Ints
    pair_package: Ints  # package index of each pair (canonical order: package id, then firm id)
    pair_firm: Ints
    scores: Ints
    days: Ints
    capacity: Ints  # per firm index
    cost: NDArray[np.float64]  # x then y
    matrix: csr_array
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    y_firm: Ints  # firm index of each y variable
    component_of_package: Ints
    component_count: int
    spread: int

    @property
    def pairs(self) -> int:
        return len(self.pair_package)


def build_model(problem: Problem) -> Model:
    """The canonical model: pairs sorted by (package, firm); pairs that can never fit dropped."""
    order = np.lexsort((problem.firms, problem.packages))
    packages, firms = problem.packages[order], problem.firms[order]
    scores, days = problem.scores[order], problem.days[order]
    if len(packages) > 1 and np.any((np.diff(packages) == 0) & (np.diff(firms) == 0)):
        raise ValueError("a (package, firm) pair appears twice")
    all_firms, firm_of_pair = np.unique(firms, return_inverse=True)
    all_capacity = np.array([problem.capacity.get(f, 0) for f in all_firms.tolist()], dtype=np.int64)
    keep = days <= all_capacity[firm_of_pair]
    packages, firms, scores, days = packages[keep], firms[keep], scores[keep], days[keep]
    package_ids, pair_package = np.unique(packages, return_inverse=True)
    firm_ids, pair_firm = np.unique(firms, return_inverse=True)
    capacity = all_capacity[np.searchsorted(all_firms, firm_ids)]
    n, n_packages, n_firms = len(packages), len(package_ids), len(firm_ids)

    # y[f, k] for k = 2 .. K_f, where K_f is the most packages the firm could hold.
    pairs_per_firm = np.bincount(pair_firm, minlength=n_firms)
    smallest = np.full(n_firms, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, pair_firm, days)
    most = np.minimum(pairs_per_firm, capacity // np.maximum(smallest, 1))
    extra = np.maximum(most - 1, 0)
    y_firm = np.repeat(np.arange(n_firms), extra)
    y_rank = np.arange(len(y_firm)) - np.repeat(np.cumsum(extra) - extra, extra) + 1  # k - 1
    cost = np.concatenate([-(BASE_TENTHS + scores).astype(np.float64), (problem.spread * y_rank).astype(np.float64)])

    columns = np.arange(n)
    y_columns = n + np.arange(len(y_firm))
    one_lead = coo_array((np.ones(n), (pair_package, columns)), shape=(n_packages, len(cost)))
    within = coo_array((days.astype(np.float64), (pair_firm, columns)), shape=(n_firms, len(cost)))
    spread = coo_array(
        (
            np.concatenate([np.ones(n), -np.ones(len(y_firm))]),
            (np.concatenate([pair_firm, y_firm]), np.concatenate([columns, y_columns])),
        ),
        shape=(n_firms, len(cost)),
    )
    matrix = csr_array(vstack([one_lead, within, spread]))
    lower = np.full(n_packages + 2 * n_firms, -np.inf)
    upper = np.concatenate([np.ones(n_packages), capacity.astype(np.float64), np.ones(n_firms)])

    graph = coo_array((np.ones(n), (pair_package, n_packages + pair_firm)), shape=(n_packages + n_firms,) * 2)
    count, labels = connected_components(graph, directed=False)
    return Model(
        package_ids, firm_ids, pair_package, pair_firm, scores, days, capacity,
        cost, matrix, lower, upper, y_firm, labels[:n_packages].astype(np.int64), int(count), problem.spread,
    )  # fmt: skip


@dataclass
class SubModel:
    """One connected component: its columns (x then y) and rows in the whole model."""

    x: Ints
    y: Ints
    rows: Ints
    cost: NDArray[np.float64]
    matrix: csr_array
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]


def component_model(model: Model, component: int) -> SubModel:
    packages = np.flatnonzero(model.component_of_package == component)
    x = np.flatnonzero(np.isin(model.pair_package, packages))
    firms = np.unique(model.pair_firm[x])
    y = model.pairs + np.flatnonzero(np.isin(model.y_firm, firms))
    n_packages, n_firms = len(model.package_ids), len(model.firm_ids)
    rows = np.concatenate([packages, n_packages + firms, n_packages + n_firms + firms])
    columns = np.concatenate([x, y])
    return SubModel(
        x, y, rows, model.cost[columns], csr_array(model.matrix[rows][:, columns]), model.lower[rows], model.upper[rows]
    )


def _milp(
    cost: NDArray[np.float64],
    matrix: Any,
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
    *,
    time_limit: float = TIME_LIMIT,
) -> Any:
    return milp(
        cost,
        constraints=LinearConstraint(matrix, lower, upper),
        integrality=np.ones(len(cost)),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "mip_rel_gap": 1e-9},
    )


class _Run:
    """One solve: the relaxation of the whole, then the branch and bound or the rounding where needed."""

    def __init__(
        self, model: Model, submodels: Mapping[int, SubModel] | None, exact_pairs: int, exact_budget: int
    ) -> None:
        self.model = model
        self.submodels = dict(submodels or {})
        self.exact_pairs = exact_pairs
        self.exact_budget = exact_budget
        self.chosen = np.zeros(model.pairs, dtype=bool)
        self.status = "optimal"
        self.branched = 0
        self.gap = 0  # tenths: how far, at most, the rounded components may be from their optimum
        self.notes: list[str] = []

    def submodel(self, component: int) -> SubModel:
        if component not in self.submodels:
            self.submodels[component] = component_model(self.model, component)
        return self.submodels[component]

    def solve(self, *, bare: bool = False) -> None:
        model = self.model
        if not model.pairs:
            return
        relaxed = linprog(model.cost, A_ub=model.matrix, b_ub=model.upper, bounds=(0, 1), method="highs-ds")
        pair_component = model.component_of_package[model.pair_package]
        size = np.bincount(pair_component, minlength=model.component_count)
        values = relaxed.x if relaxed.x is not None else np.zeros(len(model.cost))
        x = values[: model.pairs]
        off = np.abs(x - np.round(x)) > INTEGRAL if relaxed.x is not None else np.ones(model.pairs, dtype=bool)
        fractional = sorted({int(c) for c in np.unique(pair_component[off])})
        self.chosen = x > 0.5
        self.chosen[np.isin(pair_component, fractional)] = False
        exact, budget = set(), self.exact_budget
        for component in sorted(fractional, key=lambda c: (size[c], c)):
            if size[component] > min(self.exact_pairs, budget):
                break
            exact.add(component)
            budget -= size[component]
        large = [c for c in fractional if c not in exact]
        for component in sorted(exact):
            self._branch(component)
        if bare:
            return
        if large:
            self._round(large, values, pair_component)
        self._most_assigned(pair_component, set(large))

    def _branch(self, component: int, *, least: int | None = None) -> None:
        """The integer program of one component; `least`: assign at least this many packages."""
        sub = self.submodel(component)
        matrix, lower, upper, cost = sub.matrix, sub.lower, sub.upper, sub.cost
        if least is not None:
            matrix = csr_array(vstack([matrix, coo_array(np.r_[np.ones(len(sub.x)), np.zeros(len(sub.y))][None, :])]))
            lower, upper = np.r_[lower, least], np.r_[upper, np.inf]
            cost = cost + np.r_[np.full(len(sub.x), BASE_TENTHS), np.zeros(len(sub.y))]
        self.branched += 1
        result = _milp(cost, matrix, lower, upper)
        if result.x is None:
            self.status = "failed"
            self.notes.append(f"component {component}: {result.message}")
            return
        if result.status != 0:
            self.status = "time_limit"
            self.notes.append(f"component {component}: {result.message}")
        self.chosen[sub.x] = result.x[: len(sub.x)] > 0.5

    def _round(self, components: list[int], values: NDArray[np.float64], pair_component: Ints) -> None:
        """Large components: round the relaxation (pairs by relaxed value, then score, then firm id), then move
        packages to better firms while that gains points. The relaxation bounds the distance to the optimum."""
        model = self.model
        inside = np.flatnonzero(np.isin(pair_component, components))
        firm_ids = model.firm_ids[model.pair_firm]
        by_relaxed = inside[np.lexsort((firm_ids[inside], -model.scores[inside], -np.round(values[inside], 6)))]
        by_score = inside[np.lexsort((firm_ids[inside], -model.scores[inside]))]
        package_of, firm_of = model.pair_package.tolist(), model.pair_firm.tolist()
        scores, days = model.scores.tolist(), model.days.tolist()
        room = model.capacity.tolist()
        load = [0] * len(room)
        lead: dict[int, int] = {}  # package index -> pair
        for pair in by_relaxed.tolist():
            package, firm = package_of[pair], firm_of[pair]
            if package not in lead and room[firm] >= days[pair]:
                lead[package] = pair
                room[firm] -= days[pair]
                load[firm] += 1
        spread = model.spread
        for _round in range(4):  # a few passes of improving moves; each strictly raises the objective
            moved = False
            for pair in by_score.tolist():
                package, firm = package_of[pair], firm_of[pair]
                current = lead.get(package)
                if current == pair or room[firm] < days[pair]:
                    continue
                if current is None:
                    gain = BASE_TENTHS + scores[pair] - spread * load[firm]
                else:
                    old = firm_of[current]
                    if old == firm:
                        continue
                    gain = scores[pair] - scores[current] - spread * load[firm] + spread * (load[old] - 1)
                    if gain > 0:
                        room[old] += days[current]
                        load[old] -= 1
                if gain > 0:
                    lead[package] = pair
                    room[firm] -= days[pair]
                    load[firm] += 1
                    moved = True
            if not moved:
                break
        self.chosen[list(lead.values())] = True
        columns = np.r_[inside, model.pairs + np.flatnonzero(np.isin(model.y_firm, np.unique(model.pair_firm[inside])))]
        bound = -float(model.cost[columns] @ values[columns])
        chosen = self.chosen[inside]
        per_firm = np.bincount(model.pair_firm[inside][chosen], minlength=len(model.firm_ids))
        reached = int(chosen.sum()) * BASE_TENTHS + int(model.scores[inside][chosen].sum())
        reached -= penalty(per_firm.tolist(), spread)
        self.gap += max(0, int(bound) - reached)
        self.status = "near_optimal" if self.status == "optimal" else self.status
        self.notes.append(
            f"{len(components)} component(s) rounded from the linear relaxation; "
            f"at most {max(0, int(bound) - reached) / 10:.1f} points from their optimum"
        )

    def _most_assigned(self, pair_component: Ints, skip: set[int]) -> None:
        """Where packages stay unassigned, check that no solution assigns more, and re-solve if one does."""
        model = self.model
        assigned = np.bincount(model.pair_package[self.chosen], minlength=len(model.package_ids))
        short = np.unique(model.component_of_package[assigned == 0])
        for component in (int(c) for c in short if int(c) not in skip):
            sub = self.submodel(component)
            now = int(self.chosen[sub.x].sum())
            counting = np.r_[-np.ones(len(sub.x)), np.zeros(len(sub.y))]
            result = _milp(counting, sub.matrix, sub.lower, sub.upper)
            self.branched += 1
            if result.x is not None and round(-result.fun) > now:
                self._branch(component, least=round(-result.fun))


def solve_model(
    model: Model,
    submodels: Mapping[int, SubModel] | None = None,
    *,
    exact_pairs: int = EXACT_PAIRS,
    exact_budget: int = EXACT_BUDGET,
    bare: bool = False,
) -> _Run:
    run = _Run(model, submodels, exact_pairs, exact_budget)
    run.solve(bare=bare)
    return run


def solve_assignment(problem: Problem, *, exact_pairs: int = EXACT_PAIRS, exact_budget: int = EXACT_BUDGET) -> Solution:
    """The best assignment: the most packages, then the most points net of the spreading penalty.

    Exact (branch and bound) for the components up to `exact_pairs` candidate pairs, smallest first, within
    `exact_budget` pairs in all; the others are rounded from the linear relaxation, and the solution says how
    far from their optimum they may be.
    Deterministic: the pairs are put in a canonical order first, whatever order they come in.
    """
    started = time.perf_counter()
    model = build_model(problem)
    run = solve_model(model, exact_pairs=exact_pairs, exact_budget=exact_budget)
    chosen = run.chosen
    leads = {
        int(model.package_ids[p]): int(model.firm_ids[f])
        for p, f in zip(model.pair_package[chosen], model.pair_firm[chosen], strict=True)
    }
    used = np.bincount(model.pair_firm[chosen], weights=model.days[chosen], minlength=len(model.firm_ids))
    if np.any(used > model.capacity):  # never expected: HiGHS works in floating point, so check in integers
        raise AssertionError("the assignment puts a firm over its capacity")
    backups = _backups(model, chosen, used.astype(np.int64))
    per_firm = np.bincount(model.pair_firm[chosen], minlength=len(model.firm_ids)).tolist()
    value = int(model.scores[chosen].sum()) - penalty(per_firm, problem.spread)
    return Solution(
        leads, backups, len(leads), value, run.status, time.perf_counter() - started,
        model.component_count, run.branched, run.gap, run.notes,
    )  # fmt: skip


def _backups(model: Model, chosen: NDArray[np.bool_], used: Ints) -> dict[int, int]:
    """For each assigned package, the best-ranked other candidate still able to take it (not booked)."""
    lead_of = np.full(len(model.package_ids), -1, dtype=np.int64)
    lead_of[model.pair_package[chosen]] = model.pair_firm[chosen]
    lead = lead_of[model.pair_package]
    room = (model.capacity - used)[model.pair_firm]
    able = np.flatnonzero((lead >= 0) & (model.pair_firm != lead) & (room >= model.days))
    ranked = able[np.lexsort((model.firm_ids[model.pair_firm[able]], -model.scores[able], model.pair_package[able]))]
    packages, first = np.unique(model.pair_package[ranked], return_index=True)
    firms = model.pair_firm[ranked[first]]
    return dict(zip(model.package_ids[packages].tolist(), model.firm_ids[firms].tolist(), strict=True))


def brute_force(problem: Problem, *, weighted: bool = False) -> tuple[int, int]:
    """The best (count, value) by trying every assignment: tests only, for a handful of pairs.

    Best is the most packages then the most value; `weighted`: the most `BASE_TENTHS x count + value`."""
    options: dict[int, list[int | None]] = {}
    for package, firm in zip(problem.packages.tolist(), problem.firms.tolist(), strict=True):
        options.setdefault(package, [None]).append(firm)

    def rank(pair: tuple[int, int]) -> tuple[int, ...]:
        return (pair[0] * BASE_TENTHS + pair[1],) if weighted else pair

    best = (0, 0)
    packages = sorted(options)
    for choice in itertools.product(*(options[p] for p in packages)):
        leads = {p: f for p, f in zip(packages, choice, strict=True) if f is not None}
        if fits(problem, leads):
            best = max(best, objective(problem, leads), key=rank)
    return best


def bare_solver(problem: Problem) -> Callable[[], Any]:
    """The solver calls alone (relaxation, branch and bound) on models built beforehand: the benchmark's floor."""
    model = build_model(problem)
    run = solve_model(model)  # once, to know which components get the branch and bound
    submodels = {component: component_model(model, component) for component in run.submodels}
    return lambda: solve_model(model, submodels, bare=True)
