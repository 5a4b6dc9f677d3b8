"""Benchmark: import a 100,000-line price schedule end to end, next to the floors underneath.

    python bench/import.py [--lines 100000] [--notice]

Each phase runs in its own process so that its peak memory is its own:
  ours    import_file(): detect, read with python-calamine, check, save tender, lots and lines
  read    the bare reader alone: python-calamine reading every row of the same file
  insert  the bare insert of the same rows into the same table: sqlite3 executemany, or psycopg COPY
The database is DATABASE_URL when set (PostgreSQL), else a fresh SQLite file under var/bench/.
The last line printed is one JSON object: lines, ours_s, floor_s, ratio, peak_mb (and details).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK / 'bench.sqlite3'}")
    import django

    django.setup()


def schedule_path(lines: int) -> Path:
    return WORK / f"schedule-{lines}.xlsx"


def phase_generate(lines: int) -> dict[str, float]:
    setup_django()
    from bids.schedule_samples import write_support_schedule

    path = schedule_path(lines)
    if not path.exists():
        write_support_schedule(path, lines=lines, lots=[(str(n), f"Lot {n}") for n in range(1, 11)], seed=1)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return {"bytes": path.stat().st_size}


def phase_ours(lines: int) -> dict[str, float]:
    setup_django()
    from bids.models import Tender
    from bids.services.imports import import_file

    Tender.objects.filter(title__startswith="schedule-").delete()
    data = schedule_path(lines).read_bytes()
    started = time.perf_counter()
    result = import_file(actor=None, data=data, source=schedule_path(lines).name)
    elapsed = time.perf_counter() - started
    saved = result.saved[0]
    assert saved.lines == lines, (saved.lines, lines)
    saved.tender.delete()
    return {"seconds": elapsed, "peak_mb": peak_mb(), "lines": saved.lines}


def read_rows(data: bytes) -> list[list[object]]:
    import io

    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    rows: list[list[object]] = []
    for name in workbook.sheet_names:
        rows.extend(workbook.get_sheet_by_name(name).iter_rows())
    return rows


def phase_read(lines: int) -> dict[str, float]:
    data = schedule_path(lines).read_bytes()
    started = time.perf_counter()
    rows = read_rows(data)
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "peak_mb": peak_mb(), "rows": len(rows)}


def phase_insert(lines: int) -> dict[str, float]:
    """The same number of rows, written bare into the same table (same indexes and constraints).

    The clock stops after COMMIT: both databases check the deferred foreign keys there.
    """
    setup_django()
    from django.db import connection, transaction

    from bids.models import Line, Lot, Tender
    from bids.services.lines import COLUMNS

    table = Line._meta.db_table
    tender = Tender.objects.create(title="bench floor", source_format="xlsx")
    lot = Lot.objects.create(tender=tender, source_id="1")
    rows = [
        (
            tender.pk,
            lot.pk,
            n,
            "schedule",
            f"C{n:06d}",
            f"Journée d'expertise PostgreSQL — niveau {n % 3 + 1}",
            "jour",
            str(n % 40 + 1),
            "850.50",
            "EUR",
            "",
            "Bases de données",
            n + 5,
            "BPU",
        )
        for n in range(lines)
    ]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.connection.executemany(
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join(['?'] * len(COLUMNS))})", rows
            )
    elapsed = time.perf_counter() - started
    tender.delete()
    return {"seconds": elapsed, "peak_mb": peak_mb(), "vendor": connection.vendor}


def phase_notice(_: int) -> dict[str, float]:
    setup_django()
    from bids.models import Tender
    from bids.services.imports import import_file

    data = (ROOT / "tests/data/samples/eforms/cn_24_maximal_100_lots.xml").read_bytes()
    best = float("inf")
    for _ in range(5):
        Tender.objects.filter(procedure_id="aff2863e-b4cc-4e91-baba-b3b85f709117").delete()
        started = time.perf_counter()
        import_file(actor=None, data=data, source="cn_24_maximal_100_lots.xml")
        best = min(best, time.perf_counter() - started)
    return {"seconds": best, "peak_mb": peak_mb()}


PHASES = {
    "generate": phase_generate,
    "ours": phase_ours,
    "read": phase_read,
    "insert": phase_insert,
    "notice": phase_notice,
}


def run_phase(name: str, lines: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--lines", str(lines)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def best_of(name: str, lines: int, repeat: int) -> dict[str, float]:
    runs = [run_phase(name, lines) for _ in range(repeat)]
    return min(runs, key=lambda run: run["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase; the best is kept")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.lines)))
        return
    run_phase("generate", args.lines)
    ours = best_of("ours", args.lines, args.repeat)
    read = best_of("read", args.lines, args.repeat)
    insert = best_of("insert", args.lines, args.repeat)
    notice = best_of("notice", args.lines, 1)
    floor = read["seconds"] + insert["seconds"]
    database = insert["vendor"]
    print(f"database            {database}")
    print(f"lines               {args.lines:,}")
    print(f"ours (end to end)   {ours['seconds']:.2f} s   peak {ours['peak_mb']:.0f} MB")
    print(f"floor: bare read    {read['seconds']:.2f} s   (python-calamine, every row)")
    print(f"floor: bare insert  {insert['seconds']:.2f} s   ({'COPY' if database == 'postgresql' else 'executemany'})")
    print(f"ratio               {ours['seconds'] / floor:.2f}  (ours / (read + insert))")
    print(f"100-lot eForms      {notice['seconds'] * 1000:.0f} ms  (cn_24_maximal_100_lots.xml, best of 5)")
    print(
        json.dumps(
            {
                "lines": args.lines,
                "database": database,
                "ours_s": round(ours["seconds"], 3),
                "floor_s": round(floor, 3),
                "read_floor_s": round(read["seconds"], 3),
                "insert_floor_s": round(insert["seconds"], 3),
                "ratio": round(ours["seconds"] / floor, 2),
                "peak_mb": round(ours["peak_mb"], 1),
                "notice_100_lots_s": round(notice["seconds"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
