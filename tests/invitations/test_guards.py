"""Lines offered to a firm stay as they were offered: no re-split, move, merge or re-import behind its back."""

from __future__ import annotations

from typing import Any

import pytest

from bids.importers.base import ImportFailed
from bids.models import Invitation, Line
from bids.services.imports import import_file
from bids.services.invitations import default_deadline, send_invitations, withdraw_invitation
from bids.services.packages import PackageChangeRefused, merge_packages, move_lines, split_package, split_tender
from tests.conftest import make_xlsx

from .conftest import Market, invitation_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def invited(market: Market, bid_manager: Any) -> Market:
    send_invitations(actor=bid_manager, tender=market.tender, deadline=default_deadline(market.tender))
    return market


def test_package_changes_are_refused_while_invited(invited: Market, bid_manager: Any) -> None:
    pg, nginx = invited.packages["PostgreSQL"], invited.packages["Nginx"]
    line = invited.lines["Nginx"][0]
    attempts = [
        lambda: split_tender(actor=bid_manager, tender=invited.tender),
        lambda: move_lines(actor=bid_manager, tender=invited.tender, line_ids=[line.pk], target=pg),
        lambda: merge_packages(actor=bid_manager, tender=invited.tender, package_ids=[pg.pk, nginx.pk], name="Tout"),
        lambda: split_package(actor=bid_manager, package=pg, line_ids=[invited.lines["PostgreSQL"][0].pk], name="X"),
    ]
    for attempt in attempts:
        with pytest.raises(PackageChangeRefused, match="retirez l'invitation"):
            attempt()
    assert Line.objects.get(pk=line.pk).work_package_id == nginx.pk
    assert Invitation.objects.filter(tender=invited.tender).count() == 2


def test_withdrawn_invitations_free_the_package(invited: Market, bid_manager: Any) -> None:
    nginx_b = invitation_of(invited, "Nginx", "B")
    withdraw_invitation(actor=bid_manager, invitation_id=nginx_b.pk)
    target = invited.packages["Nginx"]
    line = invited.lines["Nginx"][0]
    split_package(actor=bid_manager, package=target, line_ids=[line.pk], name="Support Nginx seul")
    assert Line.objects.get(pk=line.pk).work_package_id != target.pk


def test_schedule_reimport_is_refused_while_invited(invited: Market, bid_manager: Any) -> None:
    Line.objects.filter(tender=invited.tender).update(origin="schedule")
    schedule = make_xlsx([["N°", "Désignation", "Unité", "Quantité", "Prix unitaire"], ["1", "Support", "jour", 2, 10]])
    with pytest.raises(ImportFailed, match="withdraw its invitations"):
        import_file(actor=bid_manager, data=schedule, source="bpu.xlsx", target=invited.tender)
    assert Line.objects.filter(tender=invited.tender).count() == 5
