"""Reads of tenders, lots, lines and import jobs, scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from consortium.roles import STAFF_ROLES, Role, user_role

from ..models import ImportJob, JobStatus, Line, Lot, Tender

TENDER_READERS = STAFF_ROLES
IMPORTERS = frozenset({Role.BID_MANAGER, Role.ADMIN})


def can_read_tenders(user: Any) -> bool:
    return user_role(user) in TENDER_READERS


def can_import(user: Any) -> bool:
    return user_role(user) in IMPORTERS


def tenders_for(user: Any) -> QuerySet[Tender]:
    """Tenders the user may see: the guichet's staff see all; partners see theirs through invitations (later)."""
    if not can_read_tenders(user):
        return Tender.objects.none()
    return Tender.objects.all()


def tender_list(user: Any, *, search: str = "") -> QuerySet[Tender]:
    tenders = tenders_for(user).annotate(lot_count=Count("lots", filter=Q(lots__withdrawn=False), distinct=True))
    if search:
        tenders = tenders.filter(
            Q(title__icontains=search) | Q(procedure_id__icontains=search) | Q(buyers__name__icontains=search)
        ).distinct()
    return tenders.prefetch_related("buyers").order_by("-created_at", "-id")


def lots_of(tender: Tender) -> QuerySet[Lot]:
    return tender.lots.annotate(line_count=Count("lines")).prefetch_related("groups")


def lines_of(tender: Tender, *, lot: Lot | None = None) -> QuerySet[Line]:
    lines = Line.objects.filter(tender=tender).select_related("lot").order_by("lot__position", "position")
    return lines.filter(lot=lot) if lot is not None else lines


def tender_payload(tender: Tender) -> dict[str, Any]:
    """The JSON shape that `import_tender --json` prints, one per tender."""
    buyer = tender.buyers.first()
    lots = tender.lots.filter(withdrawn=False).order_by("position", "id")
    return {
        "tender": tender.pk,
        "format": tender.source_format,
        "procedure_id": tender.procedure_id,
        "title": tender.title,
        "buyer": buyer.name if buyer else "",
        "currency": tender.currency,
        "lots": [
            {
                "id": lot.source_id,
                "title": lot.title,
                "cpv": lot.cpv_codes,
                "value": None if lot.estimated_value is None else str(lot.estimated_value),
                "currency": lot.currency,
            }
            for lot in lots
        ],
        "lines": Line.objects.filter(tender=tender).count(),
    }


def jobs_for(user: Any) -> QuerySet[ImportJob]:
    """Bid managers and admins see every import; anyone else none."""
    if not can_import(user):
        return ImportJob.objects.none()
    return ImportJob.objects.select_related("created_by")


def can_retry(job: ImportJob) -> bool:
    """A failed schedule import can run again with corrected columns; a job waiting for a lot, always."""
    if job.status == JobStatus.NEEDS_INPUT:
        return True
    fmt = job.detected_format or job.requested_format
    return job.status == JobStatus.FAILED and fmt in ("xlsx", "csv")


def schedule_preview(job: ImportJob) -> Any:
    """What the schedule reader detected in the job's file (sheets, header row, mapping), or None."""
    from ..importers import spreadsheet
    from ..importers.base import ImportFailed

    fmt = job.detected_format or job.requested_format
    if fmt not in ("xlsx", "csv"):
        return None
    try:
        with job.file.open("rb") as handle:
            data = handle.read()
        return spreadsheet.inspect(
            data,
            source=job.original_name,
            fmt=fmt,
            sheet=job.options.get("sheet"),
            header_row=job.options.get("header_row"),
        )
    except (ImportFailed, OSError):
        return None


def cpv_labels(code_lists: list[list[str]]) -> dict[str, str]:
    """Labels of every CPV code on a page, in the current language, in one query."""
    from django.utils.translation import get_language

    from consortium.models import CpvCode

    codes = {code for codes in code_lists for code in codes}
    field = "label_en" if (get_language() or "fr").startswith("en") else "label_fr"
    return dict(CpvCode.objects.filter(code__in=codes).values_list("code", field))


def lot_value_chart(lots: list[Lot]) -> list[dict[str, Any]]:
    """Bars of estimated value per lot, for lots in the tender's most common currency."""
    valued = [lot for lot in lots if lot.estimated_value is not None and not lot.withdrawn]
    if len(valued) < 2:
        return []
    currencies = [lot.currency for lot in valued]
    currency = max(set(currencies), key=currencies.count)
    valued = [lot for lot in valued if lot.currency == currency][:60]
    top = max((lot.estimated_value for lot in valued if lot.estimated_value), default=None)
    if not top:
        return []
    return [
        {
            "label": f"{lot.source_id} {lot.title}".strip(),
            "value": lot.estimated_value,
            "currency": currency,
            "percent": round(float(lot.estimated_value / top * 100), 1) if lot.estimated_value else 0,
        }
        for lot in valued
    ]
