"""The contribution pages end to end (in the test client): a bid manager creates a commitment, partner A records
its work with links, partner B never sees it, finance pays a project out of its fund after a redistributed
payment (and not beyond it) and reverses the payment; the list's filters and its query count.
"""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pricing.commitment_rules import CommitmentStatus
from pricing.models import (
    Commitment,
    CommitmentDue,
    CommitmentKind,
    ContributionPayment,
    Entry,
    EntryKind,
    UpstreamProject,
    WorkDelivery,
)
from pricing.selectors.commitments import commitment_progress, fund_balance
from pricing.services.commitments import CommitmentInput, ProjectInput, create_commitment, record_work, save_project
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from tests.conftest import client_for
from tests.ledger.conftest import SIGNED_ON, LedgerContract

pytestmark = pytest.mark.django_db

GOOD_LINKS = "https://github.com/postgres/postgres/pull/123\nhttps://gitlab.com/org/pg-tools/-/issues/45"
LEVY_PROJECT = "PostgreSQL Global Development Group"  # named by firm A's skill: the levy of its lines goes there


def today() -> dt.date:
    return timezone.localdate()


def text_of(response: Any) -> str:
    return html.unescape(response.content.decode())


def detail_url(commitment: Commitment) -> str:
    return reverse("contributions:commitment_detail", args=[commitment.pk])


def days_commitment(
    contract: LedgerContract, actor: Any, *, title: str = "Correctifs du planificateur", project: str = "PostgreSQL"
) -> Commitment:
    """Firm A promises 5 days: 2 due ten days ago (missed so far), 3 in a hundred days."""
    project_id = (UpstreamProject.objects.filter(name=project).first() or _project(actor, project)).pk
    return create_commitment(
        actor=actor,
        data=CommitmentInput(
            project_id=project_id,
            kind=CommitmentKind.DAYS,
            title=title,
            starts_on=today() - dt.timedelta(days=60),
            ends_on=today() + dt.timedelta(days=100),
            dues=[(today() - dt.timedelta(days=10), Decimal(2)), (today() + dt.timedelta(days=100), Decimal(3))],
            contract_id=contract.contract.pk,
            firm_id=contract.market.firm_a.pk,
            days=Decimal(5),
        ),
    )


def _project(actor: Any, name: str) -> UpstreamProject:
    return save_project(actor=actor, data=ProjectInput(name=name))


# --- Creating a commitment ------------------------------------------------------------------------------------


def creation_form(contract: LedgerContract, project: UpstreamProject, **changes: str) -> dict[str, str]:
    form = {
        "project": str(project.pk),
        "contract": str(contract.contract.pk),
        "firm": str(contract.market.firm_a.pk),
        "kind": "days",
        "title": "Maintenance de l'extension PostGIS",
        "amount": "",
        "days": "5",
        "starts_on": "2026-01-05",
        "ends_on": "2026-12-31",
        "dues": "2026-06-30;2\r\n\r\n2026-12-31;3",
    }
    form.update(changes)
    return form


def test_bid_manager_creates_a_days_commitment_with_two_dues(ledger_contract: LedgerContract, bid_manager: Any) -> None:
    project = _project(bid_manager, "PostGIS")
    client = client_for(bid_manager)
    assert client.get(reverse("contributions:commitment_new")).status_code == 200
    response = client.post(reverse("contributions:commitment_new"), creation_form(ledger_contract, project))
    commitment = Commitment.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(commitment)
    assert (commitment.kind, commitment.days, commitment.amount_cents) == ("days", Decimal("5.00"), None)
    assert commitment.firm == ledger_contract.market.firm_a and commitment.contract == ledger_contract.contract
    assert list(commitment.dues.values_list("due_on", "days")) == [
        (dt.date(2026, 6, 30), Decimal("2.00")),
        (dt.date(2026, 12, 31), Decimal("3.00")),
    ]
    page = text_of(client.get(detail_url(commitment)))
    assert "Maintenance de l'extension PostGIS" in page and "30/06/2026" in page and "31/12/2026" in page


def test_amount_commitment_keeps_exact_cents(ledger_contract: LedgerContract, finance: Any) -> None:
    project = _project(finance, "PostGIS")
    form = creation_form(
        ledger_contract, project, kind="amount", days="", amount="1 234,56", dues="2026-06-30;234,56\n2026-12-31;1000"
    )
    response = client_for(finance).post(reverse("contributions:commitment_new"), form)
    assert response.status_code == 302
    commitment = Commitment.objects.get()
    assert commitment.amount_cents == 123_456
    assert sorted(commitment.dues.values_list("amount_cents", flat=True)) == [23_456, 100_000]


@pytest.mark.parametrize(
    ("changes", "messages"),
    [
        ({"dues": "2026-13-01;2\nsoon;1\n2026-12-31"}, ["ligne 1 :", "ligne 2 :", "ligne 3 :", "AAAA-MM-JJ"]),
        ({"dues": "2026-06-30;deux"}, ["ligne 1 : « deux » n'est pas un nombre de jours."]),
        ({"dues": "2026-06-30;2\n2026-12-31;2"}, ["Les échéances font 4", "la promesse 5"]),  # the service refuses
        ({"days": "", "dues": "2026-06-30;5"}, ["un engagement en jours dit combien il en promet."]),
        ({"kind": "levy", "days": "", "dues": "2026-06-30"}, ["collectée et versée par le guichet"]),
        ({"kind": "levy", "firm": "", "days": "", "dues": "2026-06-30;12"}, ["ligne 1 : une part du chiffre"]),
        ({"ends_on": "2025-12-31"}, ["la fin précède le début."]),
    ],
)
def test_refused_commitment_names_the_problem_and_saves_nothing(
    ledger_contract: LedgerContract, bid_manager: Any, changes: dict[str, str], messages: list[str]
) -> None:
    project = _project(bid_manager, "PostGIS")
    response = client_for(bid_manager).post(
        reverse("contributions:commitment_new"), creation_form(ledger_contract, project, **changes)
    )
    assert response.status_code == 400
    page = text_of(response)
    for message in messages:
        assert message in page
    assert not Commitment.objects.exists() and not CommitmentDue.objects.exists()


# --- Work delivered -----------------------------------------------------------------------------------------------


def work_form(links: str, days: str = "2") -> dict[str, str]:
    return {
        "work-days": days,
        "work-delivered_on": today().isoformat(),
        "work-description": "Correctif <b>du</b> planificateur, fusionné",
        "work-links": links,
    }


def test_partner_a_records_work_with_links_and_the_status_changes(
    ledger_contract: LedgerContract, bid_manager: Any, partner_a: Any
) -> None:
    commitment = days_commitment(ledger_contract, bid_manager)
    assert commitment_progress(commitment).status == CommitmentStatus.OVERDUE
    client = client_for(partner_a)
    page = text_of(client.get(detail_url(commitment)))
    assert "En retard : l'échéance du" in page and 'id="work-form"' in page
    assert 'id="payment-form"' not in page  # money is finance's

    refused = client.post(reverse("contributions:work_new", args=[commitment.pk]), work_form(GOOD_LINKS + "\nftp://x"))
    assert refused.status_code == 400
    assert "Lien refusé, il doit commencer par https://" in text_of(refused)
    assert not WorkDelivery.objects.exists()
    unknown = client.post(
        reverse("contributions:work_new", args=[commitment.pk]), work_form("https://example.org/about")
    )
    assert unknown.status_code == 400 and "Lien non reconnu : https://example.org/about" in text_of(unknown)
    assert not WorkDelivery.objects.exists()

    response = client.post(reverse("contributions:work_new", args=[commitment.pk]), work_form(GOOD_LINKS))
    assert response.status_code == 302 and response["Location"] == detail_url(commitment) + "#work"
    delivery = WorkDelivery.objects.get()
    assert delivery.days == Decimal("2.00") and delivery.created_by == partner_a
    assert [link["kind"] for link in delivery.links] == ["change", "issue"]
    assert commitment_progress(commitment).status == CommitmentStatus.ON_TRACK

    page = client.get(detail_url(commitment)).content.decode()
    assert (
        '<a href="https://github.com/postgres/postgres/pull/123" rel="noopener nofollow">'
        "https://github.com/postgres/postgres/pull/123</a>"
    ) in page
    assert "modification fusionnée" in page and "ticket" in page
    assert "Correctif &lt;b&gt;du&lt;/b&gt; planificateur" in page  # user text escaped
    assert "commit-on_track" in page and "En bonne voie" in html.unescape(page)


def test_work_delivered_ahead_of_the_dues_shows_nothing_outstanding(
    ledger_contract: LedgerContract, bid_manager: Any, partner_a: Any
) -> None:
    """Three days delivered when two are due: nothing outstanding (a zero in days), the pages render."""
    commitment = days_commitment(ledger_contract, bid_manager)
    client = client_for(partner_a)
    assert (
        client.post(reverse("contributions:work_new", args=[commitment.pk]), work_form(GOOD_LINKS, "3")).status_code
        == 302
    )
    progress = commitment_progress(commitment)
    assert (progress.outstanding, progress.left_to_deliver) == (Decimal(0), Decimal(2))
    assert isinstance(progress.outstanding, Decimal)
    for url in (reverse("contributions:commitment_list"), detail_url(commitment)):
        assert client.get(url).status_code == 200
        assert client_for(bid_manager).get(url).status_code == 200


def test_bad_days_are_refused_on_the_form(ledger_contract: LedgerContract, bid_manager: Any, partner_a: Any) -> None:
    commitment = days_commitment(ledger_contract, bid_manager)
    response = client_for(partner_a).post(
        reverse("contributions:work_new", args=[commitment.pk]), work_form(GOOD_LINKS, days="-1")
    )
    assert response.status_code == 400
    assert "« -1 » n'est pas un nombre de jours" in text_of(response)
    assert not WorkDelivery.objects.exists()


def test_partner_b_does_not_see_firm_a_commitment(
    ledger_contract: LedgerContract, bid_manager: Any, partner_a: Any, partner_b: Any
) -> None:
    commitment = days_commitment(ledger_contract, bid_manager, title="Engagement-QZX-A")
    client_b = client_for(partner_b)
    assert client_b.get(detail_url(commitment)).status_code == 404
    assert (
        client_b.post(reverse("contributions:work_new", args=[commitment.pk]), work_form(GOOD_LINKS)).status_code == 404
    )
    listing = client_b.get(reverse("contributions:commitment_list"))
    assert listing.status_code == 200 and "Engagement-QZX-A" not in listing.content.decode()
    assert "Engagement-QZX-A" in client_for(partner_a).get(reverse("contributions:commitment_list")).content.decode()
    assert not WorkDelivery.objects.exists()


# --- Money paid to a project --------------------------------------------------------------------------------------


@pytest.fixture
def levy(ledger_contract: LedgerContract, finance: Any) -> Commitment:
    """The guichet's levy commitment to firm A's project, after a paid invoice was redistributed into its fund."""
    order = ledger_contract.order()
    invoice = issue_invoice(actor=finance, order=order, number="F-1", issued_on=SIGNED_ON + dt.timedelta(days=20))
    record_payment(
        actor=finance, payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=30), invoice.total_ttc_cents)
    )
    project = UpstreamProject.objects.get(name=LEVY_PROJECT)
    assert fund_balance(project.pk) > 0
    return create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.LEVY,
            title="Contribution amont du marché",
            starts_on=SIGNED_ON,
            ends_on=today() + dt.timedelta(days=365),
            dues=[(today() + dt.timedelta(days=100), None)],
            contract_id=ledger_contract.contract.pk,
        ),
    )


def payment_form(cents: int, reference: str = "VIR-PG-1", source: str = "fund") -> dict[str, str]:
    return {
        "payment-amount": f"{cents // 100},{cents % 100:02d}",
        "payment-paid_on": today().isoformat(),
        "payment-reference": reference,
        "payment-source": source,
        "payment-evidence_url": "https://opencollective.com/postgres/transactions/1",
    }


def test_finance_pays_the_project_from_its_fund_and_reverses_it(levy: Commitment, finance: Any) -> None:
    project_id = levy.project_id
    collected = fund_balance(project_id)
    progress = commitment_progress(levy)
    assert progress.accrued == collected and progress.delivered == 0
    client = client_for(finance)
    page = text_of(client.get(detail_url(levy)))
    assert 'id="payment-form"' in page and 'id="work-form"' not in page

    response = client.post(reverse("contributions:payment_new", args=[levy.pk]), payment_form(collected))
    assert response.status_code == 302 and response["Location"] == detail_url(levy) + "#payments"
    payment = ContributionPayment.objects.get()
    assert payment.amount_cents == collected and payment.entry.kind == EntryKind.CONTRIBUTION
    assert fund_balance(project_id) == 0
    assert commitment_progress(levy).delivered == collected
    page = text_of(client.get(detail_url(levy)))
    assert f"n° {payment.entry_id}" in page and "VIR-PG-1" in page

    entries = Entry.objects.count()
    beyond = client.post(reverse("contributions:payment_new", args=[levy.pk]), payment_form(1, reference="VIR-PG-2"))
    assert beyond.status_code == 400
    assert "ne contient que" in text_of(beyond) and "est refusé" in text_of(beyond)
    assert Entry.objects.count() == entries and ContributionPayment.objects.count() == 1

    no_reason = client.post(reverse("contributions:payment_reverse", args=[levy.pk]), {"payment": payment.pk})
    assert no_reason.status_code == 400 and "Motif de l'annulation" in text_of(no_reason)
    reverse_url = reverse("contributions:payment_reverse", args=[levy.pk])
    response = client.post(reverse_url, {"payment": payment.pk, "reason": "virement en double"})
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.reversed_at is not None
    assert fund_balance(project_id) == collected and commitment_progress(levy).delivered == 0
    again = client.post(reverse_url, {"payment": payment.pk, "reason": "encore"})
    assert again.status_code == 400 and "n'est plus annulable" in text_of(again)
    assert "annulé" in text_of(client.get(detail_url(levy)))


def test_a_firm_commitment_is_paid_only_from_what_the_firm_is_owed(
    ledger_contract: LedgerContract, finance: Any
) -> None:
    project = _project(finance, "PostGIS")
    commitment = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.AMOUNT,
            title="Don de firm A",
            starts_on=SIGNED_ON,
            ends_on=today() + dt.timedelta(days=30),
            dues=[(today() + dt.timedelta(days=30), 50_000)],
            contract_id=ledger_contract.contract.pk,
            firm_id=ledger_contract.market.firm_a.pk,
            amount_cents=50_000,
        ),
    )
    client = client_for(finance)
    page = client.get(detail_url(commitment)).content.decode()
    assert 'value="firm"' in page and 'value="fund"' not in page
    response = client.post(reverse("contributions:payment_new", args=[commitment.pk]), payment_form(100))
    assert response.status_code == 400 and "cet engagement ne se paie pas sur ce compte." in text_of(response)
    nothing_owed = client.post(
        reverse("contributions:payment_new", args=[commitment.pk]), payment_form(100, source="firm")
    )
    assert nothing_owed.status_code == 400 and "ne contient que" in text_of(nothing_owed)
    assert not ContributionPayment.objects.exists()


def test_partners_do_not_see_the_guichet_levy(levy: Commitment, partner_a: Any, bid_manager: Any) -> None:
    assert client_for(partner_a).get(detail_url(levy)).status_code == 404
    assert "Contribution amont du marché" not in client_for(partner_a).get("/contributions/").content.decode()
    assert "Contribution amont du marché" in client_for(bid_manager).get("/contributions/").content.decode()


# --- The list -----------------------------------------------------------------------------------------------------


def test_list_filters_by_status_and_project(ledger_contract: LedgerContract, bid_manager: Any) -> None:
    overdue = days_commitment(ledger_contract, bid_manager, title="Engagement en retard")
    on_track = days_commitment(ledger_contract, bid_manager, title="Engagement tenu à temps", project="Nginx")
    record_work(
        actor=bid_manager, commitment=on_track, days=Decimal(2), delivered_on=today(), description="fait",
        links=["https://github.com/nginx/nginx/pull/1"],
    )  # fmt: skip
    client = client_for(bid_manager)
    url = reverse("contributions:commitment_list")
    everything = client.get(url).content.decode()
    assert overdue.title in everything and on_track.title in html.unescape(everything)
    assert '<svg class="fin-svg"' in everything and "?status=overdue" in everything

    late = text_of(client.get(url, {"status": "overdue"}))
    assert overdue.title in late and on_track.title not in late
    nginx = text_of(client.get(url, {"project": str(on_track.project_id)}))
    assert on_track.title in nginx and overdue.title not in nginx
    none = text_of(client.get(url, {"status": "fulfilled", "project": str(overdue.project_id)}))
    assert "Aucun engagement dans ce statut." in none
    assert client.get(url, {"status": "nonsense", "project": "abc"}).status_code == 200  # ignored, never a 500


def test_list_query_count_does_not_grow(ledger_contract: LedgerContract, bid_manager: Any, finance: Any) -> None:
    client = client_for(finance)
    url = reverse("contributions:commitment_list")

    def add(count: int) -> None:
        for n in range(count):
            commitment = days_commitment(
                ledger_contract, bid_manager, title=f"Engagement {Commitment.objects.count()}", project=f"P{n % 3}"
            )
            if n % 2:
                record_work(
                    actor=bid_manager, commitment=commitment, days=Decimal(1), delivered_on=today(),
                    description="fait", links=["https://github.com/org/p/pull/1"],
                )  # fmt: skip

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    add(3)
    few = queries()
    add(9)
    assert Commitment.objects.count() == 12
    assert queries() == few


def test_partner_sees_the_payment_of_its_commitment_without_the_ledger(
    levy: Commitment, ledger_contract: LedgerContract, finance: Any, partner_a: Any, bid_manager: Any
) -> None:
    commitment = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=levy.project_id,
            kind=CommitmentKind.AMOUNT,
            title="Don de firm A",
            starts_on=SIGNED_ON,
            ends_on=today() + dt.timedelta(days=30),
            dues=[(today() + dt.timedelta(days=30), 1_000)],
            contract_id=ledger_contract.contract.pk,
            firm_id=ledger_contract.market.firm_a.pk,
            amount_cents=1_000,
        ),
    )
    response = client_for(finance).post(
        reverse("contributions:payment_new", args=[commitment.pk]), payment_form(1_000, source="firm")
    )
    assert response.status_code == 302
    payment = ContributionPayment.objects.get()
    assert commitment_progress(commitment).status == CommitmentStatus.FULFILLED
    partner_page = text_of(client_for(partner_a).get(detail_url(commitment)))
    assert "VIR-PG-1" in partner_page and "commit-fulfilled" in partner_page
    assert f"n° {payment.entry_id}" not in partner_page and "Contre-passer" not in partner_page
    staff_page = text_of(client_for(bid_manager).get(detail_url(commitment)))
    assert f"n° {payment.entry_id}" in staff_page and "Contre-passer" not in staff_page
