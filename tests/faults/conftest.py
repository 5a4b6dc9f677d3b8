"""Jobs of each kind in a given state, a broker that is down or hanging, and a clock for the figures."""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.utils import timezone

from bids.models import ImportJob, JobStatus, MatchRun, Tender
from bids.offer_models import GroupOffer, OfferStatus, OfferVersion
from bids.services import jobs

NOW = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)  # where the frozen clock stands
KIND_NAMES = [kind.name for kind in jobs.KINDS]
KIND_BY_NAME = {kind.name: kind for kind in jobs.KINDS}


def make_job(kind: jobs.JobKind, *, status: str = JobStatus.QUEUED, attempts: int = 0, **fields: Any) -> Any:
    """The smallest row of `kind` in the given state (the rest of its fields as the services leave them)."""
    values = {kind.column("status"): status, kind.column("attempts"): attempts}
    values.update({kind.column(name): value for name, value in fields.items()})
    if kind is jobs.IMPORTS:
        return ImportJob.objects.create(original_name="bpu-2026.csv", **values)
    tender = Tender.objects.create(title="Support des logiciels libres", source_format="eforms")
    if kind is jobs.MATCHES:
        return MatchRun.objects.create(tender=tender, **values)
    offer = GroupOffer.objects.create(tender=tender)
    return OfferVersion.objects.create(
        offer=offer, number=1, mandataire_name="Guichet", status=OfferStatus.FROZEN, frozen_at=timezone.now(), **values
    )


def state(kind: jobs.JobKind, obj: Any) -> dict[str, Any]:
    """The job's life-cycle fields, read back from the database, by their generic names."""
    names = ("status", "stage", "attempts", "heartbeat_at", "errors")
    row = kind.rows().filter(pk=obj.pk).values(*(kind.column(name) for name in names)).get()
    return {name: row[kind.column(name)] for name in names}


@pytest.fixture
def frozen_clock() -> Iterator[Any]:
    """Time stands still unless the test moves it (time-machine): stall limits without sleeping."""
    import time_machine

    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def wait_until(check: Callable[[], Any], *, timeout: float, every: float = 0.1, what: str = "") -> Any:
    """Poll `check` until it returns something true (returned), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or check}")
        time.sleep(every)


def record_figure(name: str, value: float | int | str, **details: Any) -> None:
    """Keep a measured figure (answer time, recovery time...) for docs/RELIABILITY.md, one JSON per line."""
    path = settings.VAR_DIR / "faults-figures.jsonl"
    line = {"figure": name, "value": value, "at": timezone.now().isoformat(), **details}
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    print(f"FIGURE {name} = {value} {details or ''}")


# --- A broker that is down or hanging ----------------------------------------------------------------------


def closed_port() -> int:
    """A local port nobody listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def silent_server() -> Iterator[int]:
    """A local TCP server that accepts every connection and never answers (a hung Redis); yields its port."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for connection in held:
            connection.close()
        server.close()


def _reset_broker_connections() -> None:
    from kombu import pools

    from consortium.celery import app

    pools.reset()  # every connection and producer pool of this process, closed and forgotten
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """This process publishes to `url` until the block ends (the workers keep theirs)."""
    from consortium.celery import app

    saved, saved_env = app.conf.broker_url, os.environ.get("CELERY_BROKER_URL")
    _reset_broker_connections()
    app.conf.broker_url = os.environ["CELERY_BROKER_URL"] = url  # Celery reads the environment first
    try:
        yield
    finally:
        _reset_broker_connections()
        app.conf.broker_url = saved
        if saved_env is None:
            del os.environ["CELERY_BROKER_URL"]
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env


class FreezingProxy:
    """A TCP proxy to the real Redis that can stop answering: the broker hangs under connections already open
    (what a web process sees when Redis stalls between two of its requests)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = threading.Event()
        self.stop = threading.Event()
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.server.settimeout(0.2)
        self.port = int(self.server.getsockname()[1])
        self.sockets: list[socket.socket] = []

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                client = self.server.accept()[0]
            except OSError:
                continue
            self.sockets.append(client)
            if self.frozen.is_set():
                continue  # accepted, never answered
            upstream = socket.create_connection(self.target)
            self.sockets.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self.stop.is_set():
                if not select.select([source], [], [], 0.05)[0]:
                    continue
                data = source.recv(65536)
                if not data:
                    return
                if not self.frozen.is_set():  # frozen: what arrives is swallowed, nothing goes back
                    sink.sendall(data)
        except OSError:
            return

    @contextmanager
    def running(self) -> Iterator[None]:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self.stop.set()
            thread.join(2)
            for sock in self.sockets:
                sock.close()
            self.server.close()


@contextmanager
def broken_broker(how: str) -> Iterator[str]:
    """The broker 'unreachable' (a closed port), 'hanging' (a socket that accepts and never answers), or
    'hanging-after-connected' (the real Redis behind a proxy that stops answering once this process is
    connected and has published)."""
    if how == "unreachable":
        with broker_at(f"redis://127.0.0.1:{closed_port()}/4"):
            yield how
        return
    if how == "hanging":
        with silent_server() as port, broker_at(f"redis://127.0.0.1:{port}/4"):
            yield how
        return
    from bids.tasks import sweep_jobs

    real = urlparse(settings.CELERY_BROKER_URL)
    proxy = FreezingProxy((real.hostname or "127.0.0.1", real.port or 6379))
    with proxy.running(), broker_at(real._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()):
        sweep_jobs.delay()  # a harmless message: the pooled connection is open and has been used
        proxy.frozen.set()
        yield how


# --- Real workers, killed; locks held from outside (PostgreSQL + Redis) ------------------------------------


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start workers on demand (a heartbeat a second); whatever is still running at the end is stopped."""
    from tests.workers import spawn_worker, stop_worker, wait_for_worker

    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, *, ping: bool = True, **env: str) -> subprocess.Popen[bytes]:
        worker = spawn_worker(tmp_path / f"{name}.log", name=name, extra_env={"JOB_HEARTBEAT_SECONDS": "1", **env})
        started.append(worker)
        if ping:  # a solo worker busy with a task answers no ping: skip when a message already waits for it
            wait_for_worker(60)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            stop_worker(worker)


def kill(worker: subprocess.Popen[bytes]) -> float:
    """SIGKILL: no cleanup, no acknowledgement, the database connection dropped by the kernel."""
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    return time.monotonic()


def pending_messages() -> int:
    """Messages delivered and never acknowledged, plus those waiting in the queue (restored ones go there)."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return int(client.hlen("unacked")) + int(client.llen("celery"))


@contextmanager
def held_by_another_transaction(sql: str, *params: Any) -> Iterator[None]:
    """Run `sql` (a lock) in a transaction of our own connection, kept open until the block ends: a worker
    that needs the same rows or table waits there, inside its own transaction."""
    import psycopg

    from tests.workers import database_url

    with psycopg.connect(database_url()) as holder:
        holder.execute(sql, params or None)
        try:
            yield
        finally:
            holder.rollback()


def a_backend_waits_on_a_lock() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    return bool(row and row[0])
