"""A production-like Guichet on loopback: PostgreSQL, Redis, gunicorn and two Celery workers.

    python bench/stack.py up [--reuse]     build (or reuse) the database, start everything, wait for Ctrl-C
    python bench/stack.py build            only build the database and its data, then stop

Used by bench/load.py, bench/storm.py and bench/faults.py. What runs:
  database  a fresh PostgreSQL database (default guichet_load on 127.0.0.1:5432), dropped and created, then
            `manage.py migrate`, `manage.py load_demo` and the load data of bench/load_data.py
  web       gunicorn 27 serving consortium.wsgi with the production settings (consortium.production: DEBUG
            off, a real SECRET_KEY, secure cookies, HSTS, SSL redirect); static files collected into a
            throwaway folder and served by whitenoise
  workers   two `celery -A consortium worker` processes with their own node names, on Redis db 13
  logs      var/bench/load/: setup.log, gunicorn.log, access.log, worker-1.log, worker-2.log

Loopback is plain HTTP, as between a TLS reverse proxy and gunicorn in production (docs/DEPLOY.md): the
clients of the benchmarks send what that proxy adds, `X-Forwarded-Proto: https`, so the production settings
run unchanged (SECURE_SSL_REDIRECT stays on; the secure cookies are sent back over loopback).

Sizing for a 2-core machine, docs/DEPLOY.md's rule (2 x cores processes, 4 threads each): 4 gunicorn
gthread processes x 4 threads. Guichet's pages are Python work under the GIL (a process uses one core at
most, and a heavy page, the invitation dashboard of a 1,200-package tender takes about 0.8 s of CPU, holds
back every other thread of its process); two processes per core let the kernel share the cores instead of
the GIL, and spread the clients' keep-alive connections (which stay with the process that accepted them)
over four processes instead of two. 16 request slots in all, so at most 16 PostgreSQL connections for the
web; about 230 MB of memory per process. (`--web-workers 2 --web-threads 8` in bench/load.py compares.)
Each Celery worker runs the solo pool: one process that runs one task at a time, so the two workers run two
jobs at once (the import and the offer rendering of the load test) and a SIGKILL in the fault drill kills
exactly the process running the task. The workers run at `nice 10` (Stack(worker_nice=...)): on one machine
the background jobs yield the cores to the pages, as on worker nodes of their own in production.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "var" / "bench" / "load"
BIN = Path(sys.executable).parent
ADMIN_URL = os.environ.get("LOAD_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("LOAD_REDIS", "redis://127.0.0.1:6379/13")
DATABASE = "guichet_load"
WEB_WORKERS = 4
WEB_THREADS = 4
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Stack:
    """The processes of one stack; `start()` then `stop()`, or `with Stack(...) as stack:`."""

    def __init__(
        self,
        *,
        admin_url: str = ADMIN_URL,
        database: str = DATABASE,
        redis_url: str = REDIS_URL,
        port: int | None = None,
        worker_nice: int = 10,
        web_workers: int = WEB_WORKERS,
        web_threads: int = WEB_THREADS,
        name: str = "load",
    ) -> None:
        self.web_workers, self.web_threads = web_workers, web_threads
        self.home = LOGS if name == "load" else LOGS / name  # logs, data and files of this stack
        self.admin_url = admin_url
        self.database = database
        self.worker_nice = worker_nice
        self.redis_url = redis_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home.mkdir(parents=True, exist_ok=True)
        self.folder = self.home / "stack"  # static files, uploads, rendered documents: thrown away by build()
        self.data_file = self.home / "data.json"
        self.web: subprocess.Popen[bytes] | None = None
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        admin = urlparse(admin_url)
        self.database_url = admin._replace(path=f"/{database}").geturl()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "consortium.production",
            "SECRET_KEY": self._secret_key(),
            "DEBUG": "0",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": redis_url,
            "GUICHET_VAR_DIR": str(self.folder / "var"),
            "GUICHET_MEDIA_ROOT": str(self.folder / "media"),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "GUICHET_BASE_URL": self.url,
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }

    def _secret_key(self) -> str:
        """One key per stack folder, kept so that a reused stack keeps its sessions valid."""
        path = self.home / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(64))
            path.chmod(0o600)
        return path.read_text().strip()

    # --- the database and its data ---------------------------------------------------------------------

    def build(self, **data_options: Any) -> dict[str, Any]:
        """A fresh database with the demo and the load data; returns what bench/load_data.py built."""
        import psycopg
        import redis

        shutil.rmtree(self.folder, ignore_errors=True)
        (self.folder / "var").mkdir(parents=True)
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{self.database}"')
        redis.Redis.from_url(self.redis_url).flushdb()
        # The setup sends its invitation e-mails at once, in memory: the run starts with an empty queue.
        setup_env = {"CELERY_TASK_ALWAYS_EAGER": "1", "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
        started = time.perf_counter()
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")
        self.manage("load_demo", extra_env=setup_env)
        demo_s = time.perf_counter() - started
        options = [f"--{key.replace('_', '-')}={value}" for key, value in data_options.items()]
        self.run_logged([sys.executable, str(ROOT / "bench" / "load_data.py"), "--out", str(self.data_file), *options],
                        extra_env=setup_env)  # fmt: skip
        redis.Redis.from_url(self.redis_url).flushdb()
        data: dict[str, Any] = json.loads(self.data_file.read_text())
        data["setup_s"] = {"demo": round(demo_s, 1), **data.get("setup_s", {})}
        self.data_file.write_text(json.dumps(data, indent=1))
        return data

    def data(self) -> dict[str, Any]:
        if not self.data_file.exists():
            raise SystemExit(f"{self.data_file} is missing: build the stack first (without --reuse)")
        result: dict[str, Any] = json.loads(self.data_file.read_text())
        return result

    def manage(self, *args: str, extra_env: dict[str, str] | None = None) -> None:
        self.run_logged([sys.executable, str(ROOT / "manage.py"), *args], extra_env=extra_env)

    def run_logged(self, command: list[str], *, extra_env: dict[str, str] | None = None) -> None:
        with (self.home / "setup.log").open("a") as log:
            log.write(f"\n$ {' '.join(command)}\n")
            log.flush()
            done = subprocess.run(command, cwd=ROOT, env={**self.env, **(extra_env or {})}, stdout=log, stderr=log)
        if done.returncode:
            raise SystemExit(f"{' '.join(command[1:3])} failed (exit {done.returncode}): see {self.home / 'setup.log'}")

    # --- the processes ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.start_web()
        for number in (1, 2):
            self.start_worker(number)
        for number in (1, 2):
            self.wait_for_worker(number)

    def start_web(self) -> None:
        command = [
            str(BIN / "gunicorn"), "consortium.wsgi",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.web_workers), "--threads", str(self.web_threads), "--worker-class", "gthread",
            "--timeout", "60", "--graceful-timeout", "30",
            # behind a proxy that keeps its upstream connections open, as the benchmark clients do
            "--keep-alive", "30", "--backlog", "256",
            "--access-logfile", str(self.home / "access.log"),
            "--access-logformat", '%(t)s %(p)s "%(r)s" %(s)s %(b)s %(M)sms',
            "--error-logfile", str(self.home / "gunicorn.log"), "--capture-output",
        ]  # fmt: skip
        self.web = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise SystemExit(f"gunicorn exited (code {self.web.returncode}): see {self.home / 'gunicorn.log'}")
            with contextlib.suppress(requests.RequestException):
                if Browser(self.url).session.get(f"{self.url}/accounts/login/", timeout=5).status_code == 200:
                    return
            time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer within 60 s: see {self.home / 'gunicorn.log'}")

    def start_worker(self, number: int) -> subprocess.Popen[bytes]:
        log_path = self.home / f"worker-{number}.log"
        command = [
            "nice", "-n", str(self.worker_nice),
            str(BIN / "celery"), "-A", "consortium", "worker", "--pool", "solo", "--loglevel", "INFO",
            "-n", f"load{number}@%h",
        ]  # fmt: skip
        with log_path.open("a") as log:
            log.write(f"\n--- started {time.strftime('%H:%M:%S')}\n")
            log.flush()
            worker = subprocess.Popen(
                command, cwd=ROOT, env={**self.env, "LOG_LEVEL": "INFO"}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.workers[number] = worker
        return worker

    def wait_for_worker(self, number: int, timeout: float = 60) -> None:
        log_path = self.home / f"worker-{number}.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            if " ready." in text.rsplit("--- started", 1)[-1]:
                return
            if self.workers[number].poll() is not None:
                raise SystemExit(f"worker {number} exited: see {log_path}")
            time.sleep(0.3)
        raise SystemExit(f"worker {number} was not ready within {timeout:.0f} s: see {log_path}")

    def kill_worker(self, number: int) -> None:
        """SIGKILL: no clean shutdown, no acknowledgement, as a crash or the OOM killer would leave it."""
        worker = self.workers.pop(number)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)

    def stop(self) -> None:
        processes = [process for process in [self.web, *self.workers.values()] if process is not None]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 30
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.web = None
        self.workers = {}

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- reading the database from a benchmark ---------------------------------------------------------

    def setup_django(self) -> None:
        """Configure Django in this process on the stack's database (to check what the runs wrote)."""
        for key in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "GUICHET_VAR_DIR",
                    "GUICHET_MEDIA_ROOT", "ALLOWED_HOSTS", "DEBUG", "LOG_LEVEL"):  # fmt: skip
            os.environ[key] = self.env[key]
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()


class Browser:
    """A keep-alive session speaking to gunicorn as the TLS reverse proxy would (requests, for threads)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers.update(proxy_headers(url))
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        response = self.session.get(self.url + path, allow_redirects=False, timeout=kwargs.pop("timeout", 30), **kwargs)
        self._cookies_over_loopback()
        token = csrf_token(response.text) if "html" in response.headers.get("content-type", "") else ""
        self.csrf = token or self.csrf
        return response

    def post(self, path: str, data: dict[str, Any], **kwargs: Any) -> requests.Response:
        response = self.session.post(
            self.url + path,
            data={"csrfmiddlewaretoken": self.csrf, **data},
            allow_redirects=False,
            timeout=kwargs.pop("timeout", 30),
            **kwargs,
        )
        self._cookies_over_loopback()
        return response

    def _cookies_over_loopback(self) -> None:
        """Send the secure cookies back over loopback HTTP, as a browser does over the proxy's HTTPS."""
        for cookie in self.session.cookies:
            cookie.secure = False

    def login(self, username: str, password: str) -> None:
        self.get("/accounts/login/")
        answer = self.post("/accounts/login/", {"username": username, "password": password})
        if answer.status_code != 302:
            raise SystemExit(f"login of {username} refused (HTTP {answer.status_code})")
        self.get("/")  # a page after login: its form token goes with the rotated CSRF secret


def proxy_headers(url: str) -> dict[str, str]:
    """What the TLS reverse proxy and a browser add: the scheme, and the origin of a same-site form."""
    origin = "https://" + urlparse(url).netloc
    return {"X-Forwarded-Proto": "https", "Origin": origin, "Referer": origin + "/"}


def csrf_token(page: str) -> str:
    found = CSRF_INPUT.search(page)
    return html.unescape(found.group(1)) if found else ""


@contextlib.contextmanager
def running_stack(
    *, reuse: bool, stack: Stack | None = None, **data_options: Any
) -> Iterator[tuple[Stack, dict[str, Any]]]:
    """A started stack and its data: built afresh, or (reuse) the database of the last build.

    Its processes run in sessions of their own (a Ctrl-C reaches this script only): SIGTERM and SIGINT stop
    them here, on the way out."""
    stack = stack or Stack()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    data = stack.data() if reuse else stack.build(**data_options)
    try:
        stack.start()
        yield stack, data
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "build"])
    parser.add_argument("--reuse", action="store_true", help="keep the database of the last build")
    args = parser.parse_args()
    if args.action == "build":
        started = time.perf_counter()
        Stack().build()
        print(f"built in {time.perf_counter() - started:.0f} s; data: {LOGS / 'data.json'}")
        return
    with running_stack(reuse=args.reuse) as (stack, data):
        print(f"Guichet on {stack.url} (send X-Forwarded-Proto: https); password of the load accounts: "
              f"{data['password']}; logs in {LOGS}. Ctrl-C stops it.")  # fmt: skip
        with contextlib.suppress(KeyboardInterrupt):
            while all(process.poll() is None for process in [stack.web, *stack.workers.values()]):
                time.sleep(1)


if __name__ == "__main__":
    main()
