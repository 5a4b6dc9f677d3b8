"""A synthetic OfferSnapshot of any size: for renderer tests and for bench/offer.py.

Prices follow the default policy (fee 8 %, levy 2 %, VAT 20 %), priced through the pricing port; no
database is touched, so the renderers can be tested and measured on their own.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from consortium.money import CENT
from consortium.offer_pricing import LineToPrice, Policy, Totals, offer_pricing

from ..offer_snapshot import (
    OfferSnapshot,
    SnapshotFirm,
    SnapshotLine,
    SnapshotLot,
    SnapshotPackage,
    SnapshotReference,
    SnapshotSkill,
)

POLICY = Policy(fee_rate=Decimal("8"), levy_rate=Decimal("2"), vat_rate=Decimal("20"))
SOFTWARE = ["PostgreSQL", "Nextcloud", "LibreOffice", "Nginx", "Debian", "QGIS", "Moodle", "Keycloak"]


def _totals(lines: list[SnapshotLine]) -> Totals:
    return Totals.of_lot(
        amount=sum((line.amount for line in lines), Decimal("0.00")),
        firm=sum((line.firm_amount for line in lines), Decimal("0.00")),
        fee=sum((line.fee_amount for line in lines), Decimal("0.00")),
        levy=sum((line.levy_amount for line in lines), Decimal("0.00")),
        vat_rate=POLICY.vat_rate,
    )


def _line(line_id: int, lot_id: int, package_id: int, firm_id: int, position: int, software: str) -> SnapshotLine:
    quantity = Decimal(1 + position % 12)
    firm_unit = Decimal(450 + (position * 37) % 900) + Decimal(position % 100) / 100
    asked = LineToPrice(key=line_id, group=lot_id, firm_unit_price=firm_unit, quantity=quantity)
    priced = offer_pricing().price(POLICY, [asked]).lines[0]
    return SnapshotLine(
        line_id=line_id,
        lot_id=lot_id,
        package_id=package_id,
        firm_id=firm_id,
        position=position,
        code=f"L{lot_id}-{position}",
        designation=f"Support {software} niveau {1 + position % 3}, heures ouvrées",
        unit="jour",
        quantity=quantity,
        firm_unit_price=firm_unit,
        unit_price=priced.unit_price,
        amount=priced.amount,
        firm_amount=priced.firm_amount,
        fee_amount=priced.fee_amount,
        levy_amount=priced.levy_amount,
        section=f"Support {software}",
    )


def _firm(firm_id: int, totals: Totals, grand_total: Decimal, *, subcontractor: bool, note: str) -> SnapshotFirm:
    software = SOFTWARE[firm_id % len(SOFTWARE)]
    return SnapshotFirm(
        id=firm_id,
        name=f"Expert {software} {firm_id} SARL",
        siret="73282932000074",
        siren="732829320",
        vat_number="FR44732829320",
        address=f"{firm_id} rue des Logiciels Libres",
        postcode="76000",
        city="Rouen",
        role="soustraitant" if subcontractor else "cotraitant",
        role_label="sous-traitant" if subcontractor else "cotraitant",
        direct_payment=subcontractor and totals.amount_with_vat >= 600,
        description=note or f"Spécialiste de {software} depuis 2009.",
        skills=[SnapshotSkill(software, "mainteneur", software), SnapshotSkill("Linux", "expert")],
        references=[SnapshotReference(f"Support {software}", "Région Normandie", 2024, Decimal("120000.00"))],
        totals=totals,
        share=(totals.amount * 100 / grand_total).quantize(CENT) if grand_total else Decimal("0"),
    )


def sample_snapshot(
    *, lots: int = 2, lines_per_lot: int = 6, firms: int = 3, subcontractors: int = 1, note: str = ""
) -> OfferSnapshot:
    """`lots` lots of `lines_per_lot` lines; lot i's packages go to firms in turn, the last
    `subcontractors` firms being subcontractors; `note` (any text, hostile or not) goes into
    every firm's description and package note."""
    all_lines: list[SnapshotLine] = []
    lot_rows: list[tuple[int, list[SnapshotPackage], dict[int, list[SnapshotLine]]]] = []
    line_id = 0
    for lot_index in range(lots):
        lot_id = lot_index + 1
        by_firm: dict[int, list[SnapshotLine]] = {}
        packages: list[SnapshotPackage] = []
        for package_index in range(min(2, firms)):
            firm_id = 1 + (lot_index + package_index) % firms
            package_id = lot_id * 10 + package_index
            software = SOFTWARE[firm_id % len(SOFTWARE)]
            count = lines_per_lot // 2 + (lines_per_lot % 2 if package_index == 0 else 0)
            package_lines = []
            for _ in range(count):
                line_id += 1
                package_lines.append(_line(line_id, lot_id, package_id, firm_id, line_id, software))
            all_lines.extend(package_lines)
            by_firm.setdefault(firm_id, []).extend(package_lines)
            packages.append(
                SnapshotPackage(
                    id=package_id,
                    lot_id=lot_id,
                    name=f"Support {software}",
                    firm_id=firm_id,
                    line_count=len(package_lines),
                    totals=_totals(package_lines),
                    reasons=[
                        f"Mainteneur de {software}, compétence demandée au poids 10.",
                        "Capacité suffisante : 40 jours libres pour 12 jours estimés.",
                    ],
                    upstream_projects=[software],
                    note=note,
                    team=note,
                )
            )
        lot_rows.append((lot_id, packages, by_firm))
    lot_list = [
        SnapshotLot(
            id=lot_id,
            source_id=f"LOT-{lot_id:04d}",
            title=f"Lot {lot_id} : support et maintenance",
            totals=_totals([line for lines in by_firm.values() for line in lines]),
            packages=packages,
            firm_totals={firm_id: _totals(lines) for firm_id, lines in by_firm.items()},
        )
        for lot_id, packages, by_firm in lot_rows
    ]
    total = Totals.add([lot.totals for lot in lot_list])
    firm_list = [
        _firm(
            firm_id,
            Totals.add([lot.firm_totals[firm_id] for lot in lot_list if firm_id in lot.firm_totals]),
            total.amount,
            subcontractor=firm_id > firms - subcontractors,
            note=note,
        )
        for firm_id in range(1, firms + 1)
    ]
    return OfferSnapshot(
        version_id=1,
        version_number=1,
        status="frozen",
        frozen_at=dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC),
        tender_id=1,
        tender_title="Support des logiciels libres de la Ville",
        procedure_id="2026-OSS-01",
        notice_id="12345-2026",
        procedure_type="open",
        tender_description="Support, maintenance et contributions pour les logiciels libres de la Ville.",
        buyers=["Ville de Rouen"],
        deadline=dt.datetime(2026, 12, 15, 12, 0, tzinfo=dt.UTC),
        currency="EUR",
        form="joint",
        form_label="groupement conjoint",
        mandataire_name="Guichet Open Source",
        mandataire_siret="73282932000074",
        mandataire_address="1 place du Logiciel Libre, 75001 Paris",
        policy=POLICY,
        firms=firm_list,
        lots=lot_list,
        lines=all_lines,
        total=total,
    )
