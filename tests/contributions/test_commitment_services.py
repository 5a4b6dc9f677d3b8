"""The writes of contribution commitments: every refusal saves nothing; a payment to a project is one
balanced ledger entry from its source to the bank, never beyond what the source holds; work delivered is
days with checked links; and the money still reconciles after contributions are paid."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from consortium.models import AuditEvent
from partners.models import PartnerFirm
from pricing import ledger
from pricing.ledger_models import Entry, EntryKind
from pricing.models import (
    Commitment,
    CommitmentDue,
    CommitmentKind,
    ContributionPayment,
    Invoice,
    PaymentSource,
    UpstreamProject,
    WorkDelivery,
)
from pricing.selectors.commitments import commitment_progress, delivered_money
from pricing.services.commitments import (
    CommitmentInput,
    CommitmentRefused,
    ContributionPaymentInput,
    create_commitment,
    record_contribution_payment,
    record_work,
    reverse_contribution_payment,
)
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from pricing.services.payouts import owed_to_firms
from tests.ledger.conftest import SIGNED_ON, LedgerContract

pytestmark = pytest.mark.django_db

START = dt.date(2026, 1, 1)
END = dt.date(2026, 12, 31)
DUE = dt.date(2026, 6, 30)
PAID_ON = SIGNED_ON + dt.timedelta(days=60)
LINK = "https://github.com/nginx/nginx/pull/512"


@pytest.fixture
def project(db: None) -> UpstreamProject:
    return UpstreamProject.objects.create(name="Nginx upstream", slug="nginx-upstream")


@pytest.fixture
def paid_contract(ledger_contract: LedgerContract) -> Invoice:
    """The contract's invoice, fully paid: the fee, the funds and the firms' accounts hold money."""
    finance = ledger_contract.finance
    invoice = issue_invoice(
        actor=finance, order=ledger_contract.order(), number="F-1", issued_on=SIGNED_ON + dt.timedelta(days=20)
    )
    record_payment(
        actor=finance, payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=40), invoice.total_ttc_cents)
    )
    return invoice


def amount_input(project: UpstreamProject, contract: LedgerContract | None = None, **changes: Any) -> CommitmentInput:
    data = CommitmentInput(
        project_id=project.pk,
        kind=CommitmentKind.AMOUNT,
        title="Mille euros pour la fondation",
        starts_on=START,
        ends_on=END,
        dues=[(DUE, 40_000), (END, 60_000)],
        contract_id=contract.contract.pk if contract else None,
        amount_cents=100_000,
    )
    return dataclasses.replace(data, **changes)


def counts() -> tuple[int, ...]:
    return (
        Commitment.objects.count(),
        CommitmentDue.objects.count(),
        ContributionPayment.objects.count(),
        WorkDelivery.objects.count(),
        Entry.objects.count(),
        AuditEvent.objects.filter(action__startswith="commitment.").count(),
    )


def refused(match: str, write: Any, **kwargs: Any) -> None:
    before = counts()
    with pytest.raises(CommitmentRefused, match=match):
        write(**kwargs)
    assert counts() == before  # nothing saved, not even the audit event


# create_commitment -----------------------------------------------------------------------------------------


def test_a_commitment_with_its_dues(ledger_contract: LedgerContract, project: UpstreamProject) -> None:
    firm_a = ledger_contract.market.firm_a
    commitment = create_commitment(
        actor=ledger_contract.finance,
        data=amount_input(project, ledger_contract, firm_id=firm_a.pk, title="  Mille euros  "),
    )
    assert (commitment.title, commitment.firm_id, commitment.amount_cents, commitment.days) == (
        "Mille euros",
        firm_a.pk,
        100_000,
        None,
    )
    assert list(commitment.dues.values_list("due_on", "amount_cents", "days")) == [
        (DUE, 40_000, None),
        (END, 60_000, None),
    ]
    assert AuditEvent.objects.filter(action="commitment.created", object_id=str(commitment.pk)).exists()


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"title": "   "}, "quelques mots"),
        ({"kind": "gift"}, "Nature d'engagement inconnue"),
        ({"project_id": 987_654}, "Projet amont inconnu"),
        ({"ends_on": START - dt.timedelta(days=1)}, "finit avant de commencer"),
        ({"dues": []}, "au moins une échéance"),
        ({"dues": [(DUE, 40_000), (DUE, 60_000)]}, "même jour"),
        ({"dues": [(START - dt.timedelta(days=1), 40_000), (END, 60_000)]}, "avant le début"),
        ({"dues": [(DUE, 40_000), (END, 60_001)]}, "doivent être égales"),
        ({"dues": [(DUE, 40_000)]}, "doivent être égales"),
        ({"dues": [(DUE, 0), (END, 100_000)]}, "plus que zéro"),
        ({"dues": [(DUE, None), (END, 100_000)]}, "plus que zéro"),
        ({"amount_cents": 0, "dues": [(DUE, 0)]}, "positif"),
        ({"amount_cents": None}, "positif"),
        ({"kind": CommitmentKind.DAYS, "days": None}, "positif"),
        ({"kind": CommitmentKind.DAYS, "days": Decimal(3), "dues": [(DUE, Decimal("2.5"))]}, "doivent être égales"),
        ({"firm_id": 987_654}, "Entreprise inconnue"),
    ],
)
def test_create_commitment_refusals(
    ledger_contract: LedgerContract, project: UpstreamProject, changes: dict[str, Any], match: str
) -> None:
    refused(match, create_commitment, actor=ledger_contract.finance, data=amount_input(project, **changes))


def test_an_unknown_contract_is_refused(ledger_contract: LedgerContract, project: UpstreamProject) -> None:
    data = amount_input(project, contract_id=987_654)
    refused("Marché inconnu", create_commitment, actor=ledger_contract.finance, data=data)


def test_a_firm_outside_the_contract_is_refused(ledger_contract: LedgerContract, project: UpstreamProject) -> None:
    outside = PartnerFirm.objects.get(name="Firm C")  # in the network, not a party to this contract
    data = amount_input(project, ledger_contract, firm_id=outside.pk)
    refused("pas membre du marché", create_commitment, actor=ledger_contract.finance, data=data)
    # network-wide, the same firm may commit
    create_commitment(actor=ledger_contract.finance, data=amount_input(project, firm_id=outside.pk))


def levy_input(project: UpstreamProject, contract_id: int | None, **changes: Any) -> CommitmentInput:
    data = CommitmentInput(
        project_id=project.pk,
        kind=CommitmentKind.LEVY,
        title="La contribution amont collectée",
        starts_on=START,
        ends_on=END,
        dues=[(END + dt.timedelta(days=30), None)],
        contract_id=contract_id,
    )
    return dataclasses.replace(data, **changes)


def test_a_levy_is_the_guichet_s(ledger_contract: LedgerContract, project: UpstreamProject) -> None:
    data = levy_input(project, ledger_contract.contract.pk, firm_id=ledger_contract.market.firm_a.pk)
    refused("pris par le guichet", create_commitment, actor=ledger_contract.finance, data=data)


@pytest.mark.parametrize(
    ("first_on_contract", "second_on_contract", "second_period"),
    [
        (True, True, (DUE, END + dt.timedelta(days=100))),  # same contract, overlapping
        (True, False, (DUE, DUE)),  # network-wide over a contract's: both count the same levy
        (False, True, (START - dt.timedelta(days=10), START)),  # the other way; a one-day overlap is enough
    ],
)
def test_overlapping_levies_are_refused(
    ledger_contract: LedgerContract,
    project: UpstreamProject,
    first_on_contract: bool,
    second_on_contract: bool,
    second_period: tuple[dt.date, dt.date],
) -> None:
    contract_id = ledger_contract.contract.pk
    create_commitment(
        actor=ledger_contract.finance, data=levy_input(project, contract_id if first_on_contract else None)
    )
    starts_on, ends_on = second_period
    data = levy_input(
        project,
        contract_id if second_on_contract else None,
        starts_on=starts_on,
        ends_on=ends_on,
        dues=[(ends_on + dt.timedelta(days=30), None)],
    )
    refused("deux fois", create_commitment, actor=ledger_contract.finance, data=data)


def test_levies_that_do_not_overlap_are_accepted(ledger_contract: LedgerContract, project: UpstreamProject) -> None:
    finance = ledger_contract.finance
    create_commitment(actor=finance, data=levy_input(project, ledger_contract.contract.pk))
    next_year = levy_input(
        project,
        ledger_contract.contract.pk,
        starts_on=END + dt.timedelta(days=1),
        ends_on=END + dt.timedelta(days=365),
        dues=[(END + dt.timedelta(days=400), None)],
    )
    create_commitment(actor=finance, data=next_year)
    other = UpstreamProject.objects.create(name="Autre projet", slug="autre-projet")
    create_commitment(actor=finance, data=levy_input(other, ledger_contract.contract.pk))
    assert Commitment.objects.filter(kind=CommitmentKind.LEVY).count() == 3


# record_contribution_payment --------------------------------------------------------------------------------


def pay(commitment: Commitment, amount: int, source: str, reference: str = "VIR-PROJ-1", actor: Any = None) -> Any:
    return record_contribution_payment(
        actor=actor,
        commitment=commitment,
        payment=ContributionPaymentInput(amount, PAID_ON, reference, source, "https://opencollective.com/x/t/1"),
    )


def guichet_commitment(contract: LedgerContract, project: UpstreamProject) -> Commitment:
    return create_commitment(actor=contract.finance, data=amount_input(project, contract))


def firm_commitment(contract: LedgerContract, project: UpstreamProject) -> Commitment:
    firm_id = contract.market.firm_b.pk
    return create_commitment(actor=contract.finance, data=amount_input(project, contract, firm_id=firm_id))


def test_a_payment_is_one_balanced_entry_from_the_source_to_the_bank(
    ledger_contract: LedgerContract, project: UpstreamProject, paid_contract: Invoice
) -> None:
    commitment = guichet_commitment(ledger_contract, project)
    bank, fee = ledger.balance([ledger.BANK]), ledger.balance([ledger.FEE])
    paid = pay(commitment, 12_345, PaymentSource.FEE, actor=ledger_contract.finance)
    entry = paid.entry
    assert (entry.kind, entry.posted_on, entry.contract_id) == (EntryKind.CONTRIBUTION, PAID_ON, commitment.contract_id)
    postings = {posting.account.code: posting.amount_cents for posting in entry.postings.select_related("account")}
    assert postings == {ledger.FEE.code: 12_345, ledger.BANK.code: -12_345}  # source debited, bank credited
    assert ledger.balance([ledger.BANK]) == bank - 12_345
    assert ledger.balance([ledger.FEE]) == fee + 12_345
    assert delivered_money([commitment.pk]) == {commitment.pk: 12_345}
    progress = commitment_progress(commitment, today=DUE)
    assert (progress.delivered, progress.accrued, progress.outstanding) == (12_345, 40_000, 40_000 - 12_345)


@pytest.mark.parametrize("source", [PaymentSource.FEE, PaymentSource.FUND, PaymentSource.NETWORK_FUND])
def test_a_payment_beyond_what_the_source_holds_is_refused(
    ledger_contract: LedgerContract, paid_contract: Invoice, source: str
) -> None:
    # the levy of the paid invoice sits in the fund of one of its projects
    project = UpstreamProject.objects.get(name="nginx")
    commitment = guichet_commitment(ledger_contract, project)
    account: ledger.AccountRef = {
        PaymentSource.FEE: ledger.FEE,
        PaymentSource.FUND: ledger.fund(project.pk),
        PaymentSource.NETWORK_FUND: ledger.NETWORK_FUND,
    }[source]
    available = -ledger.balance([account])
    if source == PaymentSource.NETWORK_FUND:
        assert available == 0  # every package of this contract names a project
    else:
        assert available > 0
    refused("refusé", pay, commitment=commitment, amount=available + 1, source=source)
    if available:
        pay(commitment, available, source)
        assert ledger.balance([account]) == 0
        refused("refusé", pay, commitment=commitment, amount=1, source=source, reference="VIR-PROJ-2")


def test_a_firm_pays_its_own_commitment_from_what_it_is_owed(
    ledger_contract: LedgerContract, project: UpstreamProject, paid_contract: Invoice
) -> None:
    firm_b = ledger_contract.market.firm_b.pk
    commitment = firm_commitment(ledger_contract, project)
    for source in (PaymentSource.FEE, PaymentSource.FUND, PaymentSource.NETWORK_FUND):
        refused("sommes qui lui sont dues", pay, commitment=commitment, amount=100, source=source)
    owed = owed_to_firms()
    pay(commitment, 50_000, PaymentSource.FIRM)
    assert owed_to_firms()[firm_b] == owed[firm_b] - 50_000
    assert owed_to_firms()[ledger_contract.market.firm_a.pk] == owed[ledger_contract.market.firm_a.pk]
    refused("refusé", pay, commitment=commitment, amount=owed[firm_b] - 50_000 + 1, source="firm", reference="V-2")
    # the guichet's commitment cannot take a firm's money
    refused(
        "fonds ou sur les frais", pay, commitment=guichet_commitment(ledger_contract, project), amount=1, source="firm"
    )


def test_the_same_reference_twice_is_refused(
    ledger_contract: LedgerContract, project: UpstreamProject, paid_contract: Invoice
) -> None:
    commitment = guichet_commitment(ledger_contract, project)
    pay(commitment, 1_000, PaymentSource.FEE, reference="VIR-77")
    refused("VIR-77", pay, commitment=commitment, amount=2_000, source=PaymentSource.FEE, reference="  VIR-77 ")
    assert delivered_money([commitment.pk]) == {commitment.pk: 1_000}
    # another commitment may use its own reference space
    pay(guichet_commitment(ledger_contract, project), 1_000, PaymentSource.FEE, reference="VIR-77")


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"amount_cents": 0}, "positif"),
        ({"amount_cents": -5}, "positif"),
        ({"reference": "  "}, "référence"),
        ({"paid_on": dt.date.today() + dt.timedelta(days=1)}, "futur"),
        ({"source": "bank"}, "fonds ou sur les frais"),
        ({"evidence_url": "javascript:alert(1)"}, "adresse web"),
    ],
)
def test_bad_payments_are_refused(
    ledger_contract: LedgerContract,
    project: UpstreamProject,
    paid_contract: Invoice,
    changes: dict[str, Any],
    match: str,
) -> None:
    commitment = guichet_commitment(ledger_contract, project)
    payment = dataclasses.replace(ContributionPaymentInput(100, PAID_ON, "VIR-1", PaymentSource.FEE), **changes)
    refused(match, record_contribution_payment, actor=None, commitment=commitment, payment=payment)


def test_a_reference_is_free_again_once_its_payment_is_reversed(
    ledger_contract: LedgerContract, project: UpstreamProject, paid_contract: Invoice
) -> None:
    commitment = guichet_commitment(ledger_contract, project)
    first = pay(commitment, 1_000, PaymentSource.FEE, reference="VIR-9")
    reverse_contribution_payment(actor=None, payment=first, reason="mauvais montant")
    second = pay(commitment, 1_500, PaymentSource.FEE, reference="VIR-9")
    assert second.entry_id != first.entry_id
    assert delivered_money([commitment.pk]) == {commitment.pk: 1_500}
    refused("VIR-9", pay, commitment=commitment, amount=10, source=PaymentSource.FEE, reference="VIR-9")


def test_an_amount_commitment_is_not_paid_beyond_its_promise(
    ledger_contract: LedgerContract, project: UpstreamProject, paid_contract: Invoice
) -> None:
    commitment = firm_commitment(ledger_contract, project)  # 1,000 €, paid from what firm B is owed
    assert owed_to_firms()[ledger_contract.market.firm_b.pk] > 100_001
    pay(commitment, 40_000, PaymentSource.FIRM)
    refused("Il ne reste que 600.00", pay, commitment=commitment, amount=60_001, source="firm", reference="V-2")
    pay(commitment, 60_000, PaymentSource.FIRM, reference="V-2")


def test_a_title_longer_than_its_column_is_refused(ledger_contract: LedgerContract, project: UpstreamProject) -> None:
    refused("200 caractères", create_commitment, actor=None, data=amount_input(project, title="x" * 201))


def days_commitment(contract: LedgerContract, project: UpstreamProject, firm: bool = True) -> Commitment:
    return create_commitment(
        actor=contract.finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.DAYS,
            title="Cinq jours sur le module HTTP/3",
            starts_on=START,
            ends_on=END,
            dues=[(DUE, Decimal(5))],
            contract_id=contract.contract.pk,
            firm_id=contract.market.firm_b.pk if firm else None,
            days=Decimal(5),
        ),
    )


def test_a_days_commitment_takes_no_money(
    ledger_contract: LedgerContract, project: UpstreamProject, paid_contract: Invoice
) -> None:
    refused("jours de travail", pay, commitment=days_commitment(ledger_contract, project), amount=1, source="firm")


def test_a_reversal_posts_the_mirror_entry_and_the_payment_stops_counting(
    ledger_contract: LedgerContract, project: UpstreamProject, paid_contract: Invoice
) -> None:
    finance = ledger_contract.finance
    commitment = firm_commitment(ledger_contract, project)
    owed = owed_to_firms()[ledger_contract.market.firm_b.pk]
    bank = ledger.balance([ledger.BANK])
    paid = pay(commitment, 30_000, PaymentSource.FIRM)
    refused("raison", reverse_contribution_payment, actor=finance, payment=paid, reason=" ")
    reverse_contribution_payment(actor=finance, payment=paid, reason="mauvais projet")
    reversal = Entry.objects.get(reverses=paid.entry)
    assert reversal.kind == EntryKind.REVERSAL
    mirror = {p.account_id: p.amount_cents for p in reversal.postings.all()}
    assert mirror == {p.account_id: -p.amount_cents for p in paid.entry.postings.all()}
    assert ledger.balance([ledger.BANK]) == bank
    assert owed_to_firms()[ledger_contract.market.firm_b.pk] == owed
    assert delivered_money([commitment.pk]) == {}
    assert commitment_progress(commitment, today=DUE).delivered == 0
    paid.refresh_from_db()
    assert paid.reversed_at is not None
    refused("déjà annulé", reverse_contribution_payment, actor=finance, payment=paid, reason="encore")


# record_work ------------------------------------------------------------------------------------------------


def test_work_delivered_with_its_links(ledger_contract: LedgerContract, project: UpstreamProject) -> None:
    commitment = days_commitment(ledger_contract, project)
    delivery = record_work(
        actor=ledger_contract.market.partner_b,
        commitment=commitment,
        days=Decimal("2.5"),
        delivered_on=DUE,
        description="  Prise en charge de HTTP/3  ",
        links=[LINK, "", f" {LINK} ", "https://github.com/nginx/nginx/releases/tag/release-1.27.0"],
    )
    assert delivery.description == "Prise en charge de HTTP/3"
    assert delivery.links == [
        {"url": LINK, "kind": "change"},
        {"url": "https://github.com/nginx/nginx/releases/tag/release-1.27.0", "kind": "release"},
    ]
    progress = commitment_progress(commitment, today=DUE)
    assert (progress.delivered, progress.left_to_deliver, progress.status) == (
        Decimal("2.5"),
        Decimal("2.5"),
        "at_risk",
    )


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"days": Decimal(0)}, "entre 0 et 1000"),
        ({"days": Decimal("-1")}, "entre 0 et 1000"),
        ({"days": Decimal("1000.01")}, "entre 0 et 1000"),
        ({"days": Decimal("0.001")}, "entre 0 et 1000"),  # would be 0.00 once stored
        ({"days": Decimal("NaN")}, "entre 0 et 1000"),
        ({"days": Decimal("Infinity")}, "entre 0 et 1000"),
        ({"delivered_on": dt.date.today() + dt.timedelta(days=1)}, "futur"),
        ({"delivered_on": START - dt.timedelta(days=1)}, "avant le début"),
        ({"description": " \n "}, "Décrivez"),
        ({"links": []}, "au moins un lien"),
        ({"links": ["", "  "]}, "au moins un lien"),
        ({"links": [LINK, "http://github.com/nginx/nginx/pull/1"]}, "https://"),
        ({"links": ["javascript:alert(1)//github.com/a/b/pull/1"]}, "https://"),
        ({"links": ["https://[::1/pull/1"]}, "https://"),
        ({"links": ["https://github.com/nginx"]}, "non reconnu"),
        ({"links": [f"https://github.com/nginx/nginx/pull/{n}" for n in range(21)]}, "20 liens"),
    ],
)
def test_record_work_refusals(
    ledger_contract: LedgerContract, project: UpstreamProject, changes: dict[str, Any], match: str
) -> None:
    commitment = days_commitment(ledger_contract, project)
    kwargs = {"days": Decimal(1), "delivered_on": DUE, "description": "Travail", "links": [LINK], **changes}
    refused(match, record_work, actor=ledger_contract.finance, commitment=commitment, **kwargs)


def test_money_commitments_take_no_work(ledger_contract: LedgerContract, project: UpstreamProject) -> None:
    commitment = guichet_commitment(ledger_contract, project)
    refused(
        "enregistrez un versement",
        record_work,
        actor=ledger_contract.finance,
        commitment=commitment,
        days=Decimal(1),
        delivered_on=DUE,
        description="Travail",
        links=[LINK],
    )


# the money still reconciles ---------------------------------------------------------------------------------


def reconcile_output() -> str:
    out = io.StringIO()
    try:
        call_command("reconcile", stdout=out)
    except CommandError as error:  # exit status 1: the breaches are in the output
        pytest.fail(f"reconcile found breaches ({error}):\n{out.getvalue()}")
    return out.getvalue()


def test_reconcile_is_clean_after_contribution_payments(
    ledger_contract: LedgerContract, project: UpstreamProject, paid_contract: Invoice
) -> None:
    finance = ledger_contract.finance
    nginx = UpstreamProject.objects.get(name="nginx")
    pay(guichet_commitment(ledger_contract, project), 10_000, PaymentSource.FEE, reference="V-FEE")
    from_fund = guichet_commitment(ledger_contract, nginx)
    pay(from_fund, -ledger.balance([ledger.fund(nginx.pk)]), PaymentSource.FUND, reference="V-FUND")
    by_firm = firm_commitment(ledger_contract, project)
    pay(by_firm, 20_000, PaymentSource.FIRM, reference="V-FIRM-1")
    reverse_contribution_payment(actor=finance, payment=pay(by_firm, 5_000, "firm", "V-FIRM-2"), reason="erreur")
    assert "No breach." in reconcile_output()
