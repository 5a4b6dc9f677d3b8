"""Late-payment interest at the legal rate (ECB rate of the half-year + 8 points) and the 40 € fee."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consortium.money import from_cents
from pricing.interest import ECB_MRO_RATES, FIXED_RECOVERY_FEE, LateInterest, late_interest, legal_rate

D = Decimal
TEN_THOUSAND_EUROS = 1_000_000


def test_paid_on_the_due_date_owes_nothing() -> None:
    assert late_interest(
        principal_cents=TEN_THOUSAND_EUROS, due_on=dt.date(2024, 3, 15), paid_on=dt.date(2024, 3, 15)
    ) == (LateInterest(days=0, rate=D("0.00"), interest=D("0.00"), fixed_fee=D("0.00"), total=D("0.00")))


def test_paid_early_owes_nothing_even_before_the_rate_table() -> None:
    result = late_interest(principal_cents=TEN_THOUSAND_EUROS, due_on=dt.date(2020, 3, 15), paid_on=dt.date(2020, 3, 1))
    assert result == LateInterest(days=0, rate=D("0.00"), interest=D("0.00"), fixed_fee=D("0.00"), total=D("0.00"))


def test_one_day_late() -> None:
    # 10,000.00 x 12.50 % x 1 / 365 = 3.4246... -> 3.42; ECB 4.50 on 1 January 2024, + 8.
    result = late_interest(
        principal_cents=TEN_THOUSAND_EUROS, due_on=dt.date(2024, 3, 15), paid_on=dt.date(2024, 3, 16)
    )
    assert result == LateInterest(days=1, rate=D("12.50"), interest=D("3.42"), fixed_fee=D("40.00"), total=D("43.42"))


def test_the_rate_is_fixed_by_the_half_year_in_which_interest_started() -> None:
    # Due 29 June: interest starts on 30 June, first half-year (4.50 + 8), even if paid in August.
    # 10,000.00 x 12.50 % x 60 / 365 = 205.479... -> 205.48.
    before = late_interest(
        principal_cents=TEN_THOUSAND_EUROS, due_on=dt.date(2024, 6, 29), paid_on=dt.date(2024, 8, 28)
    )
    assert before == LateInterest(
        days=60, rate=D("12.50"), interest=D("205.48"), fixed_fee=D("40.00"), total=D("245.48")
    )
    # Due 30 June: interest starts on 1 July, second half-year (4.25 + 8). 10,000.00 x 12.25 % x 60 / 365 = 201.369...
    after = late_interest(principal_cents=TEN_THOUSAND_EUROS, due_on=dt.date(2024, 6, 30), paid_on=dt.date(2024, 8, 29))
    assert after == LateInterest(
        days=60, rate=D("12.25"), interest=D("201.37"), fixed_fee=D("40.00"), total=D("241.37")
    )


def test_crossing_new_year() -> None:
    # Due 31 December 2022: interest starts on 1 January 2023 (ECB 2.50 + 8). 10,000.00 x 10.50 % x 10 / 365 = 28.767...
    result = late_interest(
        principal_cents=TEN_THOUSAND_EUROS, due_on=dt.date(2022, 12, 31), paid_on=dt.date(2023, 1, 10)
    )
    assert result == LateInterest(days=10, rate=D("10.50"), interest=D("28.77"), fixed_fee=D("40.00"), total=D("68.77"))


def test_interest_is_rounded_once_half_up() -> None:
    # 1.00 x 12.50 % x 365 / 365 = 0.125 exactly -> 0.13 (half-up; half-even would give 0.12).
    result = late_interest(principal_cents=100, due_on=dt.date(2024, 1, 1), paid_on=dt.date(2024, 12, 31))
    assert result == LateInterest(days=365, rate=D("12.50"), interest=D("0.13"), fixed_fee=D("40.00"), total=D("40.13"))


@pytest.mark.parametrize(
    ("started_on", "rate"),
    [
        (dt.date(2022, 7, 1), D("8.00")),
        (dt.date(2022, 12, 31), D("8.00")),
        (dt.date(2023, 1, 1), D("10.50")),
        (dt.date(2023, 6, 30), D("10.50")),
        (dt.date(2023, 7, 1), D("12.00")),
        (dt.date(2024, 1, 1), D("12.50")),
        (dt.date(2024, 7, 1), D("12.25")),
        (dt.date(2025, 1, 1), D("11.15")),
        (dt.date(2025, 6, 30), D("11.15")),
        (dt.date(2025, 7, 1), D("10.15")),
    ],
)
def test_legal_rate_per_half_year(started_on: dt.date, rate: Decimal) -> None:
    assert legal_rate(started_on) == rate


def test_a_half_year_after_the_table_uses_the_last_known_rate() -> None:
    assert legal_rate(dt.date(2027, 3, 1)) == ECB_MRO_RATES[-1][1] + 8 == D("10.15")


def test_a_date_before_the_table_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"^Pas de taux BCE connu pour le semestre commençant le 2022-01-01 "
        r"\(le premier connu est du 2022-07-01\)\.$",
    ):
        legal_rate(dt.date(2022, 6, 30))
    with pytest.raises(ValueError, match="2022-01-01"):
        late_interest(principal_cents=TEN_THOUSAND_EUROS, due_on=dt.date(2022, 6, 28), paid_on=dt.date(2022, 7, 10))


@pytest.mark.parametrize("principal", [-1, True, "100"])
def test_a_principal_that_is_not_whole_cents_is_refused(principal: object) -> None:
    with pytest.raises(ValueError, match="nombre entier de centimes"):
        late_interest(principal_cents=principal, due_on=dt.date(2024, 1, 1), paid_on=dt.date(2024, 2, 1))  # type: ignore[arg-type]


def test_the_table_has_one_row_per_half_year_start_in_order() -> None:
    starts = [in_force_on for in_force_on, _rate in ECB_MRO_RATES]
    assert all(start.day == 1 and start.month in (1, 7) for start in starts)
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert D("40.00") == FIXED_RECOVERY_FEE


@given(
    principal=st.integers(min_value=0, max_value=10**12),
    due_on=st.dates(min_value=dt.date(2022, 7, 1), max_value=dt.date(2030, 12, 31)),
    days=st.integers(min_value=1, max_value=3000),
)
def test_interest_matches_whole_number_arithmetic(principal: int, due_on: dt.date, days: int) -> None:
    result = late_interest(principal_cents=principal, due_on=due_on, paid_on=due_on + dt.timedelta(days=days))
    hundredths_of_percent = int(result.rate * 100)
    numerator = principal * hundredths_of_percent * days  # in cents x 10,000 x 365
    denominator = 100 * 100 * 365
    half_up_cents = (2 * numerator + denominator) // (2 * denominator)
    assert result.days == days
    assert result.interest == from_cents(half_up_cents)
    assert result.total == result.interest + D("40.00")
