"""Everything the offer's documents show, read once from the database (bids.selectors.offers).

The renderers are pure functions of an `OfferSnapshot`: no query, no request, easy to test and
to benchmark. User text is kept as typed; the renderers escape it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from consortium.offer_pricing import Policy, Totals

DIRECT_PAYMENT_THRESHOLD = Decimal("600.00")  # € TTC: from this amount the buyer pays a subcontractor directly


@dataclass(frozen=True, slots=True)
class SnapshotLine:
    line_id: int
    lot_id: int
    package_id: int
    firm_id: int
    position: int
    code: str
    designation: str
    unit: str
    quantity: Decimal | None
    firm_unit_price: Decimal
    unit_price: Decimal  # offered, excl. VAT
    amount: Decimal  # excl. VAT
    firm_amount: Decimal
    fee_amount: Decimal
    levy_amount: Decimal
    section: str = ""
    source_sheet: str = ""
    source_row: int | None = None


@dataclass(frozen=True)
class SnapshotSkill:
    name: str
    level: str  # the level's label: "mainteneur", ...
    upstream_project: str = ""


@dataclass(frozen=True)
class SnapshotReference:
    title: str
    buyer: str
    year: int
    amount: Decimal | None = None


@dataclass(frozen=True)
class SnapshotFirm:
    id: int
    name: str
    siret: str
    siren: str
    vat_number: str
    address: str
    postcode: str
    city: str
    role: str  # MemberRole value: "cotraitant" | "soustraitant"
    role_label: str
    direct_payment: bool
    description: str = ""
    skills: list[SnapshotSkill] = field(default_factory=list)
    references: list[SnapshotReference] = field(default_factory=list)
    totals: Totals | None = None  # what the firm's packages bring in, all lots
    share: Decimal = Decimal("0")  # percent of the offer's amount excl. VAT, 2 decimals


@dataclass(frozen=True)
class SnapshotPackage:
    id: int
    lot_id: int
    name: str
    firm_id: int
    line_count: int
    totals: Totals
    reasons: list[str] = field(default_factory=list)  # why this firm, in sentences
    upstream_projects: list[str] = field(default_factory=list)
    note: str = ""  # the firm's note on its answer
    team: str = ""  # the team the firm committed


@dataclass(frozen=True)
class SnapshotLot:
    id: int
    source_id: str
    title: str
    totals: Totals
    packages: list[SnapshotPackage] = field(default_factory=list)
    firm_totals: dict[int, Totals] = field(default_factory=dict)  # firm id -> its part of this lot


@dataclass(frozen=True)
class ScheduleSource:
    """The buyer's own workbook, as imported, and how the importer read it."""

    filename: str
    content: bytes
    sheet: str = ""  # the sheet the user chose, if any
    header_row: int | None = None
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OfferSnapshot:
    version_id: int
    version_number: int
    status: str
    frozen_at: datetime | None
    tender_id: int
    tender_title: str
    procedure_id: str
    notice_id: str
    procedure_type: str
    tender_description: str
    buyers: list[str]
    deadline: datetime | None
    currency: str
    form: str  # GroupementForm value
    form_label: str
    mandataire_name: str
    mandataire_siret: str
    mandataire_address: str
    policy: Policy
    firms: list[SnapshotFirm]
    lots: list[SnapshotLot]
    lines: list[SnapshotLine]
    total: Totals
    schedule_source: ScheduleSource | None = None

    def firm(self, firm_id: int) -> SnapshotFirm:
        return next(firm for firm in self.firms if firm.id == firm_id)

    def for_firm(self, firm_id: int) -> OfferSnapshot:
        """The same offer cut down to one firm: its packages, its lines, its own row."""
        lots = []
        for lot in self.lots:
            packages = [package for package in lot.packages if package.firm_id == firm_id]
            if packages:
                mine = {firm_id: lot.firm_totals[firm_id]} if firm_id in lot.firm_totals else {}
                lots.append(SnapshotLot(lot.id, lot.source_id, lot.title, lot.firm_totals[firm_id], packages, mine))
        firm = self.firm(firm_id)
        return OfferSnapshot(
            **{
                **{name: getattr(self, name) for name in self.__dataclass_fields__},
                "firms": [firm],
                "lots": lots,
                "lines": [line for line in self.lines if line.firm_id == firm_id],
                "total": firm.totals or self.total,
                "schedule_source": None,
            }
        )
