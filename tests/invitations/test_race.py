"""The concurrency proof: two answers for one package at the same moment, on real concurrent connections.

Each test runs once per database: the `sqlite` variant on the embedded default, the `postgresql` variant when
DATABASE_URL points to PostgreSQL; the other variant is skipped. `pytest -k race` selects them all.

The answers are made slow on purpose (a pause between reading the invitation and writing the answer), so both
threads are inside their transaction at the same time. What makes the second one wait and then see the first:
on PostgreSQL the package row lock (`_locked_invitation`), on SQLite `BEGIN IMMEDIATE`. Without them these tests
fail (PostgreSQL: a deadlock between the two acceptances; SQLite in deferred mode: "database is locked").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from bids.models import Invitation, InvitationPrice, InvitationStatus
from bids.selectors.invitations import dashboard_rows, is_ready_for_assembly, tender_totals
from bids.services import invitations as service
from bids.services.invitations import InvitationRefused, accept_invitation, default_deadline, invite_firm
from consortium.models import AuditEvent

from .conftest import Market

pytestmark = pytest.mark.django_db(transaction=True)

ON_EACH_DATABASE = pytest.mark.parametrize(
    "database",
    [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)],
)
PRICES_A = ["100.00", "200.00", "300.00"]  # 10 x 100 + 2 x 200 + 1 x 300
PRICES_B = ["111.11", "222.22", "333.33"]  # 10 x 111.11 + 2 x 222.22 + 1 x 333.33
TOTAL = {"A": Decimal("1700.00"), "B": Decimal("1888.87")}
ALREADY_TAKEN = "déjà été attribué"
ALREADY_ANSWERED = "réponse déjà enregistrée"


@pytest.fixture
def slow_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the window between the checks and the write, so the two threads really overlap."""
    check_prices = service.check_prices

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.2)
        return check_prices(*args, **kwargs)

    monkeypatch.setattr(service, "check_prices", slow_check)


@pytest.fixture
def two_invited(market: Market, bid_manager: Any) -> tuple[Invitation, Invitation]:
    """Firms A and B both invited to the PostgreSQL package: the first to accept wins."""
    package = market.packages["PostgreSQL"]
    deadline = default_deadline(market.tender)
    return (
        invite_firm(actor=bid_manager, package=package, firm=market.firms["A"], deadline=deadline),
        invite_firm(actor=bid_manager, package=package, firm=market.firms["B"], deadline=deadline),
    )


def on(database: str) -> None:
    if connection.vendor != database:
        pytest.skip(f"runs when the test database is {database}")


def at_once(*calls: Callable[[], Invitation]) -> list[Invitation | BaseException]:
    """Run `calls` in as many threads released together by a barrier; each returns its result or its error."""
    barrier = threading.Barrier(len(calls))
    results: list[Invitation | BaseException | None] = [None] * len(calls)

    def run(index: int, call: Callable[[], Invitation]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def accept(market: Market, user: Any, invitation: Invitation, prices: list[str]) -> Callable[[], Invitation]:
    return lambda: accept_invitation(
        actor=user,
        invitation_id=invitation.pk,
        entries=market.entries("PostgreSQL", prices),
        version=invitation.version,
    )


def race_two_firms(market: Market, partner_a: Any, partner_b: Any, a: Invitation, b: Invitation) -> str:
    """A and B accept at once; check that exactly one won and nothing is corrupted. Returns the winner."""
    results = at_once(accept(market, partner_a, a, PRICES_A), accept(market, partner_b, b, PRICES_B))
    won = [r for r in results if isinstance(r, Invitation)]
    lost = [r for r in results if not isinstance(r, Invitation)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], InvitationRefused), repr(lost[0])
    assert ALREADY_TAKEN in str(lost[0])
    winner, loser = (a, b) if won[0].pk == a.pk else (b, a)
    key = "A" if winner.pk == a.pk else "B"

    package = market.packages["PostgreSQL"]
    accepted = Invitation.objects.filter(package=package, status=InvitationStatus.ACCEPTED)
    assert list(accepted.values_list("pk", flat=True)) == [winner.pk]
    winner.refresh_from_db()
    loser.refresh_from_db()
    assert winner.total == TOTAL[key]
    assert winner.version == 2  # sent (1) -> accepted (2): one move
    assert loser.status == InvitationStatus.SUPERSEDED
    assert loser.total is None and loser.answered_at is None
    assert not InvitationPrice.objects.filter(invitation=loser).exists()
    prices = dict(InvitationPrice.objects.filter(invitation=winner).values_list("line_id", "unit_price"))
    lines = market.lines["PostgreSQL"]
    assert prices == {line.pk: Decimal(p) for line, p in zip(lines, PRICES_A if key == "A" else PRICES_B, strict=True)}
    assert sum((line.quantity * prices[line.pk] for line in lines if line.quantity), Decimal(0)) == TOTAL[key]
    assert tender_totals(market.tender) == {"accepted_total": TOTAL[key], "accepted_count": 1, "live_count": 1}
    row = next(r for r in dashboard_rows(market.tender) if r["package"].pk == package.pk)
    assert (row["status"], row["total"], row["open_count"]) == (InvitationStatus.ACCEPTED, TOTAL[key], 0)
    assert not is_ready_for_assembly(market.tender)  # the Nginx package is still unanswered
    return key


@ON_EACH_DATABASE
def test_race_two_firms_accept_one_package(
    database: str,
    market: Market,
    partner_a: Any,
    partner_b: Any,
    two_invited: tuple[Invitation, Invitation],
    slow_answers: None,
) -> None:
    on(database)
    race_two_firms(market, partner_a, partner_b, *two_invited)


@ON_EACH_DATABASE
def test_race_one_firm_double_submits(
    database: str, market: Market, partner_a: Any, two_invited: tuple[Invitation, Invitation], slow_answers: None
) -> None:
    on(database)
    a, b = two_invited
    results = at_once(accept(market, partner_a, a, PRICES_A), accept(market, partner_a, a, PRICES_B))
    won = [r for r in results if isinstance(r, Invitation)]
    lost = [r for r in results if not isinstance(r, Invitation)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], InvitationRefused), repr(lost[0])
    assert ALREADY_ANSWERED in str(lost[0])
    a.refresh_from_db()
    assert a.status == InvitationStatus.ACCEPTED
    assert a.version == 2  # raised once, by the acceptance; the second submission changed nothing
    kept = PRICES_A if a.total == TOTAL["A"] else PRICES_B  # whichever submission won, all of it and only it
    assert a.total == won[0].total == TOTAL["A" if kept is PRICES_A else "B"]
    prices = dict(InvitationPrice.objects.filter(invitation=a).values_list("line_id", "unit_price"))
    assert prices == {line.pk: Decimal(p) for line, p in zip(market.lines["PostgreSQL"], kept, strict=True)}
    assert Invitation.objects.filter(package=a.package_id, status=InvitationStatus.ACCEPTED).count() == 1
    assert AuditEvent.objects.filter(action="invitation.accepted", object_id=str(a.pk)).count() == 1
    b.refresh_from_db()
    assert b.status == InvitationStatus.SUPERSEDED


@ON_EACH_DATABASE
def test_race_repeated_rounds(
    database: str, market: Market, partner_a: Any, partner_b: Any, bid_manager: Any, slow_answers: None
) -> None:
    """The two-firm race ten times: after each round the winner is withdrawn and both firms are invited again."""
    on(database)
    package = market.packages["PostgreSQL"]
    deadline = default_deadline(market.tender)
    winners = []
    for _ in range(10):
        a = invite_firm(actor=bid_manager, package=package, firm=market.firms["A"], deadline=deadline)
        b = invite_firm(actor=bid_manager, package=package, firm=market.firms["B"], deadline=deadline)
        winners.append(race_two_firms(market, partner_a, partner_b, a, b))
        winner = Invitation.objects.get(package=package, status=InvitationStatus.ACCEPTED)
        service.withdraw_invitation(actor=bid_manager, invitation_id=winner.pk)
    assert len(winners) == 10
    assert Invitation.objects.filter(package=package, status=InvitationStatus.WITHDRAWN).count() == 10
    assert Invitation.objects.filter(package=package, status=InvitationStatus.SUPERSEDED).count() == 10
