"""Real `celery worker` processes on the test database and the Redis broker (PostgreSQL + Redis runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database the tests run on (the test database, not the configured one)."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def spawn_worker(log_path: Path, *, name: str = "test", extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start one worker process (solo pool) sharing this test's database and media folder."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "GUICHET_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_SETTINGS_MODULE": "consortium.settings",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "celery", "-A", "consortium", "worker", "--pool=solo", "--loglevel=INFO"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h"]
    with log_path.open("a") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for_worker(timeout: float = 30) -> None:
    from consortium.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1):
            return
    raise AssertionError(f"no Celery worker answered within {timeout:.0f} s")


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(5)


@contextmanager
def running_worker(log_path: Path, *, name: str = "test") -> Iterator[subprocess.Popen]:
    worker = spawn_worker(log_path, name=name)
    try:
        wait_for_worker()
        yield worker
    finally:
        stop_worker(worker)
