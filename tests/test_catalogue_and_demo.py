"""The CPV catalogue and the demo loader."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from bids.models import Assignment, Line, Tender, WorkPackage
from consortium.models import CpvCode
from consortium.services import cpv_level, cpv_parent, load_cpv_catalogue
from partners.models import PartnerFirm

pytestmark = pytest.mark.django_db


def test_cpv_catalogue_loads_every_code_with_both_labels() -> None:
    assert load_cpv_catalogue() == 9454
    assert CpvCode.objects.count() == 9454
    support = CpvCode.objects.get(code="72267100")
    assert support.check_digit == "0"
    assert support.label_fr and support.label_en
    assert support.parent_id == "72267000"
    assert CpvCode.objects.get(code="72000000").parent is None
    assert load_cpv_catalogue() == 9454  # again: updates, never duplicates
    assert CpvCode.objects.count() == 9454


def test_cpv_hierarchy_by_prefix() -> None:
    known = {"72000000", "72200000", "72260000", "72267000"}
    assert cpv_level("72000000") == 2
    assert cpv_level("72267100") == 6
    assert cpv_parent("72267100", known) == "72267000"
    assert cpv_parent("72230000", known) == "72200000"
    assert cpv_parent("72000000", known) is None


def test_load_demo_is_idempotent() -> None:
    call_command("load_demo")
    first = (Tender.objects.count(), Line.objects.count(), PartnerFirm.objects.count(), WorkPackage.objects.count())
    call_command("load_demo")
    assert (
        Tender.objects.count(),
        Line.objects.count(),
        PartnerFirm.objects.count(),
        WorkPackage.objects.count(),
    ) == first
    assert first[0] >= 8
    assert first[1] == 1200 + 80 + 16  # the two generated schedules and the OCDS items
    assert first[2] >= 60
    support = Tender.objects.filter(lines__origin="schedule", group_offer__isnull=True).distinct().get()
    assert not Line.objects.filter(tender=support, work_package__isnull=True).exists()
    assert Assignment.objects.filter(package__tender=support, lead__isnull=False).exists()


def test_the_demo_takes_one_tender_to_a_won_group_offer_with_its_documents_and_contract() -> None:
    from bids.models import OfferVersion
    from bids.offer_models import DocumentKind

    call_command("load_demo")
    call_command("load_demo")
    version = OfferVersion.objects.get()
    assert (version.status, version.render_status, version.number) == ("won", "succeeded", 1)
    assert version.offer.tender.offer_frozen_at is not None
    assert version.lines.count() == 80
    members = set(version.members.values_list("firm__name", flat=True))
    assert {"Libre Expertise SARL", "Coopérative Code Commun"} <= members
    kinds = list(version.documents.filter(firm__isnull=True).values_list("kind", flat=True))
    assert sorted(kinds) == sorted([DocumentKind.SCHEDULE, DocumentKind.MEMO, DocumentKind.GROUPEMENT])
    assert version.documents.filter(firm__isnull=False).count() == 2 * len(members)
    assert len(version.content_hash) == 64
    _assert_demo_money(version)


def _assert_demo_money(version: Any) -> None:
    """The contract of the won offer: orders, invoices, a partial and a late payment, a payout batch, and
    a ledger that reconciles (load_demo ran twice: nothing was posted twice)."""
    from pricing.models import Contract, Payment, PayoutBatch
    from pricing.selectors.reconcile import reconcile

    contract = Contract.objects.get()
    assert contract.version == version
    assert contract.orders.count() == 2 and contract.invoices.count() == 2
    first = contract.invoices.order_by("issued_on").first()
    assert first is not None and first.status == "paid"
    received = list(Payment.objects.filter(invoice=first).order_by("received_on").values_list("received_on", flat=True))
    assert received[0] <= first.due_on < received[-1]  # a partial payment on time, the rest late
    batch = PayoutBatch.objects.get()
    paid = set(batch.items.values_list("firm_id", flat=True))
    assert set(first.shares.filter(kind="firm").values_list("firm_id", flat=True)) <= paid  # all paid in full
    assert reconcile().ok


def test_demo_accounts_can_log_in() -> None:
    from django.test import Client

    call_command("load_demo")
    client = Client()
    response = client.post("/accounts/login/", {"username": "chargee", "password": "guichet-demo"})
    assert response.status_code == 302
    assert client.get("/tenders/").status_code == 200
