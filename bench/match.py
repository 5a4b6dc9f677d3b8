"""Benchmark: split a 1,000-lot, 100,000-line tender and match it against 5,000 firms, next to the floor.

    python bench/match.py [--lots 1000] [--lines 100000] [--firms 5000] [--repeat 3]

  ours   split_tender() then run_match(): read the lines, recognise the software they name, write the
         packages and every line's package; find the candidates, score them with their explanations,
         solve the global assignment, store candidates and assignments
  floor  one bare SQL query returning the same (package, firm) candidate rows, plus the bare solver
         (scipy.optimize.milp, HiGHS) on the same assignment problem
The database is DATABASE_URL when set (PostgreSQL), else a SQLite file under var/bench/.
The last line printed is one JSON object: lots, packages, firms, ours_s, floor_s, ratio (and details).
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench"


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK / 'match.sqlite3'}")
    import django

    django.setup()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_build(args: argparse.Namespace) -> dict[str, Any]:
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.match_data import build_network, build_tender

    started = time.perf_counter()
    tender = build_tender(lots=args.lots, lines=args.lines)
    firms = build_network(firms=args.firms)
    return {"tender": tender, "firms": firms, "seconds": time.perf_counter() - started}


def _bench_tender() -> Any:
    from bench.match_data import BENCH_TITLE
    from bids.models import Tender

    return Tender.objects.get(title=BENCH_TITLE)


def phase_ours(args: argparse.Namespace) -> dict[str, Any]:
    setup_django()
    from bids.models import Assignment, MatchCandidate, MatchRun, WorkPackage
    from bids.services.matching import run_match
    from bids.services.packages import split_tender

    tender = _bench_tender()
    # Each run starts from the tender as imported: no packages, candidates or assignments yet.
    MatchRun.objects.filter(tender=tender).delete()
    WorkPackage.objects.filter(tender=tender).delete()
    started = time.perf_counter()
    summary = split_tender(actor=None, tender=tender)
    split_s = time.perf_counter() - started
    run = run_match(actor=None, tender=tender)
    total = time.perf_counter() - started
    assigned = Assignment.objects.filter(package__tender=tender, lead__isnull=False).count()
    return {
        "seconds": total,
        "split_s": split_s,
        "match_s": total - split_s,
        "packages": summary.packages,
        "flagged": summary.flagged,
        "candidates": MatchCandidate.objects.filter(run=run).count(),
        "assigned": assigned,
        "solver": {key: value for key, value in run.solver.items() if key != "free_days"},
        "peak_mb": peak_mb(),
    }


CANDIDATE_SQL = """
SELECT p.id, s.firm_id, s.level, s.evidence_url, r.weight
FROM bids_workpackage p
JOIN bids_packageskill r ON r.package_id = p.id
JOIN partners_firmskill s ON s.skill_id = r.skill_id
WHERE p.tender_id = %s
"""


def phase_floor(args: argparse.Namespace) -> dict[str, Any]:
    """The bare query for the candidate rows, then the bare solver on the problem of the last run."""
    setup_django()
    from django.db import connection

    from bids.matching.assignment import bare_solver
    from bids.matching.candidates import build_problem, load_match_input, rank_candidates

    tender = _bench_tender()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(CANDIDATE_SQL, [tender.pk])
        rows = cursor.fetchall()
    query_s = time.perf_counter() - started
    data = load_match_input(tender)  # the problem exactly as run_match builds it, outside the clock
    problem = build_problem(data, rank_candidates(data))
    solve = bare_solver(problem)
    size = {"pairs": len(problem.packages), "firms_in_problem": len(set(problem.firms.tolist()))}
    started = time.perf_counter()
    solve()
    solver_s = time.perf_counter() - started
    return {"seconds": query_s + solver_s, "query_s": query_s, "solver_s": solver_s, "rows": len(rows), **size}


PHASES = {"build": phase_build, "ours": phase_ours, "floor": phase_floor}


def run_phase(name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", name]
    command += ["--lots", str(args.lots), "--lines", str(args.lines), "--firms", str(args.firms)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def best_of(name: str, args: argparse.Namespace) -> dict[str, Any]:
    runs = [run_phase(name, args) for _ in range(args.repeat)]
    return min(runs, key=lambda run: run["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lots", type=int, default=1_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--firms", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase; the best is kept")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.phase:
        print(json.dumps(PHASES[args.phase](args), default=str))
        return
    built = run_phase("build", args)
    ours = best_of("ours", args)
    floor = best_of("floor", args)
    ratio = ours["seconds"] / floor["seconds"]
    print(f"tender              {args.lots:,} lots, {args.lines:,} lines; {built['firms']:,} firms")
    print(f"packages            {ours['packages']:,} ({ours['flagged']} flagged)")
    print(f"candidates stored   {ours['candidates']:,}; assigned {ours['assigned']:,}")
    print(f"ours: split         {ours['split_s']:.2f} s")
    steps = ours["solver"]
    print(f"ours: match         {ours['match_s']:.2f} s   (candidates, scores, explanations, solver, storage)")
    print(
        f"  of which          load {steps['load_s']:.2f} s, score {steps['score_s']:.2f} s, "
        f"solve {steps['solve_s']:.2f} s, save {steps['save_s']:.2f} s"
    )
    print(f"solver              {steps['status']}; {'; '.join(steps.get('notes') or []) or 'every component exact'}")
    print(f"ours: total         {ours['seconds']:.2f} s   peak {ours['peak_mb']:.0f} MB")
    print(f"floor: bare query   {floor['query_s']:.3f} s   ({floor['rows']:,} candidate rows)")
    print(f"floor: bare solver  {floor['solver_s']:.3f} s   (scipy.optimize.milp / HiGHS)")
    print(f"ratio               {ratio:.2f}  (ours / floor)")
    summary = {
        "lots": args.lots,
        "packages": ours["packages"],
        "firms": built["firms"],
        "ours_s": round(ours["seconds"], 3),
        "floor_s": round(floor["seconds"], 3),
        "ratio": round(ratio, 2),
        "split_s": round(ours["split_s"], 3),
        "match_s": round(ours["match_s"], 3),
        "query_s": round(floor["query_s"], 3),
        "solver_s": round(floor["solver_s"], 3),
        "solver_status": ours["solver"]["status"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
