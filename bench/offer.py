"""Benchmark: a group offer of 1,000 lots and 100,000 lines, frozen and rendered, next to the floor.

    python bench/offer.py [--lots 1000] [--lines 100000] [--firms 60]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet_bench python bench/offer.py

  ours   freeze_version() (checks, prices through pricing/, 100,000 offer lines written, totals) then
         render_documents() (snapshot read back, filled schedule, memo, groupement table, each member's
         two parts, SHA-256, files stored), as the render task runs it
  floor  bare WeasyPrint on the very same HTML (memo, groupement table, each member's groupement part)
         plus bare openpyxl write_only on the same rows (the schedule, each member's price part)
The database is a throwaway SQLite file under var/bench/ unless DATABASE_URL is set (its tables are
created by migrate and the bench's rows are removed at the end).
The last line printed is one JSON object: lots, lines, pdf_pages, ours_s, floor_s, ratio, and the details.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench"


def luhn_completed(digits: str) -> str:
    """`digits` followed by the check digit that makes the whole Luhn-valid (SIREN and SIRET)."""
    for last in "0123456789":
        number = digits + last
        total = sum(
            (int(c) * 2 - 9 if int(c) * 2 > 9 else int(c) * 2) if i % 2 else int(c)
            for i, c in enumerate(reversed(number))
        )
        if total % 10 == 0:
            return number
    raise AssertionError(digits)


def siret(n: int) -> str:
    return luhn_completed(luhn_completed(f"{40000000 + n:08d}") + "0001")


def setup_django(folder: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder / 'offer.sqlite3'}")
    os.environ["GUICHET_MEDIA_ROOT"] = str(folder / "media")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(*, lots: int, lines: int, firms: int) -> Any:
    """A tender whose every package is accepted, with a price for every line: what freezing starts from."""
    from django.db import transaction
    from django.utils import timezone

    from bids.models import Invitation, InvitationPrice, InvitationStatus, Line, Lot, Tender, WorkPackage
    from bids.prices import line_amount
    from bids.services.lines import COLUMNS
    from consortium.bulk import bulk_insert
    from consortium.money import round_money
    from partners.models import Attestation, AttestationKind, PartnerFirm

    now = timezone.now()
    per_lot = lines // lots
    with transaction.atomic():
        tender = Tender.objects.create(
            title="bench: group offer",
            source_format="xlsx",
            currency="EUR",
            procedure_id="bench-offer",
            tender_deadline=now + dt.timedelta(days=30),
        )
        tender.buyers.create(name="Ville de Bench", country="FRA")
        firm_rows = [PartnerFirm(name=f"Bench firm {n:03d}", siret=siret(n), siren=siret(n)[:9]) for n in range(firms)]
        PartnerFirm.objects.bulk_create(firm_rows)
        firm_list = list(PartnerFirm.objects.filter(name__startswith="Bench firm").order_by("name"))
        valid = (now + dt.timedelta(days=400)).date()
        Attestation.objects.bulk_create(
            Attestation(firm=firm, kind=kind, valid_until=valid) for firm in firm_list for kind in AttestationKind
        )
        Lot.objects.bulk_create(
            Lot(tender=tender, position=n, source_id=f"LOT-{n + 1:04d}", title=f"Lot {n + 1}", currency="EUR")
            for n in range(lots)
        )
        lot_list = list(tender.lots.order_by("position"))
        WorkPackage.objects.bulk_create(
            WorkPackage(tender=tender, lot=lot, position=half, name=f"Support {lot.position}-{half}", basis="skill")
            for lot in lot_list
            for half in (0, 1)
        )
        packages = list(WorkPackage.objects.filter(tender=tender).order_by("lot__position", "position"))
        rows = []
        position = 0
        for index, package in enumerate(packages):
            for _ in range(per_lot // 2):
                position += 1
                quantity = None if position % 97 == 0 else str(1 + position % 24)
                rows.append(
                    (
                        tender.pk,
                        package.lot_id,
                        position,
                        "schedule",
                        f"C{position:06d}",
                        f"Journée d'expertise {index % 40} — niveau {position % 3 + 1}",
                        "jour",
                        quantity,
                        None,
                        "EUR",
                        "",
                        f"Rubrique {index % 7}",
                        position + 1,
                        "BPU",
                        package.pk,
                    )
                )
        bulk_insert(Line, (*COLUMNS, "work_package_id"), rows)
        WorkPackage.objects.filter(tender=tender).update(line_count=per_lot // 2)
        Invitation.objects.bulk_create(
            Invitation(
                tender=tender,
                package=package,
                firm=firm_list[index % firms],
                status=InvitationStatus.ACCEPTED,
                source="lead",
                deadline=now + dt.timedelta(days=10),
                sent_at=now,
                answered_at=now,
            )
            for index, package in enumerate(packages)
        )
        invitations = dict(Invitation.objects.filter(tender=tender).values_list("package_id", "pk"))
        price_rows, totals = [], dict.fromkeys(invitations.values(), Decimal("0.00"))
        for line_id, package_id, quantity in Line.objects.filter(tender=tender).values_list(
            "pk", "work_package_id", "quantity"
        ):
            price = Decimal(600 + line_id % 400) + Decimal(line_id % 100) / 100
            invitation_id = invitations[package_id]
            price_rows.append((invitation_id, line_id, str(price)))
            totals[invitation_id] += line_amount(quantity, price) or Decimal("0.00")
        bulk_insert(InvitationPrice, ("invitation_id", "line_id", "unit_price"), price_rows)
        for invitation_id, total in totals.items():
            Invitation.objects.filter(pk=invitation_id).update(total=round_money(total))
    return tender


def best(repeat: int, job: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = job()
        times.append(time.perf_counter() - started)
    return min(times), result


def pdf_pages(data: bytes) -> int:
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        return len(document)
    finally:
        document.close()


def floor_workbook(lots: list[tuple[str, list[tuple[Any, ...]]]]) -> bytes:
    """Bare openpyxl write_only: the same rows, one sheet per lot, no styles, no formulas."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for title, rows in lots:
        sheet = workbook.create_sheet(title)
        sheet.append(["Code", "Désignation", "Unité", "Quantité", "Prix unitaire HT", "Montant HT"])
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def floor(snapshot: Any) -> dict[str, Any]:
    """Bare WeasyPrint on the HTML our renderers produce, and bare openpyxl on the rows they write."""
    import weasyprint

    from bids.offer_documents.groupement import groupement_html, partner_groupement_html
    from bids.offer_documents.memo import memo_html

    def rows_by_lot(lines: list[Any]) -> list[tuple[str, list[tuple[Any, ...]]]]:
        grouped: dict[int, list[tuple[Any, ...]]] = {}
        for line in lines:
            grouped.setdefault(line.lot_id, []).append(
                (line.code, line.designation, line.unit, line.quantity, line.unit_price, line.amount)
            )
        return [(f"Lot {lot_id}", rows) for lot_id, rows in grouped.items()]

    parts = [snapshot.for_firm(firm.id) for firm in snapshot.firms]
    html = [memo_html(snapshot), groupement_html(snapshot), *(partner_groupement_html(part) for part in parts)]
    started = time.perf_counter()
    pages = 0
    for page_html in html[:2]:
        pages += pdf_pages(weasyprint.HTML(string=page_html).write_pdf())
    for page_html in html[2:]:
        weasyprint.HTML(string=page_html).write_pdf()
    pdf_s = time.perf_counter() - started
    started = time.perf_counter()
    floor_workbook(rows_by_lot(snapshot.lines))
    for part in parts:
        floor_workbook(rows_by_lot(part.lines))
    xlsx_s = time.perf_counter() - started
    return {"floor_pdf_s": pdf_s, "floor_xlsx_s": xlsx_s, "floor_pdf_pages": pages}


def run(*, lots: int, lines: int, firms: int) -> dict[str, Any]:
    from unittest import mock

    from django.contrib.auth import get_user_model

    from bids.models import OfferDocument
    from bids.selectors.offers import offer_snapshot
    from bids.services import offers

    started = time.perf_counter()
    tender = build(lots=lots, lines=lines, firms=firms)
    build_s = time.perf_counter() - started
    actor = get_user_model().objects.create_user(username="bench-offer", role="bid_manager")
    version = offers.start_offer(actor=actor, tender=tender)
    with mock.patch("bids.tasks.render_offer.delay"):  # rendering is timed on its own, just below
        started = time.perf_counter()
        version = offers.freeze_version(actor=actor, version_id=version.pk, revision=version.revision)
        freeze_s = time.perf_counter() - started
    started = time.perf_counter()
    version = offers.render_documents(version_id=version.pk)
    render_s = time.perf_counter() - started
    if version.render_status != "succeeded":
        raise SystemExit(f"rendering failed: {version.render_errors}")
    documents = list(OfferDocument.objects.filter(version=version, firm__isnull=True))
    pages = sum(pdf_pages(doc.content.read()) for doc in documents if doc.content_type == "application/pdf")
    snapshot = offer_snapshot(version)
    figures = floor(snapshot)
    return {
        "lots": lots,
        "lines": len(snapshot.lines),
        "firms": len(snapshot.firms),
        "pdf_pages": pages,
        "documents": OfferDocument.objects.filter(version=version).count(),
        "build_s": build_s,
        "freeze_s": freeze_s,
        "render_s": render_s,
        **figures,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "database": "postgresql" if "postgres" in os.environ.get("DATABASE_URL", "") else "sqlite",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lots", type=int, default=1_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--firms", type=int, default=60)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="offer-", dir=WORK))
    try:
        setup_django(folder)
        figures = run(lots=args.lots, lines=args.lines, firms=args.firms)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ours = figures["freeze_s"] + figures["render_s"]
    floor_s = figures["floor_pdf_s"] + figures["floor_xlsx_s"]
    print(f"offer                 {figures['lots']:,} lots, {figures['lines']:,} lines, {figures['firms']} firms")
    print(f"ours: freeze          {figures['freeze_s']:.2f} s  (checks, prices, offer lines written, totals)")
    print(
        f"ours: render          {figures['render_s']:.2f} s  ({figures['documents']} documents; "
        f"{figures['pdf_pages']} PDF pages in the memo and groupement table)"
    )
    print(f"floor: WeasyPrint     {figures['floor_pdf_s']:.2f} s  (bare, the same HTML)")
    print(f"floor: openpyxl       {figures['floor_xlsx_s']:.2f} s  (bare write_only, the same rows)")
    print(f"ratio                 {ours / floor_s:.2f}   peak memory {figures['peak_mb']:.0f} MB")
    summary = {
        "lots": figures["lots"],
        "lines": figures["lines"],
        "pdf_pages": figures["pdf_pages"],
        "ours_s": round(ours, 3),
        "floor_s": round(floor_s, 3),
        "ratio": round(ours / floor_s, 2),
    } | {key: round(value, 3) if isinstance(value, float) else value for key, value in figures.items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
