"""Benchmark: where every contribution commitment stands, over a ledger of many redistribution postings.

    python bench/contributions.py [--payments 66670] [--commitments 2000] [--repeat 3]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet_bench_contrib python bench/contributions.py

  setup   (not timed) the contract of bench/ledger.py (three firms, three upstream projects), its invoices
          spread over about three years and payments/per-invoice payments received after them; their
          ledger entries written with bulk_insert as bench/ledger.py's floor does (3 fund postings per payment:
          200,000 for the default 66,670 payments); then N commitments, half levy, half fixed amounts, over
          random periods with quarterly dues (rows written directly: the benchmark times the reads), and one
          payment to a project for every tenth amount commitment through record_contribution_payment
  ours    pricing.selectors.commitments.commitments_progress() over every commitment (they are read too)
  floor   the bare aggregate the levy accrual needs: one SELECT project, contract, day, SUM(amount_cents) over
          the funds' redistribution postings, GROUP BY, with a raw cursor, every row fetched
  also    the transparency open data (pricing.selectors.transparency.public_figures and pricing.open_data's
          data.json body) when those modules exist, against the same bare aggregate over every fund
The database is a throwaway SQLite file under var/bench/, or, with DATABASE_URL, a PostgreSQL database the
benchmark creates and drops (it refuses one that already exists). The checks: each levy commitment's accrued
equals the floor's rows summed in its scope and period, to the cent; each amount commitment's delivered equals
what was paid to it. The last line printed is one JSON object: commitments, fund_postings, ours_s, floor_s,
ratio, queries, transparency_s, ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ledger as ledger_bench  # noqa: E402 - needs the project root on the path first

WORK = ROOT / "var" / "bench"
SPAN_DAYS = 1100  # invoices over 1,000 days, paid 40 to 49 days later: the ledger ends before today
FLOOR_SQL = """
SELECT account.project_id, entry.contract_id, entry.posted_on, SUM(posting.amount_cents)
FROM pricing_posting posting
JOIN pricing_account account ON account.id = posting.account_id
JOIN pricing_entry entry ON entry.id = posting.entry_id
LEFT JOIN pricing_entry reversed ON reversed.id = entry.reverses_id
WHERE account.kind = 'fund' {projects}
  AND (entry.kind = 'redistrib' OR (entry.kind = 'reversal' AND reversed.kind = 'redistrib'))
GROUP BY account.project_id, entry.contract_id, entry.posted_on
"""


# setup ---------------------------------------------------------------------------------------------------


def build_ledger(*, payments: int, per_invoice: int) -> dict[str, Any]:
    """bench/ledger.py's contract and payments, dated over the last three years, posted in bulk."""
    from django.db import transaction

    from pricing.models import Invoice, Payment

    ledger_bench.START = dt.date.today() - dt.timedelta(days=SPAN_DAYS)
    data = ledger_bench.build(payments=payments, per_invoice=per_invoice)
    issued = dict(Invoice.objects.filter(pk__in=data["invoice_ids"]).values_list("pk", "issued_on"))
    seen: dict[int, int] = defaultdict(int)
    for payment in data["payments"]:  # each instalment a day apart, 40 days after its invoice
        payment.received_on = issued[payment.invoice_id] + dt.timedelta(days=40 + seen[payment.invoice_id])
        seen[payment.invoice_id] += 1
    with transaction.atomic():
        Payment.objects.bulk_update(data["payments"], ["received_on"], batch_size=2000)
    ledger_bench.wipe_ledger()  # as bench/ledger.py: every invoice's entry posted again below, the first included
    ledger_bench.post_invoices(data["invoice_ids"])
    entries, postings = ledger_bench.rows_of(data["payments"])
    ledger_bench.floor(entries, postings)  # the very rows post_payments would write, inserted in bulk
    return data


def build_commitments(contract: Any, count: int, *, seed: int = 8) -> dict[str, Any]:
    """`count` commitments, levy and amount alternately, on the contract's projects; every tenth amount paid."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from pricing.ledger_models import Account, AccountKind
    from pricing.models import Commitment, CommitmentDue, CommitmentKind, PaymentSource
    from pricing.services.commitments import ContributionPaymentInput, record_contribution_payment

    rng = random.Random(seed)
    today = dt.date.today()
    first = ledger_bench.START
    projects = sorted(
        Account.objects.filter(kind=AccountKind.FUND, project__isnull=False).values_list("project_id", flat=True)
    )
    actor = get_user_model().objects.get(username="bench-ledger")
    with transaction.atomic():
        commitments = []
        for n in range(count):
            kind = CommitmentKind.LEVY if n % 2 == 0 else CommitmentKind.AMOUNT
            starts = first + dt.timedelta(days=rng.randrange(0, SPAN_DAYS - 90))
            ends = min(starts + dt.timedelta(days=rng.randrange(90, 720)), today + dt.timedelta(days=365))
            commitments.append(
                Commitment(
                    project_id=projects[n % len(projects)], contract=contract if n % 5 else None, firm=None,
                    kind=kind, title=f"bench {kind} {n}", starts_on=starts, ends_on=ends, created_by=actor,
                    amount_cents=100_000 + 100 * n if kind == CommitmentKind.AMOUNT else None,
                )
            )  # fmt: skip
        Commitment.objects.bulk_create(commitments, batch_size=2000)
        dues = []
        for commitment in commitments:
            dates = []
            due = commitment.starts_on + dt.timedelta(days=91)
            while due <= commitment.ends_on:
                dates.append(due)
                due += dt.timedelta(days=91)
            dates = dates or [commitment.ends_on]
            parts = _parts(commitment.amount_cents or 0, len(dates))
            for due_on, part in zip(dates, parts, strict=True):
                cents = part if commitment.kind == CommitmentKind.AMOUNT else None
                dues.append(CommitmentDue(commitment=commitment, due_on=due_on, amount_cents=cents))
        CommitmentDue.objects.bulk_create(dues, batch_size=5000)
    paid: dict[int, int] = {}
    amounts = [c for c in commitments if c.kind == CommitmentKind.AMOUNT and c.contract_id is not None]
    for n, commitment in enumerate(amounts[::10]):
        cents = 1_000 + n
        record_contribution_payment(
            actor=actor,
            commitment=commitment,
            payment=ContributionPaymentInput(
                amount_cents=cents, paid_on=today, reference=f"BENCH-{n:05d}", source=PaymentSource.FUND
            ),
        )
        paid[commitment.pk] = cents
    return {"commitments": len(commitments), "dues": len(dues), "paid": paid}


def _parts(total: int, count: int) -> list[int]:
    share, rest = divmod(total, count)
    return [share + (1 if n < rest else 0) for n in range(count)]


# the timed reads -----------------------------------------------------------------------------------------


def floor(project_ids: list[int] | None) -> list[tuple[Any, ...]]:
    from django.db import connection

    where = f"AND account.project_id IN ({', '.join(str(int(pk)) for pk in project_ids)})" if project_ids else ""
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL.format(projects=where))
        return cursor.fetchall()


def ours(today: dt.date) -> tuple[list[Any], dict[int, Any]]:
    from pricing.models import Commitment
    from pricing.selectors.commitments import commitments_progress

    commitments = list(Commitment.objects.all())
    return commitments, commitments_progress(commitments, today=today)


def transparency_job() -> Callable[[], bytes] | None:
    """The data.json body as /transparency/data.json builds it, or None before those modules exist."""
    try:
        from pricing import open_data
        from pricing.selectors.transparency import public_figures
    except ImportError:
        return None
    from django.utils import timezone

    def job() -> bytes:
        figures = public_figures(today=dt.date.today())
        return open_data.json_bytes(open_data.document(figures, generated_at=timezone.now().astimezone(dt.UTC)))

    return job


def best(repeat: int, job: Callable[[], Any]) -> tuple[float, Any, int]:
    """Best time of `repeat` runs, the last result and its number of queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, result, queries = [], None, 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = job()
            times.append(time.perf_counter() - started)
        queries = len(captured.captured_queries)
    return min(times), result, queries


# checks ------------------------------------------------------------------------------------------------------


def check(commitments: list[Any], progress: dict[int, Any], rows: list[tuple[Any, ...]], paid: dict[int, int]) -> None:
    """Each levy's accrued is the floor's rows in its scope and period; each amount's delivered what was paid."""
    by_project: dict[int, list[tuple[int | None, dt.date, int]]] = defaultdict(list)
    for project_id, contract_id, posted_on, total in rows:
        day = posted_on if isinstance(posted_on, dt.date) else dt.date.fromisoformat(str(posted_on))
        by_project[project_id].append((contract_id, day, -int(total)))
    for c in commitments:
        state = progress[c.pk]
        if c.kind == "levy":
            expected = sum(
                cents
                for contract_id, day, cents in by_project[c.project_id]
                if c.starts_on <= day <= c.ends_on and (c.contract_id is None or contract_id == c.contract_id)
            )
            if state.accrued != expected:
                raise SystemExit(f"commitment {c.pk}: accrued {state.accrued}, the ledger says {expected}")
        elif state.delivered != paid.get(c.pk, 0):
            raise SystemExit(f"commitment {c.pk}: delivered {state.delivered}, paid {paid.get(c.pk, 0)}")


# the run -----------------------------------------------------------------------------------------------------


def run(*, payments: int, per_invoice: int, commitments: int, repeat: int, database: str) -> dict[str, Any]:
    from pricing.ledger_models import AccountKind, Posting

    started = time.perf_counter()
    data = build_ledger(payments=payments, per_invoice=per_invoice)
    made = build_commitments(data["contract"], commitments)
    ledger_bench.analyze()
    build_s = time.perf_counter() - started
    fund_postings = Posting.objects.filter(account__kind=AccountKind.FUND).count()
    today = dt.date.today()

    from pricing.models import Commitment

    project_ids = sorted(set(Commitment.objects.values_list("project_id", flat=True)))
    floor_s, rows, floor_queries = best(repeat, lambda: floor(project_ids))
    ours_s, (loaded, progress), queries = best(repeat, lambda: ours(today))
    check(loaded, progress, rows, made["paid"])
    statuses: dict[str, int] = defaultdict(int)
    for state in progress.values():
        statuses[str(state.status)] += 1

    figures: dict[str, Any] = {}
    job = transparency_job()
    if job is not None:
        transparency_s, body, transparency_queries = best(repeat, job)
        all_funds_s, _rows, _queries = best(repeat, lambda: floor(None))
        figures = {
            "transparency_s": transparency_s,
            "transparency_queries": transparency_queries,
            "transparency_bytes": len(body),
            "transparency_floor_s": all_funds_s,
        }
    return {
        "commitments": made["commitments"],
        "dues": made["dues"],
        "contribution_payments": len(made["paid"]),
        "fund_postings": fund_postings,
        "postings": Posting.objects.count(),
        "floor_rows": len(rows),
        "ours_s": ours_s,
        "floor_s": floor_s,
        "queries": queries,
        "floor_queries": floor_queries,
        "statuses": dict(sorted(statuses.items())),
        **figures,
        "build_s": build_s,
        "repeat": repeat,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "database": database,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=66_670, help="payments received (3 fund postings each)")
    parser.add_argument("--per-invoice", type=int, default=10, help="payments (instalments) per invoice")
    parser.add_argument("--commitments", type=int, default=2_000, help="commitments, half levy, half amounts")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each read; the best is kept")
    args = parser.parse_args()
    if args.payments < args.per_invoice or args.per_invoice < 1 or args.commitments < 2:
        parser.error("--payments must be at least --per-invoice (at least 1); --commitments at least 2")
    WORK.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="contributions-", dir=WORK))
    try:
        with ledger_bench.bench_database(folder) as database:
            ledger_bench.setup_django(folder)
            figures = run(
                payments=args.payments, per_invoice=args.per_invoice, commitments=args.commitments,
                repeat=max(1, args.repeat), database=database,
            )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ratio = figures["ours_s"] / figures["floor_s"]
    print(
        f"contributions         {figures['commitments']:,} commitments ({figures['dues']:,} due dates, "
        f"{figures['contribution_payments']:,} paid) over {figures['fund_postings']:,} fund postings "
        f"({figures['postings']:,} in all), {figures['database']}"
    )
    print(
        f"ours: progress        {figures['ours_s'] * 1000:.0f} ms  "
        f"({figures['queries']} queries; {figures['statuses']})"
    )
    print(f"floor: bare aggregate {figures['floor_s'] * 1000:.0f} ms  ({figures['floor_rows']:,} rows, one query)")
    print(f"ratio                 {ratio:.2f}")
    summary = {
        "commitments": figures["commitments"],
        "fund_postings": figures["fund_postings"],
        "ours_s": round(figures["ours_s"], 3),
        "floor_s": round(figures["floor_s"], 3),
        "ratio": round(ratio, 2),
        "queries": figures["queries"],
    }
    if "transparency_s" in figures:
        transparency_ratio = figures["transparency_s"] / figures["transparency_floor_s"]
        print(
            f"transparency          {figures['transparency_s'] * 1000:.0f} ms  (data.json, "
            f"{figures['transparency_bytes']:,} bytes, {figures['transparency_queries']} queries; bare aggregate "
            f"over every fund {figures['transparency_floor_s'] * 1000:.0f} ms, ratio {transparency_ratio:.2f})"
        )
        summary |= {
            "transparency_s": round(figures["transparency_s"], 3),
            "transparency_floor_s": round(figures["transparency_floor_s"], 3),
            "transparency_ratio": round(transparency_ratio, 2),
            "transparency_queries": figures["transparency_queries"],
        }
    else:
        print("transparency          not timed: pricing.selectors.transparency does not exist yet")
    print(f"peak memory           {figures['peak_mb']:.0f} MB   (setup: {figures['build_s']:.1f} s)")
    summary |= {"database": figures["database"], "peak_mb": round(figures["peak_mb"], 1)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
