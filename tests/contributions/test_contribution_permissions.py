"""Who may open what on the contribution pages: every URL of the "contributions" app, for each persona, on a
days commitment of firm A on a contract whose members are firms A and B.

tests/test_permissions.py checks that every URL has its row, here or in another matrix. POSTs are sent
empty: refused before any write for those without the right (partner B does not even learn that firm A's
commitment exists), and answered with the form's errors (400, never a 500) for the others.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import get_resolver, reverse

from pricing.models import Commitment, CommitmentKind, ContributionPayment, Entry, WorkDelivery
from pricing.services.commitments import CommitmentInput, ProjectInput, create_commitment, save_project
from tests.conftest import client_for
from tests.ledger.conftest import SIGNED_ON, LedgerContract

pytestmark = pytest.mark.django_db

PERSONAS = ("bid_manager", "partner_a", "partner_b", "finance", "outsider", "anonymous")


def _row(bid_manager: int, partner_a: int, partner_b: int, finance: int) -> dict[str, int]:
    return {
        "bid_manager": bid_manager,
        "partner_a": partner_a,
        "partner_b": partner_b,
        "finance": finance,
        "outsider": 403,
        "anonymous": 302,
    }


CONTRIBUTION_MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    # Every role reads the list: a partner's holds only its firm's commitments.
    "contributions:commitment_list": ("get", _row(200, 200, 200, 200)),
    "contributions:commitment_detail": ("get", _row(200, 200, 404, 200)),
    "contributions:commitment_new": ("get", _row(200, 403, 403, 200)),
    # Work: staff and the committed firm's users; an empty form is refused with its errors.
    "contributions:work_new": ("post", _row(400, 400, 404, 400)),
    # Money: finance (and admins) only.
    "contributions:payment_new": ("post", _row(403, 403, 403, 400)),
    "contributions:payment_reverse": ("post", _row(403, 403, 403, 400)),
    # Upstream projects and their community score: staff only; an empty observation is refused with its errors.
    "contributions:project_list": ("get", _row(200, 403, 403, 200)),
    "contributions:project_detail": ("get", _row(200, 403, 403, 200)),
    "contributions:project_new": ("get", _row(200, 403, 403, 200)),
    "contributions:project_edit": ("get", _row(200, 403, 403, 200)),
    "contributions:project_signals": ("post", _row(400, 403, 403, 400)),
    "contributions:project_signals_import": ("get", _row(200, 403, 403, 200)),
}
PROJECT_PAGES_WITHOUT_SLUG = {
    "contributions:project_list", "contributions:project_new", "contributions:project_signals_import"
}  # fmt: skip


def firm_a_days_commitment(ledger_contract: LedgerContract, actor: Any) -> Commitment:
    project = save_project(actor=actor, data=ProjectInput(name="PostgreSQL"))
    return create_commitment(
        actor=actor,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.DAYS,
            title="Correctifs du planificateur",
            starts_on=SIGNED_ON,
            ends_on=SIGNED_ON + dt.timedelta(days=365),
            dues=[(SIGNED_ON + dt.timedelta(days=180), Decimal(2)), (SIGNED_ON + dt.timedelta(days=365), Decimal(3))],
            contract_id=ledger_contract.contract.pk,
            firm_id=ledger_contract.market.firm_a.pk,
            days=Decimal(5),
        ),
    )


@pytest.fixture
def commitment(ledger_contract: LedgerContract, bid_manager: Any) -> Commitment:
    return firm_a_days_commitment(ledger_contract, bid_manager)


def _url(name: str, commitment: Commitment) -> str:
    if name in {"contributions:commitment_list", "contributions:commitment_new"}:
        return reverse(name)
    if name in PROJECT_PAGES_WITHOUT_SLUG:
        return reverse(name)
    if name.startswith("contributions:project_"):
        return reverse(name, args=[commitment.project.slug])
    return reverse(name, args=[commitment.pk])


def _written() -> tuple[int, int, int]:
    return WorkDelivery.objects.count(), ContributionPayment.objects.count(), Entry.objects.count()


@pytest.mark.parametrize("name", CONTRIBUTION_MATRIX)
def test_contribution_pages(name: str, personas: dict[str, Any], commitment: Commitment) -> None:
    method, expected = CONTRIBUTION_MATRIX[name]
    url = _url(name, commitment)
    before = _written()
    seen = {persona: getattr(client_for(personas[persona]), method)(url).status_code for persona in PERSONAS}
    assert seen == expected
    assert _written() == before  # empty posts write nothing


def test_every_contribution_url_has_its_row() -> None:
    from tests.test_permissions import _url_names

    names = {name for name in _url_names(get_resolver()) if name.startswith("contributions:")}
    assert names == set(CONTRIBUTION_MATRIX)


@pytest.mark.parametrize("name", [name for name, (method, _e) in CONTRIBUTION_MATRIX.items() if method == "post"])
def test_posts_refuse_get(name: str, finance: Any, commitment: Commitment) -> None:
    assert client_for(finance).get(_url(name, commitment)).status_code == 405


def test_unknown_commitment_is_404(finance: Any, partner_a: Any) -> None:
    for user in (finance, partner_a):
        assert client_for(user).get(reverse("contributions:commitment_detail", args=[999_999])).status_code == 404
