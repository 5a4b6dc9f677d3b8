"""Benchmark: 1,000,000 ledger lines posted from 100,000 payments, then a partner's statement and reconcile.

    python bench/ledger.py [--payments 100000] [--per-invoice 10] [--profile]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet_bench_ledger python bench/ledger.py

  setup   (not timed) a won group offer of one lot, three firms and three work packages whose skills name
          three upstream projects; its contract, one order and one invoice through the services; the
          invoice copied to payments/per-invoice invoices (same shares: 3 firms, the fee, 3 funds), their
          ledger entries, and the payments saved as imported bank lines (the Payment rows, no entries yet)
  ours    pricing.services.payments.post_payments() on those payments in one transaction, COMMIT included
          (PostgreSQL's deferred balance check runs then): per payment a receipt (bank, receivable: 2 lines)
          and a redistribution ('billed' debited, 3 firms, fee, 3 funds credited: 8 lines)
  floor   the very same entry and posting rows inserted with consortium.bulk.bulk_insert (executemany on
          SQLite, COPY on PostgreSQL) into the same tables, in one transaction, COMMIT included
  then    partner_statement() of one firm (best of 3) and reconcile() over the whole ledger, right after the
          posting and again after ANALYZE (fresh planner statistics)
The database is a throwaway SQLite file under var/bench/, or, with DATABASE_URL, a PostgreSQL database the
benchmark creates and drops (it refuses one that already exists: the ledger's rows cannot be deleted).
The last line printed is one JSON object: lines, ours_s, floor_s, ratio, statement_s, reconcile_s, database, ...
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench"
FIRMS = 3
START = dt.date(2026, 1, 5)


# the database ------------------------------------------------------------------------------------------


@contextmanager
def bench_database(folder: Path) -> Iterator[str]:
    """A fresh database for the run, removed at the end; yields "sqlite" or "postgresql"."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'ledger.sqlite3'}"  # never the configured database
        yield "sqlite"
        return
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            raise SystemExit(f"database {name} exists: name one that does not, the benchmark creates and drops it")
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield "postgresql"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')


def setup_django(folder: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")
    os.environ["GUICHET_MEDIA_ROOT"] = str(folder / "media")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def wipe_ledger() -> None:
    """Empty the ledger's tables (their triggers refuse DELETE on PostgreSQL; TRUNCATE does not fire them),
    then compact the file (SQLite) or flush the dirty pages (PostgreSQL): each timed run starts alike."""
    from django.db import DatabaseError, connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE pricing_payoutitem, pricing_contributionpayment, pricing_posting, pricing_entry")
        else:
            cursor.execute("DELETE FROM pricing_posting")
            cursor.execute("DELETE FROM pricing_entry")
    # CHECKPOINT needs a superuser or pg_checkpoint: without them the run goes on unflushed
    with connection.cursor() as cursor, contextlib.suppress(DatabaseError):
        cursor.execute("CHECKPOINT" if connection.vendor == "postgresql" else "VACUUM")


def analyze() -> None:
    """Fresh planner statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE (SQLite) would keep them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# setup: a contract, its invoices and the payments received ---------------------------------------------


def siret(n: int) -> str:
    from bench.offer import siret as luhn_siret

    return luhn_siret(900 + n)


def price(position: int) -> Decimal:
    return Decimal(1000) + position * 37


def won_version(actor: Any) -> Any:
    """A one-lot tender: firm n holds work package n, whose skill names upstream project n."""
    from django.db import transaction
    from django.utils import timezone

    from bids.models import Invitation, InvitationPrice, InvitationStatus, Line, Lot, PackageSkill, Tender, WorkPackage
    from bids.offer_models import OfferStatus, OfferVersion
    from bids.services.lines import COLUMNS
    from bids.services.offers import OfferRefused, freeze_version, start_offer
    from consortium.bulk import bulk_insert
    from partners.models import Attestation, AttestationKind, PartnerFirm, Skill

    now = timezone.now()
    with transaction.atomic():
        tender = Tender.objects.create(
            title="bench: ledger", source_format="xlsx", currency="EUR", procedure_id="bench-ledger",
            tender_deadline=now + dt.timedelta(days=30),
        )  # fmt: skip
        tender.buyers.create(name="Ville de Bench", country="FRA")
        lot = Lot.objects.create(tender=tender, position=0, source_id="LOT-1", title="Support", currency="EUR")
        firms = []
        for n in range(FIRMS):
            firm = PartnerFirm.objects.create(name=f"Bench ledger firm {n + 1}", siret=siret(n), siren=siret(n)[:9])
            Attestation.objects.bulk_create(
                Attestation(firm=firm, kind=kind, valid_until=(now + dt.timedelta(days=400)).date())
                for kind in AttestationKind
            )
            firms.append(firm)
        rows = []
        for n, firm in enumerate(firms):
            package = WorkPackage.objects.create(
                tender=tender, lot=lot, position=n, name=f"Support {n + 1}", basis="skill", line_count=2
            )
            skill = Skill.objects.create(
                name=f"Bench ledger skill {n + 1}",
                slug=f"bench-ledger-{n + 1}",
                upstream_project=f"Projet amont {n + 1}",
            )
            PackageSkill.objects.create(package=package, skill=skill, weight=10)
            positions = [2 * n, 2 * n + 1]
            invitation = Invitation.objects.create(
                tender=tender, package=package, firm=firm, status=InvitationStatus.ACCEPTED, source="lead",
                deadline=now + dt.timedelta(days=10), sent_at=now, answered_at=now,
                total=sum(quantity * price(position) for quantity, position in enumerate(positions, start=1)),
            )  # fmt: skip
            for m, position in enumerate(positions):
                rows.append(
                    (tender.pk, lot.pk, position, "schedule", f"C{position:03d}", f"Expertise {position}", "jour",
                     str(1 + m), None, "EUR", "", "", position + 1, "BPU", package.pk, invitation.pk)
                )  # fmt: skip
        bulk_insert(Line, (*COLUMNS, "work_package_id"), [row[:-1] for row in rows])
        lines = dict(Line.objects.filter(tender=tender).values_list("position", "pk"))
        InvitationPrice.objects.bulk_create(
            InvitationPrice(invitation_id=row[-1], line_id=lines[row[2]], unit_price=price(row[2])) for row in rows
        )
    version = start_offer(actor=actor, tender=tender)
    try:
        version = freeze_version(actor=actor, version_id=version.pk, revision=version.revision, queue_rendering=False)
    except OfferRefused as refused:
        raise SystemExit(f"{refused} {[str(problem) for problem in refused.problems]}") from refused
    OfferVersion.objects.filter(pk=version.pk).update(status=OfferStatus.WON, decided_at=now)
    return OfferVersion.objects.get(pk=version.pk)


def build(*, payments: int, per_invoice: int) -> dict[str, Any]:
    """The contract, payments/per_invoice invoices posted to the ledger, and the Payment rows."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from bids.offer_models import OfferLine
    from consortium.bulk import bulk_insert
    from consortium.money import split_cents
    from pricing.models import Invoice, InvoiceShare, InvoiceStatus, Payment, PaymentKind
    from pricing.services.contracts import ContractTerms, create_contract, create_order, issue_invoice

    actor = get_user_model().objects.create_user(username="bench-ledger", role="finance")
    version = won_version(actor)
    contract = create_contract(
        actor=actor,
        version=version,
        terms=ContractTerms(
            reference="BENCH-LEDGER", title="bench: ledger", kind="framework", signed_on=START, starts_on=START,
            ends_on=START + dt.timedelta(days=4 * 365),
        ),
    )  # fmt: skip
    offer_lines = OfferLine.objects.filter(version=version, quantity__gt=0).order_by("pk")
    order = create_order(
        actor=actor, contract=contract, lot_id=offer_lines[0].lot_id, number="BC-1", issued_on=START,
        lines=[(line.pk, Decimal(1)) for line in offer_lines],
    )  # fmt: skip
    model = issue_invoice(actor=actor, order=order, number="F-000001", issued_on=START)
    shares = list(model.shares.order_by("pk"))
    invoices = payments // per_invoice
    now = timezone.now()
    with transaction.atomic():
        Invoice.objects.bulk_create(
            (
                Invoice(
                    contract=contract, order=order, number=f"F-{n:06d}", kind=model.kind,
                    issued_on=START + dt.timedelta(days=n % 1000), due_on=START + dt.timedelta(days=n % 1000 + 30),
                    total_ht_cents=model.total_ht_cents, vat_cents=model.vat_cents,
                    total_ttc_cents=model.total_ttc_cents, status=InvoiceStatus.PAID, created_by=actor,
                )
                for n in range(2, invoices + 1)
            ),
            batch_size=5000,
        )  # fmt: skip
        Invoice.objects.filter(pk=model.pk).update(status=InvoiceStatus.PAID)
        invoice_ids = list(Invoice.objects.filter(contract=contract).order_by("pk").values_list("pk", flat=True))
        bulk_insert(
            InvoiceShare,
            ("invoice_id", "kind", "firm_id", "project_id", "ht_cents", "ttc_cents"),
            [
                (invoice_id, s.kind, s.firm_id, s.project_id, s.ht_cents, s.ttc_cents)
                for invoice_id in invoice_ids[1:]
                for s in shares
            ],
        )
        # uneven instalments (1 : 2 : ... : per_invoice), so that every split rounds differently
        amounts = split_cents(
            model.total_ttc_cents, list(range(1, per_invoice + 1)), per_invoice * (per_invoice + 1) // 2
        )
        bulk_insert(
            Payment,
            ("contract_id", "invoice_id", "kind", "received_on", "amount_cents", "withheld_cents",
             "advance_recovered_cents", "bank_reference", "created_by_id", "created_at"),
            [
                (contract.pk, invoice_id, PaymentKind.CASH, START + dt.timedelta(days=40 + k), amount, 0, 0,
                 f"VIR-{n:06d}-{k:02d}", actor.pk, now)
                for n, invoice_id in enumerate(invoice_ids)
                for k, amount in enumerate(amounts)
            ],
        )  # fmt: skip
    return {
        "contract": contract,
        "firm": shares[0].firm,
        "invoice_ids": invoice_ids,
        "shares": len(shares),
        "payments": list(Payment.objects.filter(contract=contract).order_by("pk")),
    }


def post_invoices(invoice_ids: Sequence[int]) -> None:
    """The invoices' own entries (receivable against 'billed, to redistribute'), as issuing them posts them."""
    from django.db import transaction

    from pricing import ledger
    from pricing.ledger_models import EntryKind
    from pricing.models import Invoice

    drafts = []
    for pk, contract_id, issued_on, number, ttc in Invoice.objects.filter(pk__in=invoice_ids).values_list(
        "pk", "contract_id", "issued_on", "number", "total_ttc_cents"
    ):
        draft = ledger.EntryDraft(
            kind=EntryKind.INVOICE, key=f"invoice:{pk}", posted_on=issued_on, contract_id=contract_id,
            invoice_id=pk, memo=number,
        )  # fmt: skip
        draft.add(ledger.receivable(contract_id), ttc)
        draft.add(ledger.to_redistribute(contract_id), -ttc)
        drafts.append(draft)
    with transaction.atomic():
        ledger.post_entries(drafts)


# the floor: the same rows, inserted bare ---------------------------------------------------------------


def rows_of(payments: Sequence[Any]) -> tuple[list[tuple[Any, ...]], list[tuple[int, int, int]]]:
    """The entry and posting rows `post_payments` writes for `payments`, value for value (ids reserved now)."""
    from django.db import transaction
    from django.utils import timezone

    from consortium.bulk import reserve_ids
    from pricing import ledger
    from pricing.ledger_models import Entry
    from pricing.services.payments import post_payments

    drafts: list[ledger.EntryDraft] = []

    def capture(batch: Sequence[ledger.EntryDraft], *, actor: Any = None) -> int:
        drafts.extend(batch)
        return len(batch)

    with mock.patch("pricing.ledger.post_entries", side_effect=capture):
        post_payments(payments, actor=None)
    accounts = ledger.account_ids(ref for draft in drafts for ref, _cents in draft.lines)
    with transaction.atomic():
        ids = reserve_ids(Entry, len(drafts))
    now = timezone.now()
    entries: list[tuple[Any, ...]] = []
    postings: list[tuple[int, int, int]] = []
    for entry_id, draft in zip(ids, drafts, strict=True):
        entries.append(
            (entry_id, draft.kind, draft.key, draft.contract_id, draft.invoice_id, draft.payment_id,
             draft.reverses_id, draft.posted_on, draft.memo[:200], None, now)
        )  # fmt: skip
        postings.extend((entry_id, accounts[ref], cents) for ref, cents in draft.lines)
    return entries, postings


def floor(entries: Sequence[tuple[Any, ...]], postings: Sequence[tuple[int, int, int]]) -> float:
    from django.db import transaction

    from consortium.bulk import bulk_insert
    from pricing.ledger import ENTRY_COLUMNS
    from pricing.ledger_models import Entry, Posting

    started = time.perf_counter()
    with transaction.atomic():
        bulk_insert(Entry, ENTRY_COLUMNS, entries)
        bulk_insert(Posting, ("entry_id", "account_id", "amount_cents"), postings)
    return time.perf_counter() - started


# ours ----------------------------------------------------------------------------------------------------


def ours(payments: Sequence[Any], *, profile: bool) -> tuple[float, int]:
    from django.db import transaction

    from pricing.services.payments import post_payments

    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    with transaction.atomic():
        written = post_payments(payments, actor=None)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    if profiler:
        report = io.StringIO()
        pstats.Stats(profiler, stream=report).sort_stats("cumulative").print_stats(30)
        print(report.getvalue())
    return seconds, written


def best(repeat: int, job: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = job()
        times.append(time.perf_counter() - started)
    return min(times), result


def run(*, payments: int, per_invoice: int, repeat: int, profile: bool, database: str) -> dict[str, Any]:
    from pricing.ledger_models import Entry, Posting
    from pricing.selectors.reconcile import reconcile
    from pricing.selectors.statements import partner_statement

    started = time.perf_counter()
    data = build(payments=payments, per_invoice=per_invoice)
    build_s = time.perf_counter() - started
    floor_times, ours_times = [], []
    for attempt in range(repeat):
        wipe_ledger()
        post_invoices(data["invoice_ids"])
        entries, postings = rows_of(data["payments"])
        floor_times.append(floor(entries, postings))
        wipe_ledger()
        post_invoices(data["invoice_ids"])
        before = Posting.objects.count(), Entry.objects.count()
        seconds, written = ours(data["payments"], profile=profile and attempt == repeat - 1)
        ours_times.append(seconds)
        lines = Posting.objects.count() - before[0]
        if lines != len(postings) or written != len(entries) or Entry.objects.count() - before[1] != len(entries):
            raise SystemExit(
                f"ours wrote {written} entries and {lines} lines, the floor {len(entries)} and {len(postings)}"
            )
    floor_s, ours_s = min(floor_times), min(ours_times)

    # right after the posting, then again with fresh planner statistics
    statement_s, statement = best(3, lambda: partner_statement(data["firm"]))
    reconcile_s, report = best(1, reconcile)
    analyze()
    statement_analyzed_s, _statement = best(3, lambda: partner_statement(data["firm"]))
    reconcile_analyzed_s, _report = best(1, reconcile)
    if not report.ok:
        raise SystemExit(f"reconcile found breaches on the benchmark's ledger: {report.breaches[:3]}")
    if statement.received_cents != -sum(
        Posting.objects.filter(account__code=f"partner:{data['firm'].pk}").values_list("amount_cents", flat=True)
    ):
        raise SystemExit("the statement does not match the partner's ledger account")
    return {
        "lines": lines,
        "entries": written,
        "payments": len(data["payments"]),
        "invoices": len(data["invoice_ids"]),
        "shares_per_invoice": data["shares"],
        "ours_s": ours_s,
        "floor_s": floor_s,
        "statement_s": statement_s,
        "statement_invoices": len(statement.invoices),
        "reconcile_s": reconcile_s,
        "statement_analyzed_s": statement_analyzed_s,
        "reconcile_analyzed_s": reconcile_analyzed_s,
        "reconcile_checked": report.checked,
        "build_s": build_s,
        "repeat": repeat,
        "ours_runs_s": [round(t, 3) for t in ours_times],
        "floor_runs_s": [round(t, 3) for t in floor_times],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "database": database,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--per-invoice", type=int, default=10, help="payments (instalments) per invoice")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of ours and the floor; the best is kept")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of ours")
    args = parser.parse_args()
    if args.payments < args.per_invoice or args.per_invoice < 1:
        parser.error("--payments must be at least --per-invoice, which must be at least 1")
    WORK.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="ledger-", dir=WORK))
    try:
        with bench_database(folder) as database:
            setup_django(folder)
            figures = run(
                payments=args.payments, per_invoice=args.per_invoice, repeat=max(1, args.repeat),
                profile=args.profile, database=database,
            )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ratio = figures["ours_s"] / figures["floor_s"]
    print(
        f"ledger                {figures['payments']:,} payments on {figures['invoices']:,} invoices "
        f"({figures['shares_per_invoice']} shares each), {figures['database']}"
    )
    print(
        f"ours: post_payments   {figures['ours_s']:.2f} s  ({figures['entries']:,} entries, "
        f"{figures['lines']:,} lines, one transaction, COMMIT included)"
    )
    print(f"floor: bare insert    {figures['floor_s']:.2f} s  (the same rows, bulk_insert, COMMIT included)")
    print(f"ratio                 {ratio:.2f}")
    print(
        f"statement             {figures['statement_s'] * 1000:.0f} ms  (one firm, "
        f"{figures['statement_invoices']:,} invoices, best of 3; "
        f"{figures['statement_analyzed_s'] * 1000:.0f} ms after ANALYZE)"
    )
    checked = ", ".join(f"{count:,} {what}" for what, count in figures["reconcile_checked"].items())
    print(
        f"reconcile             {figures['reconcile_s']:.2f} s  ({checked}; no breach; "
        f"{figures['reconcile_analyzed_s']:.2f} s after ANALYZE)"
    )
    print(
        f"peak memory           {figures['peak_mb']:.0f} MB   "
        f"(setup of the contract and its data: {figures['build_s']:.1f} s)"
    )
    summary = {
        "lines": figures["lines"],
        "ours_s": round(figures["ours_s"], 3),
        "floor_s": round(figures["floor_s"], 3),
        "ratio": round(ratio, 2),
        "statement_s": round(figures["statement_s"], 3),
        "reconcile_s": round(figures["reconcile_s"], 3),
        "statement_analyzed_s": round(figures["statement_analyzed_s"], 3),
        "reconcile_analyzed_s": round(figures["reconcile_analyzed_s"], 3),
        "database": figures["database"],
        "payments": figures["payments"],
        "entries": figures["entries"],
        "invoices": figures["invoices"],
        "peak_mb": round(figures["peak_mb"], 1),
        "ours_runs_s": figures["ours_runs_s"],
        "floor_runs_s": figures["floor_runs_s"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
