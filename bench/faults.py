"""Fault drills on the stack of bench/stack.py: a PostgreSQL restart, a worker killed mid-import, Redis down.

    python bench/faults.py --private [--part a b c]     private PostgreSQL cluster and Redis server: safe anytime
    python bench/faults.py [--part a b c]               the SHARED PostgreSQL and Redis: only when nobody else uses them

  a  PostgreSQL restart (pg_ctlcluster ... restart, or pg_ctl restart of the private cluster) while partner users
     keep reading pages and answering invitations (accept with prices, decline): the answers are counted by status
     before, during and after the restart. Expected: no 500 once PostgreSQL is back, and every answer a user saw
     succeed (302) is in the database.
  b  one of the two Celery workers killed with SIGKILL in the middle of the import of the 100,000-line price
     schedule, then `manage.py sweep_jobs --stalled-after 5` once the job's heartbeat has stopped for 5 s.
     Expected: no tender meanwhile (the import's one transaction died with its connection), then the job
     succeeded on the other worker with one tender and exactly 100,000 lines; the time to recover is printed.
  c  Redis stopped (shutdown nosave) while a price schedule is uploaded on the import page, then restarted
     (redis-server --daemonize yes --bind 127.0.0.1 --port ... --save '' --appendonly no) and
     `manage.py sweep_jobs` run. Expected: the page answers in seconds, the job is kept queued ("queue
     unreachable"), then sent once Redis is back and succeeds.

--private (or --dry-run) touches no shared service: the stack then runs on a PostgreSQL cluster created for the
drill (initdb as the postgres user, in /tmp, on a free port) and on a redis-server of its own, and those are
the ones restarted and stopped. Without it, (a) restarts the machine's PostgreSQL cluster and (c) shuts the
machine's Redis down (every Redis database is emptied): run it only when the lead says so.
Prints each drill; writes var/bench/faults.json. Logs: var/bench/load/faults/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import LOGS, ROOT, Browser, Stack, free_port, running_stack

SUMMARY = ROOT / "var" / "bench" / "faults.json"
HOME = LOGS / "faults"
PG_VERSION = sorted(os.listdir("/etc/postgresql"))[-1] if Path("/etc/postgresql").is_dir() else "15"
PG_BIN = Path("/usr/lib/postgresql") / PG_VERSION / "bin"
VERSION = re.compile(r'name="version" value="(\d+)"')
PRICE = re.compile(r'name="price_(\d+)"')
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# small enough for a quick drill, still the realistic shape: the fault drills need accounts and invitations
DATA = {"lots": 150, "lines": 4_500, "offer_lots": 10, "offer_lines": 500, "offer_firms": 5, "payments": 200}


# --- the services: the machine's shared ones, or private ones for the drill --------------------------------


class Services:
    """Where PostgreSQL and Redis are, and how to restart or stop them."""

    def __init__(self, *, private: bool) -> None:
        self.private = private
        self.pg_dir: Path | None = None
        self.redis_dir: Path | None = None
        self.pg_port = 5432
        self.redis_port = 6379

    def start(self) -> None:
        if not self.private:
            return
        self.pg_port, self.redis_port = free_port(), free_port()
        self.pg_dir = Path(tempfile.mkdtemp(prefix="guichet-faults-pg-", dir="/tmp"))
        shutil.chown(self.pg_dir, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(self.pg_dir / "data"), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True)  # fmt: skip
        self._pg_ctl("start")
        self.redis_dir = Path(tempfile.mkdtemp(prefix="guichet-faults-redis-", dir="/tmp"))
        self.start_redis()

    def stop(self) -> None:
        if not self.private:
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            self._pg_ctl("stop")
        self.stop_redis()
        for folder in (self.pg_dir, self.redis_dir):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/postgres"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/{13 if not self.private else 0}"

    def _pg_ctl(self, action: str) -> None:
        assert self.pg_dir is not None
        options = f"-p {self.pg_port} -c listen_addresses=127.0.0.1 -k {self.pg_dir}"
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.pg_dir / "data"), "-w",
             "-m", "fast", "-l", str(self.pg_dir / "postgres.log"), "-o", options, action],
            check=True, capture_output=True,
        )  # fmt: skip

    def restart_postgres(self) -> None:
        if self.private:
            self._pg_ctl("restart")
        else:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", "restart"], check=True)

    def stop_redis(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "shutdown", "nosave"], check=False,
                       capture_output=True)  # fmt: skip

    def start_redis(self) -> None:
        command = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(self.redis_port),
                   "--save", "", "--appendonly", "no"]  # fmt: skip
        if self.private:
            assert self.redis_dir is not None
            command += ["--dir", str(self.redis_dir), "--pidfile", str(self.redis_dir / "redis.pid")]
        subprocess.run(command, check=True, capture_output=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True, text=True)
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise SystemExit("redis-server did not answer within 10 s")


# --- helpers ------------------------------------------------------------------------------------------------


def fresh_connections() -> None:
    from django.db import connections

    connections.close_all()


def upload(stack: Stack, data: dict[str, Any], path: Path) -> tuple[int, float, int | None, str]:
    """A bid manager uploads `path` on the import page: status, seconds, job id, the messages shown."""
    browser = Browser(stack.url)
    browser.login(data["bid_managers"][1], data["password"])
    browser.get("/imports/new/")
    started = time.perf_counter()
    answer = browser.session.post(
        stack.url + "/imports/new/",
        data={"csrfmiddlewaretoken": browser.csrf, "format": "auto"},
        files={"file": (path.name, path.read_bytes(), XLSX)},
        allow_redirects=False,
        timeout=120,
    )
    seconds = time.perf_counter() - started
    found = re.search(r"/imports/(\d+)/$", answer.headers.get("Location", ""))
    return answer.status_code, seconds, int(found.group(1)) if found else None, answer.text[:200]


def sweep(stack: Stack, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "sweep_jobs", *args], cwd=ROOT, env=stack.env,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"manage.py sweep_jobs {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def wait_for(condition: Any, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh_connections()
        if condition():
            return True
        time.sleep(step)
    return False


# --- (a) PostgreSQL restart ----------------------------------------------------------------------------------


class Answering(threading.Thread):
    """A partner user who keeps reading its invitations and answering them; every answer is logged."""

    def __init__(self, url: str, data: dict[str, Any], partner: dict[str, Any], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.data, self.partner, self.stop = url, data, partner, stop
        self.log: list[dict[str, Any]] = []

    def call(self, browser: Browser, method: str, path: str, form: dict[str, Any] | None = None) -> Any:
        started = time.time()
        try:
            answer = browser.post(path, form or {}) if method == "POST" else browser.get(path)
            status, text = answer.status_code, answer.text
        except Exception as error:  # no answer at all (connection refused, timeout)
            status, text = 0, str(error)
        self.log.append({"at": started, "method": method, "path": path, "status": status,
                         "ms": round((time.time() - started) * 1000)})  # fmt: skip
        return status, text

    def run(self) -> None:
        browser = Browser(self.url)
        browser.login(self.partner["username"], self.data["password"])
        rng = random.Random(self.partner["username"])
        while not self.stop.is_set():
            status, page = self.call(browser, "GET", "/invitations/?status=sent")
            waiting = [int(pk) for pk in re.findall(r'href="/invitations/(\d+)/"', page or "")]
            waiting = [pk for pk in waiting if pk % 2 == self.partner["parity"]] if status == 200 else []
            if not waiting:
                time.sleep(0.5)
                continue
            pk = waiting[0]
            status, page = self.call(browser, "GET", f"/invitations/{pk}/")
            version, lines = VERSION.search(page or ""), PRICE.findall(page or "")
            if status != 200 or version is None or not lines:
                continue
            if rng.random() < 0.75:
                form = {"version": version.group(1), **{f"price_{line}": "812,40" for line in lines}}
                status, _ = self.call(browser, "POST", f"/invitations/{pk}/accept/", form)
            else:
                form = {"version": version.group(1), "reason": "Exercice de panne : charge complète."}
                status, _ = self.call(browser, "POST", f"/invitations/{pk}/decline/", form)
            self.log[-1]["invitation"] = pk
            time.sleep(0.2)


def drill_postgres(stack: Stack, data: dict[str, Any], services: Services, *, clients: int) -> dict[str, Any]:
    from bids.models import Invitation, InvitationPrice, InvitationStatus

    stop = threading.Event()
    users = sorted(data["partners"], key=lambda p: (p["parity"], p["username"]))[:clients]
    threads = [Answering(stack.url, data, partner, stop) for partner in users]
    for thread in threads:
        thread.start()
    time.sleep(8)
    restart_at = time.time()
    services.restart_postgres()
    back_at = time.time()
    time.sleep(20)
    stop.set()
    for thread in threads:
        thread.join(60)
    log = [row for thread in threads for row in thread.log]

    def phase(row: dict[str, Any]) -> str:
        """before: answered before the restart began; after: sent once PostgreSQL was back; else during."""
        if row["at"] + row["ms"] / 1000 < restart_at:
            return "before"
        return "after" if row["at"] >= back_at else "during"

    counts: dict[str, Counter[str]] = {name: Counter() for name in ("before", "during", "after")}
    for row in log:
        counts[phase(row)][f"{row['method']} {row['status']}"] += 1
    fresh_connections()
    lost, kept, unknown = [], 0, Counter()
    for row in log:
        if row["method"] != "POST":
            continue
        accepted = row["path"].endswith("/accept/")
        state = Invitation.objects.filter(pk=row["invitation"]).values_list("status", flat=True).first()
        expected = InvitationStatus.ACCEPTED if accepted else InvitationStatus.DECLINED
        if row["status"] == 302:
            prices_ok = not accepted or InvitationPrice.objects.filter(invitation_id=row["invitation"]).exists()
            if state == expected and prices_ok:
                kept += 1
            else:
                lost.append(row)
        elif row["status"] >= 500 or row["status"] == 0:
            unknown["saved anyway" if state == expected else "not saved"] += 1
    after_errors = sum(1 for row in log if phase(row) == "after" and (row["status"] >= 500 or row["status"] == 0))
    return {
        "restart_s": round(back_at - restart_at, 1),
        "clients": clients,
        "answers": {name: dict(sorted(counter.items())) for name, counter in counts.items()},
        "writes_seen_succeeding": kept + len(lost),
        "writes_kept": kept,
        "writes_lost": len(lost),
        "failed_writes_outcome": dict(unknown),
        "errors_after": after_errors,
        "ok": not lost and after_errors == 0 and kept > 0,
    }


# --- (b) worker killed mid-import ----------------------------------------------------------------------------


def worker_with_task(stack: Stack, task: str) -> int | None:
    """The worker whose log says it received `task` last."""
    for number in stack.workers:
        log = (stack.home / f"worker-{number}.log").read_text(errors="replace").rsplit("--- started", 1)[-1]
        if f"{task}[" in log:
            return number
    return None


def drill_worker(stack: Stack, data: dict[str, Any]) -> dict[str, Any]:
    from bids.models import ImportJob, Line, Tender

    path = Path(data["schedule"]["path"])
    before = set(Tender.objects.values_list("pk", flat=True))
    status, upload_s, job_id, _ = upload(stack, data, path)
    if job_id is None:
        raise SystemExit(f"the import upload was refused (HTTP {status})")

    def halfway() -> bool:
        job = ImportJob.objects.get(pk=job_id)
        return job.status == "running" and (
            job.stage == "saving" or (job.progress_total and job.progress_done * 2 >= job.progress_total)
        )

    if not wait_for(halfway, 300):
        raise SystemExit("the import never reached its middle")
    job = ImportJob.objects.get(pk=job_id)
    at_kill = {"stage": job.stage, "done": job.progress_done, "total": job.progress_total}
    number = worker_with_task(stack, "bids.tasks.run_import")
    if number is None:
        raise SystemExit("no worker log shows the import task")
    killed_at = time.monotonic()
    stack.kill_worker(number)
    # the transaction died with the worker's connection: nothing of the tender may be visible now
    time.sleep(1)
    fresh_connections()
    half_tender = Tender.objects.exclude(pk__in=before).count()
    silent = wait_for(
        lambda: ImportJob.objects.filter(pk=job_id, status="running").exclude(heartbeat_at__gt=_ago(6)).exists(),
        60,
    )
    status_while_dead = ImportJob.objects.get(pk=job_id).status
    swept = sweep(stack, "--stalled-after", "5")
    swept_at = time.monotonic()
    finished = wait_for(lambda: ImportJob.objects.get(pk=job_id).status in {"succeeded", "failed"}, 600, step=1)
    recovered_at = time.monotonic()
    job = ImportJob.objects.get(pk=job_id)
    tenders = list(Tender.objects.exclude(pk__in=before).values_list("pk", flat=True))
    lines = Line.objects.filter(tender_id__in=tenders).count()
    stack.start_worker(number)
    stack.wait_for_worker(number)
    return {
        "upload_s": round(upload_s, 2),
        "killed_worker": number,
        "at_kill": at_kill,
        "tender_rows_right_after_kill": half_tender,
        "heartbeat_stopped": silent,
        "status_while_dead": status_while_dead,
        "sweep": swept,
        "status": job.status,
        "attempts": job.attempts,
        "tenders_created": len(tenders),
        "lines": lines,
        "counts": job.counts,
        "kill_to_sweep_s": round(swept_at - killed_at, 1),
        "sweep_to_done_s": round(recovered_at - swept_at, 1),
        "kill_to_done_s": round(recovered_at - killed_at, 1),
        "ok": finished
        and job.status == "succeeded"
        and half_tender == 0
        and len(tenders) == 1
        and lines == data["schedule"]["lines"],
    }


def _ago(seconds: float) -> Any:
    import datetime as dt

    from django.utils import timezone

    return timezone.now() - dt.timedelta(seconds=seconds)


# --- (c) Redis down during an upload -------------------------------------------------------------------------


def small_schedule() -> Path:
    from bids.schedule_samples import write_support_schedule

    path = ROOT / "var" / "bench" / "schedule-panne-redis-2000.xlsx"
    if not path.exists():
        write_support_schedule(path, lines=2_000, lots=[("1", "Lot 1"), ("2", "Lot 2")], seed=3)
    return path


def drill_redis(stack: Stack, data: dict[str, Any], services: Services) -> dict[str, Any]:
    from bids.models import ImportJob

    path = small_schedule()
    services.stop_redis()
    stopped_at = time.monotonic()
    try:
        status, answer_s, job_id, _ = upload(stack, data, path)
        job = ImportJob.objects.filter(pk=job_id).first() if job_id else None
        while_down = {"status": job.status, "stage": job.stage} if job else None
        page = Browser(stack.url)
        page.login(data["bid_managers"][2], data["password"])
        started = time.perf_counter()
        detail = page.get(f"/imports/{job_id}/") if job_id else None
        detail_s = time.perf_counter() - started
        swept_down = sweep(stack)
        down_for = time.monotonic() - stopped_at
    finally:
        services.start_redis()
    back_at = time.monotonic()
    # the workers reconnect on their own; the sweeper sends what the queue never received
    time.sleep(2)
    swept = sweep(stack)
    done = job_id is not None and wait_for(
        lambda: ImportJob.objects.get(pk=job_id).status in {"succeeded", "failed"}, 300, step=0.5
    )
    job = ImportJob.objects.get(pk=job_id) if job_id else None
    return {
        "upload_status": status,
        "upload_answer_s": round(answer_s, 2),
        "job_while_down": while_down,
        "detail_page_while_down": {"status": detail.status_code if detail else None, "s": round(detail_s, 2)},
        "sweep_while_down": swept_down,
        "redis_down_s": round(down_for, 1),
        "sweep_after": swept,
        "status": job.status if job else None,
        "lines": (job.counts or {}).get("lines") if job else None,
        "back_to_done_s": round(time.monotonic() - back_at, 1),
        "ok": bool(
            status == 302
            and answer_s < 15
            and while_down
            and while_down["status"] == "queued"
            and done
            and job
            and job.status == "succeeded"
        ),
    }


# --- main ---------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def services_for(private: bool) -> Iterator[Services]:
    services = Services(private=private)
    services.start()
    try:
        yield services
    finally:
        services.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", nargs="+", choices=["a", "b", "c"], default=["a", "b", "c"])
    parser.add_argument(
        "--private",
        "--dry-run",
        action="store_true",
        dest="private",
        help="run on a private PostgreSQL cluster and Redis server: no shared service is touched",
    )
    parser.add_argument("--clients", type=int, default=6, help="partner users answering during drill (a)")
    args = parser.parse_args()
    if not args.private and ("a" in args.part or "c" in args.part):
        print("drills (a) and (c) restart the SHARED PostgreSQL / stop the SHARED Redis in 5 s (Ctrl-C to cancel)")
        time.sleep(5)
    results: dict[str, Any] = {"private": args.private}
    with services_for(args.private) as services:
        stack = Stack(
            name="faults",
            database="guichet_load_faults",
            admin_url=services.admin_url,
            redis_url=services.redis_url,
            worker_nice=0,
        )
        with running_stack(reuse=False, stack=stack, **DATA) as (stack, data):
            stack.setup_django()
            if "b" in args.part:
                results["b_worker_killed"] = drill_worker(stack, data)
                print("b  worker killed mid-import:", json.dumps(results["b_worker_killed"], ensure_ascii=False))
            if "c" in args.part:
                results["c_redis_down"] = drill_redis(stack, data, services)
                print("c  Redis down during an upload:", json.dumps(results["c_redis_down"], ensure_ascii=False))
            if "a" in args.part:
                results["a_postgres_restart"] = drill_postgres(stack, data, services, clients=args.clients)
                print("a  PostgreSQL restart:", json.dumps(results["a_postgres_restart"], ensure_ascii=False))
    ok = all(item["ok"] for key, item in results.items() if key != "private")
    results["ok"] = ok
    results["command"] = "python bench/faults.py " + " ".join(sys.argv[1:])
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    print("faults: " + ("OK" if ok else "FAILED") + f"; written: {SUMMARY}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
