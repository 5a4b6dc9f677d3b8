"""Against the real PostgreSQL and a real Celery worker on Redis (run by .ci/run)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from bids.models import ImportJob, JobStatus, Line, Lot, Tender
from bids.services.imports import create_import_job, import_file

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_copy_writes_exact_lines_on_postgres(samples: Path) -> None:
    import_file(actor=None, data=(samples / "ocds/test_data.json").read_bytes(), source="o.json")
    assert Line.objects.count() == 16
    assert all(
        line.unit_price is not None and line.unit_price == line.unit_price.quantize(line.unit_price)
        for line in Line.objects.all()
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_race_two_imports_of_one_procedure_make_one_tender(samples: Path) -> None:
    data = (samples / "eforms/cn_24_maximal_100_lots.xml").read_bytes()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            import_file(actor=None, data=data, source="m.xml")
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert Tender.objects.count() == 1
    assert Lot.objects.count() == 100


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_an_import_job(samples: Path, celery_worker_process: None) -> None:
    assert settings.CELERY_BROKER_URL.startswith("redis")
    data = (samples / "eforms-ted-published/665175-2023.xml").read_bytes()
    job = create_import_job(actor=None, name="665175-2023.xml", data=data)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.2)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert job.counts["lots"] == 4
    assert ImportJob.objects.get(pk=job.pk).tenders.count() == 1
