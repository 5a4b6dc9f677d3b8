"""The global assignment: optimal on small cases (checked by brute force), within capacities, deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bids.matching.assignment import BASE_TENTHS, Problem, brute_force, fits, objective, solve_assignment


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    packages = draw(st.integers(1, 5))
    firms = draw(st.integers(1, 4))
    pairs = []
    for package in range(1, packages + 1):
        for firm in draw(st.sets(st.integers(1, firms), max_size=firms)):
            pairs.append((package, 100 + firm, draw(st.integers(0, 1000)), draw(st.integers(5, 400))))
    capacity = {100 + firm: draw(st.integers(0, 800)) for firm in range(1, firms + 1)}
    spread = draw(st.sampled_from([0, 50, 300, 5000]))
    return Problem.from_pairs(pairs, capacity, spread)


@settings(max_examples=300, deadline=None)
@given(problems())
def test_optimal_against_brute_force_and_within_capacity(problem: Problem) -> None:
    solution = solve_assignment(problem)
    assert fits(problem, solution.leads)
    assert (solution.count, solution.value) == objective(problem, solution.leads)
    assert (solution.count, solution.value) == brute_force(problem)
    for package, firm in solution.backups.items():
        assert firm != solution.leads[package]


@settings(max_examples=50, deadline=None)
@given(problems(), st.randoms(use_true_random=False))
def test_same_result_whatever_the_order_of_the_pairs(problem: Problem, random: object) -> None:
    order = np.arange(len(problem.packages))
    random.shuffle(order)  # type: ignore[attr-defined]
    shuffled = Problem(
        problem.packages[order], problem.firms[order], problem.scores[order], problem.days[order],
        problem.capacity, problem.spread,
    )  # fmt: skip
    first, second = solve_assignment(problem), solve_assignment(shuffled)
    assert (first.leads, first.backups) == (second.leads, second.backups)
    assert solve_assignment(problem).leads == first.leads


def test_count_comes_before_score() -> None:
    # Firm 10 can hold one of the two packages; firm 20 only package 1. Both assigned beats the best score.
    problem = Problem.from_pairs([(1, 10, 900, 10), (2, 10, 100, 10), (1, 20, 50, 10)], {10: 10, 20: 10})
    solution = solve_assignment(problem)
    assert solution.leads == {1: 20, 2: 10}


def test_work_spreads_across_firms() -> None:
    # One firm scores a little better everywhere, but three packages at one firm cost more than the gap.
    pairs = [(p, 10, 800, 10) for p in (1, 2, 3)] + [(p, 20, 780, 10) for p in (1, 2, 3)]
    solution = solve_assignment(Problem.from_pairs(pairs, {10: 100, 20: 100}))
    assert sorted(solution.leads.values()) in ([10, 10, 20], [10, 20, 20])
    no_spread = solve_assignment(Problem.from_pairs(pairs, {10: 100, 20: 100}, spread=0))
    assert set(no_spread.leads.values()) == {10}


def test_backup_is_best_other_candidate_with_room_left() -> None:
    pairs = [(1, 10, 900, 50), (1, 20, 800, 50), (1, 30, 700, 50), (2, 20, 900, 60)]
    solution = solve_assignment(Problem.from_pairs(pairs, {10: 50, 20: 100, 30: 50}))
    assert solution.leads == {1: 10, 2: 20}
    assert solution.backups == {1: 30}  # firm 20 has 40 days left, not 50; package 2 has no other candidate


def test_more_packages_even_when_the_spreading_penalty_outweighs_a_package() -> None:
    pairs = [(p, 10, 100, 10) for p in (1, 2, 3)]
    solution = solve_assignment(Problem.from_pairs(pairs, {10: 100}, spread=5000))
    assert solution.count == 3
    assert solution.value == 300 - 5000 * 3


def test_pairs_that_never_fit_are_left_out_and_duplicates_refused() -> None:
    solution = solve_assignment(Problem.from_pairs([(1, 10, 900, 60)], {10: 50}))
    assert solution.leads == {}
    with pytest.raises(ValueError, match="twice"):
        solve_assignment(Problem.from_pairs([(1, 10, 1, 1), (1, 10, 2, 1)], {10: 5}))


def test_empty_problem() -> None:
    solution = solve_assignment(Problem.from_pairs([], {}))
    assert (solution.leads, solution.count, solution.value) == ({}, 0, 0)


@settings(max_examples=200, deadline=None)
@given(problems())
def test_rounded_components_stay_within_capacity_and_their_stated_gap(problem: Problem) -> None:
    # No budget for the branch and bound: every fractional component is rounded from the relaxation.
    solution = solve_assignment(problem, exact_pairs=0, exact_budget=0)
    assert fits(problem, solution.leads)
    assert (solution.count, solution.value) == objective(problem, solution.leads)
    assert (solution.count, solution.value) <= brute_force(problem)
    if solution.branched == 0:  # every component relaxed-integral (optimal) or rounded (within the gap)
        best_count, best_value = brute_force(problem, weighted=True)
        reached = solution.count * BASE_TENTHS + solution.value
        assert best_count * BASE_TENTHS + best_value - reached <= solution.gap
