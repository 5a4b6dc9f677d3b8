"""Partner statements: the figures after invoices, a partial payment, a direct payment and a payout; the page,
PDF and XLSX; and who may reach them (a partner never another firm's, not even its name or amounts).

Firm A is paid through the guichet (a global invoice of its lines, a third paid, then a payout); firm B
invoices and collects by itself (its own invoice, paid directly by the buyer in full).
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import strip_tags

from consortium.money import from_cents
from consortium.templatetags.guichet import money
from pricing import ledger
from pricing.models import Invoice, InvoiceShare, OrderLine, PartnerBankAccount, ShareKind
from pricing.selectors.statements import Statement, partner_statement
from pricing.services.contracts import ContractTerms, create_contract, issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from pricing.services.payouts import run_payout_batch
from pricing.statement_documents import statement_pdf, statement_xlsx
from tests.conftest import client_for, make_user
from tests.ledger.conftest import SIGNED_ON, LedgerContract, won_version
from tests.offers.conftest import build_offer_market, texts_of

pytestmark = pytest.mark.django_db

MARKER_INVOICE = "FB-QZX-7731"  # firm B's own invoice number: must never reach partner A
MARKER_HOLDER = "Titulaire-QZX-B"  # firm B's bank account holder
ON = dt.date(2026, 3, 31)


@dataclass
class Scenario:
    contract: LedgerContract
    invoice_a: Invoice
    invoice_b: Invoice
    firm_a_received: int  # firm A's part of the partial payment, read from its ledger account before the payout

    @property
    def firm_a(self) -> Any:
        return self.contract.market.firm_a

    @property
    def firm_b(self) -> Any:
        return self.contract.market.firm_b


def firm_share(invoice: Invoice, firm: Any) -> InvoiceShare:
    return InvoiceShare.objects.get(invoice=invoice, kind=ShareKind.FIRM, firm=firm)


def build_scenario(*, bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any, payout: bool) -> Scenario:
    market = build_offer_market(bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b)
    version = won_version(market)
    terms = ContractTerms(
        reference="2026-AC-042",
        title="Support des logiciels libres",
        kind="framework",
        signed_on=SIGNED_ON,
        starts_on=SIGNED_ON,
        ends_on=SIGNED_ON + dt.timedelta(days=4 * 365),
        maximum_cents=50_000_000,
    )
    contract = create_contract(actor=finance, version=version, terms=terms, routes={market.firm_b.pk: "self"})
    ledger_contract = LedgerContract(market=market, version=version, contract=contract, finance=finance)
    order = ledger_contract.order()
    lines_a = [(line.pk, line.quantity) for line in OrderLine.objects.filter(order=order, firm=market.firm_a)]
    invoice_a = issue_invoice(
        actor=finance, order=order, number="F-2026-001", issued_on=SIGNED_ON + dt.timedelta(days=30), lines=lines_a
    )
    invoice_b = issue_invoice(
        actor=finance,
        order=order,
        number=MARKER_INVOICE,
        issued_on=SIGNED_ON + dt.timedelta(days=31),
        issuer_id=market.firm_b.pk,
    )
    third = invoice_a.total_ttc_cents // 3
    record_payment(actor=finance, payment=PaymentInput(invoice_a.pk, SIGNED_ON + dt.timedelta(days=60), third, "VIR-1"))
    record_payment(
        actor=finance,
        payment=PaymentInput(
            invoice_b.pk, SIGNED_ON + dt.timedelta(days=61), invoice_b.total_ttc_cents, "DIR-1", market.firm_b.pk
        ),
    )
    received = -ledger.balance([ledger.partner(market.firm_a.pk)])
    PartnerBankAccount.objects.create(firm=market.firm_a, holder="Firm A", iban="FR1420041010050500013M02606")
    PartnerBankAccount.objects.create(firm=market.firm_b, holder=MARKER_HOLDER, iban="FR7630006000011234567890189")
    if payout:
        run_payout_batch(actor=finance, key="VIRT-2026-03", execution_date=SIGNED_ON + dt.timedelta(days=70))
    return Scenario(ledger_contract, invoice_a, invoice_b, received)


@pytest.fixture
def scenario(bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any) -> Scenario:
    return build_scenario(
        bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance, payout=True
    )


@pytest.fixture
def unpaid(bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any) -> Scenario:
    """The same, before the payout: firm A's balance is what it received."""
    return build_scenario(
        bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance, payout=False
    )


def statement_of(firm: Any) -> Statement:
    return partner_statement(firm)


def flat(text: str) -> str:
    """Text without any white space (the French thousands separator is a no-break space)."""
    return re.sub(r"\s", "", text)


def page_text(response: Any) -> str:
    """What a reader of the page sees, without white space."""
    return flat(html.unescape(strip_tags(response.content.decode())))


def shown(cents: int) -> str:
    with translation.override("fr"):
        return flat(money(from_cents(cents), "EUR"))


FIRM_B_AMOUNTS = (509060, 559967, -50907)  # B's share, what the buyer paid B directly, B's balance


def firm_b_markers() -> list[str]:
    """What would betray firm B in a response: its name, invoice number, bank holder, and its amounts
    written as the page, the PDF, the workbook's XML and the JSON would write them."""
    amounts = [format(from_cents(abs(cents)), "f") for cents in FIRM_B_AMOUNTS]
    return [
        "Firm B",
        MARKER_INVOICE,
        MARKER_HOLDER,
        *(amount.rstrip("0") for amount in amounts),
        *(amount.replace(".", ",") for amount in amounts),
    ]


def assert_no_firm_b(text: str, where: str) -> None:
    content = flat(text)
    for marker in firm_b_markers():
        assert flat(marker) not in content, f"{marker!r} in {where}"


# --- The figures ---------------------------------------------------------------------------------------------


def test_statement_figures_after_invoice_partial_and_direct_payments_and_payout(scenario: Scenario) -> None:
    a = statement_of(scenario.firm_a)
    # A's lines: 600.00 HT, 720.00 TTC; a third of the 792.00 invoice paid, A's part 240.00, paid out.
    assert firm_share(scenario.invoice_a, scenario.firm_a).ttc_cents == 72000
    assert scenario.firm_a_received == 24000
    assert (a.invoiced_cents, a.received_cents, a.withheld_cents, a.pending_cents) == (72000, 24000, 0, 48000)
    assert (a.paid_out_cents, a.collected_cents, a.balance_cents) == (24000, 0, 0)
    assert [(row.number, row.invoiced_cents, row.received_cents, row.pending_cents) for row in a.invoices] == [
        ("F-2026-001", 72000, 24000, 48000)
    ]
    assert [(move.on, move.label, move.amount_cents) for move in a.payouts] == [
        (SIGNED_ON + dt.timedelta(days=70), "VIRT-2026-03", 24000)
    ]
    assert a.balance_cents == -ledger.balance([ledger.partner(scenario.firm_a.pk), ledger.direct(scenario.firm_a.pk)])

    b = statement_of(scenario.firm_b)
    # B invoiced its own lines and the buyer paid it all directly: B holds the fee and levy it collected.
    assert scenario.invoice_b.total_ttc_cents == 559967
    assert (b.invoiced_cents, b.received_cents, b.withheld_cents, b.pending_cents) == (509060, 509060, 0, 0)
    assert (b.paid_out_cents, b.collected_cents, b.balance_cents) == (0, 559967, -50907)
    assert [(move.label, move.amount_cents) for move in b.collected] == [(MARKER_INVOICE, 559967)]
    assert b.payouts == []
    assert b.balance_cents == -ledger.balance([ledger.partner(scenario.firm_b.pk), ledger.direct(scenario.firm_b.pk)])


# --- The documents -------------------------------------------------------------------------------------------


def test_pdf_names_the_firm_and_its_balance(unpaid: Scenario) -> None:
    filename, content_type, data = statement_pdf(statement_of(unpaid.firm_a), on=ON)
    assert (filename, content_type) == ("releve-firm-a-2026-03-31.pdf", "application/pdf")
    text = flat(texts_of(filename, data))
    assert flat("Relevé de compte de Firm A") in text
    assert flat("Solde dû par le guichet") + shown(24000) in text
    assert flat("Reçu de l'acheteur") + shown(24000) in text
    assert flat("En attente de paiement") + shown(48000) in text
    assert "F-2026-001" in text
    assert "31mars2026" in text
    assert_no_firm_b(text, "firm A's PDF")


def _rows(sheet: Any) -> list[tuple[Any, ...]]:
    return [tuple(cell for cell in row) for row in sheet.iter_rows(values_only=True)]


def test_xlsx_has_a_summary_and_a_sheet_per_table_with_euro_amounts(unpaid: Scenario) -> None:
    filename, content_type, data = statement_xlsx(statement_of(unpaid.firm_b), on=ON)
    assert filename == "releve-firm-b-2026-03-31.xlsx"
    assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["Relevé", "Factures", "Versements", "Encaissements directs", "Contributions amont"]
    summary = workbook["Relevé"]
    assert summary["A1"].value == "Relevé de compte de Firm B"
    assert (summary["A2"].value, summary["B2"].value) == ("Entreprise", "Firm B")
    assert summary["B3"].value == dt.datetime(2026, 3, 31)
    assert summary["B4"].value == "EUR"
    figures = {row[0].value: row[1] for row in summary.iter_rows(min_row=6, max_row=13)}
    assert {label: Decimal(str(cell.value)) for label, cell in figures.items()} == {
        "Facturé (part de l'entreprise)": Decimal("5090.60"),
        "Reçu de l'acheteur": Decimal("5090.60"),
        "Retenue de garantie": Decimal("0"),
        "En attente de paiement": Decimal("0"),
        "Versé par le guichet": Decimal("0"),
        "Encaissé directement": Decimal("5599.67"),
        "Versé pour vous à des projets amont": Decimal("0"),
        "Solde dû par le guichet": Decimal("-509.07"),
    }
    assert all(cell.data_type == "n" and "€" in cell.number_format for cell in figures.values())
    invoices = _rows(workbook["Factures"])
    assert invoices[0] == ("Marché", "Facture", "Date", "Échéance", "Facturé", "Reçu", "Retenu", "En attente")
    contract, number, issued_on, due_on, *amounts = invoices[1]
    assert (contract, number, issued_on) == ("2026-AC-042", MARKER_INVOICE, dt.datetime(2026, 2, 5))
    assert due_on == dt.datetime(2026, 3, 7)
    assert [Decimal(str(amount)) for amount in amounts] == [Decimal("5090.6"), Decimal("5090.6"), 0, 0]
    assert invoices[2][0] == "Total" and len(invoices) == 3
    assert _rows(workbook["Versements"]) == [("Date", "Lot de virements", "Montant"), ("Total", None, 0)]
    collected = _rows(workbook["Encaissements directs"])
    assert collected[1][:2] == (dt.datetime(2026, 3, 7), MARKER_INVOICE)
    assert collected[2][:2] == ("Total", None)
    assert Decimal(str(collected[1][2])) == Decimal(str(collected[2][2])) == Decimal("5599.67")
    assert "€" in workbook["Encaissements directs"]["C2"].number_format


HOSTILE_NAME = '=HYPERLINK("http://evil.example/x","clic") <script>alert(1)</script>'


def test_user_text_stays_text_in_the_workbook_and_escaped_in_the_pdf(unpaid: Scenario) -> None:
    firm = unpaid.firm_a
    firm.name = HOSTILE_NAME
    statement = statement_of(firm)
    _name, _type, data = statement_xlsx(statement, on=ON)
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    cell = workbook["Relevé"]["B2"]
    assert (cell.value, cell.data_type, cell.quotePrefix) == (HOSTILE_NAME, "s", True)
    assert "<f>" not in texts_of("x.xlsx", data)
    filename, _type, pdf = statement_pdf(statement, on=ON)
    assert filename == "releve-hyperlinkhttpevilexamplexclic-scriptalert1script-2026-03-31.pdf"
    assert flat(HOSTILE_NAME) in flat(texts_of(filename, pdf))


# --- Pages -----------------------------------------------------------------------------------------------------


def test_partner_page_shows_its_statement_chart_and_downloads(unpaid: Scenario) -> None:
    response = client_for(unpaid.contract.market.partner_a).get(reverse("statements:mine"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Firm A" in content and "<svg" in content
    assert flat("Solde dû par le guichet") + shown(24000) in page_text(response)
    assert reverse("statements:mine_pdf") in content and reverse("statements:mine_xlsx") in content
    assert reverse("statements:mine") in content  # the "Mes relevés" link of the menu
    pdf = client_for(unpaid.contract.market.partner_a).get(reverse("statements:mine_pdf"))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf["Content-Disposition"].startswith('attachment; filename="releve-firm-a-')
    xlsx = client_for(unpaid.contract.market.partner_a).get(reverse("statements:mine_xlsx"))
    assert xlsx.content.startswith(b"PK") and xlsx["Cache-Control"] == "private, no-store"


def _firm_urls(firm_id: int) -> list[str]:
    return [reverse(f"statements:{name}", args=[firm_id]) for name in ("firm", "firm_pdf", "firm_xlsx")]


def _api(name: str, *args: int) -> str:
    return reverse(name, args=list(args))


def _text_of(response: Any) -> str:
    if response["Content-Type"] == "application/pdf":
        return texts_of("x.pdf", response.content)
    if response["Content-Type"].startswith("application/vnd.openxmlformats"):
        return texts_of("x.xlsx", response.content)
    return response.content.decode()


def test_partner_a_never_reaches_firm_b_nor_sees_its_name_or_amounts(scenario: Scenario) -> None:
    partner_a = client_for(scenario.contract.market.partner_a)
    firm_a, firm_b = scenario.firm_a.pk, scenario.firm_b.pk
    contract = scenario.contract.contract.pk
    own = [
        reverse("statements:mine"),
        reverse("statements:mine_pdf"),
        reverse("statements:mine_xlsx"),
        *_firm_urls(firm_a),
        _api("api-statement-detail", firm_a),
        _api("api-contract-list"),
        _api("api-contract-detail", contract),
        _api("api-contract-invoices", contract),
    ]
    for url in own:
        response = partner_a.get(url)
        assert response.status_code == 200, url
        assert_no_firm_b(_text_of(response), url)
    for url in [*_firm_urls(firm_b), _api("api-statement-detail", firm_b)]:
        response = partner_a.get(url)
        assert response.status_code == 404, url
        assert_no_firm_b(_text_of(response), url)
    for url in (reverse("statements:firm_list"), _api("api-payment-list")):
        response = partner_a.get(url)
        assert response.status_code == 403, url
        assert_no_firm_b(_text_of(response), url)
    # The markers do betray firm B where it may be seen: on its own statement.
    own_b = flat(_text_of(client_for(scenario.contract.market.partner_b).get(reverse("statements:mine_pdf"))))
    assert [marker for marker in firm_b_markers() if flat(marker) in own_b] == [
        "Firm B",
        MARKER_INVOICE,
        "5090,60",
        "5599,67",
        "509,07",
    ]


def test_finance_sees_every_firm_and_the_list_of_balances(scenario: Scenario, finance: Any) -> None:
    client = client_for(finance)
    for firm in (scenario.firm_a, scenario.firm_b):
        for url in _firm_urls(firm.pk):
            response = client.get(url)
            assert response.status_code == 200, url
            assert firm.name in _text_of(response)
    response = client.get(reverse("statements:firm_list"))
    text = page_text(response)
    assert flat("Firm A") + "Rouen" + shown(0) in text
    assert flat("Firm B") + "Rouen" + shown(-50907) in text
    assert reverse("statements:firm", args=[scenario.firm_b.pk]) in response.content.decode()


def test_firm_list_queries_do_not_grow_with_the_firms(scenario: Scenario, finance: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from partners.models import PartnerFirm
    from pricing.ledger_models import Account

    client = client_for(finance)
    with CaptureQueriesContext(connection) as before:
        assert client.get(reverse("statements:firm_list")).status_code == 200
    for index in range(5):
        firm = PartnerFirm.objects.create(name=f"Firm {index + 10}")
        Account.objects.create(code=f"partner:{firm.pk}", kind="partner", firm=firm)
    with CaptureQueriesContext(connection) as after:
        response = client.get(reverse("statements:firm_list"))
    assert len(after.captured_queries) == len(before.captured_queries)
    assert "Firm 14" in response.content.decode()


MINE = {"bid_manager": 403, "partner_a": 200, "partner_b": 200, "finance": 403, "outsider": 403, "anonymous": 302}
FIRM_A = {"bid_manager": 403, "partner_a": 200, "partner_b": 404, "finance": 200, "outsider": 403, "anonymous": 302}
FINANCE_ONLY = {"bid_manager": 403, "partner_a": 403, "partner_b": 403, "finance": 200, "outsider": 403}
PER_FIRM = {"statements:firm", "statements:firm_pdf", "statements:firm_xlsx"}
PAGES = {
    "statements:mine": MINE,
    "statements:mine_pdf": MINE,
    "statements:mine_xlsx": MINE,
    "statements:firm": FIRM_A,
    "statements:firm_pdf": FIRM_A,
    "statements:firm_xlsx": FIRM_A,
    "statements:firm_list": {**FINANCE_ONLY, "anonymous": 302},
}


def test_who_opens_which_statement_page(personas: dict[str, Any]) -> None:
    from partners.models import PartnerFirm

    firm_a = PartnerFirm.objects.get(name="Firm A")
    admin = make_user("admin-user")
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    for name, expected in PAGES.items():
        url = reverse(
            name, args=[firm_a.pk] if name.startswith("statements:firm") and name != "statements:firm_list" else []
        )
        for persona, status in expected.items():
            response = client_for(personas[persona]).get(url)
            assert response.status_code == status, (name, persona)
            if status == 302:
                assert response["Location"].startswith(reverse("login")), name
        assert client_for(admin).get(url).status_code == (403 if name.startswith("statements:mine") else 200), name
