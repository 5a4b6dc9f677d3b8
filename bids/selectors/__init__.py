"""Reads, scoped to what the user may see: tenders and imports, work packages, match results."""

from .tenders import (
    IMPORTERS,
    TENDER_READERS,
    can_import,
    can_read_tenders,
    can_retry,
    cpv_labels,
    jobs_for,
    lines_of,
    lot_value_chart,
    lots_of,
    schedule_preview,
    tender_list,
    tender_payload,
    tenders_for,
)

__all__ = [
    "IMPORTERS",
    "TENDER_READERS",
    "can_import",
    "can_read_tenders",
    "can_retry",
    "cpv_labels",
    "jobs_for",
    "lines_of",
    "lot_value_chart",
    "lots_of",
    "schedule_preview",
    "tender_list",
    "tender_payload",
    "tenders_for",
]
