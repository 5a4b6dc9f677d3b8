"""python manage.py sweep_jobs [--stalled-after SECONDS] [--json]: what Celery beat runs every minute, once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bids.services.jobs import sweep_stuck_jobs


class Command(BaseCommand):
    help = (
        "Put back in the queue the imports, match runs and document renderings whose worker died (or fail them "
        "when out of attempts), and send again those the task queue never received."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stalled-after",
            type=float,
            default=None,
            metavar="SECONDS",
            help="a running job silent this long is taken as dead (default: the JOB_STALL_SECONDS setting)",
        )
        parser.add_argument("--json", action="store_true", help="print the counts per kind of job as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        seconds = options["stalled_after"]
        if seconds is not None and not 0 <= seconds <= 10**8:  # NaN fails both comparisons
            raise CommandError(f"--stalled-after takes a number of seconds from 0 to 10^8, not {seconds}")
        report = sweep_stuck_jobs(stalled_after=timedelta(seconds=seconds) if seconds is not None else None)
        self.stdout.write(json.dumps(report.as_dict()) if options["json"] else str(report))
