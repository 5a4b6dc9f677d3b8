from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from bids.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo: CPV catalogue, demo accounts, real notices and a priced schedule (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = load_demo()
        self.stdout.write(
            f"Demo loaded: {counts['cpv']} CPV codes, {counts['tenders']} tenders, "
            f"{counts['schedule_lines']} priced lines in the demo schedule."
        )
