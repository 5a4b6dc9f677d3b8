"""python manage.py sweep_invitations [--json]: what Celery beat runs every few minutes, once, by hand or from cron."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bids.services.invitations import sweep_invitations


class Command(BaseCommand):
    help = "Expire overdue invitations (inviting the next firm) and send the reminders that are due, once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help='print {"expired": n, "reminded": m}')

    def handle(self, *args: Any, **options: Any) -> None:
        counts = sweep_invitations()
        if options["json"]:
            self.stdout.write(json.dumps({"expired": counts["expired"], "reminded": counts["reminded"]}))
            return
        self.stdout.write(f"{counts['expired']} invitation(s) expired, {counts['reminded']} reminder(s) sent")
