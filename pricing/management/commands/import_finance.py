"""`python manage.py import_finance CONTRACT_REFERENCE {orders,invoices,payments} FILE [--user NAME]`

Imports the whole file into the contract or nothing; prints what was created, or each problem on its own
line and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bids.importers.base import ImportFailed
from bids.services.imports import check_size
from consortium.money import from_cents
from consortium.templatetags.guichet import money
from pricing.imports import KIND_LABELS, KINDS, import_finance_file
from pricing.models import Contract


class Command(BaseCommand):
    help = "Import purchase orders, invoices or bank payments (XLSX or CSV) into a contract: all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("contract", help="the contract's reference")
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("path", help="the XLSX or CSV file")
        parser.add_argument("--user", help="username recorded as the importer in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        contract = Contract.objects.filter(reference=options["contract"]).first()
        if contract is None:
            raise CommandError(f"no contract with reference {options['contract']!r}")
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            check_size(path.stat().st_size, source=path.name)  # before reading a huge file into memory
        except ImportFailed as failure:
            raise CommandError(str(failure)) from None
        result = import_finance_file(
            actor=self._actor(options["user"]),
            contract=contract,
            kind=options["kind"],
            filename=path.name,
            data=path.read_bytes(),
        )
        if result.problems:
            for problem in result.problems:
                self.stderr.write(str(problem))
            raise CommandError(f"{len(result.problems)} problem(s): nothing was imported", returncode=1)
        total = money(from_cents(result.total_cents), contract.currency)
        basis = {"orders": "HT", "invoices": "TTC", "payments": "received"}[result.kind]
        self.stdout.write(f"{contract.reference}: {result.created} {KIND_LABELS[result.kind]}, total {basis} {total}")

    def _actor(self, username: str | None) -> Any:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--user: no user named {username!r}")
        return user
