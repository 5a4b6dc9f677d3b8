from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from bids.demo import DEMO_ACCOUNTS, DEMO_PASSWORD


class Command(BaseCommand):
    help = "Print the demo accounts and their password."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for account in DEMO_ACCOUNTS:
            firm = f" [{account.firm}]" if account.firm else ""
            self.stdout.write(f"  {account.username:<9} {account.description}{firm}")
