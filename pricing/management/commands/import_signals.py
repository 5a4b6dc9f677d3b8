"""`python manage.py import_signals FILE [--user NAME]`

Imports community signals of upstream projects (XLSX or CSV, columns project, observed_on,
active_contributors, releases_last_year, last_release_on, source_url; French headers accepted): the whole
file or nothing. Prints what was recorded, or each problem on its own line and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bids.importers.base import ImportFailed
from bids.services.imports import check_size
from pricing.signal_imports import import_signals_file


class Command(BaseCommand):
    help = "Import community signals of upstream projects (XLSX or CSV): all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the XLSX or CSV file")
        parser.add_argument("--user", help="username recorded as the importer in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = self._actor(options["user"])
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            check_size(path.stat().st_size, source=path.name)  # before reading a huge file into memory
        except ImportFailed as failure:
            raise CommandError(str(failure)) from None
        result = import_signals_file(actor=actor, filename=path.name, data=path.read_bytes())
        if result.problems:
            for problem in result.problems:
                self.stderr.write(str(problem))
            raise CommandError(f"{len(result.problems)} problem(s): nothing was imported", returncode=1)
        self.stdout.write(f"{result.created} observation(s) recorded for {result.projects} project(s)")

    def _actor(self, username: str | None) -> Any:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--user: no user named {username!r}")
        return user
