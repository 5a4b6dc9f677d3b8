"""The import pages as a bid manager uses them: upload, progress, error report, correction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bids.models import ImportJob, JobStatus, Line, Tender
from tests.conftest import client_for, make_xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(bid_manager: Any) -> Any:
    return client_for(bid_manager)


def upload(client: Any, capture: Any, name: str, data: bytes, **fields: Any) -> Any:
    with capture(execute=True):
        response = client.post("/imports/new/", {"file": SimpleUploadedFile(name, data), "format": "auto", **fields})
    return response


def test_upload_notice_runs_the_job_and_shows_the_tender(
    client: Any, samples: Path, django_capture_on_commit_callbacks: Any
) -> None:
    data = (samples / "eforms-ted-published/665175-2023.xml").read_bytes()
    response = upload(client, django_capture_on_commit_callbacks, "665175-2023.xml", data)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{job.pk}/"
    assert job.status == JobStatus.SUCCEEDED
    assert job.counts == {"tenders": 1, "created": 1, "lots": 4, "lines": 0}
    status = json.loads(client.get(f"/imports/{job.pk}/status.json").content)
    assert status["percent"] == 100 and status["finished"] is True
    page = client.get(f"/imports/{job.pk}/").content.decode()
    tender = Tender.objects.get()
    assert f"/tenders/{tender.pk}/" in page
    detail = client.get(f"/tenders/{tender.pk}/").content.decode()
    assert "GLO-0008" in detail
    assert detail.count("LOT-000") >= 4


def test_broken_file_gives_an_error_report_and_saves_nothing(
    client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    namespace = b"urn:oasis:names:specification:ubl:schema:xsd:ContractNotice-2"
    truncated = b'<?xml version="1.0"?><ContractNotice xmlns="' + namespace + b'"><cbc:ID'
    upload(client, django_capture_on_commit_callbacks, "cut.xml", truncated)
    job = ImportJob.objects.get()
    assert job.status == JobStatus.FAILED
    assert job.errors and job.errors[0]["where"].startswith("cut.xml")
    page = client.get(f"/imports/{job.pk}/")
    assert page.status_code == 200
    assert "cut.xml" in page.content.decode()
    assert Tender.objects.count() == 0


def test_empty_upload_is_a_form_error_not_a_500(client: Any) -> None:
    response = client.post("/imports/new/", {"file": SimpleUploadedFile("empty.xml", b""), "format": "auto"})
    assert response.status_code == 200
    assert ImportJob.objects.count() == 0


def test_upload_over_the_limit_is_a_form_error(client: Any, settings: Any) -> None:
    settings.IMPORT_MAX_BYTES = 10
    response = client.post("/imports/new/", {"file": SimpleUploadedFile("big.csv", b"x" * 11), "format": "auto"})
    assert response.status_code == 200
    assert "limite" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_schedule_for_a_tender_of_several_lots_asks_which_lot(
    client: Any, samples: Path, django_capture_on_commit_callbacks: Any
) -> None:
    upload(
        client, django_capture_on_commit_callbacks, "n.xml", (samples / "eforms/cn_24_FRA_comments.xml").read_bytes()
    )
    tender = Tender.objects.get()
    data = make_xlsx([["Désignation", "Unité", "Quantité", "Prix unitaire"], ["Tonte", "m2", 1000, 0.35]])
    upload(client, django_capture_on_commit_callbacks, "dpgf.xlsx", data, tender=tender.pk)
    job = ImportJob.objects.latest("id")
    assert job.status == JobStatus.NEEDS_INPUT
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'name="lot"' in page and "LOT-0002" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/imports/{job.pk}/retry/", {"lot": "LOT-0002"})
    retried = ImportJob.objects.latest("id")
    assert response["Location"] == f"/imports/{retried.pk}/"
    assert retried.status == JobStatus.SUCCEEDED
    assert Line.objects.get().lot.source_id == "LOT-0002"


def test_wrong_mapping_fails_and_a_corrected_one_imports(client: Any, django_capture_on_commit_callbacks: Any) -> None:
    data = make_xlsx([["Ref", "Texte", "U", "Nombre", "Tarif"], ["A1", "Forfait Moodle", "mois", 12, 450]])
    upload(client, django_capture_on_commit_callbacks, "bpu.xlsx", data, map_designation="Z")
    job = ImportJob.objects.latest("id")
    assert job.status == JobStatus.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/imports/{job.pk}/retry/",
            {
                "map_code": "A",
                "map_designation": "B",
                "map_unit": "C",
                "map_quantity": "D",
                "map_unit_price": "E",
                "save_mapping_as": "Acheteur X",
            },
        )
    retried = ImportJob.objects.latest("id")
    assert retried.status == JobStatus.SUCCEEDED, retried.errors
    line = Line.objects.get()
    assert (line.code, line.designation, str(line.unit_price)) == ("A1", "Forfait Moodle", "450.0000")
    from bids.models import ScheduleMapping

    assert ScheduleMapping.objects.get(name="Acheteur X").mapping["designation"] == "B"


def test_tender_page_paginates_and_filters_lines(client: Any, samples: Path) -> None:
    from bids.services.imports import import_file

    tender = (
        import_file(actor=None, data=(samples / "ocds/test_data.json").read_bytes(), source="o.json").saved[0].tender
    )
    lot = tender.lots.order_by("position").first()
    response = client.get(f"/tenders/{tender.pk}/?lot={lot.pk}")
    assert response.status_code == 200
    assert len(response.context["lines"].object_list) == lot.lines.count()
    assert client.get(f"/tenders/{tender.pk}/?page=999&lot=abc").status_code == 200


def test_tender_page_query_count_does_not_grow_with_lots(
    client: Any, samples: Path, django_assert_max_num_queries: Any
) -> None:
    from bids.services.imports import import_file

    tender = (
        import_file(actor=None, data=(samples / "eforms/cn_24_maximal_100_lots.xml").read_bytes(), source="m.xml")
        .saved[0]
        .tender
    )
    with django_assert_max_num_queries(16):
        assert client.get(f"/tenders/{tender.pk}/").status_code == 200


def test_english_is_available(client: Any) -> None:
    client.post("/i18n/setlang/", {"language": "en", "next": "/tenders/"})
    page = client.get("/tenders/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in page
