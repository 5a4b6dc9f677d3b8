"""The tender import flow in a real browser: notice, price schedule, lot choice, error report, access, language."""

from __future__ import annotations

import io
import re
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import expect

from bids.models import ImportJob, JobStatus, Line
from tests.conftest import PASSWORD, SAMPLES, make_user
from tests.e2e.conftest import Shot, log_in

pytestmark = pytest.mark.e2e

NOTICE = SAMPLES / "eforms" / "cn_24_FRA_comments.xml"
SCHEDULE_LINES = [
    ["Tonte des espaces verts", "m2", 1200, 0.35],
    ["Taille des haies", "ml", 300, 2.10],
    ["Ramassage des feuilles", "forfait", 4, 180],
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def schedule_without_lot_column() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Désignation", "Unité", "Quantité", "Prix unitaire"])
    for row in SCHEDULE_LINES:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def wait_for_status(page: Any, label: str) -> None:
    """The job page polls status.json and reloads itself when the job ends; wait for the final label."""
    expect(page).to_have_url(re.compile(r"/imports/\d+/$"))
    expect(page.locator("#job-status")).to_have_text(label)
    expect(page.locator("#job")).to_have_attribute("data-finished", "1")


def check_the_page_follows_a_running_job(page: Any, shot: Shot) -> None:
    """The eager task already ran inside the upload request; replay a running job to drive progress.js."""
    job = ImportJob.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[-1])
    jobs = ImportJob.objects.filter(pk=job.pk)
    jobs.update(status=JobStatus.RUNNING, stage="lots", progress_done=2, progress_total=5)
    page.reload()
    expect(page.locator("#job")).to_have_attribute("data-finished", "0")
    expect(page.locator("#job-status")).to_have_text("en cours")
    expect(page.locator("#job-stage")).to_have_text("lots 2 / 5")  # written by the first poll
    expect(page.locator("#job-progress")).to_have_attribute("value", "40")
    shot("03b-notice-job-running")
    jobs.update(status=JobStatus.SUCCEEDED, stage=job.stage, progress_done=job.progress_done)
    wait_for_status(page, "terminé")  # the poll sees the end and reloads the page


def test_bid_manager_imports_a_notice_then_a_schedule_for_a_chosen_lot(page: Any, shot: Shot) -> None:
    make_user("bid-manager", "bid_manager")
    log_in(page, "bid-manager", PASSWORD)
    shot("01-home")

    page.goto("/imports/new/")
    shot("02-import-form")
    page.set_input_files("#id_file", NOTICE)
    expect(page.locator("#id_format")).to_have_value("auto")
    page.get_by_role("button", name="Lancer l'import").click()
    wait_for_status(page, "terminé")
    expect(page.locator("#job-progress")).to_have_attribute("value", "100")
    shot("03-notice-job-done")
    check_the_page_follows_a_running_job(page, shot)

    page.locator("section.card.ok a").first.click()
    expect(page).to_have_url(re.compile(r"/tenders/\d+/$"))
    lots_table = page.locator("table.grid").first
    expect(lots_table).to_contain_text("LOT-0001")
    expect(lots_table).to_contain_text("LOT-0002")
    expect(page.locator("section.facts")).to_contain_text("Rouen Habitat")
    tender_url = page.url
    shot("04-tender")

    page.get_by_role("link", name="Joindre un bordereau de prix").click()
    expect(page).to_have_url(re.compile(r"/imports/new/\?tender=\d+$"))
    expect(page.locator("#id_tender")).to_have_value(tender_url.rstrip("/").rsplit("/", 1)[-1])
    schedule = {"name": "bpu-sans-lot.xlsx", "mimeType": XLSX, "buffer": schedule_without_lot_column()}
    page.set_input_files("#id_file", schedule)
    page.get_by_role("button", name="Lancer l'import").click()
    wait_for_status(page, "choix requis")
    expect(page.locator("#errors")).to_be_visible()
    shot("05-schedule-needs-lot")

    first_job = page.url
    page.select_option("#id_lot", "LOT-0002")
    page.get_by_role("button", name="Relancer l'import").click()
    expect(page).not_to_have_url(first_job)
    wait_for_status(page, "terminé")
    shot("06-schedule-job-done")
    assert ImportJob.objects.filter(status=JobStatus.SUCCEEDED).count() == 2
    assert sorted(Line.objects.values_list("lot__source_id", flat=True)) == ["LOT-0002"] * 3

    page.goto(tender_url)
    lines = page.locator("table.grid.dense tbody tr")
    expect(lines).to_have_count(3)
    for row, (designation, *_rest) in zip(lines.all(), SCHEDULE_LINES, strict=True):
        expect(row.locator("td").first).to_have_text("LOT-0002")
        expect(row).to_contain_text(designation)
    lot_row = page.locator("table.grid").first.locator("tr", has_text="LOT-0002")
    expect(lot_row.locator("td").last).to_have_text("3")
    shot("07-tender-with-lines")

    page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(tender_url)
    shot("08-tender-english")


def test_broken_xml_shows_the_error_report_naming_the_file(page: Any, shot: Shot) -> None:
    make_user("bid-manager", "bid_manager")
    log_in(page, "bid-manager", PASSWORD)
    page.goto("/imports/new/")
    truncated = NOTICE.read_bytes()[:1500]
    page.set_input_files("#id_file", {"name": "avis-tronque.xml", "mimeType": "application/xml", "buffer": truncated})
    page.get_by_role("button", name="Lancer l'import").click()
    wait_for_status(page, "échec")
    report = page.locator("#errors")
    expect(report).to_contain_text("Rapport d'erreurs")
    expect(report.locator("tbody tr").first.locator("td").first).to_contain_text("avis-tronque.xml")
    shot("01-error-report")


def test_partner_cannot_open_the_tender_list(page: Any, shot: Shot) -> None:
    make_user("partner-a", "partner", firm="Firm A")
    log_in(page, "partner-a", PASSWORD)
    response = page.goto("/tenders/")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="Accès refusé")).to_be_visible()
    expect(page.locator("nav.mainnav")).not_to_contain_text("Appels d'offres")
    shot("01-forbidden")
