"""Redis unreachable (a closed port) or hanging (a socket that accepts and never answers), for each queue.

This test process publishes to the broken broker while a real worker stays on the real Redis: the POST that
queues the job answers within seconds, the job is kept QUEUED with its French label on its page, and once
the broker is back the sweeper sends it and the worker finishes it.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bids.models import ImportJob, JobStatus, MatchRun
from bids.offer_models import OfferVersion
from bids.services import jobs
from bids.services.jobs import sweep_stuck_jobs
from tests.conftest import SAMPLES, client_for
from tests.faults.conftest import broken_broker, record_figure, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

ANSWER_BOUND_S = 15  # a correctness bound, not a benchmark: the figures are recorded apart


@dataclass
class Queueing:
    """A page that queues a job: the POST, then where the job's state is shown."""

    kind: jobs.JobKind
    post: Callable[[Client], Any]  # returns the response
    job: Callable[[], Any]  # the job row the POST created
    page: str
    label: str
    warm: str  # a page of the same app opened first: the figure is a warm server's answer time


def import_queueing(bid_manager: Any, partner_a: Any, partner_b: Any) -> Queueing:
    data = (SAMPLES / "eforms-ted-published/665175-2023.xml").read_bytes()
    return Queueing(
        jobs.IMPORTS,
        lambda client: client.post("/imports/new/", {"file": SimpleUploadedFile("665175.xml", data), "format": "auto"}),
        lambda: ImportJob.objects.get(),
        "/imports/{pk}/",
        "file de tâches injoignable : l'import démarrera à son retour",
        "/imports/new/",
    )


def match_queueing(bid_manager: Any, partner_a: Any, partner_b: Any) -> Queueing:
    from tests.matching.conftest import Network, make_tender

    network = Network(*make_tender())
    network.firm("Experts", skills={"PostgreSQL": 3}, days_per_month=10)
    network.package("Support PostgreSQL", skills={"PostgreSQL": 8}, days="5")
    tender = network.tender
    return Queueing(
        jobs.MATCHES,
        lambda client: client.post(f"/tenders/{tender.pk}/match/run/"),
        lambda: MatchRun.objects.get(),
        f"/tenders/{tender.pk}/match/",
        "file de tâches injoignable : le calcul démarrera à son retour",
        f"/tenders/{tender.pk}/match/",
    )


def render_queueing(bid_manager: Any, partner_a: Any, partner_b: Any) -> Queueing:
    from tests.offers.conftest import build_offer_market, start_draft

    market = build_offer_market(bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b)
    draft = start_draft(market)
    return Queueing(
        jobs.RENDERS,
        lambda client: client.post(f"/offers/{draft.pk}/freeze/", {"revision": draft.revision}),
        lambda: OfferVersion.objects.get(pk=draft.pk),
        f"/tenders/{market.tender.pk}/offer/",
        "file de tâches injoignable : le rendu démarrera à son retour",
        f"/tenders/{market.tender.pk}/offer/",
    )


QUEUEINGS = {"import": import_queueing, "match": match_queueing, "render": render_queueing}


@pytest.mark.parametrize("how", ["unreachable", "hanging", "hanging-after-connected"])
@pytest.mark.parametrize("queue", list(QUEUEINGS))
def test_a_job_queued_while_the_broker_is_down_is_kept_and_runs_once_it_is_back(
    queue: str, how: str, bid_manager: Any, partner_a: Any, partner_b: Any, celery_worker_process: Any
) -> None:
    queueing = QUEUEINGS[queue](bid_manager, partner_a, partner_b)
    kind = queueing.kind
    client = client_for(bid_manager)
    assert client.get(queueing.warm).status_code == 200
    with broken_broker(how):
        started = time.monotonic()
        response = queueing.post(client)
        answer_s = time.monotonic() - started
    assert response.status_code == 302, response.content[:500]
    assert answer_s < ANSWER_BOUND_S
    job = queueing.job()
    assert getattr(job, kind.column("status")) == JobStatus.QUEUED
    assert getattr(job, kind.column("stage")) == jobs.UNREACHABLE
    page = client.get(queueing.page.format(pk=job.pk))
    assert page.status_code == 200
    assert queueing.label in html.unescape(page.content.decode())
    assert "La file de tâches est injoignable" in html.unescape(page.content.decode())  # the flash, not "lancé"
    record_figure(f"post_answer_s_{queue}_broker_{how}", round(answer_s, 2), bound_s=ANSWER_BOUND_S)

    report = sweep_stuck_jobs()  # the broker is back: beat would run this within a minute
    assert report.as_dict()[kind.name] == {"requeued": 0, "failed": 0, "resent": 1, "unsent": 0}
    wait_until(
        lambda: getattr(kind.rows().get(pk=job.pk), kind.column("status")) in {JobStatus.SUCCEEDED, JobStatus.FAILED},
        timeout=180,
        every=0.2,
        what=f"the {queue} job to finish",
    )
    finished = kind.rows().get(pk=job.pk)
    assert getattr(finished, kind.column("status")) == JobStatus.SUCCEEDED, getattr(finished, kind.column("errors"))
    assert getattr(finished, kind.column("attempts")) == 1


def test_with_the_broker_hanging_a_sweep_waits_once_not_once_per_job(bid_manager: Any) -> None:
    """Ten imports the broker never got: a sweep while it still hangs costs one timeout, and keeps them all."""
    waiting = [ImportJob.objects.create(original_name=f"bpu-{n}.csv", stage=jobs.UNREACHABLE) for n in range(10)]
    with broken_broker("hanging"):
        started = time.monotonic()
        report = sweep_stuck_jobs()
        sweep_s = time.monotonic() - started
    assert report.as_dict()["import"] == {"requeued": 0, "failed": 0, "resent": 0, "unsent": 10}
    assert sweep_s < ANSWER_BOUND_S
    assert set(ImportJob.objects.values_list("stage", flat=True)) == {jobs.UNREACHABLE}
    assert len(waiting) == ImportJob.objects.filter(status=JobStatus.QUEUED).count()
    record_figure("sweep_s_10_jobs_broker_hanging", round(sweep_s, 2))
