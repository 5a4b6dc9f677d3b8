"""Every kind of bad file named by the import issue, through a real import job.

Each ends with the job failed, its errors naming the file (and the place), and no tender saved.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bids.models import ImportJob, JobStatus, Line, Lot, Tender
from bids.services.imports import create_import_job
from tests.conftest import make_xlsx

pytestmark = pytest.mark.django_db
SAMPLES = Path(__file__).parent / "data" / "samples"
EFORMS_NS = b"urn:oasis:names:specification:ubl:schema:xsd:ContractNotice-2"


def _replace_part(data: bytes, name: str, content: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item.filename, content if item.filename == name else source.read(item.filename))
    return buffer.getvalue()


def zip_bomb() -> bytes:
    base = make_xlsx([["Désignation", "Quantité"], ["x", 1]])
    return _replace_part(base, "xl/worksheets/sheet1.xml", b"<worksheet>" + b" " * 150_000_000 + b"</worksheet>")


def far_cell_behind_a_small_dimension() -> bytes:
    """The sheet declares A1:B1 but holds a cell two million rows down."""
    data = make_xlsx([["Désignation", "Quantité"]])
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    far = sheet.replace(
        b"</sheetData>", b'<row r="2000000"><c r="A2000000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    )
    return _replace_part(data, "xl/worksheets/sheet1.xml", far)


def notice(body: bytes) -> bytes:
    return b'<?xml version="1.0"?><ContractNotice xmlns="' + EFORMS_NS + b'">' + body + b"</ContractNotice>"


def duplicate_lots() -> bytes:
    text = (SAMPLES / "eforms/cn_24_FRA_comments.xml").read_bytes()
    return text.replace(b">LOT-0002<", b">LOT-0001<")


def no_lots() -> bytes:
    text = (SAMPLES / "eforms/cn_24_FRA_comments.xml").read_text(encoding="utf-8")
    while "<cac:ProcurementProjectLot>" in text:
        start = text.index("<cac:ProcurementProjectLot>")
        end = text.index("</cac:ProcurementProjectLot>", start) + len("</cac:ProcurementProjectLot>")
        text = text[:start] + text[end:]
    return text.encode()


BAD_FILES: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "xxe": (
        "xxe.xml",
        lambda: b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        "DOCTYPE",
    ),
    "billion laughs": (
        "lol.xml",
        lambda: (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>'
        ),
        "DOCTYPE",
    ),
    "zip bomb": ("bomb.xlsx", zip_bomb, "expands"),
    "truncated xml": ("cut.xml", lambda: (SAMPLES / "eforms/cn_24_FRA_comments.xml").read_bytes()[:5000], "cut.xml"),
    "truncated xlsx": ("cut.xlsx", lambda: make_xlsx([["Désignation"], ["a"]])[:300], "cut.xlsx"),
    "other format": ("notice.xml", lambda: b"<html><body>Hello</body></html>", "html"),
    "empty": ("empty.json", lambda: b"   \n", "empty"),
    "no lots": ("nolots.xml", no_lots, "no lots"),
    "duplicate lot ids": ("dup.xml", duplicate_lots, "LOT-0001"),
    "NaN": (
        "nan.json",
        lambda: b'{"releases": [{"ocid": "o", "id": "1", "tender": {"value": {"amount": NaN}}}]}',
        "NaN",
    ),
    "deep json": ("deep.json", lambda: b"[" * 100_000 + b"]" * 100_000, "deep"),
    "NUL": ("nul.csv", lambda: "Désignation;Quantité\nli\x00gne;2\n".encode(), "NUL"),
    "lying sheet size": ("far.xlsx", far_cell_behind_a_small_dimension, "rows"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_file_fails_the_job_cleanly(case: str, django_capture_on_commit_callbacks: Any) -> None:
    name, build, expected = BAD_FILES[case]
    with django_capture_on_commit_callbacks(execute=True):
        job = create_import_job(actor=None, name=name, data=build())
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.FAILED
    assert job.errors, "a failed job lists its errors"
    text = " ".join(f"{e['where']} {e['message']}" for e in job.errors)
    assert name in text
    assert expected.lower() in text.lower(), text
    assert (Tender.objects.count(), Lot.objects.count(), Line.objects.count()) == (0, 0, 0)


def test_file_over_the_size_limit(settings: Any) -> None:
    from bids.importers.base import ImportFailed

    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(ImportFailed, match="over the 100-byte limit"):
        create_import_job(actor=None, name="big.xml", data=b"<x/>" * 100)
    assert ImportJob.objects.count() == 0


def test_a_job_that_keeps_crashing_gives_up(django_capture_on_commit_callbacks: Any) -> None:
    from bids.services.imports import MAX_ATTEMPTS, run_import_job

    job = create_import_job(actor=None, name="n.xml", data=(SAMPLES / "eforms/cn_24_FRA_comments.xml").read_bytes())
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=MAX_ATTEMPTS)
    finished = run_import_job(job_id=job.pk)
    assert finished is not None
    assert finished.status == JobStatus.FAILED
    assert "abandonné après 3 tentatives" in finished.errors[0]["message"]
    assert Tender.objects.count() == 0


def test_a_finished_job_is_not_run_twice(django_capture_on_commit_callbacks: Any) -> None:
    from bids.services.imports import run_import_job

    with django_capture_on_commit_callbacks(execute=True):
        job = create_import_job(actor=None, name="n.xml", data=(SAMPLES / "eforms/cn_24_FRA_comments.xml").read_bytes())
    run_import_job(job_id=job.pk)
    assert ImportJob.objects.get(pk=job.pk).attempts == 1
    assert Tender.objects.count() == 1
