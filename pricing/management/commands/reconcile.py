"""`python manage.py reconcile [--json]`: check every invariant of the money; exit 1 naming each breach."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pricing.selectors.reconcile import reconcile


class Command(BaseCommand):
    help = (
        "Check that every entry balances, invoiced = received + outstanding, received = what was "
        "redistributed, and each partner's statement = its ledger balance. Never fixes anything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        report = reconcile()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
        else:
            checked = ", ".join(f"{count} {what}" for what, count in report.checked.items())
            self.stdout.write(f"Checked {checked}.")
            for breach in report.breaches:
                self.stdout.write(f"BREACH {breach.check}: {breach.where}: {breach.detail}")
            if report.ok:
                self.stdout.write("No breach.")
        if not report.ok:
            raise CommandError(f"{len(report.breaches)} breach(es) found", returncode=1)
