"""python manage.py import_tender PATH [--tender ID] [--format auto|eforms|ocds|ted|xlsx|csv] [--json]"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bids.importers import FORMATS
from bids.importers.base import ImportFailed
from bids.models import Tender
from bids.selectors import tender_payload
from bids.services.imports import check_size, import_file


def parse_mapping(text: str) -> dict[str, str]:
    """'code=A,designation=B,unit_price=Prix unitaire' -> {field: column}."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise CommandError(f"--map: expected FIELD=COLUMN, got {item!r}")
        mapping[field.strip()] = column.strip()
    return mapping


def one_line(failure: ImportFailed, limit: int = 5) -> str:
    shown = "; ".join(str(p) for p in failure.problems[:limit])
    more = len(failure.problems) - limit
    return f"{shown} (+{more} more)" if more > 0 else shown


class Command(BaseCommand):
    help = "Import a tender notice (eForms, OCDS, TED) or a price schedule (XLSX, CSV)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--tender", type=int, help="attach the file to this tender id")
        parser.add_argument("--format", default="auto", choices=["auto", *FORMATS])
        parser.add_argument("--json", action="store_true", help="print one JSON object per tender imported")
        parser.add_argument("--lot", help="the lot that receives a schedule without a lot column")
        parser.add_argument("--map", default="", help="column mapping, e.g. code=A,designation=B,unit_price=E")
        parser.add_argument("--header-row", type=int, help="1-based row of the schedule's column headers")
        parser.add_argument("--sheet", help="the workbook sheet to read")
        parser.add_argument("--user", help="username recorded as the importer in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        actor = self._actor(options["user"])
        target = self._target(options["tender"])
        try:
            if not path.is_file():
                raise ImportFailed("no such file", where=str(path))
            check_size(path.stat().st_size, source=path.name)
            result = import_file(
                actor=actor,
                data=path.read_bytes(),
                source=path.name,
                fmt=options["format"],
                target=target,
                options={
                    "lot": options["lot"],
                    "mapping": parse_mapping(options["map"]),
                    "header_row": options["header_row"],
                    "sheet": options["sheet"],
                },
            )
        except ImportFailed as failure:
            raise CommandError(one_line(failure)) from None
        for item in result.saved:
            if options["json"]:
                self.stdout.write(json.dumps(tender_payload(item.tender), ensure_ascii=False))
            else:
                verb = "created" if item.created else "updated"
                lots = item.tender.lots.filter(withdrawn=False).count()
                self.stdout.write(
                    f"tender #{item.tender.pk} {verb}: {item.tender.title} ({lots} lots, {item.lines} lines)"
                )
        if not options["json"]:
            for warning in result.warnings[:20]:
                self.stderr.write(f"warning: {warning}")

    def _actor(self, username: str | None) -> Any:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--user: no user named {username!r}")
        return user

    def _target(self, tender_id: int | None) -> Tender | None:
        if tender_id is None:
            return None
        tender = Tender.objects.filter(pk=tender_id).first()
        if tender is None:
            raise CommandError(f"--tender: no tender with id {tender_id}")
        return tender
