from __future__ import annotations

from celery import shared_task

from .services.imports import run_import_job
from .services.matching import run_match_job


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_import(job_id: int) -> None:
    run_import_job(job_id=job_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_match(run_id: int) -> None:
    run_match_job(run_id=run_id)
