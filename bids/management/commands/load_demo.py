from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from bids.demo import load_demo


class Command(BaseCommand):
    help = (
        "Load the demo: CPV and skills catalogues, a network of partner firms, demo accounts, real notices, "
        "a priced schedule split into work packages, matched, and offered to partner firms (idempotent)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = load_demo()
        self.stdout.write(
            f"Demo loaded: {counts['cpv']} CPV codes, {counts['skills']} skills, {counts['firms']} partner firms, "
            f"{counts['tenders']} tenders, {counts['schedule_lines']} priced lines in the demo schedule, "
            f"split into {counts['packages']} work packages ({counts.get('assigned', 'already')} assigned), "
            f"{counts['invitations']} invitations to partner firms, "
            f"a group offer for Rouen Habitat ({counts.get('offer_lines', 'already built')} priced lines)"
            + _contract_text(counts)
            + "."
        )


def _contract_text(counts: dict[str, int]) -> str:
    if "ledger_entries" not in counts:
        return ""
    return f", won, its contract with {counts['ledger_entries']} ledger entries"
