"""`python manage.py remind_commitments [--date YYYY-MM-DD]`: send the contribution reminders due that day, once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pricing.services.commitment_reminders import send_commitment_reminders


class Command(BaseCommand):
    help = "Send the reminders of contribution commitments due today (each reminder is sent once only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the day to run for (default: today), YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        today = None
        if options["date"]:
            try:
                today = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date: {options['date']!r} is not a date YYYY-MM-DD") from exc
        sent = send_commitment_reminders(today=today)
        self.stdout.write(f"{sent} reminder(s) sent.")
