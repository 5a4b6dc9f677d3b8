"""The community score formula (pure): zero, caps, each part at its boundary, missing signals, monotonicity."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.community_score import FORMULA_TEXT, RULES, ScoreInputs, community_score

ZERO = ScoreInputs(
    supporting_firms=0, maintainers_or_contributors=0, days_12m=Decimal(0), money_12m_cents=0, contracts=0
)
FULL = ScoreInputs(
    supporting_firms=5,
    maintainers_or_contributors=3,
    days_12m=Decimal(60),
    money_12m_cents=2_000_000,
    contracts=3,
    active_contributors=20,
    releases_12m=4,
    days_since_release=183,
)


def points(inputs: ScoreInputs) -> dict[str, Decimal]:
    return {part.key: part.points for part in community_score(inputs).parts}


def with_(**changes: object) -> ScoreInputs:
    return dataclasses.replace(ZERO, **changes)  # type: ignore[arg-type]


def test_nothing_known_scores_zero_and_says_the_signals_are_missing() -> None:
    score = community_score(ZERO)
    assert score.total == Decimal("0.0")
    assert [part.key for part in score.parts] == [
        "firms", "upstream", "days", "money", "contracts", "contributors", "releases", "recency",
    ]  # fmt: skip
    assert all(part.points == Decimal("0.0") for part in score.parts)
    values = {part.key: part.value for part in score.parts}
    assert values["contributors"] == values["releases"] == values["recency"] == "non renseigné"
    assert values["firms"].startswith("0 entreprise")
    assert values["money"] == "0,00 EUR"


def test_the_maxima_add_up_to_100_and_every_part_has_its_rule() -> None:
    score = community_score(ZERO)
    assert sum(part.max_points for part in score.parts) == 100
    assert {part.key for part in score.parts} == set(RULES)
    assert [part.max_points for part in score.parts] == [20, 20, 15, 15, 10, 10, 5, 5]


def test_every_part_at_its_cap_gives_100() -> None:
    score = community_score(FULL)
    assert score.total == Decimal("100.0")
    assert all(part.points == part.max_points for part in score.parts)


def test_beyond_the_caps_the_score_stays_at_100() -> None:
    huge = ScoreInputs(
        supporting_firms=500,
        maintainers_or_contributors=300,
        days_12m=Decimal(6000),
        money_12m_cents=10**12,
        contracts=300,
        active_contributors=20_000,
        releases_12m=400,
        days_since_release=0,
    )
    assert community_score(huge).total == Decimal("100.0")


@pytest.mark.parametrize(
    ("field", "value", "key", "expected"),
    [
        ("supporting_firms", 1, "firms", "4.0"),
        ("supporting_firms", 4, "firms", "16.0"),
        ("supporting_firms", 5, "firms", "20.0"),
        ("supporting_firms", 6, "firms", "20.0"),
        ("maintainers_or_contributors", 1, "upstream", "6.7"),
        ("maintainers_or_contributors", 2, "upstream", "13.3"),
        ("maintainers_or_contributors", 3, "upstream", "20.0"),
        ("days_12m", Decimal("0.5"), "days", "0.1"),
        ("days_12m", Decimal(30), "days", "7.5"),
        ("days_12m", Decimal("59.5"), "days", "14.9"),
        ("days_12m", Decimal(60), "days", "15.0"),
        ("money_12m_cents", 1_000_000, "money", "7.5"),
        ("money_12m_cents", 1_980_000, "money", "14.9"),
        ("money_12m_cents", 1_999_999, "money", "15.0"),  # 14.99999: rounded half-up to one decimal
        ("money_12m_cents", 2_000_000, "money", "15.0"),
        ("contracts", 1, "contracts", "3.3"),
        ("contracts", 2, "contracts", "6.7"),
        ("contracts", 3, "contracts", "10.0"),
        ("active_contributors", 0, "contributors", "0.0"),
        ("active_contributors", 19, "contributors", "9.5"),
        ("active_contributors", 20, "contributors", "10.0"),
        ("releases_12m", 1, "releases", "1.3"),  # 1.25 half-up
        ("releases_12m", 3, "releases", "3.8"),  # 3.75 half-up
        ("releases_12m", 4, "releases", "5.0"),
        ("days_since_release", 0, "recency", "5.0"),
        ("days_since_release", 183, "recency", "5.0"),
        ("days_since_release", 184, "recency", "2.5"),
        ("days_since_release", 365, "recency", "2.5"),
        ("days_since_release", 366, "recency", "0.0"),
    ],
)
def test_each_part_at_its_boundaries(field: str, value: object, key: str, expected: str) -> None:
    got = points(with_(**{field: value}))
    assert got[key] == Decimal(expected)
    assert all(others == 0 for other, others in got.items() if other != key)
    assert community_score(with_(**{field: value})).total == Decimal(expected)


def test_the_total_is_the_sum_of_the_rounded_parts() -> None:
    inputs = with_(maintainers_or_contributors=1, contracts=1, releases_12m=1)  # 6.7 + 3.3 + 1.3
    score = community_score(inputs)
    assert score.total == Decimal("11.3")
    assert score.total == sum(part.points for part in score.parts)


def test_a_missing_signal_scores_zero_and_an_entered_zero_is_shown_as_zero() -> None:
    missing = {part.key: part for part in community_score(ZERO).parts}
    entered = {
        part.key: part
        for part in community_score(with_(active_contributors=0, releases_12m=0, days_since_release=400)).parts
    }
    for key in ("contributors", "releases", "recency"):
        assert missing[key].points == entered[key].points == Decimal("0.0")
        assert missing[key].value == "non renseigné"
        assert entered[key].value != "non renseigné"
    assert entered["contributors"].value.startswith("0 personne")
    assert entered["recency"].value == "400 jours"


def test_values_are_shown_in_words() -> None:
    values = {part.key: part.value for part in community_score(FULL).parts}
    assert values["firms"] == "5 entreprises"
    assert values["days"] == "60 j"
    assert values["money"] == "20\u00a0000,00 EUR"
    assert values["contracts"] == "3 marchés"
    assert values["releases"] == "4 versions"
    assert community_score(with_(days_12m=Decimal("12.50"))).parts[2].value == "12,5 j"


def test_negative_inputs_count_as_zero() -> None:
    negative = ScoreInputs(
        supporting_firms=-1,
        maintainers_or_contributors=-3,
        days_12m=Decimal(-5),
        money_12m_cents=-100,
        contracts=-2,
        active_contributors=-1,
        releases_12m=-4,
        days_since_release=-10,  # a release dated after the day of the score: as recent as can be
    )
    got = points(negative)
    assert got["recency"] == Decimal("5.0")
    assert all(value == 0 for key, value in got.items() if key != "recency")


def test_the_formula_is_written_in_plain_words() -> None:
    text = str(FORMULA_TEXT)
    for words in ("0 à 100", "20 000 €", "60 jours", "non renseigné", "12 derniers mois", "6 mois"):
        assert words in text


# ---------------------------------------------------------------- properties

counts = st.integers(min_value=0, max_value=200)
signals = st.none() | st.integers(min_value=0, max_value=200)
inputs_strategy = st.builds(
    ScoreInputs,
    supporting_firms=counts,
    maintainers_or_contributors=counts,
    days_12m=st.decimals(min_value=0, max_value=500, places=2),
    money_12m_cents=st.integers(min_value=0, max_value=10**8),
    contracts=counts,
    active_contributors=signals,
    releases_12m=signals,
    days_since_release=st.none() | st.integers(min_value=0, max_value=3000),
)
GROWING = ("supporting_firms", "maintainers_or_contributors", "money_12m_cents", "contracts")


@given(inputs_strategy)
def test_the_score_is_between_0_and_100_with_one_decimal(inputs: ScoreInputs) -> None:
    score = community_score(inputs)
    assert Decimal(0) <= score.total <= Decimal(100)
    assert score.total == score.total.quantize(Decimal("0.1"))
    assert score.total == sum(part.points for part in score.parts)
    assert all(Decimal(0) <= part.points <= part.max_points for part in score.parts)


@given(inputs_strategy, st.sampled_from(GROWING), st.integers(min_value=1, max_value=10**6))
def test_more_of_a_count_never_lowers_the_score(inputs: ScoreInputs, field: str, more: int) -> None:
    grown = dataclasses.replace(inputs, **{field: getattr(inputs, field) + more})
    assert community_score(grown).total >= community_score(inputs).total


@given(inputs_strategy, st.decimals(min_value=0, max_value=1000, places=2))
def test_more_days_never_lower_the_score(inputs: ScoreInputs, more: Decimal) -> None:
    grown = dataclasses.replace(inputs, days_12m=inputs.days_12m + more)
    assert community_score(grown).total >= community_score(inputs).total


@given(inputs_strategy, st.sampled_from(("active_contributors", "releases_12m")), st.integers(0, 10**4))
def test_entering_or_raising_a_signal_never_lowers_the_score(inputs: ScoreInputs, field: str, more: int) -> None:
    before = getattr(inputs, field)
    grown = dataclasses.replace(inputs, **{field: (before or 0) + more})
    assert community_score(grown).total >= community_score(inputs).total


@given(inputs_strategy, st.integers(min_value=0, max_value=3000))
def test_an_older_last_release_never_raises_the_score(inputs: ScoreInputs, older: int) -> None:
    recent = dataclasses.replace(inputs, days_since_release=inputs.days_since_release or 0)
    old = dataclasses.replace(recent, days_since_release=(recent.days_since_release or 0) + older)
    unknown = dataclasses.replace(inputs, days_since_release=None)
    assert community_score(old).total <= community_score(recent).total
    assert community_score(unknown).total <= community_score(old).total
