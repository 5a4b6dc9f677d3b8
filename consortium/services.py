"""Shared writes: the audit log and the CPV catalogue."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from django.db import transaction

from .models import AuditEvent, CpvCode

CPV_DATA_DIR = Path(__file__).resolve().parent / "data" / "cpv"


def record_event(*, actor: Any, action: str, obj: Any = None, **details: Any) -> AuditEvent:
    """Write one audit row. `actor` may be None for the system (a periodic task)."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        details=details,
    )


def cpv_level(code: str) -> int:
    """2 for a division (72000000), up to 8 for a full code; trailing zeros are not significant."""
    return max(2, len(code.rstrip("0")))


def cpv_parent(code: str, known: set[str]) -> str | None:
    """The nearest shorter prefix present in `known` (72267100 -> 72267000 -> 72260000 ...)."""
    level = cpv_level(code)
    for length in range(level - 1, 1, -1):
        candidate = code[:length].ljust(8, "0")
        if candidate != code and candidate in known:
            return candidate
    return None


@transaction.atomic
def load_cpv_catalogue(*, data_dir: Path = CPV_DATA_DIR) -> int:
    """Load or refresh the 9,454 CPV codes with French and English labels; returns the count."""
    with (data_dir / "cpv_fr.csv").open(encoding="utf-8-sig", newline="") as handle:
        french = {row["CODE"]: row["FR"].strip() for row in csv.DictReader(handle)}
    english: dict[str, str] = json.loads((data_dir / "cpv_en.json").read_text(encoding="utf-8"))
    full_codes = sorted(set(french) | set(english))
    known = {full.split("-")[0] for full in full_codes}
    existing = set(CpvCode.objects.values_list("code", flat=True))
    rows = []
    for full in full_codes:
        code, _, check = full.partition("-")
        rows.append(
            CpvCode(
                code=code,
                check_digit=check,
                label_fr=french.get(full, english.get(full, "")),
                label_en=english.get(full, french.get(full, "")),
                parent_id=cpv_parent(code, known),
                level=cpv_level(code),
            )
        )
    # Parents first, so the foreign keys hold at every insert on every database.
    rows.sort(key=lambda row: (row.level, row.code))
    added = [r for r in rows if r.code not in existing]
    CpvCode.objects.bulk_create(added, batch_size=2000)
    CpvCode.objects.bulk_update(
        [r for r in rows if r.code in existing], ["label_fr", "label_en", "parent", "level"], batch_size=2000
    )
    record_event(actor=None, action="catalogue.cpv_loaded", codes=len(rows), added=len(added))
    return len(rows)
