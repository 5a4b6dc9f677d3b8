"""The canonical tender every importer yields, and the error every importer raises.

Importers are pure: bytes in, canonical dataclasses out. They never touch the database,
so the rest of the application never knows which format a tender came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while a long file is read."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, and where it is (file, sheet, row, element...)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ImportFailed(Exception):
    """The file cannot be imported; nothing of it may be saved."""

    def __init__(self, problems: list[Problem] | Problem | str, *, where: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem(where, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass
class CanonicalBuyer:
    name: str
    identifier: str = ""  # national id (SIRET, company number...) when the notice gives one
    country: str = ""  # ISO 3166 alpha-2 or alpha-3 as found
    nuts: str = ""  # the buyer's NUTS code (FRD22...) when the notice gives one


@dataclass
class CanonicalLot:
    source_id: str  # LOT-0001, "1", "A"...; unique within the tender
    internal_ref: str = ""
    title: str = ""
    description: str = ""
    cpv: list[str] = field(default_factory=list)  # 8-digit codes, main first, no duplicates
    estimated_value: Decimal | None = None
    currency: str = ""
    framework_maximum: Decimal | None = None
    tender_deadline: datetime | None = None  # aware
    participation_deadline: datetime | None = None  # aware
    questions_deadline: datetime | None = None  # aware
    duration_value: int | None = None
    duration_unit: str = ""  # DAY, MONTH or YEAR
    start_date: str = ""  # ISO date when given
    end_date: str = ""


@dataclass
class CanonicalLotGroup:
    source_id: str  # GLO-0001...
    lot_ids: list[str] = field(default_factory=list)  # source ids of its lots
    title: str = ""
    estimated_value: Decimal | None = None
    currency: str = ""


@dataclass(slots=True)
class CanonicalLine:
    """One priced line of a price schedule (or an OCDS item)."""

    designation: str
    lot_source_id: str | None = None  # None: the caller decides (the tender's only lot)
    code: str = ""
    unit: str = ""
    quantity: Decimal | None = None
    unit_price: Decimal | None = None  # the buyer's, when given
    currency: str = ""
    cpv: str = ""  # 8 digits or ""
    section: str = ""  # the schedule's own heading above the line
    source_row: int | None = None  # 1-based row (spreadsheets) or index (JSON)
    source_sheet: str = ""  # the spreadsheet's sheet holding `source_row` ("" for CSV and JSON)


@dataclass
class CanonicalTender:
    source_format: str  # eforms | ocds | ted | xlsx | csv
    procedure_id: str = ""  # stable across a notice and its changes
    notice_id: str = ""
    notice_type: str = ""
    language: str = ""  # the language kept for texts (ISO 639, as found)
    changes_notice_id: str = ""  # for a change notice: the notice it changes
    buyers: list[CanonicalBuyer] = field(default_factory=list)
    title: str = ""
    description: str = ""
    nature: str = ""  # services | supplies | works
    procedure_type: str = ""
    cpv: list[str] = field(default_factory=list)  # 8-digit codes, main first
    estimated_value: Decimal | None = None
    currency: str = ""
    tender_deadline: datetime | None = None
    participation_deadline: datetime | None = None
    questions_deadline: datetime | None = None
    lots: list[CanonicalLot] = field(default_factory=list)
    lot_groups: list[CanonicalLotGroup] = field(default_factory=list)
    lines: list[CanonicalLine] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
