"""`manage.py sweep_invitations`: one sweep, by hand or from cron, printing only counts."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from bids import tasks
from bids.models import Invitation, InvitationStatus
from bids.services.invitations import send_invitations

from .conftest import Market, build_market

pytestmark = pytest.mark.django_db

START = dt.datetime(2030, 3, 4, 9, 0, tzinfo=dt.UTC)
DEADLINE = START + dt.timedelta(days=10)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("sweep_invitations", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def sent(partner_a: Any, partner_b: Any, bid_manager: Any, settings: Any) -> Market:
    settings.INVITATION_REMINDER_HOURS = 48
    settings.INVITATION_FALLBACK_HOURS = 72
    with time_machine.travel(START, tick=False):
        market = build_market(partner_a=partner_a, partner_b=partner_b)
        send_invitations(actor=bid_manager, tender=market.tender, deadline=DEADLINE)
    return market


def test_json_counts(sent: Market) -> None:
    with time_machine.travel(START + dt.timedelta(hours=1), tick=False):
        assert json.loads(run("--json")) == {"expired": 0, "reminded": 0}
    with time_machine.travel(DEADLINE - dt.timedelta(hours=47), tick=False):
        assert json.loads(run("--json")) == {"expired": 0, "reminded": 2}
        assert json.loads(run("--json")) == {"expired": 0, "reminded": 0}
    with time_machine.travel(DEADLINE + dt.timedelta(minutes=1), tick=False):
        out = run("--json")
    assert json.loads(out) == {"expired": 2, "reminded": 0}
    assert out.count("\n") == 1  # one JSON object on one line, nothing else
    assert Invitation.objects.filter(status=InvitationStatus.EXPIRED).count() == 2
    assert Invitation.objects.filter(status=InvitationStatus.SENT).count() == 2  # the backups


def test_plain_counts(sent: Market) -> None:
    with time_machine.travel(DEADLINE + dt.timedelta(minutes=1), tick=False):
        assert run() == "2 invitation(s) expired, 0 reminder(s) sent\n"
        assert run() == "0 invitation(s) expired, 0 reminder(s) sent\n"


def test_the_periodic_task_returns_the_same_counts_and_nothing_else(sent: Market) -> None:
    with time_machine.travel(DEADLINE - dt.timedelta(hours=1), tick=False):
        assert tasks.sweep() == {"expired": 0, "reminded": 2}
