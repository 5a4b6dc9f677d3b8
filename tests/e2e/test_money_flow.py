"""The money side in a real browser: finance records a partial payment (and a mistyped one), a firm's bank
account and a payout batch whose pain.001 file is valid, then reads the dashboard; partner A reads its own
statement as a page, a PDF and an XLSX, and gets a 404 on firm B's."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import expect

from consortium.money import from_cents
from consortium.templatetags.guichet import money
from pricing.models import Invoice, PayoutBatch
from pricing.selectors.statements import partner_statement
from pricing.sepa import pain001_problems
from pricing.services.contracts import issue_invoice
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import Shot, log_in
from tests.ledger.conftest import SIGNED_ON, LedgerContract, build_ledger_contract

pytestmark = pytest.mark.e2e

IBAN_A = "FR1420041010050500013M02606"
PAID_CENTS = 1_000_00


@pytest.fixture
def invoiced(transactional_db: None) -> tuple[LedgerContract, Invoice]:
    """A won offer's contract with one order and its invoice, none of it paid yet."""
    contract = build_ledger_contract(
        bid_manager=make_user("bid-manager", "bid_manager"),
        partner_a=make_user("partner-a", "partner", firm="Firm A"),
        partner_b=make_user("partner-b", "partner", firm="Firm B"),
        finance=make_user("finance", "finance"),
    )
    order = contract.order()
    invoice = issue_invoice(
        actor=contract.finance, order=order, number="F-2026-001", issued_on=SIGNED_ON + dt.timedelta(days=40)
    )
    assert invoice.total_ttc_cents > PAID_CENTS
    return contract, invoice


def euros(cents: int) -> str:
    """As the pages show it: '1 000,00 EUR' in French."""
    return money(from_cents(cents), "EUR")


def expect_message(page: Any, text: str) -> None:
    expect(page.locator("ul.messages")).to_contain_text(text)


def download(page: Any, link_name: str) -> bytes:
    with page.expect_download() as download_info:
        page.get_by_role("link", name=link_name, exact=True).click()
    return Path(download_info.value.path()).read_bytes()


def record_payments(page: Any, invoice: Invoice, shot: Shot) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Marchés").click()
    page.get_by_role("link", name="2026-AC-001").click()
    expect(page.locator("h1")).to_have_text("Marché 2026-AC-001")
    form = page.locator("#payment-form")
    form.locator("#id_payment-invoice").select_option(label=invoice.number)
    form.locator("#id_payment-amount").fill("1 000,00")
    form.locator("#id_payment-bank_reference").fill("VIR-ACHETEUR-1")
    form.get_by_role("button", name="Enregistrer le paiement").click()
    expect_message(page, f"Paiement de {euros(PAID_CENTS)} enregistré sur la facture {invoice.number} et redistribué.")
    row = page.locator("table.fin-invoices tbody tr", has_text=invoice.number)
    expect(row.locator("td").nth(8)).to_have_text(euros(PAID_CENTS))  # settled
    expect(row.locator("td").nth(10)).to_have_text(euros(invoice.total_ttc_cents - PAID_CENTS))  # outstanding
    settled = (Decimal(PAID_CENTS * 100) / Decimal(invoice.total_ttc_cents)).quantize(Decimal("0.1"))
    bar = page.get_by_role("progressbar", name="Réglé / facturé (TTC)")
    expect(bar).to_have_attribute("aria-valuenow", str(settled))
    expect(page.locator("table.fin-payments")).to_contain_text("VIR-ACHETEUR-1")
    shot("01-contract-after-payment")

    form.locator("#id_payment-invoice").select_option(label=invoice.number)
    form.locator("#id_payment-amount").fill("abc")
    form.get_by_role("button", name="Enregistrer le paiement").click()
    expect(page.locator("h1")).to_have_text("Marché 2026-AC-001")
    expect_message(page, "Paiement non enregistré : Montant reçu (€) : « abc » n'est pas un montant en euros")
    expect(page.locator("table.fin-payments tbody tr")).to_have_count(1)  # nothing half-saved
    shot("02-contract-bad-amount")


def pay_out_firm_a(page: Any, contract: LedgerContract, shot: Shot) -> None:
    firm_a = contract.market.firm_a
    page.get_by_role("navigation").get_by_role("link", name="Finance").click()
    page.get_by_role("link", name="Virements aux partenaires").first.click()
    owed = page.locator("table.fin-owed tbody tr", has_text="Firm A")
    owed.get_by_role("link", name="à renseigner").click()
    expect(page).to_have_url(re.compile(rf"/finance/firms/{firm_a.pk}/bank-account/$"))
    expect(page.locator("#id_holder")).to_have_value("Firm A")
    page.fill("#id_iban", "FR14 2004 1010 0505 0001 3M02 607")  # one digit off: the check digits catch it
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#bank-form .errorlist")).to_be_visible()
    shot("03-bank-account-bad-iban")
    page.fill("#id_iban", IBAN_A)
    page.get_by_role("button", name="Enregistrer").click()
    expect_message(page, "Coordonnées bancaires de Firm A enregistrées.")
    owed_a = partner_statement(firm_a).balance_cents
    expect(page.locator("table.fin-owed tbody tr", has_text="Firm A")).to_contain_text(euros(owed_a))

    page.get_by_role("button", name="Passer le lot").click()
    expect_message(page, "virements écrits au grand livre")
    expect(page.locator("ul.messages")).to_contain_text("Firm B")  # no bank account: left for the next batch
    items = page.locator("table.fin-items tbody tr")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Firm A")
    expect(items.first).to_contain_text(IBAN_A)
    expect(items.first.locator("td").last).to_have_text(euros(owed_a))
    shot("04-payout-batch")
    pain = download(page, "Télécharger le fichier SEPA (pain.001)")
    assert pain001_problems(pain) == []
    assert IBAN_A.encode() in pain
    assert PayoutBatch.objects.get().total_cents == owed_a


def read_the_dashboard(page: Any, shot: Shot) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Finance").click()
    expect(page.locator("h1")).to_have_text("Tableau de bord finance")
    expect(page.locator("#month-chart svg")).to_be_visible()
    owed = page.locator("table.fin-owed")
    expect(owed).to_be_visible()
    expect(owed.locator("tbody tr", has_text="Firm A")).to_contain_text(euros(0))  # paid out in full
    expect(owed.locator("tbody tr", has_text="Firm B")).to_contain_text("coordonnées bancaires manquantes")
    shot("05-dashboard")


def read_own_statement(page: Any, contract: LedgerContract, shot: Shot) -> None:
    statement = partner_statement(contract.market.firm_a)
    assert statement.received_cents > 0 and statement.paid_out_cents > 0 and statement.balance_cents == 0
    page.get_by_role("navigation").get_by_role("link", name="Mes relevés").click()
    expect(page.locator("h1")).to_have_text("Mon relevé de compte")
    summary = page.locator("section.statement-summary")
    figures = {"Reçu de l'acheteur": statement.received_cents, "Versé par le guichet": statement.paid_out_cents}
    for label, cents in figures.items():
        expect(summary.locator("dt", has_text=label).locator("xpath=following-sibling::dd[1]")).to_have_text(
            money(from_cents(cents), "EUR")
        )
    main = page.locator("main")
    expect(main).to_contain_text("F-2026-001")
    expect(main).not_to_contain_text("Firm B")
    shot("06-partner-statement")

    pdf = download(page, "PDF")
    assert pdf.startswith(b"%PDF")
    workbook = openpyxl.load_workbook(io.BytesIO(download(page, "XLSX")), read_only=True)
    cells = [str(value) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for value in row]
    assert "Firm A" in cells and "Firm B" not in cells


def test_finance_pays_out_and_partner_a_reads_its_statement(
    invoiced: tuple[LedgerContract, Invoice], page: Any, shot: Shot
) -> None:
    contract, invoice = invoiced
    log_in(page, "finance", PASSWORD)
    record_payments(page, invoice, shot)
    pay_out_firm_a(page, contract, shot)
    read_the_dashboard(page, shot)

    page.context.clear_cookies()
    log_in(page, "partner-a", PASSWORD)
    read_own_statement(page, contract, shot)
    response = page.goto(f"/statements/firms/{contract.market.firm_b.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page introuvable")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Firm B")
    shot("07-other-firm-statement-404")
