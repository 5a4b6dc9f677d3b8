"""Import jobs: from an uploaded file to saved tenders, with progress, errors and retries."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consortium.services import record_event

from .. import importers
from ..importers.base import ImportFailed, Problem, ProgressCallback
from ..models import ImportJob, JobStatus, ScheduleMapping, Tender
from . import jobs
from .tenders import LotChoiceNeeded, SavedTender, save_tenders


@dataclass
class ImportResult:
    format: str
    saved: list[SavedTender]
    warnings: list[Problem] = field(default_factory=list)


logger = logging.getLogger(__name__)

MAX_ATTEMPTS = jobs.MAX_ATTEMPTS
SCHEDULE_OPTIONS = ("mapping", "header_row", "sheet")


def check_size(size: int, *, source: str) -> None:
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise ImportFailed(f"the file is {size:,} bytes, over the {limit:,}-byte limit", where=source)


def import_file(
    *,
    actor: Any,
    data: bytes,
    source: str,
    fmt: str = "auto",
    target: Tender | None = None,
    options: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    job: ImportJob | None = None,
    on_saved: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Parse `data` and save its tenders in one transaction; ImportFailed leaves the database as it was.

    `on_saved` runs inside that transaction: what it writes (the job's outcome) commits with the tenders or not
    at all, and what it raises undoes them.
    """
    options = dict(options or {})
    check_size(len(data), source=source)
    parser_options = {key: options[key] for key in SCHEDULE_OPTIONS if options.get(key)}
    if fmt == "auto":
        fmt = importers.detect_format(data, source=source)
    if job is not None:
        ImportJob.objects.filter(pk=job.pk).update(detected_format=fmt)
    detected, tenders = importers.parse(data, source=source, fmt=fmt, progress=progress, **parser_options)
    if detected not in importers.SCHEDULE_FORMATS and parser_options:
        raise ImportFailed("column mapping, header row and sheet apply to price schedules only", where=source)
    if job is not None:
        ImportJob.objects.filter(pk=job.pk).update(stage="saving")
    warnings = [w for tender in tenders for w in tender.warnings]
    for attempt in range(2):
        try:
            with transaction.atomic():
                saved = save_tenders(
                    actor=actor,
                    fmt=detected,
                    tenders=tenders,
                    source=source,
                    target=target,
                    lot_choice=options.get("lot") or None,
                    job=job,
                )
                result = ImportResult(detected, saved, warnings)
                if on_saved is not None:
                    on_saved(result)
            break
        except IntegrityError:
            # Another import created the same procedure meanwhile: the second try updates it.
            if attempt or transaction.get_connection().in_atomic_block:
                raise
    return result


@transaction.atomic
def create_import_job(
    *,
    actor: Any,
    name: str,
    data: bytes,
    fmt: str = "auto",
    target: Tender | None = None,
    options: dict[str, Any] | None = None,
) -> ImportJob:
    """Store the file and queue its import once this transaction commits."""
    check_size(len(data), source=name)
    job = ImportJob(
        created_by=actor,
        original_name=name[:255],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        requested_format=fmt,
        target_tender=target,
        options=options or {},
    )
    job.file.save(name, ContentFile(data), save=False)
    job.save()
    record_event(actor=actor, action="import.queued", obj=job, name=job.original_name, format=fmt)
    transaction.on_commit(lambda: enqueue_import(job.pk))
    return job


def enqueue_import(job_id: int) -> bool:
    """Send the job to the workers; False when the broker cannot be reached in time (the job says so and
    waits for the sweeper, see services/jobs.py)."""
    from ..tasks import run_import  # the task module imports this one

    try:
        run_import.delay(job_id)
    except Exception:  # the broker is down: say so on the job instead of failing the request
        logger.exception("could not queue import job %s", job_id)
        ImportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(stage=jobs.UNREACHABLE)
        return False
    return True


@transaction.atomic
def retry_import_job(*, actor: Any, job: ImportJob, options: dict[str, Any]) -> ImportJob:
    """Run a finished job's file again with corrected options (mapping, lot...)."""
    job.file.open("rb")
    try:
        data = job.file.read()
    finally:
        job.file.close()
    return create_import_job(
        actor=actor,
        name=job.original_name,
        data=data,
        fmt=job.requested_format,
        target=job.target_tender,
        options={**job.options, **options},
    )


def _progress_writer(job_id: int) -> Callable[[int, int], None]:
    last = 0.0

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= 0.25 or done >= total:
            last = now
            ImportJob.objects.filter(pk=job_id).update(progress_done=done, progress_total=total, stage="reading")

    return report


def run_import_job(*, job_id: int) -> ImportJob | None:
    """Run one queued job. Safe to call twice: a finished job, or one alive in another worker, is left alone;
    the claim past MAX_ATTEMPTS fails the job (services/jobs.py)."""
    attempt = jobs.claim(jobs.IMPORTS, job_id, started_at=timezone.now(), stage="reading")
    job = ImportJob.objects.select_related("created_by", "target_tender").filter(pk=job_id).first()
    if attempt is None or job is None:
        return job
    if attempt > MAX_ATTEMPTS:
        jobs.give_up(jobs.IMPORTS, job, attempt=attempt)
        job.refresh_from_db()
        return job
    try:
        with jobs.heartbeat(jobs.IMPORTS, job.pk, attempt=attempt):
            return _run(job, attempt)
    except jobs.Superseded:  # taken back while this worker was silent: its work was rolled back
        logger.warning("import job %s, attempt %s, was taken over by another run", job_id, attempt)
        return ImportJob.objects.get(pk=job_id)


def _run(job: ImportJob, attempt: int) -> ImportJob:
    def succeeded(result: ImportResult) -> None:
        job.detected_format = result.format
        job.warnings = [{"where": w.where, "message": w.message} for w in result.warnings[:200]]
        job.tenders.set([item.tender for item in result.saved])
        job.counts = {
            "tenders": len(result.saved),
            "created": sum(item.created for item in result.saved),
            "lots": sum(item.tender.lots.count() for item in result.saved),
            "lines": sum(item.lines for item in result.saved),
        }
        _finish(job, JobStatus.SUCCEEDED, attempt=attempt)

    try:
        job.file.open("rb")
        try:
            data = job.file.read()
        finally:
            job.file.close()
        import_file(
            actor=job.created_by,
            data=data,
            source=job.original_name,
            fmt=job.requested_format,
            target=job.target_tender,
            options=job.options,
            progress=_progress_writer(job.pk),
            job=job,
            on_saved=succeeded,
        )
    except LotChoiceNeeded as needs:
        return _finish(job, JobStatus.NEEDS_INPUT, attempt=attempt, errors=needs.problems)
    except ImportFailed as failure:
        return _finish(job, JobStatus.FAILED, attempt=attempt, errors=failure.problems)
    except OSError as error:
        return _finish(
            job,
            JobStatus.FAILED,
            attempt=attempt,
            errors=[Problem(job.original_name, f"cannot read the stored file: {error}")],
        )
    except (jobs.Superseded, DatabaseError):
        raise  # taken over, or the database went away: the job stays running for the sweeper to take back
    except Exception as error:  # a bug, not the file's fault: the job says so instead of staying "running"
        logger.exception("import job %s failed", job.pk)
        message = _("erreur inattendue pendant l'import : %(error)s") % {
            "error": str(error)[:500] or type(error).__name__
        }
        return _finish(job, JobStatus.FAILED, attempt=attempt, errors=[Problem(job.original_name, message)])
    return job


FINISH_FIELDS = (
    "status",
    "finished_at",
    "stage",
    "errors",
    "warnings",
    "counts",
    "detected_format",
    "progress_done",
    "progress_total",
)


def _finish(job: ImportJob, status: str, *, attempt: int, errors: list[Problem] | None = None) -> ImportJob:
    """Write the job's outcome if this run still holds it, else raise jobs.Superseded."""
    job.status = status
    job.finished_at = timezone.now()
    job.stage = ""
    job.errors = [{"where": p.where, "message": p.message} for p in errors or []]
    if status == JobStatus.SUCCEEDED:
        job.progress_done = job.progress_total = max(job.progress_total, 1)
    if not job.detected_format:
        stored = ImportJob.objects.filter(pk=job.pk).values_list("detected_format", flat=True).first()
        job.detected_format = stored or ""
    jobs.still_owned(jobs.IMPORTS, job.pk, attempt, **{name: getattr(job, name) for name in FINISH_FIELDS})
    record_event(actor=job.created_by, action=f"import.{status}", obj=job, errors=len(job.errors))
    return job


@transaction.atomic
def save_schedule_mapping(*, actor: Any, name: str, mapping: dict[str, str], header_row: int | None) -> None:
    """Keep a corrected column mapping under a name, for the same buyer's next schedules."""
    saved, created = ScheduleMapping.objects.update_or_create(
        name=name, defaults={"mapping": mapping, "header_row": header_row, "created_by": actor}
    )
    record_event(actor=actor, action="mapping.saved" if created else "mapping.updated", obj=saved)
