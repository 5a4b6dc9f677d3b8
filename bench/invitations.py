"""Benchmark: an invitation's price sheet of 5,000 lines, rendered and read back, next to the floor.

    python bench/invitations.py [--lines 5000] [--repeat 5]

  render  render_price_sheet() of an accepted invitation: the package's lines and the firm's prices from the
          database, written with openpyxl write_only (safe text cells, number formats, amount formulas)
  read    read_price_sheet() + check_prices() on the same sheet filled by a partner (prices typed as numbers,
          one in ten as text): the importer's safety checks, header search, every row, every price parsed
  floors  bare openpyxl write_only of the same rows (plain values, no styles); bare openpyxl read_only
          iteration of the filled file; and bare python-calamine, the reader read_price_sheet uses
The database is a throwaway SQLite file under var/bench/, removed at the end.
The last line printed is one JSON object: lines, render_s, read_s, the floors and the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench"


def setup_django(folder: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'invitations.sqlite3'}"  # never the configured database
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(lines: int) -> Any:
    """A tender with one package of `lines` lines, and an invitation accepted with a price for each."""
    from django.db import transaction
    from django.utils import timezone

    from bids.models import Invitation, InvitationPrice, InvitationStatus, Line, Lot, Tender, WorkPackage
    from bids.services.lines import insert_lines
    from partners.models import PartnerFirm

    now = timezone.now()
    with transaction.atomic():
        tender = Tender.objects.create(title="bench: price sheet", source_format="xlsx", currency="EUR")
        lot = Lot.objects.create(tender=tender, source_id="1", title="Support", currency="EUR")
        package = WorkPackage.objects.create(
            tender=tender, lot=lot, name="PostgreSQL et écosystème", basis="skill", line_count=lines
        )
        insert_lines(
            [
                (
                    tender.pk,
                    lot.pk,
                    n,
                    "schedule",
                    f"C{n:06d}",
                    f"Journée d'expertise PostgreSQL — niveau {n % 3 + 1}, astreinte {n % 7} jours",
                    "jour",
                    None if n % 50 == 0 else f"{n % 40 + 1}.5000" if n % 4 == 0 else str(n % 40 + 1),
                    None,
                    "EUR",
                    "",
                    "",
                    n + 5,
                    "BPU",
                )
                for n in range(lines)
            ]
        )
        Line.objects.filter(tender=tender).update(work_package=package)
        firm = PartnerFirm.objects.create(name="Bench firm")
        invitation = Invitation.objects.create(
            tender=tender,
            package=package,
            firm=firm,
            status=InvitationStatus.ACCEPTED,
            source="lead",
            deadline=now + dt.timedelta(days=10),
            sent_at=now,
            answered_at=now,
        )
        InvitationPrice.objects.bulk_create(
            InvitationPrice(invitation=invitation, line_id=pk, unit_price=Decimal(850) + Decimal(pk % 100) / 4)
            for pk in Line.objects.filter(tender=tender).values_list("pk", flat=True)
        )
    return invitation


def fill(data: bytes) -> bytes:
    """The sheet as a partner returns it: every price typed again, one in ten as text, saved by openpyxl."""
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook["Prix"]
    started = False
    for row in sheet.iter_rows():
        if row[0].value == "Réf.":
            started = True
        elif started and isinstance(row[0].value, int):
            ref = row[0].value
            row[5].value = f"{900 + ref % 100},25" if ref % 10 == 0 else 900 + (ref % 100) / 4
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def floor_write(rows: list[tuple[Any, ...]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Prix")
    sheet.append(["Réf.", "Code", "Désignation", "Unité", "Quantité", "Prix unitaire HT", "Montant HT"])
    for number, (pk, code, designation, unit, quantity, price) in enumerate(rows, start=2):
        sheet.append([pk, code, designation, unit, quantity, price, f"=E{number}*F{number}"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def floor_read_openpyxl(data: bytes) -> int:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    count = sum(1 for _ in workbook["Prix"].iter_rows(values_only=True))
    workbook.close()
    return count


def floor_read_calamine(data: bytes) -> int:
    from python_calamine import CalamineWorkbook

    return len(list(CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("Prix").iter_rows()))


def best(repeat: int, job: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = job()
        times.append(time.perf_counter() - started)
    return min(times), result


def run(lines: int, repeat: int) -> dict[str, Any]:
    from bids.models import InvitationPrice, Line
    from bids.price_sheet import read_price_sheet, render_price_sheet
    from bids.prices import check_prices
    from bids.services.invitations import priced_lines

    invitation = build(lines)
    render_s, (_, _, rendered) = best(repeat, lambda: render_price_sheet(invitation))
    filled = fill(rendered)
    package_lines = priced_lines(invitation.package)

    def read() -> Any:
        check = check_prices(package_lines, read_price_sheet(filled, package_lines, name="prix.xlsx"))
        if not check.ok or len(check.prices) != lines:
            raise SystemExit(f"the filled sheet was refused: {check.errors[:3]}")
        return check

    read_s, _ = best(repeat, read)
    prices = dict(InvitationPrice.objects.filter(invitation=invitation).values_list("line_id", "unit_price"))
    rows = [
        (pk, code, designation, unit, quantity, prices[pk])
        for pk, code, designation, unit, quantity in Line.objects.filter(work_package=invitation.package)
        .order_by("lot_id", "position")
        .values_list("pk", "code", "designation", "unit", "quantity")
    ]
    write_floor_s, _ = best(repeat, lambda: floor_write(rows))
    openpyxl_s, counted = best(repeat, lambda: floor_read_openpyxl(filled))
    calamine_s, _ = best(repeat, lambda: floor_read_calamine(filled))
    assert counted >= lines
    return {
        "lines": lines,
        "bytes": len(filled),
        "render_s": render_s,
        "write_floor_s": write_floor_s,
        "read_s": read_s,
        "openpyxl_read_floor_s": openpyxl_s,
        "calamine_read_floor_s": calamine_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measure; the best is kept")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="invitations-", dir=WORK))
    try:
        setup_django(folder)
        figures = run(args.lines, args.repeat)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    render_ratio = figures["render_s"] / figures["write_floor_s"]
    read_ratio = figures["read_s"] / figures["openpyxl_read_floor_s"]
    calamine_ratio = figures["read_s"] / figures["calamine_read_floor_s"]
    print(f"lines                 {args.lines:,} (filled sheet: {figures['bytes']:,} bytes)")
    print(
        f"ours: render          {figures['render_s'] * 1000:.0f} ms  (render_price_sheet, accepted: prices prefilled)"
    )
    print(f"floor: bare write     {figures['write_floor_s'] * 1000:.0f} ms  (openpyxl write_only, same rows)")
    print(f"ratio                 {render_ratio:.2f}")
    print(f"ours: read + check    {figures['read_s'] * 1000:.0f} ms  (read_price_sheet + check_prices)")
    print(f"floor: bare openpyxl  {figures['openpyxl_read_floor_s'] * 1000:.0f} ms  (read_only iteration)")
    print(f"floor: bare calamine  {figures['calamine_read_floor_s'] * 1000:.0f} ms  (the reader we use)")
    print(f"ratio                 {read_ratio:.2f} (ours / openpyxl)   {calamine_ratio:.2f} (ours / calamine)")
    summary = {key: round(value, 4) if isinstance(value, float) else value for key, value in figures.items()} | {
        "render_ratio": round(render_ratio, 2),
        "read_ratio": round(read_ratio, 2),
        "read_ratio_calamine": round(calamine_ratio, 2),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
