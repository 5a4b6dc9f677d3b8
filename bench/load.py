"""Load test: 100 users on gunicorn + two Celery workers + PostgreSQL + Redis, an import and an offer build.

    python bench/load.py [--users 100] [--duration 180] [--spawn-rate 2] [--think 2 8] [--reuse]

bench/stack.py builds a fresh database (demo + bench/load_data.py) and starts the stack; Locust 2.47 runs
bench/locustfile.py headless against it: bid managers, partners (answering their invitations with real form
POSTs), finance, and at the same time the upload of a 100,000-line price schedule (its import job polled
until it ends) and the freeze of a 10,000-line group offer (its documents rendered by the workers, polled).
After the run the script waits for both jobs to end and checks the database: every answer (accept, decline)
a partner saw saved is there, and no other but those still in flight when the run stopped.

Users arrive at --spawn-rate per second and log in (argon2id: each login costs a core for a moment, by
design); the steady state starts once every user is logged in, and the two jobs start --job-delay seconds
later. Targets, read on the steady state: p95 under 500 ms for pages (GET) and under 1 s for writes (POST) of
the interactive users (bid managers, partners, finance), no failed request in the whole run, both background
jobs succeeded, every answer kept. The jobs' own requests (the 3.7 MB upload, the freeze of 10,000 lines, the
status polls) are reported on their own line, "jobs"; the ramp-up (the logins) on its own line too.
The pages are opened a few times before the run (each gunicorn process compiles its templates on first use),
then each alone, one request at a time: the floor the loaded figures compare with. The CPU used by each part
of the machine during the steady state is printed too: on a shared machine, other work takes cores from the
stack, and every figure with them.
Prints a table per class; writes var/bench/load.json (figures) and keeps var/bench/load/run/ (every sample).
--reuse starts on the database of the last build (faster while developing; its invitations and its offer
are then already partly used, so the figures are not the reference ones).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import BIN, DATABASE, LOGS, ROOT, WEB_THREADS, WEB_WORKERS, Browser, Stack, running_stack

RUN = LOGS / "run"
SUMMARY = ROOT / "var" / "bench" / "load.json"
INTERACTIVE = ("bid_manager", "partner", "finance")
PAGE_TARGET_MS = 500
WRITE_TARGET_MS = 1000


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or under it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def figures(samples: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(samples)
    times = [row["ms"] for row in rows]
    return {
        "requests": len(rows),
        "failures": sum(row["failed"] for row in rows),
        "p50_ms": round(percentile(times, 0.50)),
        "p95_ms": round(percentile(times, 0.95)),
        "p99_ms": round(percentile(times, 0.99)),
        "max_ms": round(max(times, default=0)),
    }


def warm_up(url: str, data: dict[str, Any]) -> tuple[float, dict[str, int]]:
    """Each gunicorn process compiles a template and fills its caches on the first request that needs them:
    open every page of the mix a few times first, from several threads so every process sees them (a
    server that has been up for a while is warm; these requests are not counted). Then the floor: each page
    alone, one request at a time, best of three (milliseconds)."""
    tender, offer = data["tender"]["tender"], data["offer"]["tender"]
    pages = {
        data["bid_managers"][-1]: ["/tenders/", f"/tenders/{tender}/", f"/tenders/{tender}/packages/",
                                   f"/tenders/{tender}/match/", f"/tenders/{offer}/offer/", "/partners/", "/imports/",
                                   f"/tenders/{tender}/invitations/"],
        data["partners"][-1]["username"]: ["/invitations/", "/invitations/?status=sent", "/partners/me/",
                                           "/statements/", "/offers/"],
        data["finance"][-1]: ["/finance/", "/finance/contracts/", f"/finance/contracts/{data['ledger']['contract']}/",
                              "/statements/firms/", "/finance/payouts/", "/transparency/"],
    }  # fmt: skip
    started = time.monotonic()
    browsers = []
    for username, paths in pages.items():
        browser = Browser(url)
        browser.login(username, data["password"])
        browsers.append((browser, paths))
    with ThreadPoolExecutor(max_workers=6) as pool:
        jobs = [pool.submit(browser.get, path, timeout=120) for browser, paths in browsers for path in paths * 3]
        for job in jobs:
            job.result()
    warm_s = time.monotonic() - started
    alone: dict[str, int] = {}
    for browser, paths in browsers:
        for path in paths:
            times = []
            for _ in range(3):
                mark = time.perf_counter()
                browser.get(path, timeout=120)
                times.append(time.perf_counter() - mark)
            alone[path] = round(min(times) * 1000)
    return warm_s, alone


def cpu_ticks(database: str) -> dict[int, tuple[str, int]]:
    """CPU time so far of every process (Linux /proc), with the part of the run it belongs to."""
    found: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if "gunicorn" in command:
            group = "gunicorn"
        elif "celery" in command:
            group = "celery workers"
        elif "locust" in command:
            group = "locust"
        elif command.startswith("postgres:") and f" {database} " in command:
            group = "postgresql (this database)"
        else:
            group = "everything else on the machine"
        found[int(entry.name)] = (group, int(fields[11]) + int(fields[12]))
    busy = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    found[-1] = ("machine", sum(busy) - busy[3] - busy[4])  # all but idle and iowait, every core
    return found


def cpu_use(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]], seconds: float) -> dict[str, float]:
    """Cores used on average by each group between two snapshots; "everything else" is what the whole machine
    used (/proc/stat) less the stack's groups, so that it counts the short-lived processes of others too."""
    used: dict[str, float] = defaultdict(float)
    per_second = os.sysconf("SC_CLK_TCK")
    for pid, (group, ticks) in after.items():
        if pid > 0:
            used[group] += (ticks - before.get(pid, (group, 0))[1]) / per_second / seconds
    machine = (after[-1][1] - before[-1][1]) / per_second / seconds
    used["everything else on the machine"] = max(0.0, machine - sum(v for k, v in used.items() if "else" not in k))
    return {group: round(cores, 2) for group, cores in sorted(used.items(), key=lambda item: -item[1])}


def run_locust(url: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any], float]:
    RUN.mkdir(parents=True, exist_ok=True)
    for stale in RUN.iterdir():
        stale.unlink()
    command = [
        str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "-H", url,
        "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.duration}s", "--stop-timeout", "30",
        "--csv", str(RUN / "locust"), "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    env = {
        **os.environ,
        "LOAD_DATA": str(LOGS / "data.json"),
        "LOAD_OUT": str(RUN),
        "LOAD_JOB_DELAY": str(args.job_delay),
        "LOAD_THINK": f"{args.think[0]},{args.think[1]}",
    }
    started = time.monotonic()
    # the machine's CPU from the end of the spawning to the end of the run (Locust still running): who used the
    # cores; other work on a shared machine takes them from the stack, and every figure with them
    snapshots: list[tuple[float, dict[int, tuple[str, int]]]] = []
    timers = [
        threading.Timer(moment, lambda: snapshots.append((time.monotonic(), cpu_ticks(DATABASE))))
        for moment in (args.users / args.spawn_rate, max(args.users / args.spawn_rate + 1, args.duration - 2))
    ]
    for timer in timers:
        timer.start()
    with (LOGS / "locust.log").open("w") as log:
        subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    for timer in timers:
        timer.cancel()
    elapsed = time.monotonic() - started
    cpu = {}
    if len(snapshots) == 2:
        (first, before), (last, after) = snapshots
        cpu = cpu_use(before, after, last - first)
    if not (RUN / "samples.jsonl").exists():
        raise SystemExit(f"Locust wrote no samples: see {LOGS / 'locust.log'}")
    samples = [json.loads(line) for line in (RUN / "samples.jsonl").read_text().splitlines()]
    jobs = json.loads((RUN / "jobs.json").read_text())
    jobs["cpu_cores"] = cpu
    return samples, jobs, elapsed


def wait_for_jobs(data: dict[str, Any], jobs: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The import and the rendering as the database has them, once both ended (or `timeout` passed)."""
    from bids.models import ImportJob, JobStatus
    from bids.offer_models import OfferDocument, OfferVersion
    from consortium.models import AuditEvent

    ended = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.NEEDS_INPUT}
    deadline = time.monotonic() + timeout
    job_id = jobs.get("import", {}).get("job")
    version_id = data["offer"]["version"]
    while True:
        job = ImportJob.objects.filter(pk=job_id).first() if job_id else None
        version = OfferVersion.objects.get(pk=version_id)
        done = (job is None or job.status in ended) and version.render_status in ended | {""}
        if done or time.monotonic() > deadline:
            break
        time.sleep(2)
    result: dict[str, Any] = {}
    if job is not None:
        result["import"] = {
            "status": job.status,
            "lines": (job.counts or {}).get("lines"),
            "tenders": (job.counts or {}).get("tenders"),
            "attempts": job.attempts,
            "queued_s": seconds(job.created_at, job.started_at),
            "run_s": seconds(job.started_at, job.finished_at),
            "total_s": seconds(job.created_at, job.finished_at),
            "upload_s": jobs["import"].get("upload_s"),
            "errors": job.errors[:3],
        }
    rendered = AuditEvent.objects.filter(
        action="offer.rendered", object_type__icontains="offerversion", object_id=str(version_id)
    ).first()
    result["offer"] = {
        "status": version.status,
        "render_status": version.render_status,
        "lines": data["offer"]["lines"],
        "documents": OfferDocument.objects.filter(version=version).count(),
        "freeze_s": jobs.get("offer", {}).get("freeze_s"),
        "render_s": seconds(version.frozen_at, rendered.at) if rendered and version.frozen_at else None,
        "errors": version.render_errors[:3],
    }
    return result


def seconds(start: Any, end: Any) -> float | None:
    return round((end - start).total_seconds(), 1) if start and end else None


def answers_in_db(data: dict[str, Any], since: Any) -> dict[str, set[int]]:
    """The invitations of the load tender answered since `since`, by answer, as the database has them."""
    from bids.models import Invitation, InvitationStatus

    answered = Invitation.objects.filter(tender_id=data["tender"]["tender"], answered_at__gte=since)
    return {
        action: set(answered.filter(status=status).values_list("pk", flat=True))
        for action, status in (("accept", InvitationStatus.ACCEPTED), ("decline", InvitationStatus.DECLINED))
    }


def answers_kept(sent: list[dict[str, Any]], saved: dict[str, set[int]]) -> dict[str, Any]:
    """Every answer a partner saw saved (302) is in the database, and the database holds no other answer but
    those still in flight when the run stopped (sent, never answered)."""
    result: dict[str, Any] = {}
    ok = True
    for action in ("accept", "decline"):
        seen = {row["invitation"] for row in sent if row["action"] == action and row.get("saved")}
        in_flight = {row["invitation"] for row in sent if row["action"] == action and not row["answered"]}
        missing, unexplained = seen - saved[action], saved[action] - seen - in_flight
        ok = ok and not missing and not unexplained
        result[action] = {
            "seen_saved": len(seen),
            "in_database": len(saved[action]),
            "in_flight_at_stop": len(in_flight),
            "missing": sorted(missing)[:10],
            "unexplained": sorted(unexplained)[:10],
        }
    return {**result, "ok": ok}


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    by_class: dict[str, dict[str, Any]] = {}
    for name in sorted({row["class"] for row in samples}):
        rows = [row for row in samples if row["class"] == name]
        by_class[name] = {
            "pages": figures(row for row in rows if row["method"] == "GET"),
            "writes": figures(row for row in rows if row["method"] == "POST"),
        }
    interactive = [row for row in samples if row["class"] in INTERACTIVE]
    by_name = {
        f"{method} {name}": figures(row for row in samples if (row["method"], row["name"]) == (method, name))
        for method, name in sorted({(row["method"], row["name"]) for row in samples})
    }
    failures: dict[str, int] = defaultdict(int)
    for row in samples:
        if row["failed"]:
            failures[f"{row['method']} {row['name']}: {row['error'][:100]}"] += 1
    return {
        "classes": by_class,
        "pages": figures(row for row in interactive if row["method"] == "GET"),
        "writes": figures(row for row in interactive if row["method"] == "POST"),
        "requests": by_name,
        "failures": dict(failures),
    }


def windows(samples: list[dict[str, Any]], steady_from: float | None) -> dict[str, Any]:
    """The steady state (every user logged in) on which the targets are read, the ramp-up (the logins), all."""
    cut = steady_from or 0.0
    return {
        "steady": summarise([row for row in samples if row["at"] >= cut]),
        "ramp_up": summarise([row for row in samples if row["at"] < cut]),
        "all": summarise(samples),
    }


def print_table(result: dict[str, Any], args: argparse.Namespace, elapsed: float) -> None:
    steady, ramp = result["steady"], result["ramp_up"]
    total = sum(row["requests"] for row in result["all"]["requests"].values())
    web = f"gunicorn {args.web_workers} x {args.web_threads} threads"
    print(f"load: {args.users} users ({args.spawn_rate}/s), {args.duration} s; {web}, 2 Celery workers; "
          f"{total:,} requests ({total / elapsed:.0f}/s)")  # fmt: skip
    print(f"steady state (every user in, {result['steady_s']:.0f} s):")
    print(f"  {'class':<12} {'kind':<7} {'requests':>8} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}  (ms)")
    rows = [(name, kind, item[kind]) for name, item in steady["classes"].items() for kind in ("pages", "writes")]
    rows += [("interactive", "pages", steady["pages"]), ("interactive", "writes", steady["writes"])]
    for name, kind, row in rows:
        if row["requests"]:
            print(f"  {name:<12} {kind:<7} {row['requests']:>8,} {row['failures']:>5} {row['p50_ms']:>6} "
                  f"{row['p95_ms']:>6} {row['p99_ms']:>6} {row['max_ms']:>7}")  # fmt: skip
    slowest = sorted(steady["requests"].items(), key=lambda item: -item[1]["p95_ms"])[:8]
    print("  slowest (p95): " + "; ".join(f"{name} {row['p95_ms']} ms" for name, row in slowest))
    login = ramp["requests"].get("POST login", {})
    print(f"ramp-up: pages p95 {ramp['pages']['p95_ms']} ms, writes p95 {ramp['writes']['p95_ms']} ms; "
          f"logins {login.get('requests', 0)}, p50 {login.get('p50_ms', 0)} ms, p95 {login.get('p95_ms', 0)} ms "
          f"(argon2id: each costs about 100 MiB and a core for a moment, by design)")  # fmt: skip
    cpu = ", ".join(f"{group} {cores}" for group, cores in result["cpu_cores_steady"].items())
    print(f"cores used in the steady state (of {os.cpu_count()}): {cpu}")
    heavy = sorted(result["alone_ms"].items(), key=lambda item: -item[1])[:6]
    print("floor, each page alone (ms): " + "; ".join(f"{path} {ms}" for path, ms in heavy))
    for name, job in result["jobs"].items():
        print(f"job {name:<7} " + ", ".join(f"{key} {value}" for key, value in job.items() if value not in (None, [])))
    for failure, count in result["all"]["failures"].items():
        print(f"failed x{count}: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--duration", type=int, default=180, help="seconds")
    parser.add_argument("--spawn-rate", type=float, default=2, help="users started (and logged in) per second")
    parser.add_argument("--job-delay", type=float, default=10, help="seconds after the last user is in before "
                        "the import and the freeze start")  # fmt: skip
    parser.add_argument("--job-timeout", type=float, default=900, help="seconds to wait for the jobs after the run")
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(2, 8),
        metavar=("MIN", "MAX"),
        help="seconds a user waits between two tasks (uniform), as a person reads a page",
    )
    parser.add_argument("--web-workers", type=int, default=WEB_WORKERS, help="gunicorn processes")
    parser.add_argument("--web-threads", type=int, default=WEB_THREADS, help="threads per gunicorn process")
    parser.add_argument("--worker-nice", type=int, default=10, help="niceness of the Celery workers (0: none)")
    parser.add_argument("--reuse", action="store_true", help="start on the database of the last build")
    args = parser.parse_args()
    with running_stack(
        reuse=args.reuse,
        stack=Stack(worker_nice=args.worker_nice, web_workers=args.web_workers, web_threads=args.web_threads),
    ) as (stack, data):
        stack.setup_django()
        from django.utils import timezone

        warm_s, alone_ms = warm_up(stack.url, data)
        run_started = timezone.now()
        samples, job_requests, elapsed = run_locust(stack.url, args)
        jobs = wait_for_jobs(data, job_requests, args.job_timeout)
        answers = answers_kept(json.loads((RUN / "answers.json").read_text()), answers_in_db(data, run_started))
    steady_from = job_requests.get("steady_from")
    result: dict[str, Any] = windows(samples, steady_from)
    steady = result["steady"]
    result["steady_s"] = max(row["at"] for row in samples) - steady_from if steady_from else elapsed
    targets = {
        "pages_p95_under_500ms": steady["pages"]["p95_ms"] < PAGE_TARGET_MS,
        "writes_p95_under_1s": steady["writes"]["p95_ms"] < WRITE_TARGET_MS,
        "no_failed_request": not result["all"]["failures"],
        "import_succeeded": jobs.get("import", {}).get("status") == "succeeded",
        "offer_rendered": jobs["offer"]["render_status"] == "succeeded",
        "answers_kept": answers["ok"],
    }
    result = {
        "users": args.users,
        "duration_s": args.duration,
        "spawn_rate": args.spawn_rate,
        "think_s": list(args.think),
        "cores": os.cpu_count(),
        "web": {"workers": args.web_workers, "threads": args.web_threads, "server": "gunicorn gthread"},
        "celery_workers": {"processes": 2, "pool": "solo", "nice": args.worker_nice},
        "warm_up_s": round(warm_s, 1),
        "alone_ms": alone_ms,
        "cpu_cores_steady": job_requests.get("cpu_cores", {}),
        "data": {key: data[key] for key in ("tender", "offer", "ledger", "schedule", "setup_s")},
        **result,
        "jobs": jobs,
        "answers": answers,
        "targets": targets,
        "command": "python bench/load.py " + " ".join(sys.argv[1:]),
    }
    print_table(result, args, elapsed)
    print(f"answers: {answers}")
    print("targets: " + ", ".join(f"{name} {'OK' if ok else 'MISSED'}" for name, ok in targets.items()))
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(result, indent=1, default=str))
    print(f"written: {SUMMARY}")


if __name__ == "__main__":
    main()
