"""Scores and their explanations: the points add up to the score, and every component says why in words."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bids.matching.scoring import (
    WEIGHTS,
    Context,
    FirmFacts,
    FirmSkillFacts,
    PackageFacts,
    Period,
    RequiredSkill,
    Scorer,
    cpv_closeness,
    days_needed,
    firm_rate,
    score_pair,
)

PERIOD = Period(date(2031, 2, 1), 12)
CONTEXT = Context("11", "Île-de-France", date(2031, 1, 15), {"11": "Île-de-France", "76": "Occitanie"})
POSTGRES = RequiredSkill(1, "PostgreSQL", 8)
PYTHON = RequiredSkill(2, "Python", 2)


def package(**changes: object) -> PackageFacts:
    values: dict[str, object] = {
        "id": 1,
        "name": "Support PostgreSQL",
        "skills": (POSTGRES, PYTHON),
        "cpv_codes": ("72267000",),
        "line_count": 4,
        "estimated_days": None,
        "budget": Decimal("20000"),
        "budget_is_share": False,
        "currency": "EUR",
        "period": PERIOD,
    }
    values.update(changes)
    return PackageFacts(**values)  # type: ignore[arg-type]


def firm(**changes: object) -> FirmFacts:
    values: dict[str, object] = {
        "id": 7,
        "name": "Firm",
        "region": "11",
        "daily_rate": Decimal("800"),
        "skills": {1: FirmSkillFacts(5, True, None), 2: FirmSkillFacts(3, False, None)},
        "level_rates": {},
        "cpv_codes": frozenset({"72267000"}),
        "references": (("72267000",), ("72212000",)),
        "valid_attestations": frozenset({"urssaf", "tax", "kbis", "insurance"}),
    }
    values.update(changes)
    return FirmFacts(**values)  # type: ignore[arg-type]


def by_key(score: object) -> dict[str, object]:
    return {c.key: c for c in score.components}  # type: ignore[attr-defined]


def test_weights_sum_to_100_and_points_add_up_to_the_score() -> None:
    assert sum(WEIGHTS.values()) == 100
    score = score_pair(package(), firm(), Decimal(300), CONTEXT)
    assert [c.key for c in score.components] == list(WEIGHTS)
    assert sum(Decimal(str(c.stored["points"])) for c in score.components) == score.value
    # skills 35 x (8 x 0.9 + 2 x 0.55) / 10 = 29.05 -> 29.1; two references -> 8 of 10; the rest in full
    assert score.value == Decimal("92.1")
    assert json.loads("[" + ",".join(c.as_json() for c in score.components) + "]") == [
        c.stored for c in score.components
    ]


@settings(max_examples=200, deadline=None)
@given(
    levels=st.lists(st.tuples(st.integers(1, 6), st.booleans()), min_size=0, max_size=3),
    weights=st.lists(st.integers(1, 10), min_size=1, max_size=3),
    free=st.integers(-50, 400),
    days=st.one_of(st.none(), st.integers(1, 300)),
    budget=st.one_of(st.none(), st.integers(1, 200_000)),
    rate=st.one_of(st.none(), st.integers(300, 1500)),
    references=st.integers(0, 4),
    attestations=st.sets(st.sampled_from(["urssaf", "tax", "kbis", "insurance"])),
    region=st.sampled_from(["", "11", "76"]),
    buyer=st.sampled_from([None, "11"]),
)
def test_explanations_always_add_up(
    levels: list[tuple[int, bool]],
    weights: list[int],
    free: int,
    days: int | None,
    budget: int | None,
    rate: int | None,
    references: int,
    attestations: set[str],
    region: str,
    buyer: str | None,
) -> None:
    required = tuple(RequiredSkill(n, f"Skill {n}", w) for n, w in enumerate(weights, start=1))
    held = {n: FirmSkillFacts(level, evidenced, None) for n, (level, evidenced) in enumerate(levels, start=1)}
    facts = firm(
        skills=held,
        daily_rate=Decimal(rate) if rate else None,
        references=(("72267000",),) * references,
        valid_attestations=frozenset(attestations),
        region=region,
    )
    pack = package(
        skills=required,
        estimated_days=Decimal(days) if days else None,
        budget=Decimal(budget) if budget else None,
    )
    context = Context(buyer, "Île-de-France" if buyer else "", date(2031, 1, 15))
    score = score_pair(pack, facts, Decimal(free), context)
    assert sum(Decimal(str(c.stored["points"])) for c in score.components) == score.value
    assert Decimal(0) <= score.value <= Decimal(100)
    for c in score.components:
        assert 0 <= c.value_milli <= 1000
        assert c.points_tenths <= c.weight * 10
        assert c.text.strip()


def test_upstream_levels_rank_above_integrators_and_need_evidence() -> None:
    def skills_value(level: int, evidence: bool) -> int:
        facts = firm(skills={1: FirmSkillFacts(level, evidence, None)})
        return by_key(score_pair(package(skills=(POSTGRES,)), facts, Decimal(300), CONTEXT))["skills"].value_milli  # type: ignore[attr-defined]

    ordered = [skills_value(level, True) for level in range(1, 7)]
    assert ordered == sorted(ordered) and len(set(ordered)) == 6
    assert skills_value(5, False) == skills_value(3, True)  # a maintainer without evidence counts as expert
    text = by_key(score_pair(package(), firm(), Decimal(300), CONTEXT))["skills"].text  # type: ignore[attr-defined]
    assert text == "PostgreSQL : mainteneur (preuve fournie), Python : expert"
    unproven = firm(skills={1: FirmSkillFacts(6, False, None)})
    text = by_key(score_pair(package(), unproven, Decimal(300), CONTEXT))["skills"].text  # type: ignore[attr-defined]
    assert text == "PostgreSQL : éditeur (à justifier, compté comme expert), Python : absente"


def test_cpv_coverage_climbs_the_tree() -> None:
    assert cpv_closeness("72267000", ("72267",)) == (1000, 8)
    assert cpv_closeness("72267000", ("7226",)) == (750, 4)
    assert cpv_closeness("72267000", ("72212",)) == (500, 3)
    assert cpv_closeness("72267000", ("72",)) == (250, 2)
    assert cpv_closeness("72267000", ("48",)) == (0, 0)
    mixed = firm(cpv_codes=frozenset({"72260000", "48000000"}))
    cpv = by_key(score_pair(package(cpv_codes=("72267000", "48611000")), mixed, Decimal(300), CONTEXT))["cpv"]
    assert cpv.value_milli == 500  # type: ignore[attr-defined]  # (0.75 + 0.25) / 2
    assert cpv.text == "72267000 : même classe (7226…), 48611000 : même division (48…)"  # type: ignore[attr-defined]


def test_days_needed_and_which_rate() -> None:
    facts = firm(
        skills={1: FirmSkillFacts(5, True, Decimal("1000"))},
        level_rates={5: Decimal("900")},
        daily_rate=Decimal("700"),
    )
    assert firm_rate(package(), facts) == Decimal("1000")
    assert firm_rate(
        package(), firm(skills={1: FirmSkillFacts(5, True, None)}, level_rates={5: Decimal("900")})
    ) == Decimal("900")
    assert firm_rate(package(), firm(skills={1: FirmSkillFacts(5, True, None)})) == Decimal("800")
    assert days_needed(package(estimated_days=Decimal("12.5")), facts, Decimal("1000")) == (Decimal("12.5"), "estimate")
    assert days_needed(package(budget=Decimal("10000")), facts, Decimal("900")) == (Decimal("11.5"), "value")
    assert days_needed(package(budget=None, line_count=3), facts, Decimal("900")) == (Decimal(3), "lines")
    capacity = by_key(score_pair(package(budget=Decimal("10000")), firm(), Decimal("6.25"), CONTEXT))["capacity"]
    assert capacity.value_milli == 500  # type: ignore[attr-defined]  # 6.25 free days for 12.5 needed
    assert capacity.text == (  # type: ignore[attr-defined]
        "6,25 j libres sur 02/2031–01/2032 pour 12,5 j nécessaires (valeur estimée ÷ tarif de 800 €/j)"
    )


def test_rate_against_budget() -> None:
    def rate_value(days: str, budget: str | None) -> int:
        pack = package(estimated_days=Decimal(days), budget=Decimal(budget) if budget else None)
        return by_key(score_pair(pack, firm(), Decimal(300), CONTEXT))["rate"].value_milli  # type: ignore[attr-defined]

    assert rate_value("10", "8000") == 1000  # 8,000 € exactly
    assert rate_value("12.5", "8000") == 500  # 25 % over
    assert rate_value("20", "8000") == 0  # 100 % over
    assert rate_value("10", None) == 500  # no budget: neutral


def test_region_references_attestations() -> None:
    unknown = Context(None, "", date(2031, 1, 15))
    parts = by_key(score_pair(package(), firm(), Decimal(300), unknown))
    assert (parts["region"].value_milli, parts["region"].text) == (500, "région de l'acheteur inconnue : neutre")  # type: ignore[attr-defined]
    elsewhere = by_key(score_pair(package(), firm(region="76"), Decimal(300), CONTEXT))["region"]
    assert (elsewhere.value_milli, elsewhere.text) == (0, "entreprise en Occitanie, acheteur en Île-de-France")  # type: ignore[attr-defined]
    for count, expected in [(0, 0), (1, 500), (2, 800), (3, 1000), (5, 1000)]:
        facts = firm(references=(("72212100",),) * count)
        assert by_key(score_pair(package(), facts, Decimal(300), CONTEXT))["references"].value_milli == expected  # type: ignore[attr-defined]
    partial = by_key(score_pair(package(), firm(valid_attestations=frozenset({"kbis"})), Decimal(300), CONTEXT))
    assert partial["attestations"].value_milli == 250  # type: ignore[attr-defined]
    assert partial["attestations"].text.startswith("1 sur 4 valides au 15/01/2031 ; manquantes ou expirées : ")  # type: ignore[attr-defined]


def test_scorer_shares_the_firm_parts_between_packages() -> None:
    scorer = Scorer(CONTEXT)
    one = scorer.score(package(id=1), firm(), Decimal(300))
    two = scorer.score(package(id=2, estimated_days=Decimal(3)), firm(), Decimal(300))
    assert one.components[0] is two.components[0]
    assert one.components[2] is not two.components[2]
