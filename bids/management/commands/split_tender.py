"""python manage.py split_tender TENDER_ID [--json] [--user USERNAME]"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q, Sum

from bids.models import Lot, Tender
from bids.selectors import split_payload
from bids.services.packages import PackageChangeRefused, split_tender


class Command(BaseCommand):
    help = "Split a tender's lots into work packages (the automatic proposal replaces the current split)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tender_id", type=int)
        parser.add_argument("--json", action="store_true", help="print one JSON object with every package")
        parser.add_argument("--user", help="username recorded as the author in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        tender = Tender.objects.filter(pk=options["tender_id"]).first()
        if tender is None:
            raise CommandError(f"aucun appel d'offres n° {options['tender_id']} (no tender with this id)")
        actor = self._actor(options["user"])
        try:
            summary = split_tender(actor=actor, tender=tender)
        except PackageChangeRefused as refused:
            raise CommandError(str(refused)) from None
        if options["json"]:
            self.stdout.write(json.dumps(split_payload(tender), ensure_ascii=False))
            return
        lots = (
            Lot.objects.filter(tender=tender, withdrawn=False)
            .annotate(
                package_count=Count("work_packages"),
                flagged_count=Count("work_packages", filter=Q(work_packages__flagged=True)),
                line_total=Sum("work_packages__line_count", default=0),
            )
            .order_by("position", "id")
        )
        for lot in lots:
            self.stdout.write(
                f"lot {lot.source_id} : {lot.package_count} lot(s) de travaux, {lot.line_total} ligne(s)"
                + (f", {lot.flagged_count} à vérifier" if lot.flagged_count else "")
            )
        self.stdout.write(
            f"appel d'offres n° {tender.pk} : {summary.packages} lot(s) de travaux, {summary.lines} ligne(s), "
            f"{summary.flagged} à vérifier"
        )

    def _actor(self, username: str | None) -> Any:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--user : aucun utilisateur nommé {username!r}")
        return user
