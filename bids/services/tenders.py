"""Save canonical tenders: create, update from a change notice, or attach a price schedule."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from consortium.services import record_event

from ..importers import SCHEDULE_FORMATS
from ..importers.base import CanonicalLine, CanonicalLot, CanonicalTender, ImportFailed, Problem
from ..models import (
    LIVE_STATUSES,
    Buyer,
    ImportJob,
    Invitation,
    Line,
    LineOrigin,
    Lot,
    LotGroup,
    NoticeVersion,
    Tender,
)
from .lines import LineRow, insert_lines

QUANTITY_LIMIT = Decimal(10) ** 14  # Line.quantity and unit_price: 18 digits, 4 after the point
_TRAILING_NUMBER = re.compile(r"(\d+)\s*$")


@dataclass
class SavedTender:
    tender: Tender
    created: bool
    lines: int


class LotChoiceNeeded(ImportFailed):
    """A schedule without a lot column, for a tender of several lots: the user must pick one."""

    def __init__(self, tender: Tender, *, where: str) -> None:
        self.tender = tender
        lot_ids = ", ".join(tender.lots.filter(withdrawn=False).values_list("source_id", flat=True))
        super().__init__(
            f"the schedule has no lot column and tender #{tender.pk} has several lots: choose one of {lot_ids}",
            where=where,
        )


def lot_key(value: str) -> str:
    """Compare lot references loosely: 'LOT-0001', 'Lot 1' and '1' are the same lot."""
    match = _TRAILING_NUMBER.search(value)
    return str(int(match.group(1))) if match else value.strip().casefold()


def save_tenders(
    *,
    actor: Any,
    fmt: str,
    tenders: list[CanonicalTender],
    source: str,
    target: Tender | None = None,
    lot_choice: str | None = None,
    job: ImportJob | None = None,
) -> list[SavedTender]:
    """Save everything parsed from one file in one transaction: all of it, or nothing."""
    if not tenders:
        raise ImportFailed("the file holds no tender", where=source)
    for canonical in tenders:
        _check_amounts(canonical, source)
    with transaction.atomic():
        if fmt in SCHEDULE_FORMATS:
            if len(tenders) != 1:
                raise ImportFailed("a price schedule must describe one tender", where=source)
            if target is not None:
                saved = [_attach_schedule(target, tenders[0], lot_choice=lot_choice, source=source)]
            else:
                saved = [_create_from_schedule(actor, tenders[0], lot_choice=lot_choice, source=source)]
        else:
            saved = [_upsert_notice(actor, canonical, target=target, source=source, job=job) for canonical in tenders]
        for item in saved:
            record_event(
                actor=actor,
                action="tender.imported" if item.created else "tender.updated",
                obj=item.tender,
                format=fmt,
                source=source,
                lines=item.lines,
                job=job.pk if job else None,
            )
    return saved


def _check_amounts(canonical: CanonicalTender, source: str) -> None:
    """Tender, lot and group amounts fit their columns; lines are checked as they are written."""
    problems: list[Problem] = []

    def check(value: Decimal | None, places: int, where: str) -> None:
        if value is None:
            return
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places:
            problems.append(Problem(where, f"{value} has more than {places} decimal places"))
        elif abs(value) >= Decimal(10) ** (18 - places):
            problems.append(Problem(where, f"{value} is too large"))
        elif value < 0:
            problems.append(Problem(where, f"{value} is negative"))

    check(canonical.estimated_value, 2, f"{source}, tender estimated value")
    for lot in canonical.lots:
        check(lot.estimated_value, 2, f"{source}, lot {lot.source_id}, estimated value")
        check(lot.framework_maximum, 2, f"{source}, lot {lot.source_id}, framework maximum")
    for group in canonical.lot_groups:
        check(group.estimated_value, 2, f"{source}, lot group {group.source_id}, estimated value")
    if problems:
        raise ImportFailed(problems)


# --- notices -----------------------------------------------------------------------------------


def _upsert_notice(
    actor: Any, canonical: CanonicalTender, *, target: Tender | None, source: str, job: ImportJob | None
) -> SavedTender:
    tender = target
    if tender is not None:
        tender = Tender.objects.select_for_update().get(pk=tender.pk)
        if canonical.procedure_id and tender.procedure_id and canonical.procedure_id != tender.procedure_id:
            raise ImportFailed(
                f"the notice is for procedure {canonical.procedure_id}, "
                f"but tender #{tender.pk} is procedure {tender.procedure_id}",
                where=source,
            )
    elif canonical.procedure_id:
        tender = Tender.objects.select_for_update().filter(procedure_id=canonical.procedure_id).first()
    created = tender is None
    if tender is None:
        tender = Tender(created_by=actor if getattr(actor, "pk", None) else None)
    _fill_tender(tender, canonical)
    tender.save()
    lots = _upsert_lots(tender, canonical.lots, source=source)
    _replace_groups(tender, canonical, lots)
    _replace_buyers(tender, canonical)
    _refuse_if_invited(Line.objects.filter(tender=tender, origin=LineOrigin.NOTICE), source=source)
    Line.objects.filter(tender=tender, origin=LineOrigin.NOTICE).delete()
    count = _write_lines(tender, canonical.lines, lots, origin=LineOrigin.NOTICE, source=source, fallback=None)
    NoticeVersion.objects.create(
        tender=tender,
        source_format=canonical.source_format,
        notice_id=canonical.notice_id,
        notice_type=canonical.notice_type,
        changes_notice_id=canonical.changes_notice_id,
        job=job,
    )
    return SavedTender(tender, created, count)


def _fill_tender(tender: Tender, canonical: CanonicalTender) -> None:
    tender.source_format = canonical.source_format
    tender.procedure_id = canonical.procedure_id
    tender.notice_id = canonical.notice_id
    tender.notice_type = canonical.notice_type
    tender.language = canonical.language
    tender.title = (canonical.title or canonical.procedure_id or canonical.notice_id or "?")[:1000]
    tender.description = canonical.description
    tender.nature = canonical.nature
    tender.procedure_type = canonical.procedure_type
    tender.main_cpv = canonical.cpv[0] if canonical.cpv else ""
    tender.additional_cpv = canonical.cpv[1:]
    tender.estimated_value = canonical.estimated_value
    tender.currency = canonical.currency
    tender.tender_deadline = canonical.tender_deadline
    tender.participation_deadline = canonical.participation_deadline
    tender.questions_deadline = canonical.questions_deadline


def _fill_lot(lot: Lot, canonical: CanonicalLot, position: int) -> None:
    lot.position = position
    lot.internal_ref = canonical.internal_ref[:200]
    lot.title = canonical.title[:1000]
    lot.description = canonical.description
    lot.main_cpv = canonical.cpv[0] if canonical.cpv else ""
    lot.additional_cpv = canonical.cpv[1:]
    lot.estimated_value = canonical.estimated_value
    lot.currency = canonical.currency
    lot.framework_maximum = canonical.framework_maximum
    lot.tender_deadline = canonical.tender_deadline
    lot.participation_deadline = canonical.participation_deadline
    lot.questions_deadline = canonical.questions_deadline
    lot.duration_value = canonical.duration_value
    lot.duration_unit = canonical.duration_unit
    lot.start_date = canonical.start_date
    lot.end_date = canonical.end_date
    lot.withdrawn = False


def _upsert_lots(tender: Tender, canonical_lots: list[CanonicalLot], *, source: str) -> dict[str, Lot]:
    existing = {lot.source_id: lot for lot in tender.lots.all()}
    seen: dict[str, Lot] = {}
    new_lots: list[Lot] = []
    changed: list[Lot] = []
    for position, canonical in enumerate(canonical_lots):
        if canonical.source_id in seen:
            raise ImportFailed(f"duplicate lot id {canonical.source_id!r}", where=source)
        lot = existing.get(canonical.source_id) or Lot(tender=tender, source_id=canonical.source_id)
        _fill_lot(lot, canonical, position)
        (changed if lot.pk else new_lots).append(lot)
        seen[canonical.source_id] = lot
    Lot.objects.bulk_create(new_lots)
    for lot in changed:
        lot.save()
    # A lot the new notice no longer lists keeps its priced lines but is marked; an empty one goes.
    gone = [lot for source_id, lot in existing.items() if source_id not in seen]
    for lot in gone:
        if lot.lines.exists():
            lot.withdrawn = True
            lot.save(update_fields=["withdrawn"])
        else:
            lot.delete()
    return seen


def _replace_groups(tender: Tender, canonical: CanonicalTender, lots: dict[str, Lot]) -> None:
    tender.lot_groups.all().delete()
    for group in canonical.lot_groups:
        unknown = [lot_id for lot_id in group.lot_ids if lot_id not in lots]
        if unknown:
            raise ImportFailed(f"lot group {group.source_id} refers to unknown lots {', '.join(unknown)}")
        saved = LotGroup.objects.create(
            tender=tender,
            source_id=group.source_id,
            title=group.title[:1000],
            estimated_value=group.estimated_value,
            currency=group.currency,
        )
        saved.lots.set([lots[lot_id] for lot_id in group.lot_ids])


def _replace_buyers(tender: Tender, canonical: CanonicalTender) -> None:
    tender.buyers.all().delete()
    Buyer.objects.bulk_create(
        Buyer(
            tender=tender,
            position=i,
            name=b.name[:500],
            identifier=b.identifier[:100],
            country=b.country[:3],
            nuts=b.nuts[:10],
        )
        for i, b in enumerate(canonical.buyers)
    )


# --- price schedules ---------------------------------------------------------------------------


def _create_from_schedule(
    actor: Any, canonical: CanonicalTender, *, lot_choice: str | None, source: str
) -> SavedTender:
    tender = Tender(created_by=actor if getattr(actor, "pk", None) else None)
    _fill_tender(tender, canonical)
    tender.save()
    canonical_lots = canonical.lots or [CanonicalLot(source_id="1", title=canonical.title)]
    lots = _upsert_lots(tender, canonical_lots, source=source)
    fallback = lots[lot_choice] if lot_choice in lots else (next(iter(lots.values())) if len(lots) == 1 else None)
    count = _write_lines(tender, canonical.lines, lots, origin=LineOrigin.SCHEDULE, source=source, fallback=fallback)
    return SavedTender(tender, True, count)


def _attach_schedule(target: Tender, canonical: CanonicalTender, *, lot_choice: str | None, source: str) -> SavedTender:
    tender = Tender.objects.select_for_update().get(pk=target.pk)
    lots = {lot.source_id: lot for lot in tender.lots.filter(withdrawn=False)}
    if not lots:
        raise ImportFailed(f"tender #{tender.pk} has no lot to attach the schedule to", where=source)
    fallback: Lot | None = None
    if lot_choice:
        fallback = _find_lot(lots, lot_choice)
        if fallback is None:
            raise ImportFailed(f"tender #{tender.pk} has no lot {lot_choice!r}", where=source)
    elif len(lots) == 1:
        fallback = next(iter(lots.values()))
    elif any(line.lot_source_id is None for line in canonical.lines):
        raise LotChoiceNeeded(tender, where=source)
    touched = {fallback.pk} if fallback else set()
    touched |= {
        lot.pk
        for key in {line.lot_source_id for line in canonical.lines if line.lot_source_id}
        if (lot := _find_lot(lots, key))
    }
    # Attaching a schedule again replaces the schedule lines of the lots it covers.
    _refuse_if_invited(Line.objects.filter(lot_id__in=touched, origin=LineOrigin.SCHEDULE), source=source)
    Line.objects.filter(lot_id__in=touched, origin=LineOrigin.SCHEDULE).delete()
    count = _write_lines(tender, canonical.lines, lots, origin=LineOrigin.SCHEDULE, source=source, fallback=fallback)
    return SavedTender(tender, False, count)


def _refuse_if_invited(lines: QuerySet[Line], *, source: str) -> None:
    """Lines already offered to a firm, maybe priced by it, are not replaced behind its back."""
    invited = (
        Invitation.objects.filter(status__in=LIVE_STATUSES, package_id__in=lines.values("work_package_id"))
        .select_related("package")
        .first()
    )
    if invited is not None:
        raise ImportFailed(
            f"work package {invited.package.name!r} is offered to a partner firm (invitation {invited.status}): "
            "withdraw its invitations before replacing its lines",
            where=source,
        )


def _find_lot(lots: dict[str, Lot], reference: str) -> Lot | None:
    if reference in lots:
        return lots[reference]
    key = lot_key(reference)
    matches = [
        lot for lot in lots.values() if key in {lot_key(lot.source_id), lot_key(lot.internal_ref or lot.source_id)}
    ]
    return matches[0] if len(matches) == 1 else None


def _write_lines(
    tender: Tender,
    lines: list[CanonicalLine],
    lots: dict[str, Lot],
    *,
    origin: str,
    source: str,
    fallback: Lot | None,
) -> int:
    """Check every line's lot and numbers, then write them all in one bulk insert.

    This loop runs once per line of schedules of 100,000 lines: keep it free of per-line calls.
    """
    if not lines:
        return 0
    last = Line.objects.filter(tender=tender).order_by("-position").values_list("position", flat=True).first()
    start = (last or 0) + 1
    resolved: dict[str | None, Lot | None] = {None: fallback}
    currency_of: dict[int, str] = {}
    rows: list[LineRow] = []
    problems: list[Problem] = []
    for index, line in enumerate(lines):
        key = line.lot_source_id
        if key not in resolved:
            resolved[key] = _find_lot(lots, key) if key is not None else fallback
        lot = resolved[key]
        quantity, price = line.quantity, line.unit_price
        if lot is None or not (_fits(quantity) and _fits(price)):
            problems.extend(_line_problems(line, index, lot, key, source))
            if len(problems) >= 50:
                break
            continue
        lot_id = lot.id
        if lot_id not in currency_of:
            currency_of[lot_id] = lot.currency or tender.currency
        rows.append(
            (
                tender.id,
                lot_id,
                start + index,
                origin,
                line.code[:100],
                line.designation,
                line.unit[:100],
                None if quantity is None else str(quantity),
                None if price is None else str(price),
                line.currency or currency_of[lot_id],
                line.cpv,
                line.section[:500],
                line.source_row,
                line.source_sheet[:100],
            )
        )
    if problems:
        raise ImportFailed(problems)
    return insert_lines(rows)


def _fits(value: Decimal | None) -> bool:
    """A quantity or unit price that Line stores exactly: 0 <= value < 10^14, at most 4 decimals."""
    if value is None:
        return True
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -4 and 0 <= value < QUANTITY_LIMIT


def _line_problems(line: CanonicalLine, index: int, lot: Lot | None, key: str | None, source: str) -> list[Problem]:
    where = f"{source}, row {line.source_row}" if line.source_row is not None else f"{source}, line {index + 1}"
    problems = []
    if lot is None:
        message = f"unknown lot {key!r}" if key is not None else "no lot given and the tender has several lots"
        problems.append(Problem(where, message))
    for label, value in (("quantity", line.quantity), ("unit price", line.unit_price)):
        if value is None:
            continue
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -4:
            problems.append(Problem(f"{where}, {label}", f"{value} has more than 4 decimal places"))
        elif value < 0:
            problems.append(Problem(f"{where}, {label}", f"{value} is negative"))
        elif value >= QUANTITY_LIMIT:
            problems.append(Problem(f"{where}, {label}", f"{value} is too large"))
    return problems
