"""Orders, invoices and bank payments imported from XLSX or CSV: the whole file or nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from bids.offer_models import OfferLine
from consortium.models import AuditEvent
from consortium.templatetags.guichet import money
from pricing import ledger
from pricing.imports import ImportProblem, ImportResult, expected_columns, import_finance_file
from pricing.models import (
    Entry,
    Invoice,
    InvoiceLine,
    InvoiceShare,
    InvoiceStatus,
    OrderLine,
    Payment,
    Posting,
    PurchaseOrder,
)
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from tests.conftest import make_xlsx
from tests.ledger.conftest import LedgerContract, build_ledger_contract
from tests.offers.conftest import SIRET_A

ORDER_HEADER = ["N° BC", "Date", "Lot", "Réf.", "Quantité"]
INVOICE_HEADER = ["N° facture", "Date", "N° BC", "Réf.", "Quantité"]
PAYMENT_HEADER = ["Date de valeur", "Montant", "N° facture", "Référence bancaire"]


def run(lc: LedgerContract, kind: str, filename: str, data: bytes) -> ImportResult:
    return import_finance_file(actor=lc.finance, contract=lc.contract, kind=kind, filename=filename, data=data)


def csv_bytes(rows: list[list[Any]], *, delimiter: str = ";", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode(encoding)


def counts() -> dict[str, int]:
    models: list[Any] = [PurchaseOrder, OrderLine, Invoice, InvoiceLine, InvoiceShare, Payment, Entry, Posting]
    found = {model.__name__: model.objects.count() for model in models}
    found["imported"] = AuditEvent.objects.filter(action="finance.imported").count()
    return found


def french(cents: int) -> str:
    """'1 234,56' as a French bank statement writes it."""
    return f"{cents // 100:,}".replace(",", " ") + f",{cents % 100:02d}"


def euros(cents: int) -> str:
    return money(Decimal(cents) / 100, "EUR")


def offer_price(lc: LedgerContract, code: str) -> Decimal:
    return OfferLine.objects.get(version=lc.version, line__code=code).unit_price


def refused(lc: LedgerContract, kind: str, filename: str, data: bytes) -> ImportResult:
    """Import a bad file: nothing written, at least one problem."""
    before = counts()
    result = run(lc, kind, filename, data)
    assert not result.ok
    assert result.created == 0
    assert result.total_cents == 0
    assert counts() == before
    return result


# ---------------------------------------------------------------- good files


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_orders_invoices_payments_chain_reaches_the_ledger(ledger_contract: LedgerContract, fmt: str) -> None:
    lc = ledger_contract

    def sheet(rows: list[list[Any]]) -> bytes:
        return make_xlsx(rows) if fmt == "xlsx" else csv_bytes(rows)

    def day(value: dt.date) -> Any:
        return value if fmt == "xlsx" else value.strftime("%d/%m/%Y")

    orders = run(
        lc,
        "orders",
        f"commandes.{fmt}",
        sheet(
            [
                ORDER_HEADER,
                ["BC-1", day(dt.date(2026, 1, 15)), "LOT-1", "PG-1", 2],
                ["BC-1", day(dt.date(2026, 1, 15)), "LOT-1", "NG-1", 1],
                ["BC-2", day(dt.date(2026, 1, 20)), "Support", "Montée de version", 1],  # lot title, designation
                [],
                ["Total", None, None, None, 4],
            ]
        ),
    )
    assert orders.problems == []
    assert (orders.kind, orders.created) == ("orders", 2)
    expected_ht = 2 * offer_price(lc, "PG-1") + offer_price(lc, "NG-1") + offer_price(lc, "PG-2")
    assert orders.total_cents == int(expected_ht * 100)
    bc1 = PurchaseOrder.objects.get(contract=lc.contract, number="BC-1")
    assert bc1.issued_on == dt.date(2026, 1, 15)
    assert sorted((line.offer_line.line.code, line.quantity) for line in bc1.lines.all()) == [
        ("NG-1", Decimal(1)),
        ("PG-1", Decimal(2)),
    ]

    invoices = run(
        lc,
        "invoices",
        f"factures.{fmt}",
        sheet(
            [
                INVOICE_HEADER,
                ["F-1", day(dt.date(2026, 2, 1)), "BC-1", "PG-1", 2],
                ["F-1", day(dt.date(2026, 2, 1)), "BC-1", "NG-1", 1],
                ["F-2", day(dt.date(2026, 2, 10)), "bc-2", "PG-2", 1],
            ]
        ),
    )
    assert invoices.problems == []
    f1 = Invoice.objects.get(contract=lc.contract, number="F-1")
    f2 = Invoice.objects.get(contract=lc.contract, number="F-2")
    assert invoices.created == 2
    assert invoices.total_cents == f1.total_ttc_cents + f2.total_ttc_cents
    assert f1.total_ht_cents == bc1.total_ht_cents
    assert f1.order == bc1
    assert f1.status == f2.status == InvoiceStatus.ISSUED

    first = f1.total_ttc_cents // 3
    partial = f2.total_ttc_cents // 2
    amounts: list[Any]
    if fmt == "xlsx":  # a number cell, a French text, a number with cents
        amounts = [first / 100, french(f1.total_ttc_cents - first), float(Decimal(partial) / 100)]
    else:
        amounts = [french(first) + " €", f"{(f1.total_ttc_cents - first) / 100:.2f}", french(partial)]
    payments = run(
        lc,
        "payments",
        f"releve.{fmt}",
        sheet(
            [
                ["Relevé de la banque"],
                [],
                PAYMENT_HEADER,
                [day(dt.date(2026, 3, 1)), amounts[0], "F-1", "VIR-001"],
                [day(dt.date(2026, 3, 5)), amounts[1], "F-1", "VIR-002"],
                [day(dt.date(2026, 3, 9)), amounts[2], "F-2", ""],
            ]
        ),
    )
    assert payments.problems == []
    paid = f1.total_ttc_cents + partial
    assert (payments.created, payments.total_cents) == (3, paid)
    assert sorted(Payment.objects.filter(contract=lc.contract).values_list("bank_reference", "amount_cents")) == [
        ("", partial),
        ("VIR-001", first),
        ("VIR-002", f1.total_ttc_cents - first),
    ]
    f1.refresh_from_db()
    assert f1.status == InvoiceStatus.PAID

    contract_id = lc.contract.pk
    assert ledger.balance([ledger.BANK]) == paid
    assert ledger.balance([ledger.receivable(contract_id)]) == f2.total_ttc_cents - partial
    assert ledger.balance([ledger.to_redistribute(contract_id)]) == -(f2.total_ttc_cents - partial)
    shares = InvoiceShare.objects.filter(invoice__contract=lc.contract)
    refs = {ledger.FEE}
    refs |= {ledger.partner(s.firm_id) for s in shares if s.firm_id}
    refs |= {ledger.fund(s.project_id) for s in shares if s.kind == "levy"}
    assert ledger.balance(refs) == -paid
    firm_b_of_f1 = sum(s.ttc_cents for s in f1.shares.filter(kind="firm", firm=lc.market.firm_b))
    assert -ledger.balance([ledger.partner(lc.market.firm_b.pk)]) == firm_b_of_f1  # F-2 is firm A's line only
    assert sum(Posting.objects.values_list("amount_cents", flat=True)) == 0
    assert AuditEvent.objects.filter(action="finance.imported").count() == 3


def test_english_headers_comma_delimiter_cp1252_and_designations(ledger_contract: LedgerContract) -> None:
    data = csv_bytes(
        [
            ["Order number", "Order date", "Lot", "Reference", "Description", "Qty"],
            ["PO-7", "2026-02-03", "lot LOT-1", "", "Montée de version", "1,5"],
            ["PO-7", "2026-02-03", "LOT-1", "ng-1", "", "2"],
        ],
        delimiter=",",
        encoding="cp1252",
    )
    result = run(ledger_contract, "orders", "po.csv", data)
    assert result.problems == []
    order = PurchaseOrder.objects.get(number="PO-7")
    assert sorted((line.offer_line.line.code, line.quantity) for line in order.lines.all()) == [
        ("NG-1", Decimal(2)),
        ("PG-2", Decimal("1.5")),
    ]
    assert result.total_cents == order.total_ht_cents


def test_xlsx_title_rows_and_merged_order_number(ledger_contract: LedgerContract) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Commandes"
    sheet.append(["Bons de commande de janvier"])
    sheet.append([])
    sheet.append(["Numéro de bon de commande", "Date d'émission", "N° lot", "Code", "Qté"])
    sheet.append(["BC-10", dt.date(2026, 1, 12), "LOT-1", "PG-1", 3])
    sheet.append([None, None, "LOT-1", "PG-3", 1])
    sheet.merge_cells("A4:A5")
    sheet.merge_cells("B4:B5")
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = run(ledger_contract, "orders", "janvier.xlsx", buffer.getvalue())
    assert result.problems == []
    order = PurchaseOrder.objects.get(number="BC-10")
    assert order.issued_on == dt.date(2026, 1, 12)
    assert order.lines.count() == 2


def test_members_circuit_invoice_by_siret_waits_for_validation(
    bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any
) -> None:
    lc = build_ledger_contract(
        bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance, invoicing_circuit="members"
    )
    lc.order("BC-1")
    missing = refused(lc, "invoices", "f.csv", csv_bytes([INVOICE_HEADER, ["F-A1", "01/02/2026", "BC-1", "PG-1", 1]]))
    assert [str(p) for p in missing.problems] == [
        "f.csv, ligne 2 : circuit « chaque cotraitant facture » : indiquez le membre qui facture (colonne Émetteur)"
    ]
    wrong = refused(
        lc,
        "invoices",
        "f.csv",
        csv_bytes([[*INVOICE_HEADER, "Émetteur"], ["F-A1", "01/02/2026", "BC-1", "NG-1", 1, "Firm A"]]),
    )
    assert [str(p) for p in wrong.problems] == [
        "f.csv, ligne 2, colonne Réf. : la ligne NG-1 est celle de Firm B, pas de Firm A"
    ]
    siret = f"{SIRET_A[:3]} {SIRET_A[3:6]} {SIRET_A[6:9]} {SIRET_A[9:]}"
    result = run(
        lc,
        "invoices",
        "f.csv",
        csv_bytes([[*INVOICE_HEADER, "Émetteur"], ["F-A1", "01/02/2026", "BC-1", "PG-1", 1, siret]]),
    )
    assert result.problems == []
    invoice = Invoice.objects.get(number="F-A1")
    assert (invoice.issuer, invoice.status) == (lc.market.firm_a, InvoiceStatus.SUBMITTED)
    waiting = refused(lc, "payments", "p.csv", csv_bytes([PAYMENT_HEADER, ["01/03/2026", "10,00", "F-A1", "VIR-9"]]))
    assert [str(p) for p in waiting.problems] == [
        "p.csv, ligne 2, colonne N° facture : la facture F-A1 attend la validation du mandataire"
    ]


# ---------------------------------------------------------------- bad files


def test_broken_xlsx(ledger_contract: LedgerContract) -> None:
    result = refused(ledger_contract, "orders", "bc.xlsx", b"PK\x03\x04" + b"\x00garbage" * 50)
    assert result.problems == [ImportProblem("bc.xlsx", "not a valid XLSX file (corrupt zip)")]


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n1 0 obj\n", b'{"orders": []}', b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR,;", b"<?xml version='1.0'?><a/>"],
)
def test_not_a_spreadsheet(ledger_contract: LedgerContract, data: bytes) -> None:
    result = refused(ledger_contract, "payments", "releve.pdf", data)
    assert result.problems == [
        ImportProblem("releve.pdf", "ce n'est pas un tableur : enregistrez-le au format XLSX ou CSV (UTF-8)")
    ]


def test_old_xls_and_empty_files(ledger_contract: LedgerContract) -> None:
    old = refused(ledger_contract, "orders", "bc.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert [p.message for p in old.problems] == ["ancien format Excel (.xls) : enregistrez le fichier au format XLSX"]
    empty = refused(ledger_contract, "orders", "bc.csv", b" \r\n")
    assert empty.problems == [ImportProblem("bc.csv", "le fichier est vide")]
    header_only = refused(ledger_contract, "orders", "bc.csv", csv_bytes([ORDER_HEADER]))
    assert header_only.problems == [ImportProblem("bc.csv", "aucune ligne à importer sous l'en-tête")]


def test_zip_bomb_refused_before_the_workbook_is_opened(ledger_contract: LedgerContract) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x20" * (8 * 1024 * 1024))
    result = refused(ledger_contract, "orders", "bombe.xlsx", buffer.getvalue())
    assert len(result.problems) == 1
    assert result.problems[0].where == "bombe.xlsx"
    assert result.problems[0].message.startswith("file expands too much: possible zip bomb (xl/worksheets/sheet1.xml")


def test_oversized_file(ledger_contract: LedgerContract, settings: Any) -> None:
    settings.IMPORT_MAX_BYTES = 100
    data = csv_bytes([ORDER_HEADER] + [["BC-1", "15/01/2026", "LOT-1", "PG-1", 1]] * 10)
    result = refused(ledger_contract, "orders", "bc.csv", data)
    assert result.problems == [ImportProblem("bc.csv", f"the file is {len(data):,} bytes, over the 100-byte limit")]


def test_missing_column_and_no_header(ledger_contract: LedgerContract) -> None:
    missing = refused(
        ledger_contract, "orders", "bc.csv", csv_bytes([["N° BC", "Date", "Réf."], ["BC-1", "15/01/2026", "PG-1"]])
    )
    assert [str(p) for p in missing.problems] == [
        "bc.csv, ligne 1 : colonne(s) manquante(s) : Quantité (colonnes attendues : N° BC, Date, Réf., Quantité)"
    ]
    none = refused(ledger_contract, "payments", "p.csv", csv_bytes([["a", "b"], ["1", "2"]]))
    assert [str(p) for p in none.problems] == [
        "p.csv : aucune ligne d'en-tête dans les 50 premières lignes (colonnes attendues : Date, Montant, N° facture)"
    ]
    assert expected_columns("payments") == ["Date", "Montant", "N° facture", "Référence bancaire*", "Payé à*"]


def test_unknown_kind(ledger_contract: LedgerContract) -> None:
    result = refused(ledger_contract, "refunds", "x.csv", csv_bytes([ORDER_HEADER]))
    assert [str(p) for p in result.problems] == [
        "x.csv : type d'import inconnu « refunds » (attendu : orders, invoices, payments)"
    ]


def test_orders_unknown_line_lot_bad_cells_all_reported(ledger_contract: LedgerContract) -> None:
    data = make_xlsx(
        [
            ORDER_HEADER,
            ["BC-1", dt.date(2026, 1, 15), "LOT-1", "PG-1", 1],
            ["BC-1", dt.date(2026, 1, 15), "LOT-1", "PG-9", 1],
            ["BC-2", dt.date(2026, 1, 15), "LOT-9", "PG-1", 1],
            ["BC-3", "31/02/2026", "LOT-1", "PG-2", "deux"],
            ["BC-4", dt.date(2026, 1, 15), "LOT-1", "PG-2", -1],
            ["BC-5", dt.date(2026, 1, 15), "LOT-1", "PG-2", "0,00001"],
            ["BC-1", dt.date(2026, 1, 16), "LOT-1", "PG-1", 1],
        ]
    )
    result = refused(ledger_contract, "orders", "bc.xlsx", data)
    assert [str(p) for p in result.problems] == [
        "bc.xlsx, feuille Sheet, ligne 3, colonne Réf. : Réf. « PG-9 » inconnue dans le lot LOT-1 du marché "
        "(Réf. connues : PG-1, PG-2, PG-3, NG-1, NG-2)",
        "bc.xlsx, feuille Sheet, ligne 4, colonne Lot : lot « LOT-9 » inconnu dans ce marché (lots : LOT-1)",
        "bc.xlsx, feuille Sheet, ligne 5, colonne Date : « 31/02/2026 » n'est pas une date (attendu JJ/MM/AAAA)",
        "bc.xlsx, feuille Sheet, ligne 5, colonne Quantité : « deux » n'est pas une quantité",
        "bc.xlsx, feuille Sheet, ligne 6, colonne Quantité : quantité -1 : une quantité positive est attendue",
        "bc.xlsx, feuille Sheet, ligne 7, colonne Quantité : quantité 0.00001 : au plus 4 décimales",
        "bc.xlsx, feuille Sheet, ligne 8, colonne Date : date 2026-01-16 différente de celle de la ligne 2 "
        "(2026-01-15) pour BC-1",
        "bc.xlsx, feuille Sheet, ligne 8, colonne Réf. : cette ligne figure déjà dans BC-1",
    ]


def test_service_refusal_names_the_row_and_undoes_the_orders_before_it(ledger_contract: LedgerContract) -> None:
    data = csv_bytes(
        [
            ORDER_HEADER,
            ["BC-1", "15/01/2026", "LOT-1", "PG-1", 1],  # good, created, then undone
            ["BC-2", "15/01/2020", "LOT-1", "PG-2", 1],  # before the contract starts: create_order refuses
        ]
    )
    result = refused(ledger_contract, "orders", "bc.csv", data)
    assert [str(p) for p in result.problems] == [
        "bc.csv, ligne 3 : Bon de commande BC-2 : daté hors de la durée du marché."
    ]


def test_existing_order_number(ledger_contract: LedgerContract) -> None:
    ledger_contract.order("BC-1")
    result = refused(
        ledger_contract, "orders", "bc.csv", csv_bytes([ORDER_HEADER, ["bc-1", "15/01/2026", "LOT-1", "PG-1", 1]])
    )
    assert [str(p) for p in result.problems] == [
        "bc.csv, ligne 2, colonne N° BC : le bon de commande BC-1 existe déjà sur ce marché"
    ]


def test_invoices_unknown_order_and_quantity_beyond_the_order(ledger_contract: LedgerContract) -> None:
    ledger_contract.order("BC-1")  # every line of both firms, quantity 1
    data = csv_bytes(
        [
            INVOICE_HEADER,
            ["F-1", "01/02/2026", "BC-9", "PG-1", 1],
            ["F-2", "01/02/2026", "BC-1", "PG-1", 2],
            ["F-3", "01/02/2026", "BC-1", "NG-1", 1],
            ["F-4", "01/02/2026", "BC-1", "NG-1", "0,5"],
            ["F-5", "01/02/2026", "BC-1", "XX-1", 1],
        ]
    )
    result = refused(ledger_contract, "invoices", "factures.csv", data)
    assert [str(p) for p in result.problems] == [
        "factures.csv, ligne 2, colonne N° BC : bon de commande « BC-9 » inconnu sur ce marché",
        "factures.csv, ligne 3, colonne Quantité : quantité 2 au-delà du reste à facturer (1) "
        "sur la ligne PG-1 du bon BC-1",
        "factures.csv, ligne 5, colonne Quantité : quantité 0,5 au-delà du reste à facturer (0) "
        "sur la ligne NG-1 du bon BC-1",
        "factures.csv, ligne 6, colonne Réf. : Réf. « XX-1 » inconnue sur le bon de commande BC-1 "
        "(Réf. connues : PG-1, PG-2, PG-3, NG-1)",
    ]


def test_invoice_quantity_counts_what_was_invoiced_before(ledger_contract: LedgerContract) -> None:
    order = ledger_contract.order("BC-1", quantity=Decimal(3), firm="A")
    issue_invoice(
        actor=ledger_contract.finance,
        order=order,
        number="F-0",
        issued_on=dt.date(2026, 1, 30),
        lines=[(order.lines.get(offer_line__line__code="PG-1").pk, Decimal(2))],
    )
    result = refused(
        ledger_contract,
        "invoices",
        "f.xlsx",
        make_xlsx([INVOICE_HEADER, ["F-0", dt.date(2026, 2, 1), "BC-1", "PG-1", 2]]),
    )
    assert [str(p) for p in result.problems] == [
        "f.xlsx, feuille Sheet, ligne 2, colonne Quantité : quantité 2 au-delà du reste à facturer (1) "
        "sur la ligne PG-1 du bon BC-1",
        "f.xlsx, feuille Sheet, ligne 2, colonne N° facture : la facture F-0 existe déjà sur ce marché",
    ]


def _invoiced(lc: LedgerContract) -> Invoice:
    order = lc.order("BC-1")
    return issue_invoice(actor=lc.finance, order=order, number="F-1", issued_on=dt.date(2026, 2, 1))


def test_payment_amounts_refused(ledger_contract: LedgerContract) -> None:
    _invoiced(ledger_contract)
    data = csv_bytes(
        [
            PAYMENT_HEADER,
            ["01/03/2026", "abc", "F-1", "VIR-1"],
            ["01/03/2026", "12.345", "F-1", "VIR-2"],
            ["01/03/2026", "-5", "F-1", "VIR-3"],
            ["01/03/2026", "0,00", "F-1", "VIR-4"],
            ["01/03/2026", "", "F-1", "VIR-5"],
            ["01/03/2026", "1.234,56", "F-1", "VIR-6"],
        ]
    )
    result = refused(ledger_contract, "payments", "releve.csv", data)
    assert [str(p) for p in result.problems] == [
        "releve.csv, ligne 2, colonne Montant : montant refusé : « abc » n'est pas un nombre",
        "releve.csv, ligne 3, colonne Montant : montant refusé : plus de deux décimales (12.345)",
        "releve.csv, ligne 4, colonne Montant : montant refusé : prix négatif (-5)",
        "releve.csv, ligne 5, colonne Montant : montant nul",
        "releve.csv, ligne 6, colonne Montant : montant manquant",
        "releve.csv, ligne 7, colonne Montant : montant refusé : « 1.234,56 » n'est pas un nombre",
    ]


def test_payment_amount_with_three_decimals_in_a_number_cell(ledger_contract: LedgerContract) -> None:
    _invoiced(ledger_contract)
    result = refused(
        ledger_contract,
        "payments",
        "releve.xlsx",
        make_xlsx([PAYMENT_HEADER, [dt.date(2026, 3, 1), 12.345, "F-1", "VIR-1"]]),
    )
    assert [str(p) for p in result.problems] == [
        "releve.xlsx, feuille Sheet, ligne 2, colonne Montant : montant refusé : plus de deux décimales (12.345)"
    ]


def test_duplicate_bank_reference_in_the_file(ledger_contract: LedgerContract) -> None:
    _invoiced(ledger_contract)
    data = csv_bytes(
        [
            PAYMENT_HEADER,
            ["01/03/2026", "10,00", "F-1", "VIR-1"],
            ["02/03/2026", "10,00", "F-1", "VIR-2"],
            ["03/03/2026", "10,00", "F-1", "VIR-1"],
        ]
    )
    result = refused(ledger_contract, "payments", "releve.csv", data)
    assert [str(p) for p in result.problems] == [
        "releve.csv, ligne 4, colonne Référence bancaire : la référence bancaire VIR-1 figure déjà ligne 2 "
        "de ce fichier"
    ]


def test_bank_reference_already_recorded(ledger_contract: LedgerContract) -> None:
    invoice = _invoiced(ledger_contract)
    record_payment(
        actor=ledger_contract.finance,
        payment=PaymentInput(invoice.pk, dt.date(2026, 2, 20), 1000, bank_reference="VIR-1"),
    )
    data = csv_bytes([PAYMENT_HEADER, ["02/03/2026", "10,00", "F-1", "VIR-2"], ["01/03/2026", "10,00", "F-1", "VIR-1"]])
    result = refused(ledger_contract, "payments", "releve.csv", data)
    assert [str(p) for p in result.problems] == [
        "releve.csv, ligne 3, colonne Référence bancaire : la référence bancaire VIR-1 est déjà enregistrée "
        "sur ce marché"
    ]


def test_overpayment_and_unknown_invoice(ledger_contract: LedgerContract) -> None:
    invoice = _invoiced(ledger_contract)
    rest = invoice.total_ttc_cents - 1000
    data = make_xlsx(
        [
            PAYMENT_HEADER,
            [dt.date(2026, 3, 1), "10,00", "F-1", "VIR-1"],
            [dt.date(2026, 3, 2), french(rest + 1), "F-1", "VIR-2"],
            [dt.date(2026, 3, 2), "10,00", "F-9", "VIR-3"],
        ]
    )
    result = refused(ledger_contract, "payments", "releve.xlsx", data)
    assert [str(p) for p in result.problems] == [
        f"releve.xlsx, feuille Sheet, ligne 3, colonne Montant : {euros(rest + 1)} reçus pour {euros(rest)} "
        "restant dus sur la facture F-1",
        "releve.xlsx, feuille Sheet, ligne 4, colonne N° facture : facture « F-9 » inconnue sur ce marché",
    ]


def test_payment_refused_by_the_service_names_its_row(
    bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any
) -> None:
    lc = build_ledger_contract(
        bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance,
        guarantee_rate=Decimal(5),
    )  # fmt: skip
    invoice = _invoiced(lc)
    # The whole TTC leaves nothing for the 5 % the buyer withholds on the first payment: record_payments refuses.
    data = csv_bytes([PAYMENT_HEADER, ["01/03/2026", french(invoice.total_ttc_cents), "F-1", "VIR-1"]])
    result = refused(lc, "payments", "releve.csv", data)
    assert len(result.problems) == 1
    assert result.problems[0].where == "releve.csv, ligne 2"
    assert result.problems[0].message.startswith("paiement 1 (facture F-1) : ")


# ---------------------------------------------------------------- the command


def test_command_imports_and_prints_the_total(ledger_contract: LedgerContract, tmp_path: Any) -> None:
    path = tmp_path / "bc.csv"
    path.write_bytes(csv_bytes([ORDER_HEADER, ["BC-1", "15/01/2026", "LOT-1", "PG-1", 2]]))
    out = io.StringIO()
    call_command("import_finance", "2026-AC-001", "orders", str(path), "--user", "finance", stdout=out)
    order = PurchaseOrder.objects.get(number="BC-1")
    assert out.getvalue().startswith("2026-AC-001: 1 bons de commande, total HT ")
    assert order.total_ht_cents == int(2 * offer_price(ledger_contract, "PG-1") * 100)
    assert AuditEvent.objects.get(action="finance.imported").actor == ledger_contract.finance


def test_command_prints_each_problem_and_fails(ledger_contract: LedgerContract, tmp_path: Any) -> None:
    path = tmp_path / "bc.csv"
    path.write_bytes(
        csv_bytes([ORDER_HEADER, ["BC-1", "15/01/2026", "LOT-9", "PG-1", 2], ["BC-2", "x", "LOT-1", "PG-1", 1]])
    )
    err = io.StringIO()
    before = counts()
    with pytest.raises(CommandError, match=r"2 problem\(s\): nothing was imported"):
        call_command("import_finance", "2026-AC-001", "orders", str(path), stderr=err)
    assert err.getvalue().splitlines() == [
        "bc.csv, ligne 2, colonne Lot : lot « LOT-9 » inconnu dans ce marché (lots : LOT-1)",
        "bc.csv, ligne 3, colonne Date : « x » n'est pas une date (attendu JJ/MM/AAAA)",
    ]
    assert counts() == before
    with pytest.raises(CommandError, match="no contract with reference 'NOPE'"):
        call_command("import_finance", "NOPE", "orders", str(path))


def test_one_invoice_one_order(ledger_contract: LedgerContract) -> None:
    ledger_contract.order("BC-1", firm="A")
    ledger_contract.order("BC-2", firm="B")
    data = csv_bytes(
        [INVOICE_HEADER, ["F-1", "01/02/2026", "BC-1", "PG-1", 1], ["F-1", "01/02/2026", "BC-2", "NG-1", 1]]
    )
    result = refused(ledger_contract, "invoices", "f.csv", data)
    assert [str(p) for p in result.problems] == [
        "f.csv, ligne 3, colonne N° BC : la facture F-1 mêle plusieurs bons de commande (ligne 2 : BC-1) : "
        "une facture par bon"
    ]


def test_formula_without_value_and_unknown_payee(ledger_contract: LedgerContract) -> None:
    _invoiced(ledger_contract)
    data = make_xlsx(
        [
            [*PAYMENT_HEADER, "Payé à"],
            [dt.date(2026, 3, 1), "=5+5", "F-1", "VIR-1", ""],
            [dt.date(2026, 3, 1), "10,00", "F-1", "VIR-2", "Firm Z"],
        ]
    )
    result = refused(ledger_contract, "payments", "releve.xlsx", data)
    assert [str(p) for p in result.problems] == [
        "releve.xlsx, feuille Sheet, ligne 2, colonne Montant : formule sans valeur calculée : ouvrez et enregistrez "
        "le fichier dans un tableur",
        "releve.xlsx, feuille Sheet, ligne 3, colonne Payé à : « Firm Z » n'est ni le nom ni le SIRET d'un membre "
        "du marché (membres : Firm A, Firm B)",
    ]
