"""The whole pipeline in a real browser, as its users see it (issue 9).

A bid manager imports Rouen Habitat's real eForms notice and a price schedule (CSV) through the import page,
splits the lines into work packages, runs the matching and invites the firms; partner A accepts with its prices,
partner B declines and its backup, partner C, is invited and accepts; the bid manager assembles, freezes and
downloads the group offer's documents, submits it and records it won; finance records the contract, an order,
an invoice and a payment per lot, each payment redistributed; A and C read their own statements (404 on the
other's); the public transparency page shows what went to each upstream project.

Only what no page offers is set up in code: the accounts, the skills catalogue, and the three firms' profiles.
On the embedded default the background jobs run in-process; when the broker is Redis they go through Redis to a
real Celery worker process (on PostgreSQL), and the pages wait for them as a user would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import shutil
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.db.models import Sum
from django.utils import timezone
from playwright.sync_api import expect

from bids.models import (
    Assignment,
    ImportJob,
    Invitation,
    InvitationStatus,
    JobStatus,
    Line,
    Lot,
    Tender,
    WorkPackage,
)
from bids.offer_models import OfferDocument, OfferStatus, OfferVersion
from consortium.money import from_cents
from consortium.templatetags.guichet import money
from partners.catalogue import load_skill_catalogue
from partners.models import Attestation, AttestationKind, CapacityMonth, FirmSkill, PartnerFirm, Skill, SkillLevel
from pricing.models import Contract, Invoice, InvoiceShare, Payment, ShareKind, UpstreamProject
from pricing.selectors.reconcile import reconcile
from pricing.selectors.statements import partner_statement
from tests.conftest import PASSWORD, SAMPLES, make_user
from tests.e2e.conftest import ARTIFACTS, Shot, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NOTICE = SAMPLES / "eforms" / "cn_24_FRA_comments.xml"  # Rouen Habitat, lots LOT-0001 and LOT-0002
JOB_TIMEOUT_MS = 90_000  # a job queued to a real worker: the page polls until it ends
XLSX_MAGIC = b"PK\x03\x04"

# The buyer's schedule: (lot, code, designation, unit, quantity, buyer's estimate).
SCHEDULE = [
    ("LOT-0001", "PG-01", "Journée d'expertise PostgreSQL — niveau 3", "jour", "20", "950,00"),
    ("LOT-0001", "PG-02", "Ticket de support — correctif PostgreSQL", "ticket", "40", "180,00"),
    ("LOT-0001", "PG-03", "Forfait maintenance PostgreSQL (mois)", "mois", "12", "600,00"),
    ("LOT-0002", "NG-01", "Journée d'expertise Nginx — niveau 3", "jour", "10", "900,00"),
    ("LOT-0002", "NG-02", "Veille de sécurité Nginx (mois)", "mois", "12", "250,00"),
]
# What each firm answers, by line code, as typed in the page.
PRICES_A = {"PG-01": "880", "PG-02": "165,50", "PG-03": "540"}
PRICES_C = {"NG-01": "850", "NG-02": "230,25"}


@dataclass(frozen=True)
class Order:
    """A purchase order of one lot (quantities by line code) and the invoice of all of it."""

    number: str
    lot: str
    quantities: dict[str, str]
    invoice: str


ORDERS = (
    Order("BC-2026-01", "LOT-0001", {"PG-01": "5", "PG-02": "10"}, "F-2026-01"),
    Order("BC-2026-02", "LOT-0002", {"NG-01": "2", "NG-02": "3"}, "F-2026-02"),
)


@dataclass(frozen=True)
class Firm:
    name: str
    user: str
    siret: str
    city: str
    skills: dict[str, SkillLevel]


FIRM_A = Firm("Données Libres SARL", "anna", "73282932000074", "Rouen", {"PostgreSQL": SkillLevel.MAINTAINER})
FIRM_B = Firm("Serveurs Ouverts SAS", "bruno", "44306184100047", "Caen", {"Nginx": SkillLevel.MAINTAINER})
FIRM_C = Firm(
    "Coopérative Web Commun",
    "chloe",
    "55210055400013",
    "Le Havre",
    {"Nginx": SkillLevel.CONTRIBUTOR, "PostgreSQL": SkillLevel.EXPERT},
)
FIRMS = (FIRM_A, FIRM_B, FIRM_C)


@dataclass(frozen=True)
class Dates:
    """The notice's dates moved to the coming months, as in a notice published today."""

    deadline: dt.date
    start: dt.date
    end: dt.date

    @classmethod
    def from_today(cls) -> Dates:
        deadline = timezone.localdate() + dt.timedelta(days=45)
        start = (deadline.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        return cls(deadline=deadline, start=start, end=start.replace(year=start.year + 1) - dt.timedelta(days=1))


# --- Where the background jobs run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRunner:
    """Where the background jobs ran: in this process ("eager"), or in a real worker process whose log is kept."""

    mode: str
    log: Path | None = None

    def worker_tasks(self) -> Counter[str]:
        """The tasks the worker process finished, by name."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log else ""
        return Counter(re.findall(r"Task ([\w.]+)\[[^\]]+\] succeeded", text))


@pytest.fixture
def task_runner(transactional_db: None, settings: Any, tmp_path: Path) -> Iterator[TaskRunner]:
    """In-process (eager) tasks on the embedded default; with a Redis broker, a real worker process sharing the test
    database and media folder, and tasks sent through Redis. Stopped before the database is flushed."""
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        yield TaskRunner("eager")
        return
    from consortium.celery import app
    from tests.workers import spawn_worker, stop_worker, wait_for_worker

    settings.MEDIA_ROOT = tmp_path / "media"
    app.control.purge()  # messages left by an interrupted run would reach this worker with stale ids
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False
    log = tmp_path / "worker.log"
    worker = spawn_worker(log, name="e2e-whole-flow", extra_env={"PYTHONUNBUFFERED": "1"})  # the log is read live
    try:
        wait_for_worker()
        yield TaskRunner("worker", log)
    finally:
        stop_worker(worker)
        app.conf.task_always_eager = True
        app.conf.task_eager_propagates = True
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, ARTIFACTS / "test_whole_flow-worker.log")


# --- What no page sets up ---------------------------------------------------------------------------------------


def set_up_network(dates: Dates) -> dict[str, PartnerFirm]:
    """The accounts, the skills catalogue, and three firms with their skills, capacity, SIRET and attestations."""
    load_skill_catalogue()
    make_user("bid-manager", "bid_manager")
    make_user("finance", "finance")
    firms = {}
    for spec in FIRMS:
        user = make_user(spec.user, "partner", firm=spec.name)
        user.email = f"{spec.user}@example.org"
        user.save(update_fields=["email"])
        firm = PartnerFirm.objects.get(name=spec.name)
        firm.siret, firm.siren = spec.siret, spec.siret[:9]
        firm.address, firm.postcode, firm.city = "1 rue du Logiciel Libre", "76000", spec.city
        firm.region, firm.daily_rate = "28", Decimal("850")  # Normandie, like the buyer
        firm.save(update_fields=["siret", "siren", "address", "postcode", "city", "region", "daily_rate"])
        for name, level in spec.skills.items():
            FirmSkill.objects.create(
                firm=firm,
                skill=Skill.objects.get(name=name),
                level=level,
                years=6,
                evidence_url=f"https://github.com/{spec.user}/{name.lower()}-contributions",
            )
        month = dates.start
        while month <= dates.end:
            CapacityMonth.objects.create(firm=firm, month=month, days=Decimal(12))
            month = (month + dt.timedelta(days=32)).replace(day=1)
        for kind in AttestationKind.values:
            Attestation.objects.create(firm=firm, kind=kind, valid_until=dates.deadline + dt.timedelta(days=365))
        firms[spec.user] = firm
    return firms


def notice_due(dates: Dates) -> bytes:
    """Rouen Habitat's notice of 2019 with its submission deadline, opening and contract period moved ahead."""
    text = NOTICE.read_text(encoding="utf-8")
    moves = {
        "<cbc:EndDate>2019-06-24Z</cbc:EndDate>": f"<cbc:EndDate>{dates.deadline:%Y-%m-%d}Z</cbc:EndDate>",
        "<cbc:OccurrenceDate>2019-06-25Z": f"<cbc:OccurrenceDate>{dates.deadline + dt.timedelta(days=1):%Y-%m-%d}Z",
        "<cbc:StartDate>2019-09-01+02:00": f"<cbc:StartDate>{dates.start:%Y-%m-%d}+01:00",
        "<cbc:EndDate>2020-12-31+01:00": f"<cbc:EndDate>{dates.end:%Y-%m-%d}+01:00",
    }
    for old, new in moves.items():
        assert text.count(old) == 2, old  # once per lot
        text = text.replace(old, new)
    return text.encode("utf-8")


def schedule_csv() -> bytes:
    """The buyer's BPU as a French spreadsheet saves it: a title, a blank row, `;` and decimal commas."""
    rows = ["Bordereau des prix unitaires — Rouen Habitat, support des logiciels libres", ""]
    rows.append("N° lot;Code;Désignation;Unité;Quantité;Prix unitaire HT")
    rows += [";".join(row) for row in SCHEDULE]
    return ("\r\n".join(rows) + "\r\n").encode("utf-8-sig")


# --- Page helpers -----------------------------------------------------------------------------------------------


def expect_message(page: Any, text: str) -> None:
    expect(page.locator("ul.messages")).to_contain_text(text)


def as_user(page: Any, username: str) -> None:
    page.context.clear_cookies()
    log_in(page, username, PASSWORD)


def wait_for_job(page: Any, label: str = "terminé") -> None:
    """A job's card polls its status and reloads the page when the job ends (at once when it ran in-process)."""
    expect(page.locator("#job")).to_have_attribute("data-finished", "1", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#job-status")).to_have_text(label)


def download(page: Any, link: Any) -> tuple[str, bytes]:
    with page.expect_download() as info:
        link.click()
    return info.value.suggested_filename, Path(info.value.path()).read_bytes()


def euros(cents: int) -> str:
    return money(from_cents(cents), "EUR")


def typed(cents: int) -> str:
    """An amount as a finance officer types it: '1234,56'."""
    return f"{from_cents(cents):.2f}".replace(".", ",")


def row_of(table: Any, text: str) -> Any:
    return table.locator("tbody tr", has_text=text)


# --- 1. Import --------------------------------------------------------------------------------------------------


def import_notice_and_schedule(page: Any, shot: Shot, dates: Dates) -> Tender:
    log_in(page, "bid-manager", PASSWORD)
    page.get_by_role("link", name="Importer", exact=True).click()
    page.set_input_files("#id_file", {"name": NOTICE.name, "mimeType": "application/xml", "buffer": notice_due(dates)})
    page.get_by_role("button", name="Lancer l'import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+/$"))
    shot("01-notice-import")
    wait_for_job(page)
    expect(page.locator("section.card.ok")).to_contain_text("1 appel(s) d'offres, 2 lot(s), 0 ligne(s) de prix.")
    shot("02-notice-imported")

    page.locator("section.card.ok a").first.click()
    expect(page).to_have_url(re.compile(r"/tenders/\d+/$"))
    tender = Tender.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[-1])
    assert tender.tender_deadline is not None and timezone.localdate(tender.tender_deadline) == dates.deadline
    assert sorted(tender.lots.values_list("source_id", flat=True)) == ["LOT-0001", "LOT-0002"]
    expect(page.locator("section.facts")).to_contain_text("Rouen Habitat")

    page.get_by_role("link", name="Joindre un bordereau de prix").click()
    expect(page.locator("#id_tender")).to_have_value(str(tender.pk))
    page.set_input_files(
        "#id_file", {"name": "bpu-rouen-habitat.csv", "mimeType": "text/csv", "buffer": schedule_csv()}
    )
    page.get_by_role("button", name="Lancer l'import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+/$"))
    wait_for_job(page)
    expect(page.locator("section.card.ok")).to_contain_text(f"{len(SCHEDULE)} ligne(s) de prix")
    shot("03-schedule-imported")
    assert ImportJob.objects.filter(status=JobStatus.SUCCEEDED).count() == 2
    lines = Line.objects.filter(tender=tender).order_by("position")
    assert [(line.lot.source_id, line.code, line.quantity) for line in lines] == [
        (lot, code, Decimal(quantity)) for lot, code, _d, _u, quantity, _p in SCHEDULE
    ]

    page.goto(f"/tenders/{tender.pk}/")
    expect(page.locator("table.grid.dense tbody tr")).to_have_count(len(SCHEDULE))
    shot("04-tender-with-lines")
    return tender


# --- 2. Split, match, invite ------------------------------------------------------------------------------------


def split_match_and_invite(page: Any, shot: Shot, tender: Tender, firms: dict[str, PartnerFirm]) -> None:
    page.get_by_role("link", name="Lots de travaux").first.click()
    page.get_by_role("button", name="Proposer le découpage").click()
    expect_message(page, "Découpage proposé : 2 lot(s) de travaux pour 5 ligne(s), 0 à vérifier.")
    packages = {package.name: package for package in WorkPackage.objects.filter(tender=tender)}
    assert {name: package.lot.source_id for name, package in packages.items()} == {
        "PostgreSQL": "LOT-0001",
        "Nginx": "LOT-0002",
    }
    shot("05-packages")

    page.goto(f"/tenders/{tender.pk}/")
    page.get_by_role("link", name="Rapprochement").first.click()
    page.get_by_role("button", name="Lancer le rapprochement").click()
    wait_for_job(page)  # not the flash message: a worker may end the job and the page reload before it is read
    expect(page.locator("section.facts")).to_contain_text("2 · attribués 2 · sans entreprise 0")
    leads = {
        a.package.name: (a.lead, a.backup)
        for a in Assignment.objects.filter(package__tender=tender).select_related("package", "lead", "backup")
    }
    expected = {"PostgreSQL": (firms["anna"], firms["chloe"]), "Nginx": (firms["bruno"], firms["chloe"])}
    assert leads == expected
    for package, (lead, backup) in expected.items():
        row = row_of(page.locator("table.grid.dense").first, package)
        expect(row.locator("td").nth(2)).to_contain_text(lead.name)
        expect(row.locator("td").nth(3)).to_have_text(backup.name)
    shot("06-matching")

    page.get_by_role("link", name="Invitations", exact=True).first.click()
    page.get_by_role("button", name="Envoyer les invitations").click()
    expect_message(page, "2 invitation(s) envoyée(s)")
    sent = Invitation.objects.filter(tender=tender, status=InvitationStatus.SENT)
    assert sorted(sent.values_list("package__name", "firm__name")) == [
        ("Nginx", FIRM_B.name),
        ("PostgreSQL", FIRM_A.name),
    ]
    shot("07-invitations-sent")


# --- 3. The partners answer -------------------------------------------------------------------------------------


def accept_with_prices(page: Any, package: str, prices: dict[str, str], team: str) -> None:
    page.locator("table.invitations").get_by_role("link", name=package).click()
    expect(page.locator("h1")).to_contain_text(package)
    for code, typed_price in prices.items():
        row_of(page.locator("table.lines"), code).locator("input.price").fill(typed_price)
    page.fill("#id_team", team)
    page.get_by_role("button", name="Accepter avec ces prix").click()
    expect(page.locator("h1 .status")).to_have_text("acceptée")
    expect_message(page, f"Prix enregistrés pour « {package} »")


def price(typed_price: str) -> Decimal:
    return Decimal(typed_price.replace(",", "."))


def expected_total(prices: dict[str, str]) -> Decimal:
    quantities = {code: Decimal(quantity) for _lot, code, _d, _u, quantity, _p in SCHEDULE}
    return sum((quantities[code] * price(typed_price) for code, typed_price in prices.items()), Decimal(0))


def partners_answer(page: Any, shot: Shot, tender: Tender) -> None:
    as_user(page, FIRM_A.user)
    expect(page).to_have_url(re.compile(r"/invitations/$"))
    expect(page.locator("main")).not_to_contain_text("Nginx")  # B's package is not A's business
    accept_with_prices(page, "PostgreSQL", PRICES_A, "Anna, mainteneuse PostgreSQL")
    expect(page.locator("main")).to_contain_text(money(expected_total(PRICES_A), "EUR"))
    shot("08-partner-a-accepted")

    as_user(page, FIRM_B.user)
    page.locator("table.invitations").get_by_role("link", name="Nginx").click()
    page.fill("#id_reason", "Plan de charge complet jusqu'à l'été")
    page.get_by_role("button", name="Décliner l'invitation").click()
    expect(page.locator("h1 .status")).to_have_text("déclinée")
    expect(page.locator("main")).not_to_contain_text(FIRM_C.name)  # who comes next is not B's business
    shot("09-partner-b-declined")
    backup = Invitation.objects.get(tender=tender, package__name="Nginx", status=InvitationStatus.SENT)
    assert backup.firm.name == FIRM_C.name

    as_user(page, FIRM_C.user)
    expect(page.locator("main")).not_to_contain_text("PostgreSQL")
    accept_with_prices(page, "Nginx", PRICES_C, "Chloé, contributrice Nginx")
    shot("10-backup-c-accepted")

    accepted = Invitation.objects.filter(tender=tender, status=InvitationStatus.ACCEPTED)
    assert sorted(accepted.values_list("firm__name", "total")) == [
        (FIRM_C.name, expected_total(PRICES_C)),
        (FIRM_A.name, expected_total(PRICES_A)),
    ]


# --- 4. The group offer -----------------------------------------------------------------------------------------


def assemble_and_freeze(page: Any, shot: Shot, tender: Tender) -> OfferVersion:
    as_user(page, "bid-manager")
    page.goto(f"/tenders/{tender.pk}/invitations/")
    expect(page.locator("section.ready")).to_contain_text("Prêt pour l'assemblage")
    dashboard = page.locator("table.dashboard")
    expect(row_of(dashboard, "Nginx")).to_contain_text(FIRM_C.name)
    expect(row_of(dashboard, "Nginx")).to_contain_text("acceptée")
    shot("11-dashboard-all-accepted")

    page.goto(f"/tenders/{tender.pk}/")
    page.get_by_role("link", name="Offre du groupement").click()
    page.get_by_role("button", name="Assembler l'offre").click()
    expect_message(page, "version 1 en brouillon")
    expect(page.locator("#readiness")).to_contain_text("Prête à figer")
    members = page.locator("table.members")
    for firm in (FIRM_A, FIRM_C):
        expect(members).to_contain_text(firm.name)
    expect(members).not_to_contain_text(FIRM_B.name)
    page.fill("#id_mandataire_name", "Guichet Libre SAS")
    page.get_by_role("button", name="Enregistrer la composition").click()
    expect_message(page, "Composition du groupement enregistrée.")
    shot("12-offer-draft")

    page.get_by_role("button", name="Figer la version").click()
    wait_for_job(page)
    version = OfferVersion.objects.get(offer__tender=tender)
    assert version.status == OfferStatus.FROZEN and version.render_status == JobStatus.SUCCEEDED
    assert version.content_hash and version.mandataire_name == "Guichet Libre SAS"
    expect(page.locator("#offer-total")).to_have_text(money(version.total_ht, "EUR"))
    expect(page.locator("table.documents tbody tr")).to_have_count(version.documents.count())
    shot("13-offer-frozen-documents-ready")
    return version


def download_documents(page: Any, version: OfferVersion) -> None:
    """Every document link gives the stored file, byte for byte; the spreadsheets and PDFs are real ones."""
    documents = {document.filename: document for document in OfferDocument.objects.filter(version=version)}
    kinds = {name.rsplit(".", 1)[-1] for name in documents}
    assert {"xlsx", "pdf"} <= kinds, kinds
    for row in page.locator("table.documents tbody tr").all():
        filename, data = download(page, row.get_by_role("link", name="télécharger"))
        document = documents[filename]
        assert len(data) == document.size > 0
        assert hashlib.sha256(data).hexdigest() == document.sha256
        if filename.endswith(".xlsx"):
            assert data.startswith(XLSX_MAGIC)
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
            assert workbook.sheetnames
        elif filename.endswith(".pdf"):
            assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]
    name, archive = download(page, page.get_by_role("link", name="Tout télécharger (zip)"))
    assert name.endswith(".zip") and archive.startswith(XLSX_MAGIC)
    entries = zipfile.ZipFile(io.BytesIO(archive)).namelist()  # a firm's own documents sit in its folder
    assert sorted(entry.rsplit("/", 1)[-1] for entry in entries) == sorted(documents)


def submit_and_win(page: Any, shot: Shot, version: OfferVersion) -> None:
    page.get_by_role("button", name="Marquer comme remise").click()
    expect_message(page, "Version 1 marquée comme remise.")
    page.get_by_role("button", name="Gagnée").click()
    expect_message(page, "Offre gagnée : bravo au groupement !")
    version.refresh_from_db()
    assert version.status == OfferStatus.WON and version.submitted_at is not None
    shot("14-offer-won")


# --- 5. Finance -------------------------------------------------------------------------------------------------


def record_contract(page: Any, shot: Shot, version: OfferVersion, dates: Dates) -> Contract:
    as_user(page, "finance")
    page.get_by_role("navigation").get_by_role("link", name="Marchés").click()
    waiting = page.locator("#waiting")
    expect(waiting).to_contain_text(money(version.total_ht, "EUR"))
    waiting.get_by_role("link", name="Créer le marché").click()
    page.fill("#id_reference", "2026-RH-001")
    page.fill("#id_ends_on", f"{dates.end:%Y-%m-%d}")
    page.fill("#id_maximum", "200 000,00")
    page.get_by_role("button", name="Créer le marché").click()
    expect_message(page, "Marché 2026-RH-001 enregistré.")
    contract = Contract.objects.get(version=version)
    assert contract.maximum_cents == 200_000_00
    shot("15-contract")
    return contract


def order_invoice_and_pay(page: Any, shot: Shot, contract: Contract, order: Order, step: int) -> Invoice:
    lot = Lot.objects.get(tender=contract.version.offer.tender, source_id=order.lot)
    page.select_option("#order-lot", str(lot.pk))
    page.get_by_role("button", name="Choisir les lignes").click()
    page.fill("#id_number", order.number)
    for code, quantity in order.quantities.items():
        row_of(page.locator("table.fin-lines"), code).locator("input").fill(quantity)
    page.get_by_role("button", name="Enregistrer le bon de commande").click()
    expect_message(page, f"Bon de commande {order.number} enregistré")

    row_of(page.locator("table.fin-orders"), order.number).get_by_role("link", name="Facturer").click()
    page.fill("#id_number", order.invoice)
    page.get_by_role("button", name="Émettre la facture").click()
    invoice = Invoice.objects.get(contract=contract, number=order.invoice)
    expect_message(page, f"Facture {order.invoice} émise : {euros(invoice.total_ttc_cents)} TTC")

    form = page.locator("#payment-form")
    form.locator("#id_payment-invoice").select_option(label=order.invoice)
    form.locator("#id_payment-amount").fill(typed(invoice.total_ttc_cents))
    form.locator("#id_payment-bank_reference").fill(f"VIR-{order.invoice}")
    form.get_by_role("button", name="Enregistrer le paiement").click()
    expect_message(
        page,
        f"Paiement de {euros(invoice.total_ttc_cents)} enregistré sur la facture {order.invoice} et redistribué.",
    )
    invoice_row = row_of(page.locator("table.fin-invoices"), order.invoice).first
    expect(invoice_row.locator("td").nth(8)).to_have_text(euros(invoice.total_ttc_cents))  # settled
    expect(invoice_row.locator("td").nth(10)).to_have_text(euros(0))  # outstanding
    shot(f"{step}-order-invoice-payment-{order.lot}")
    return invoice


def check_redistribution(invoices: list[Invoice], firms: dict[str, PartnerFirm]) -> None:
    """Each firm's share is its own price times what was ordered, and fee + levy + shares make what was paid."""
    for invoice in invoices:
        paid = Payment.objects.filter(invoice=invoice).aggregate(total=Sum("amount_cents"))["total"]
        shares = InvoiceShare.objects.filter(invoice=invoice)
        assert paid == invoice.total_ttc_cents == sum(shares.values_list("ttc_cents", flat=True))
        assert {share.kind for share in shares} == {ShareKind.FIRM, ShareKind.FEE, ShareKind.LEVY}
    for user, prices in (("anna", PRICES_A), ("chloe", PRICES_C)):
        ordered = [(code, quantity) for order in ORDERS for code, quantity in order.quantities.items()]
        expected = sum(Decimal(quantity) * price(prices[code]) for code, quantity in ordered if code in prices)
        share = InvoiceShare.objects.get(kind=ShareKind.FIRM, firm=firms[user])
        assert Decimal(share.ht_cents) / 100 == expected, (user, share.ht_cents, expected)
        assert partner_statement(firms[user]).received_cents == share.ttc_cents
    assert partner_statement(firms["bruno"]).received_cents == 0
    report = reconcile()
    assert report.ok, report.breaches


# --- 6. Statements and 7. transparency --------------------------------------------------------------------------


def read_own_statement(
    page: Any, shot: Shot, firm: Firm, other: PartnerFirm, invoices: list[Invoice], step: int
) -> None:
    as_user(page, firm.user)
    page.get_by_role("navigation").get_by_role("link", name="Mes relevés").click()
    expect(page.locator("h1")).to_have_text("Mon relevé de compte")
    own = PartnerFirm.objects.get(name=firm.name)
    received = page.locator("section.statement-summary dt", has_text="Reçu de l'acheteur")
    expect(received.locator("xpath=following-sibling::dd[1]")).to_have_text(
        euros(partner_statement(own).received_cents)
    )
    main = page.locator("main")
    expect(main).not_to_contain_text(other.name)
    for invoice in invoices:  # its own invoice only: the other lot's was for the other firm
        if invoice.shares.filter(firm=own).exists():
            expect(main).to_contain_text(invoice.number)
        else:
            expect(main).not_to_contain_text(invoice.number)
    shot(f"{step}-statement-{firm.user}")
    response = page.goto(f"/statements/firms/{other.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page introuvable")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(other.name)


def read_transparency(page: Any, shot: Shot, invoices: list[Invoice]) -> None:
    page.context.clear_cookies()
    response = page.goto("/transparency/")
    assert response is not None and response.status == 200
    levy_shares = InvoiceShare.objects.filter(kind=ShareKind.LEVY).values_list("project__slug")
    levies = dict(levy_shares.annotate(cents=Sum("ttc_cents")).order_by())
    assert len(levies) == 2 and None not in levies, levies  # PostgreSQL's and Nginx's upstream projects
    expect(page.locator("#kpi-levy")).to_have_text(euros(sum(levies.values())))
    for slug, cents in levies.items():
        card = page.locator(f"#projet-{slug}")
        expect(card).to_contain_text(UpstreamProject.objects.get(slug=slug).name)
        expect(card.locator(".tr-sums div").first).to_contain_text(euros(cents))
    expect(row_of(page.locator("#contracts"), "2026-RH-001")).to_contain_text(euros(sum(levies.values())))
    # Aggregates only: no price, no invoice, no firm's share and no fee (firms are named as supporters only).
    private = InvoiceShare.objects.filter(invoice__in=invoices).exclude(kind=ShareKind.LEVY)
    secrets = {"880,00", "165,50", "230,25", *(euros(invoice.total_ttc_cents) for invoice in invoices)}
    secrets |= {euros(cents) for cents in private.values_list("ttc_cents", flat=True)}
    main = page.locator("main")
    for secret in sorted(secrets):
        expect(main).not_to_contain_text(secret)
    shot("21-transparency")


def test_the_whole_flow_from_notice_to_transparency(page: Any, shot: Shot, task_runner: TaskRunner) -> None:
    dates = Dates.from_today()
    firms = set_up_network(dates)

    tender = import_notice_and_schedule(page, shot, dates)
    split_match_and_invite(page, shot, tender, firms)
    partners_answer(page, shot, tender)
    version = assemble_and_freeze(page, shot, tender)
    download_documents(page, version)
    submit_and_win(page, shot, version)

    contract = record_contract(page, shot, version, dates)
    invoices = [order_invoice_and_pay(page, shot, contract, order, step) for step, order in enumerate(ORDERS, 16)]
    check_redistribution(invoices, firms)

    read_own_statement(page, shot, FIRM_A, firms["chloe"], invoices, 18)
    read_own_statement(page, shot, FIRM_C, firms["anna"], invoices, 19)
    as_user(page, FIRM_B.user)
    response = page.goto(f"/statements/firms/{firms['anna'].pk}/")
    assert response is not None and response.status == 404
    shot("20-partner-b-404")
    read_transparency(page, shot, invoices)

    if task_runner.mode == "worker":  # the jobs went through Redis to the worker, none ran in this process
        tasks = task_runner.worker_tasks()
        ran = {name: tasks[f"bids.tasks.{name}"] for name in ("run_import", "run_match", "render_offer")}
        assert ran == {"run_import": 2, "run_match": 1, "render_offer": 1}, tasks
