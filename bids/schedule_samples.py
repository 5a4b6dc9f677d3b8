"""Realistic French price schedules (BPU / DQE) for an open-source support tender.

Used by the demo loader, the import benchmark and the tests. The output is deterministic for
a seed: a title block, a header row, one section row per software family, priced lines
("Journée d'expertise PostgreSQL — niveau 3", "Ticket de support — correctif Nextcloud"...),
a sub-total per lot when there are several lots, and a final "Total HT" row.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO

from openpyxl import Workbook

BUYER = "Région Occitanie — Direction du numérique et des systèmes d'information"
MARKET = "Accord-cadre de support, maintenance et expertise des logiciels libres"
TITLE = "Bordereau des prix unitaires / Détail quantitatif estimatif"
HEADER = ["N° lot", "Code", "Désignation", "Unité", "Quantité", "Prix unitaire HT", "Montant HT"]

SOFTWARE_FAMILIES: list[tuple[str, list[str]]] = [
    ("Bases de données", ["PostgreSQL", "MariaDB", "PostGIS"]),
    ("Collaboration et bureautique", ["Nextcloud", "LibreOffice", "Thunderbird"]),
    ("Gestion de parc et de services", ["GLPI", "OCS Inventory NG"]),
    ("Portails et gestion de contenu", ["Drupal", "WordPress"]),
    ("Formation en ligne", ["Moodle"]),
    ("Information géographique", ["QGIS", "GeoServer"]),
    ("Identité et sécurité", ["Keycloak", "OpenLDAP"]),
    ("Systèmes et serveurs", ["Debian", "Apache HTTP Server", "Nginx"]),
    ("Langages et environnements d'exécution", ["Python", "Java (OpenJDK)", "PHP"]),
]

# (designation pattern, unit, lowest price, highest price, largest quantity)
SERVICES: list[tuple[str, str, int, int, int]] = [
    ("Journée d'expertise {software} — niveau {level}", "jour", 650, 1400, 40),
    ("Ticket de support — correctif {software}", "ticket", 90, 450, 200),
    ("Forfait maintenance composant {software} (mois)", "mois", 300, 2500, 36),
    ("Unité d'œuvre TMA — {software}", "UO", 380, 900, 120),
    ("Installation et paramétrage {software}", "forfait", 1500, 12000, 3),
    ("Journée de formation {software} (groupe de 8 personnes)", "jour", 900, 1600, 10),
    ("Veille de sécurité et avis de vulnérabilité {software} (mois)", "mois", 150, 700, 36),
]

Row = list[str | int | Decimal | None]


def write_support_schedule(
    path_or_stream: str | Path | IO[bytes],
    *,
    lines: int,
    lots: list[tuple[str, str]] | None = None,
    seed: int = 0,
    unit_prices: bool = True,
) -> None:
    """Write an XLSX BPU/DQE with `lines` priced lines, spread round-robin over `lots`.

    `lots` holds (lot source id, title) pairs; without it the lot column stays empty.
    With `unit_prices=False` the price and amount columns are left for the bidder to fill.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("BPU-DQE")
    for row in schedule_rows(lines=lines, lots=lots, seed=seed, unit_prices=unit_prices):
        sheet.append(row)
    workbook.save(path_or_stream)


def write_support_schedule_csv(
    path_or_stream: str | Path | IO[bytes],
    *,
    lines: int,
    lots: list[tuple[str, str]] | None = None,
    seed: int = 0,
    unit_prices: bool = True,
) -> None:
    """The same schedule as `write_support_schedule`, as `;`-separated UTF-8 CSV with decimal commas."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    for row in schedule_rows(lines=lines, lots=lots, seed=seed, unit_prices=unit_prices):
        writer.writerow([_csv_text(value) for value in row])
    data = text.getvalue().encode("utf-8-sig")
    if isinstance(path_or_stream, str | Path):
        Path(path_or_stream).write_bytes(data)
    else:
        path_or_stream.write(data)


def _csv_text(value: str | int | Decimal | None) -> str:
    if value is None:
        return ""
    return str(value).replace(".", ",") if isinstance(value, Decimal) else str(value)


def schedule_rows(
    *, lines: int, lots: list[tuple[str, str]] | None = None, seed: int = 0, unit_prices: bool = True
) -> Iterator[Row]:
    """Every row of the schedule, title block first, as plain values."""
    rng = random.Random(seed)
    yield [BUYER]
    yield [MARKET]
    yield [TITLE]
    yield []
    yield list(HEADER)
    lot_plan = lots or [("", "")]
    grand_total = Decimal(0)
    for lot_index, (lot_id, lot_title) in enumerate(lot_plan):
        lot_lines = lines // len(lot_plan) + (1 if lot_index < lines % len(lot_plan) else 0)
        if lot_title:
            yield [lot_id, "", f"Lot {lot_id} — {lot_title}"]
        lot_total = Decimal(0)
        for row, amount in _lot_rows(rng, lot_id, lot_index, lot_lines, unit_prices):
            lot_total += amount
            yield row
        if len(lot_plan) > 1:
            yield ["", "", f"Sous-total lot {lot_id}", None, None, None, lot_total if unit_prices else None]
        grand_total += lot_total
    yield ["", "", "Total HT", None, None, None, grand_total if unit_prices else None]


def _lot_rows(
    rng: random.Random, lot_id: str, lot_index: int, count: int, unit_prices: bool
) -> Iterator[tuple[Row, Decimal]]:
    """`count` lines of one lot, grouped under one section row per software family."""
    per_family = -(-count // len(SOFTWARE_FAMILIES)) if count else 0
    written = 0
    for family_index, (family, programs) in enumerate(SOFTWARE_FAMILIES):
        if written >= count:
            return
        yield [lot_id, "", family.upper()], Decimal(0)
        for number in range(1, min(per_family, count - written) + 1):
            program = programs[(number - 1) % len(programs)]
            pattern, unit, low, high, most = SERVICES[(number - 1) // len(programs) % len(SERVICES)]
            designation = pattern.format(software=program, level=rng.randint(1, 3))
            quantity = rng.randint(1, most)
            price = Decimal(rng.randint(low * 4, high * 4)) / 4 if unit_prices else None
            amount = quantity * price if price is not None else Decimal(0)
            code = f"{lot_index + 1}.{family_index + 1:02d}.{number:05d}"
            yield (
                [lot_id, code, designation, unit, quantity, price, amount if price is not None else None],
                amount,
            )
            written += 1
