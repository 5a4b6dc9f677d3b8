"""python manage.py match_tender TENDER_ID [--json] [--user USERNAME]"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bids.models import Tender
from bids.selectors.matching import match_payload
from bids.services.matching import run_match


@contextmanager
def _solver_chatter_to_stderr() -> Iterator[None]:
    """HiGHS may print a line on the process's standard output from C: keep --json output clean."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real file descriptor (output captured in memory)
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class Command(BaseCommand):
    help = "Match a tender's work packages with the partner firms (splitting it first if needed), synchronously."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tender_id", type=int)
        parser.add_argument(
            "--json", action="store_true", help="print one JSON object: packages, candidates, assignment"
        )
        parser.add_argument("--user", help="username recorded as the author in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        tender = Tender.objects.filter(pk=options["tender_id"]).first()
        if tender is None:
            raise CommandError(f"aucun appel d'offres n° {options['tender_id']} (no tender with this id)")
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"utilisateur inconnu : {options['user']}")
        try:
            with _solver_chatter_to_stderr():
                run = run_match(actor=actor, tender=tender)
        except Exception as error:
            raise CommandError(f"le rapprochement a échoué : {error}") from error
        if options["json"]:
            self.stdout.write(json.dumps(match_payload(tender, run), ensure_ascii=False))
            return
        counts = run.counts
        self.stdout.write(
            f"run {run.pk}: {counts.get('packages', 0)} packages, {counts.get('assigned', 0)} assigned, "
            f"{counts.get('unassigned', 0)} unassigned, {counts.get('candidates', 0)} candidates stored; "
            f"solver {run.solver.get('status')} (gap {run.solver.get('gap', 0)} points) "
            f"in {run.solver.get('seconds', 0)} s"
        )
        payload = match_payload(tender, run)
        for package in payload["packages"]:
            lead = package["assigned"] or "-"
            self.stdout.write(f"  {package['lot']:<12} {package['name'][:50]:<50} {lead} / {package['backup'] or '-'}")
        for item in payload["unassigned"]:
            self.stdout.write(f"  unassigned {item['id']}: {item['reason']}")
