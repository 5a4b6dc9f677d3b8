"""The status rules of a commitment at their boundaries (pricing/commitment_rules.py), with a frozen clock:
a due date 15 days ahead is on track, 14 days ahead and on the day at risk, the day after overdue; amount
and days commitments are fulfilled once delivered >= promised, a levy only after its period has ended."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from pricing.commitment_rules import (
    WARNING_DAYS,
    CommitmentStatus,
    DueCheck,
    commitment_status,
    cumulative,
    reminders_due,
)
from pricing.models import Commitment, CommitmentKind, UpstreamProject
from pricing.selectors.commitments import commitment_progress, commitments_progress
from pricing.services.commitments import (
    CommitmentInput,
    ContributionPaymentInput,
    create_commitment,
    record_contribution_payment,
    record_work,
)
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from tests.ledger.conftest import SIGNED_ON, LedgerContract

DUE = dt.date(2026, 6, 30)
START = dt.date(2026, 1, 1)
END = dt.date(2026, 12, 31)
ON_TRACK, AT_RISK, OVERDUE, FULFILLED = (
    CommitmentStatus.ON_TRACK,
    CommitmentStatus.AT_RISK,
    CommitmentStatus.OVERDUE,
    CommitmentStatus.FULFILLED,
)


def status(today: dt.date, delivered: int | Decimal, *, promised: int | Decimal = 100, **kwargs: Any) -> str:
    dues = kwargs.pop("dues", [DueCheck(DUE, promised)])
    return commitment_status(
        today=today, ends_on=kwargs.pop("ends_on", END), promised=promised, delivered=delivered, dues=dues, **kwargs
    )


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


# the pure rules ---------------------------------------------------------------------------------------------


def test_the_warning_window_is_fourteen_days() -> None:
    assert WARNING_DAYS == 14


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-200, ON_TRACK),
        (-15, ON_TRACK),
        (-14, AT_RISK),
        (-1, AT_RISK),
        (0, AT_RISK),
        (1, OVERDUE),
        (150, OVERDUE),
    ],
)
def test_an_unmet_due_date_at_its_boundaries(offset: int, expected: str) -> None:
    assert status(DUE + days(offset), 0) == expected


@pytest.mark.parametrize("offset", [-14, 0, 1])
def test_partly_delivered_is_still_unmet(offset: int) -> None:
    assert status(DUE + days(offset), 99) == (OVERDUE if offset > 0 else AT_RISK)


@pytest.mark.parametrize("offset", [-15, -14, 0, 1, 30])
def test_a_met_due_date_is_on_track_when_more_is_promised_later(offset: int) -> None:
    dues = cumulative([(DUE, 40), (DUE + days(60), 60)])
    assert status(DUE + days(offset), 40, dues=dues) == ON_TRACK


def test_the_second_due_date_has_its_own_window() -> None:
    later = DUE + days(60)
    dues = cumulative([(DUE, 40), (later, 60)])
    assert status(later - days(15), 40, dues=dues) == ON_TRACK
    assert status(later - days(14), 40, dues=dues) == AT_RISK
    assert status(later, 99, dues=dues) == AT_RISK
    assert status(later + days(1), 99, dues=dues) == OVERDUE
    # the first date missed: overdue, whatever comes next
    assert status(later - days(15), 39, dues=dues) == OVERDUE


def test_overdue_wins_over_at_risk() -> None:
    dues = cumulative([(DUE, 40), (DUE + days(10), 60)])
    assert status(DUE + days(1), 0, dues=dues) == OVERDUE


@pytest.mark.parametrize("offset", [-200, -15, -14, 0, 1, 400])
@pytest.mark.parametrize("delivered", [100, 101])
def test_amount_and_days_are_fulfilled_once_delivered_covers_the_promise(offset: int, delivered: int) -> None:
    assert status(DUE + days(offset), delivered) == FULFILLED
    assert status(DUE + days(offset), Decimal(delivered), promised=Decimal(100)) == FULFILLED


def test_days_in_halves() -> None:
    dues = [DueCheck(DUE, Decimal("2.5"))]
    assert status(DUE, Decimal("2.0"), promised=Decimal("2.5"), dues=dues) == AT_RISK
    assert status(DUE + days(1), Decimal("2.49"), promised=Decimal("2.5"), dues=dues) == OVERDUE
    assert status(DUE + days(1), Decimal("2.50"), promised=Decimal("2.5"), dues=dues) == FULFILLED


def test_a_levy_is_fulfilled_only_after_its_period() -> None:
    levy: dict[str, Any] = {"grows_until_end": True, "ends_on": END, "dues": [DueCheck(END + days(30), 100)]}
    assert status(END - days(100), 100, **levy) == ON_TRACK
    assert status(END, 100, **levy) == ON_TRACK  # the last day of the period: the promise may still grow
    assert status(END + days(1), 100, **levy) == FULFILLED
    assert status(END + days(1), 99, **levy) == ON_TRACK  # its due date is 29 days away
    assert status(END + days(15), 99, **levy) == ON_TRACK
    assert status(END + days(16), 99, **levy) == AT_RISK
    assert status(END + days(30), 99, **levy) == AT_RISK
    assert status(END + days(31), 99, **levy) == OVERDUE


def test_a_levy_with_nothing_collected_is_fulfilled_after_its_period() -> None:
    assert status(END + days(1), 0, promised=0, grows_until_end=True, dues=[DueCheck(END, 0)]) == FULFILLED
    assert status(END, 0, promised=0, grows_until_end=True, dues=[DueCheck(END, 0)]) == ON_TRACK


def test_cumulative_sorts_and_adds_up() -> None:
    assert cumulative([(DUE + days(30), 3), (DUE, 2)]) == [DueCheck(DUE, 2), DueCheck(DUE + days(30), 5)]
    assert cumulative([]) == []


# reminders_due ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-15, []), (-14, [(DUE, "before")]), (0, [(DUE, "before")]), (1, [(DUE, "after")]), (90, [(DUE, "after")])],
)
def test_reminders_of_an_unmet_due_date(offset: int, expected: list[tuple[dt.date, str]]) -> None:
    assert reminders_due(today=DUE + days(offset), delivered=0, dues=[DueCheck(DUE, 10)]) == expected


@pytest.mark.parametrize("offset", [-14, 0, 1, 90])
def test_no_reminder_for_a_met_due_date(offset: int) -> None:
    assert reminders_due(today=DUE + days(offset), delivered=10, dues=[DueCheck(DUE, 10)]) == []


def test_reminders_of_two_due_dates() -> None:
    second = DUE + days(10)
    dues = cumulative([(DUE, 4), (second, 6)])
    assert reminders_due(today=DUE + days(1), delivered=0, dues=dues) == [(DUE, "after"), (second, "before")]
    assert reminders_due(today=DUE + days(1), delivered=4, dues=dues) == [(second, "before")]
    assert reminders_due(today=second + days(1), delivered=9, dues=dues) == [(second, "after")]
    assert reminders_due(today=second + days(1), delivered=10, dues=dues) == []


# through commitments_progress with a frozen clock ----------------------------------------------------------


@pytest.fixture
def project(db: None) -> UpstreamProject:
    return UpstreamProject.objects.create(name="PostgreSQL", slug="postgresql")


def days_commitment(contract: LedgerContract, project: UpstreamProject) -> Commitment:
    return create_commitment(
        actor=contract.finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.DAYS,
            title="Quatre jours sur la réplication logique",
            starts_on=START,
            ends_on=END,
            dues=[(DUE, Decimal(1)), (DUE + days(90), Decimal(3))],
            contract_id=contract.contract.pk,
            firm_id=contract.market.firm_a.pk,
            days=Decimal(4),
        ),
    )


@pytest.fixture
def frozen() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC), tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
def test_a_days_commitment_moves_with_the_clock(
    ledger_contract: LedgerContract, project: UpstreamProject, frozen: time_machine.Traveller
) -> None:
    commitment = days_commitment(ledger_contract, project)

    def now() -> Any:
        return commitments_progress([commitment])[commitment.pk]

    seen = {}
    for offset in (-15, -14, 0, 1):
        frozen.move_to(dt.datetime.combine(DUE + days(offset), dt.time(12), tzinfo=dt.UTC))
        assert dt.date.today() == DUE + days(offset)
        seen[offset] = now().status
    assert seen == {-15: ON_TRACK, -14: AT_RISK, 0: AT_RISK, 1: OVERDUE}

    frozen.move_to(dt.datetime.combine(DUE + days(1), dt.time(12), tzinfo=dt.UTC))
    progress = now()
    assert (progress.promised, progress.accrued, progress.delivered) == (Decimal(4), Decimal(1), Decimal(0))
    assert (progress.outstanding, progress.left_to_deliver) == (Decimal(1), Decimal(4))
    assert progress.next_due == DUE + days(90)
    assert progress.in_days

    record_work(
        actor=ledger_contract.market.partner_a,
        commitment=commitment,
        days=Decimal(1),
        delivered_on=DUE,
        description="Correctif de la réplication",
        links=["https://github.com/postgres/postgres/commit/0123abcd"],
    )
    progress = now()
    assert (progress.status, progress.outstanding, progress.delivered) == (ON_TRACK, Decimal(0), Decimal(1))

    frozen.move_to(dt.datetime.combine(DUE + days(90 - 14), dt.time(12), tzinfo=dt.UTC))
    assert now().status == AT_RISK
    record_work(
        actor=ledger_contract.finance,
        commitment=commitment,
        days=Decimal(3),
        delivered_on=DUE + days(70),
        description="Nouvelle version",
        links=["https://github.com/postgres/postgres/releases/tag/REL_18_1"],
    )
    progress = now()
    assert (progress.status, progress.next_due, progress.left_to_deliver) == (FULFILLED, None, Decimal(0))
    # the explicit `today` and the clock agree
    assert commitment_progress(commitment, today=DUE - days(100)).status == FULFILLED


@pytest.mark.django_db
def test_an_amount_commitment_through_the_selector(ledger_contract: LedgerContract, project: UpstreamProject) -> None:
    commitment = create_commitment(
        actor=ledger_contract.finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.AMOUNT,
            title="500 € en deux fois",
            starts_on=START,
            ends_on=END,
            dues=[(DUE + days(90), 30_000), (DUE, 20_000)],
            amount_cents=50_000,
        ),
    )
    expected = {
        DUE - days(15): (ON_TRACK, 0, DUE),
        DUE - days(14): (AT_RISK, 0, DUE),
        DUE: (AT_RISK, 20_000, DUE),
        DUE + days(1): (OVERDUE, 20_000, DUE + days(90)),
        DUE + days(91): (OVERDUE, 50_000, None),
    }
    for today, (state, accrued, next_due) in expected.items():
        progress = commitments_progress([commitment], today=today)[commitment.pk]
        assert (progress.status, progress.accrued, progress.next_due) == (state, accrued, next_due), today
        assert (progress.promised, progress.delivered, progress.outstanding) == (50_000, 0, accrued)
    assert not progress.in_days


@pytest.mark.django_db
def test_a_levy_commitment_is_fulfilled_the_day_after_its_period(
    ledger_contract: LedgerContract, project: UpstreamProject
) -> None:
    finance = ledger_contract.finance
    order = ledger_contract.order()
    invoice = issue_invoice(actor=finance, order=order, number="F-1", issued_on=SIGNED_ON + dt.timedelta(days=20))
    paid_on = SIGNED_ON + dt.timedelta(days=30)
    record_payment(actor=finance, payment=PaymentInput(invoice.pk, paid_on, invoice.total_ttc_cents, "VIR-1"))
    share = invoice.shares.filter(kind="levy").order_by("pk").first()
    assert share is not None and share.project_id is not None
    period_end = paid_on + days(10)
    commitment = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=share.project_id,
            kind=CommitmentKind.LEVY,
            title="Contribution amont du marché",
            starts_on=SIGNED_ON,
            ends_on=period_end,
            dues=[(period_end + days(60), None)],
            contract_id=ledger_contract.contract.pk,
        ),
    )
    progress = commitment_progress(commitment, today=period_end)
    assert progress.accrued == progress.promised == share.ttc_cents > 0
    assert progress.status == ON_TRACK
    # the due date asks for what was collected 30 days before it: all of it
    assert progress.dues == (DueCheck(period_end + days(60), share.ttc_cents),)
    assert commitment_progress(commitment, today=period_end + days(46)).status == AT_RISK
    assert commitment_progress(commitment, today=period_end + days(61)).status == OVERDUE
    record_contribution_payment(
        actor=finance,
        commitment=commitment,
        payment=ContributionPaymentInput(share.ttc_cents, paid_on + days(5), "VIR-PG-1", "fund"),
    )
    assert commitment_progress(commitment, today=period_end).status == ON_TRACK
    assert commitment_progress(commitment, today=period_end + days(1)).status == FULFILLED
    assert commitment_progress(commitment, today=period_end + days(61)).status == FULFILLED


def test_a_levy_invoiced_but_never_paid_is_promised_not_owed(
    ledger_contract: LedgerContract, project: UpstreamProject
) -> None:
    """The buyer paid half: the promise shows the whole invoiced levy, but only the collected half is owed."""
    finance = ledger_contract.finance
    invoice = issue_invoice(
        actor=finance, order=ledger_contract.order(), number="F-1", issued_on=SIGNED_ON + dt.timedelta(days=20)
    )
    paid_on = SIGNED_ON + dt.timedelta(days=30)
    record_payment(actor=finance, payment=PaymentInput(invoice.pk, paid_on, invoice.total_ttc_cents // 2, "VIR-1"))
    share = invoice.shares.filter(kind="levy").order_by("pk").first()
    assert share is not None and share.project_id is not None
    period_end = paid_on + days(10)
    commitment = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=share.project_id,
            kind=CommitmentKind.LEVY,
            title="Contribution amont du marché",
            starts_on=SIGNED_ON,
            ends_on=period_end,
            dues=[(period_end + days(60), None)],
            contract_id=ledger_contract.contract.pk,
        ),
    )
    progress = commitment_progress(commitment, today=period_end)
    assert 0 < progress.accrued < progress.promised == share.ttc_cents
    record_contribution_payment(
        actor=finance,
        commitment=commitment,
        payment=ContributionPaymentInput(int(progress.accrued), paid_on + days(5), "VIR-PG-1", "fund"),
    )
    after = commitment_progress(commitment, today=period_end + days(1))
    assert (after.status, after.outstanding) == (FULFILLED, 0)
    assert after.left_to_deliver == share.ttc_cents - progress.accrued  # shown, not owed
