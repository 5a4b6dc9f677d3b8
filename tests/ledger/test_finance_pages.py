"""The finance pages: contracts, orders, invoices, payments, the dashboard, payouts and bank accounts.

Each page renders for the roles allowed with real data; each form changes the data through its service; bad
input (an amount "abc", a stale invoice, a bank reference already recorded) comes back as a message, never a
500; a partner gets 403 and an anonymous visitor the login page; the dashboard's query count does not grow
with the number of invoices and payments.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consortium.templatetags.guichet import money
from pricing.forms import parse_euros
from pricing.interest import late_interest
from pricing.models import (
    Contract,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PartnerBankAccount,
    Payment,
    PaymentKind,
    PayoutBatch,
    PurchaseOrder,
)
from pricing.selectors.contracts import invoice_position, invoice_positions
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from tests.conftest import client_for
from tests.ledger.conftest import SIGNED_ON, LedgerContract, build_ledger_contract, won_version
from tests.offers.conftest import build_offer_market

pytestmark = pytest.mark.django_db

IBAN_A = "FR76 3000 6000 0112 3456 7890 189"  # a valid French IBAN (key checked by pricing.iban)
IBAN_B = "DE89 3704 0044 0532 0130 00"


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


@dataclass
class Deal:
    lc: LedgerContract
    order: PurchaseOrder
    invoice: Invoice
    payment: Payment

    @property
    def contract(self) -> Contract:
        return self.lc.contract

    def url(self, name: str, *args: Any) -> str:
        return reverse(f"pricing:{name}", args=[self.contract.pk, *args])


def issue(lc: LedgerContract, order: PurchaseOrder, number: str, days: int = 40) -> Invoice:
    return issue_invoice(actor=lc.finance, order=order, number=number, issued_on=SIGNED_ON + dt.timedelta(days=days))


@pytest.fixture
def deal(ledger_contract: LedgerContract) -> Deal:
    """An order of every priced line, its invoice, and a first partial payment of a third of it."""
    order = ledger_contract.order()
    invoice = issue(ledger_contract, order, "F-1")
    payment = record_payment(
        actor=ledger_contract.finance,
        payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=60), invoice.total_ttc_cents // 3, "VIR-1"),
    )
    return Deal(lc=ledger_contract, order=order, invoice=invoice, payment=payment)


# --- Money typed in euros -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("1 234,56", 123456),
        ("1234.56", 123456),
        ("1.234,56 €", 123456),
        ("1,234.56", 123456),
        ("1\u202f234,5", 123450),
        ("0,01", 1),
        ("12", 1200),
    ],
)
def test_euros_are_converted_to_exact_cents(typed: str, cents: int) -> None:
    assert parse_euros(typed) == cents


@pytest.mark.parametrize("typed", ["abc", "1,234", "1.2.3", "-5", "1e3", "NaN", "12,345"])
def test_anything_else_is_not_an_amount(typed: str) -> None:
    with pytest.raises(ValueError, match=r"not an amount|two decimals"):
        parse_euros(typed)


# --- Who may open what ---------------------------------------------------------------------------------------------


def finance_urls(deal: Deal) -> dict[str, tuple[str, str]]:
    """Every URL of the module with its method; the per-contract ones on the deal's contract."""
    batch = PayoutBatch.objects.create(key="payouts-test", execution_date=dt.date(2026, 6, 1))
    firm_a = deal.lc.market.firm_a
    return {
        "dashboard": ("get", reverse("pricing:dashboard")),
        "contract_list": ("get", reverse("pricing:contract_list")),
        "contract_new": ("get", reverse("pricing:contract_new", args=[deal.lc.version.pk])),
        "contract_detail": ("get", deal.url("contract_detail")),
        "order_new": ("get", deal.url("order_new") + f"?lot={deal.lc.market.lot.pk}"),
        "invoice_new": ("get", deal.url("invoice_new", deal.order.pk)),
        "invoice_validate": ("post", deal.url("invoice_validate")),
        "credit_note_new": ("post", deal.url("credit_note_new")),
        "payment_new": ("post", deal.url("payment_new")),
        "payment_reverse": ("post", deal.url("payment_reverse")),
        "advance_new": ("post", deal.url("advance_new")),
        "guarantee_release": ("post", deal.url("guarantee_release")),
        "finance_import": ("get", deal.url("finance_import")),
        "payout_list": ("get", reverse("pricing:payout_list")),
        "payout_new": ("post", reverse("pricing:payout_new")),
        "payout_detail": ("get", reverse("pricing:payout_detail", args=[batch.pk])),
        "payout_file": ("get", reverse("pricing:payout_file", args=[batch.pk])),
        "bank_account": ("get", reverse("pricing:bank_account", args=[firm_a.pk])),
    }


BID_MANAGER_PAGES = {"contract_list", "contract_detail"}


def test_every_url_of_the_module_is_checked(deal: Deal) -> None:
    from pricing.urls import urlpatterns

    assert {pattern.name for pattern in urlpatterns} == set(finance_urls(deal))


def test_a_partner_gets_403_and_an_anonymous_visitor_the_login_page(deal: Deal, partner_a: Any) -> None:
    partner, anonymous = client_for(partner_a), client_for(None)
    for name, (method, url) in finance_urls(deal).items():
        assert getattr(partner, method)(url).status_code == 403, name
        response = getattr(anonymous, method)(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name


def test_bid_managers_read_the_contracts_and_nothing_else(deal: Deal, bid_manager: Any) -> None:
    client = client_for(bid_manager)
    for name, (method, url) in finance_urls(deal).items():
        expected = 200 if name in BID_MANAGER_PAGES else 403
        assert getattr(client, method)(url).status_code == expected, name


def test_finance_opens_every_page(deal: Deal) -> None:
    client = client_for(deal.lc.finance)
    urls = finance_urls(deal)
    for name, (method, url) in urls.items():
        if method == "get" and name not in {"contract_new", "payout_file"}:
            assert client.get(url).status_code == 200, name
    response = client.get(reverse("pricing:contract_new", args=[deal.lc.version.pk]))
    assert response.status_code == 302
    assert response["Location"] == deal.url("contract_detail")  # the deal's offer has its contract already
    empty_batch = client.get(urls["payout_file"][1], follow=True)
    assert "Ce lot ne contient aucun virement : il n'a pas de fichier SEPA." in messages_of(empty_batch)


def test_the_contract_page_shows_progress_and_only_finance_sees_the_split(deal: Deal, bid_manager: Any) -> None:
    invoice, position = deal.invoice, invoice_position(deal.invoice)
    finance_page = text(client_for(deal.lc.finance).get(deal.url("contract_detail")))
    manager_page = text(client_for(bid_manager).get(deal.url("contract_detail")))
    for body in (finance_page, manager_page):
        assert "2026-AC-001" in body and "BC-1" in body and "F-1" in body and "VIR-1" in body
        assert "Commandé / maximum (HT)" in body and "Réglé / facturé (TTC)" in body
        assert "Firm A" in body and "Firm B" in body  # the parties and their payment routes
    assert "Répartition" in finance_page and "Écritures au grand livre" in finance_page
    assert "Enregistrer le paiement" in finance_page
    for hidden in ("Répartition", "Écritures au grand livre", "Enregistrer le paiement", "Contre-passer", "Facturer"):
        assert hidden not in manager_page, hidden
    assert position.outstanding_cents == invoice.total_ttc_cents - deal.payment.amount_cents
    assert invoice_positions([invoice]) == {invoice.pk: position}


def test_the_list_shows_each_contract_figures(deal: Deal) -> None:
    response = client_for(deal.lc.finance).get(reverse("pricing:contract_list"))
    assert response.status_code == 200
    ((contract, figures),) = response.context["rows"]
    assert contract == deal.contract
    assert figures.ordered_ht_cents == deal.order.total_ht_cents
    assert figures.invoiced_ht_cents == deal.invoice.total_ht_cents
    assert figures.invoiced_ttc_cents == deal.invoice.total_ttc_cents
    assert figures.settled_cents == deal.payment.amount_cents
    assert figures.outstanding_cents == deal.invoice.total_ttc_cents - deal.payment.amount_cents
    assert figures.lots == 1


# --- A new contract from a won offer ----------------------------------------------------------------------------


def contract_data(**changes: Any) -> dict[str, Any]:
    data = {
        "reference": "2026-AC-777",
        "title": "Support",
        "kind": "framework",
        "signed_on": "2026-02-01",
        "starts_on": "2026-02-01",
        "ends_on": "2028-01-31",
        "minimum": "10 000",
        "maximum": "1 234 567,89",
        "advance_rate": "5",
        "guarantee_rate": "3,5",
        "guarantee_release_on": "",
        "invoicing_circuit": "global",
        "payment_days": "30",
    }
    data.update(changes)
    return data


def test_finance_turns_a_won_offer_into_a_contract(
    bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any
) -> None:
    market = build_offer_market(bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b)
    version = won_version(market)
    client = client_for(finance)
    listing = text(client.get(reverse("pricing:contract_list")))
    assert "Offres gagnées sans marché" in listing and "Créer le marché" in listing
    url = reverse("pricing:contract_new", args=[version.pk])
    page = client.get(url)
    assert page.status_code == 200 and f'name="route_{market.firm_a.pk}"' in page.content.decode()
    routes = {f"route_{firm.pk}": "guichet" for firm in (market.firm_a, market.firm_b)}

    refused = client.post(url, {**contract_data(maximum="abc", guarantee_rate="7"), **routes})
    assert refused.status_code == 200
    body = text(refused)
    assert "« abc » n'est pas un montant en euros" in body
    assert "inférieure ou égale à 5" in body
    direct = client.post(url, {**contract_data(), **routes, f"route_{market.firm_a.pk}": "direct"})
    assert direct.status_code == 200
    assert "le paiement direct est réservé aux sous-traitants." in text(direct)
    assert not Contract.objects.filter(version=version).exists()

    response = client.post(url, {**contract_data(), **routes}, follow=True)
    contract = Contract.objects.get(version=version)
    assert "Marché 2026-AC-777 enregistré." in messages_of(response)
    assert (contract.minimum_cents, contract.maximum_cents) == (1_000_000, 123_456_789)
    assert (contract.advance_rate, contract.guarantee_rate) == (Decimal("5"), Decimal("3.5"))
    assert set(contract.parties.values_list("payment_route", flat=True)) == {"guichet"}
    assert "Offres gagnées sans marché" not in text(client.get(reverse("pricing:contract_list")))
    again = client.get(url, follow=True)
    assert "Cette offre a déjà son marché : 2026-AC-777." in messages_of(again)


# --- Orders and invoices ------------------------------------------------------------------------------------------


def test_an_order_lists_the_lot_lines_and_is_saved(ledger_contract: LedgerContract) -> None:
    client = client_for(ledger_contract.finance)
    url = reverse("pricing:order_new", args=[ledger_contract.contract.pk])
    lot = ledger_contract.market.lot
    lines = ledger_contract.offer_lines("A")
    page = client.get(url, {"lot": lot.pk})
    assert page.status_code == 200
    assert all(f'name="qty_{line.pk}"' in page.content.decode() for line in lines)

    bad = client.post(url, {"lot": lot.pk, "number": "BC-9", "issued_on": "2026-02-01", f"qty_{lines[0].pk}": "abc"})
    assert bad.status_code == 200 and "Saisissez un nombre." in text(bad)
    empty = client.post(url, {"lot": lot.pk, "number": "BC-9", "issued_on": "2026-02-01"})
    assert "Indiquez une quantité sur au moins une ligne." in text(empty)
    late = client.post(url, {"lot": lot.pk, "number": "BC-9", "issued_on": "2035-01-01", f"qty_{lines[0].pk}": "1"})
    assert "daté hors de la durée du marché" in text(late)
    assert not PurchaseOrder.objects.exists()

    data = {"lot": lot.pk, "number": "BC-9", "issued_on": "2026-02-01", f"qty_{lines[0].pk}": "2,5"}
    response = client.post(url, data, follow=True)
    order = PurchaseOrder.objects.get(number="BC-9")
    assert order.lines.get().quantity == Decimal("2.5")
    assert any("Bon de commande BC-9 enregistré" in message for message in messages_of(response))

    stale = client.get(url, {"lot": 999_999}, follow=True)
    assert "Choisissez un lot du marché pour le bon de commande." in messages_of(stale)


def test_an_invoice_takes_all_that_is_left_or_the_quantities_typed(ledger_contract: LedgerContract) -> None:
    order = ledger_contract.order(quantity=Decimal(2))
    client = client_for(ledger_contract.finance)
    url = reverse("pricing:invoice_new", args=[ledger_contract.contract.pk, order.pk])
    first_line = order.lines.order_by("pk").first()
    assert first_line is not None
    partial = {"number": "F-10", "issued_on": "2026-03-01", "mode": "lines", f"qty_{first_line.pk}": "1"}
    response = client.post(url, partial, follow=True)
    invoice = Invoice.objects.get(number="F-10")
    assert [(line.order_line_id, line.quantity) for line in invoice.lines.all()] == [(first_line.pk, Decimal(1))]
    assert any("Facture F-10 émise" in message for message in messages_of(response))

    too_much = client.post(url, {**partial, "number": "F-11", f"qty_{first_line.pk}": "5"})
    assert too_much.status_code == 200 and "reste à facturer 1" in text(too_much)

    client.post(url, {"number": "F-12", "issued_on": "2026-03-02", "mode": "all"})
    rest = Invoice.objects.get(number="F-12")
    assert rest.total_ht_cents + invoice.total_ht_cents == order.total_ht_cents
    nothing = client.post(url, {"number": "F-13", "issued_on": "2026-03-03", "mode": "all"})
    assert "plus rien à facturer" in text(nothing)


def test_a_member_invoice_waits_for_validation(bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any) -> None:
    lc = build_ledger_contract(
        bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance, invoicing_circuit="members"
    )
    order = lc.order()
    client = client_for(finance)
    url = reverse("pricing:invoice_new", args=[lc.contract.pk, order.pk])
    party_a = lc.contract.parties.get(firm=lc.market.firm_a)
    without_issuer = client.post(url, {"number": "FA-1", "issued_on": "2026-03-01", "mode": "all"})
    assert "Ce champ est obligatoire." in text(without_issuer)
    client.post(url, {"number": "FA-1", "issued_on": "2026-03-01", "mode": "all", "issuer": party_a.pk})
    invoice = Invoice.objects.get(number="FA-1")
    assert (invoice.status, invoice.issuer_id) == (InvoiceStatus.SUBMITTED, lc.market.firm_a.pk)

    validate = reverse("pricing:invoice_validate", args=[lc.contract.pk])
    stale = client.post(validate, {"invoice": 999_999}, follow=True)
    assert any("rechargez la page" in message for message in messages_of(stale))
    response = client.post(validate, {"invoice": invoice.pk}, follow=True)
    assert "Facture FA-1 validée et émise." in messages_of(response)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ISSUED
    again = client.post(validate, {"invoice": invoice.pk}, follow=True)
    assert any("rechargez la page" in message for message in messages_of(again))


def test_a_credit_note_reduces_the_invoice(deal: Deal) -> None:
    client = client_for(deal.lc.finance)
    data = {
        "credit-invoice": deal.invoice.pk,
        "credit-number": "AV-1",
        "credit-issued_on": "2026-03-20",
        "credit-amount_ht": "100,00",
        "credit-reason": "Ligne non réalisée",
    }
    bad = client.post(deal.url("credit_note_new"), {**data, "credit-amount_ht": "abc"}, follow=True)
    assert any("« abc » n'est pas un montant en euros" in message for message in messages_of(bad))
    response = client.post(deal.url("credit_note_new"), data, follow=True)
    credit = Invoice.objects.get(number="AV-1")
    assert (credit.kind, credit.credited_id, credit.total_ht_cents) == (
        InvoiceKind.CREDIT_NOTE,
        deal.invoice.pk,
        10_000,
    )
    assert any("Avoir AV-1 émis sur la facture F-1" in message for message in messages_of(response))
    assert invoice_position(deal.invoice).credited_ht_cents == 10_000
    second = issue(deal.lc, deal.lc.order("BC-2"), "F-2")
    record_payment(actor=deal.lc.finance, payment=PaymentInput(second.pk, SIGNED_ON + dt.timedelta(days=50), 500))
    invoices = list(Invoice.objects.all())
    assert invoice_positions(invoices) == {invoice.pk: invoice_position(invoice) for invoice in invoices}


# --- Payments ------------------------------------------------------------------------------------------------------


def payment_data(deal: Deal, **changes: Any) -> dict[str, Any]:
    data = {
        "payment-invoice": deal.invoice.pk,
        "payment-received_on": "2026-04-01",
        "payment-amount": "12,34",
        "payment-bank_reference": "VIR-2",
        "payment-firm": "",
    }
    data.update({f"payment-{key}": value for key, value in changes.items()})
    return data


def test_a_payment_is_recorded_to_the_cent(deal: Deal) -> None:
    client = client_for(deal.lc.finance)
    response = client.post(deal.url("payment_new"), payment_data(deal), follow=True)
    assert response.status_code == 200
    expected = f"Paiement de {money(Decimal('12.34'), 'EUR')} enregistré sur la facture F-1 et redistribué."
    assert expected in messages_of(response)
    payment = Payment.objects.get(bank_reference="VIR-2")
    assert (payment.amount_cents, payment.received_on) == (1234, dt.date(2026, 4, 1))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"amount": "abc"}, "« abc » n'est pas un montant en euros"),
        ({"amount": "1,234"}, "« 1,234 » n'est pas un montant en euros"),
        ({"amount": "0"}, "le montant doit être positif"),
        ({"invoice": "999999"}, "rechargez la page"),
        ({"invoice": "x"}, "rechargez la page"),
        ({"received_on": "31/02/2026"}, "Reçu le"),
        ({"bank_reference": "VIR-1"}, "référence bancaire a déjà été enregistrée"),
        ({"amount": "999 999 999"}, "restant dus"),
    ],
)
def test_bad_payments_come_back_as_messages(deal: Deal, changes: dict[str, str], expected: str) -> None:
    client = client_for(deal.lc.finance)
    response = client.post(deal.url("payment_new"), payment_data(deal, **changes), follow=True)
    assert response.status_code == 200
    assert any(expected in message for message in messages_of(response)), messages_of(response)
    assert Payment.objects.count() == 1


def test_a_payment_on_a_paid_invoice_is_stale(deal: Deal) -> None:
    client = client_for(deal.lc.finance)
    left = invoice_position(deal.invoice).outstanding_cents
    euros = f"{left // 100},{left % 100:02d}"
    client.post(deal.url("payment_new"), payment_data(deal, amount=euros, bank_reference="VIR-3"))
    deal.invoice.refresh_from_db()
    assert deal.invoice.status == InvoiceStatus.PAID
    response = client.post(deal.url("payment_new"), payment_data(deal, bank_reference="VIR-4"), follow=True)
    assert any("rechargez la page" in message for message in messages_of(response))
    assert Payment.objects.count() == 2


def test_advance_release_and_reversal(deal: Deal) -> None:
    client = client_for(deal.lc.finance)
    response = client.post(
        deal.url("advance_new"),
        {"advance-received_on": "2026-02-01", "advance-amount": "1 000", "advance-bank_reference": "AV-1"},
        follow=True,
    )
    assert f"Avance de {money(Decimal('1000'), 'EUR')} enregistrée." in messages_of(response)
    assert Payment.objects.get(kind=PaymentKind.ADVANCE).amount_cents == 100_000

    release = client.post(deal.url("guarantee_release"), {"release-received_on": "2026-05-01"}, follow=True)
    assert "Aucune retenue de garantie à libérer sur ce marché." in messages_of(release)

    reverse_url = deal.url("payment_reverse")
    no_reason = client.post(reverse_url, {"payment": deal.payment.pk, "reason": ""}, follow=True)
    assert any("Motif de l'annulation" in message for message in messages_of(no_reason))
    done = client.post(reverse_url, {"payment": deal.payment.pk, "reason": "Doublon de la banque"}, follow=True)
    assert any("annulé : ses écritures sont contre-passées" in message for message in messages_of(done))
    deal.payment.refresh_from_db()
    assert deal.payment.reversed_at is not None
    twice = client.post(reverse_url, {"payment": deal.payment.pk, "reason": "encore"}, follow=True)
    assert any("rechargez la page" in message for message in messages_of(twice))


# --- Import ----------------------------------------------------------------------------------------------------------


def test_an_import_with_problems_lists_them_and_keeps_the_form(deal: Deal) -> None:
    client = client_for(deal.lc.finance)
    url = deal.url("finance_import")
    content = "Date;Montant;N° facture;Référence bancaire\n01/04/2026;abc;F-1;VIR-9\n02/04/2026;10,00;F-404;VIR-10\n"
    upload = _upload("paiements.csv", content)
    response = client.post(url, {"kind": "payments", "file": upload})
    assert response.status_code == 200
    body = text(response)
    assert "rien n'a été enregistré" in body and "paiements.csv" in body
    assert len(response.context["problems"]) == 2
    assert response.context["form"]["kind"].value() == "payments"
    assert Payment.objects.count() == 1

    good = _upload("paiements.csv", "Date;Montant;N° facture;Référence bancaire\n01/04/2026;10,00;F-1;VIR-9\n")
    response = client.post(url, {"kind": "payments", "file": good}, follow=True)
    expected = f"Import de paiements reçus : 1 enregistré(s), {money(Decimal('10.00'), 'EUR')}."
    assert expected in messages_of(response)
    assert Payment.objects.get(bank_reference="VIR-9").amount_cents == 1000

    empty = client.post(url, {"kind": "payments", "file": _upload("vide.csv", "")})
    assert empty.status_code == 200 and "Le fichier soumis est vide." in text(empty)


def _upload(name: str, content: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


# --- Dashboard ----------------------------------------------------------------------------------------------------


def test_the_dashboard_shows_revenue_debts_and_overdue_interest(deal: Deal) -> None:
    response = client_for(deal.lc.finance).get(reverse("pricing:dashboard"))
    assert response.status_code == 200
    figures = response.context["figures"]
    today = timezone.localdate()
    received = {row.key: row.cents for row in figures.months}
    assert len(figures.months) == 12
    in_window = figures.since <= deal.payment.received_on <= today
    assert sum(received.values()) == (deal.payment.amount_cents if in_window else 0)
    owed = {row.label: row.cents for row in figures.owed_to_firms}
    shares = deal.invoice.shares.filter(kind="firm")
    assert sum(owed.values()) > 0 and set(owed) <= {"Firm A", "Firm B"}
    assert sum(owed.values()) <= sum(share.ttc_cents for share in shares)

    (row,) = response.context["overdue_page"].object_list
    outstanding = invoice_position(deal.invoice).outstanding_cents
    assert row.overdue.invoice == deal.invoice
    assert row.overdue.outstanding_cents == outstanding
    assert row.overdue.days_late == (today - deal.invoice.due_on).days
    assert row.interest == late_interest(principal_cents=outstanding, due_on=deal.invoice.due_on, paid_on=today)
    body = text(response)
    assert "<svg" in body and "Dû à chaque fonds amont" in body and "Factures en retard" in body


def test_the_dashboard_query_count_does_not_grow(deal: Deal) -> None:
    client = client_for(deal.lc.finance)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("pricing:dashboard")).status_code == 200
    lc = deal.lc
    for n in range(2, 6):
        order = lc.order(f"BC-{n}")
        invoice = issue(lc, order, f"F-{n}", days=40 + n * 30)
        record_payment(
            actor=lc.finance,
            payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=60 + n * 30), invoice.total_ttc_cents // 2),
        )
    PartnerBankAccount.objects.create(firm=lc.market.firm_a, holder="Firm A", iban=IBAN_A.replace(" ", ""))
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("pricing:dashboard"))
    assert response.status_code == 200
    assert len(response.context["overdue_page"].object_list) == 5
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_contract_page_query_count_does_not_grow(deal: Deal) -> None:
    client = client_for(deal.lc.finance)
    with CaptureQueriesContext(connection) as few:
        client.get(deal.url("contract_detail"))
    for n in range(2, 5):
        invoice = issue(deal.lc, deal.lc.order(f"BC-{n}"), f"F-{n}")
        record_payment(actor=deal.lc.finance, payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=70), 100))
    with CaptureQueriesContext(connection) as many:
        client.get(deal.url("contract_detail"))
    assert len(many.captured_queries) == len(few.captured_queries)


# --- Payouts and bank accounts ---------------------------------------------------------------------------------------


def test_bank_accounts_are_checked_and_saved(deal: Deal) -> None:
    client = client_for(deal.lc.finance)
    firm = deal.lc.market.firm_a
    url = reverse("pricing:bank_account", args=[firm.pk])
    bad = client.post(url, {"holder": "Firm A", "iban": "FR76 3000 6000 0112 3456 7890 188", "bic": "NOPE"})
    assert bad.status_code == 200
    body = text(bad)
    assert "clé de contrôle invalide" in body and "8 ou 11 caractères attendus" in body
    assert not PartnerBankAccount.objects.exists()
    response = client.post(url, {"holder": "Firm A SAS", "iban": IBAN_A, "bic": "bnpafrpp"}, follow=True)
    assert "Coordonnées bancaires de Firm A enregistrées." in messages_of(response)
    account = PartnerBankAccount.objects.get(firm=firm)
    assert (account.holder, account.iban, account.bic) == ("Firm A SAS", IBAN_A.replace(" ", ""), "BNPAFRPP")
    assert client.get(reverse("pricing:bank_account", args=[999_999])).status_code == 404


def test_a_payout_batch_posts_once_and_downloads_its_sepa_file(deal: Deal) -> None:
    client = client_for(deal.lc.finance)
    market = deal.lc.market
    client.post(reverse("pricing:bank_account", args=[market.firm_a.pk]), {"holder": "Firm A", "iban": IBAN_A})
    listing = client.get(reverse("pricing:payout_list"))
    assert listing.status_code == 200
    assert 'value="payouts-' in listing.content.decode()
    owed = {row.key: row.cents for row in listing.context["owed"]}
    assert listing.context["without_account"] == {market.firm_b.pk} & set(owed)

    bad = client.post(reverse("pricing:payout_new"), {"execution_date": "demain"}, follow=True)
    assert any("Date d'exécution" in message for message in messages_of(bad))
    response = client.post(reverse("pricing:payout_new"), {"execution_date": "2026-06-01", "key": ""}, follow=True)
    batch = PayoutBatch.objects.get()
    assert batch.key == "payouts-2026-06-01"
    assert batch.total_cents == owed[market.firm_a.pk]
    assert any("passé" in message for message in messages_of(response))
    if market.firm_b.pk in owed:
        assert any("Firm B : pas de coordonnées bancaires." in message for message in messages_of(response))

    again = client.post(reverse("pricing:payout_new"), {"execution_date": "2026-06-01", "key": "payouts-2026-06-01"})
    assert again.status_code == 302
    assert again["Location"] == reverse("pricing:payout_detail", args=[batch.pk])
    again_messages = messages_of(client.get(again["Location"]))
    assert any("rien de nouveau n'a été écrit" in message for message in again_messages)
    assert PayoutBatch.objects.count() == 1

    download = client.get(reverse("pricing:payout_file", args=[batch.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert b"pain.001" in download.content and IBAN_A.replace(" ", "").encode() in download.content
    assert client.get(reverse("pricing:payout_detail", args=[999_999])).status_code == 404
