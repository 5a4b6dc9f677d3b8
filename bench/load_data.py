"""The data of the load test, the accept storm and the fault drills, written into the stack's database.

    python bench/load_data.py --out var/bench/load/data.json [--firms 40] [--lots 400] [--lines 12000] ...

Run by bench/stack.py after `manage.py migrate` and `manage.py load_demo`, with the stack's environment
(DATABASE_URL, production settings). Through the services where the product has one (split, match,
invitations, offers, contracts, ledger) and bulk inserts where a benchmark helper already builds the rows:
  network   --firms partner firms with skills, capacity, attestations, references (bench/match_data.py)
  accounts  10 bid managers, 10 finance officers, two partner users per firm: 100 with --firms 40
  tender    a support tender of --lots lots and --lines lines (bench/match_data.py), split and matched,
            each work package invited to one firm in turn: open invitations to answer during the run
  offer     a tender whose every package is accepted (bench/offer.py), --offer-lines lines, with its draft
            group offer started: the load test freezes it and the workers render its documents
  ledger    a won contract with its invoices and --payments payments posted (bench/ledger.py)
  schedule  the XLSX price schedule of --schedule-lines lines imported during the run (bench/import.py's file)
bench/storm.py adds its own rounds with `build_storm` (50 firms invited on one work package).
The JSON written to --out names the accounts, their password and the ids the scripts need.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")

PASSWORD = "charge-guichet-2026"
FIRM_NAME = "Partenaire charge {n:02d}"
STORM_FIRM = "Partenaire tempête {tag} {n:02d}"
BID_MANAGERS = 10
FINANCE = 10
USERS_PER_FIRM = 2


def schedule_file(lines: int) -> Path:
    """bench/import.py's file (same name, lots and seed): written once, shared by both benchmarks."""
    from bids.schedule_samples import write_support_schedule

    path = ROOT / "var" / "bench" / f"schedule-{lines}.xlsx"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_support_schedule(path, lines=lines, lots=[(str(n), f"Lot {n}") for n in range(1, 11)], seed=1)
    return path


def make_users(names_and_roles: list[tuple[str, str]]) -> dict[str, Any]:
    """Users with the known password; one argon2 hash for all (hashing 100 times would only slow the setup)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    user_model = get_user_model()
    hashed = make_password(PASSWORD)
    user_model.objects.bulk_create(
        user_model(username=name, role=role, password=hashed, email=f"{name}@load.guichet.invalid")
        for name, role in names_and_roles
    )
    return {user.username: user for user in user_model.objects.filter(username__in=[n for n, _ in names_and_roles])}


def build_network(firms: int) -> list[Any]:
    """bench/match_data.py's firms, renamed: its helpers all name their firms "Bench firm …" and each one
    deletes that prefix before building, so the load test's firms take a name of their own."""
    from bench.match_data import FIRM_PREFIX
    from bench.match_data import build_network as build_firms
    from partners.models import PartnerFirm

    build_firms(firms=firms, seed=9)
    made = list(PartnerFirm.objects.filter(name__startswith=FIRM_PREFIX).order_by("name"))
    for n, firm in enumerate(made, start=1):
        PartnerFirm.objects.filter(pk=firm.pk).update(name=FIRM_NAME.format(n=n))
    return list(PartnerFirm.objects.filter(pk__in=[firm.pk for firm in made]).order_by("name"))


def build_accounts(firms: list[Any]) -> dict[str, Any]:
    from partners.services.access import add_member

    names = [(f"charge-chargee-{n:02d}", "bid_manager") for n in range(1, BID_MANAGERS + 1)]
    names += [(f"charge-finance-{n:02d}", "finance") for n in range(1, FINANCE + 1)]
    partners = [
        (f"charge-partenaire-{n:02d}{'ab'[k]}", firm, k)
        for n, firm in enumerate(firms, start=1)
        for k in range(USERS_PER_FIRM)
    ]
    users = make_users(names + [(name, "partner") for name, _, _ in partners])
    for name, firm, _ in partners:
        add_member(actor=None, user=users[name], firm=firm)
    return {
        "bid_managers": [name for name, role in names if role == "bid_manager"],
        "finance": [name for name, role in names if role == "finance"],
        # each of a firm's users answers every other invitation (by id parity): two users never race
        "partners": [{"username": name, "firm": firm.pk, "parity": k} for name, firm, k in partners],
    }


def build_tender(*, lots: int, lines: int, firms: list[Any], actor: Any) -> dict[str, Any]:
    """A support tender split and matched by the services, every package invited to one firm in turn."""
    from django.utils import timezone

    from bench.match_data import build_tender as build_lines
    from bids.models import Lot, Tender, WorkPackage
    from bids.services.invitations import invite_firm
    from bids.services.matching import run_match
    from bids.services.packages import split_tender

    tender_id = build_lines(lots=lots, lines=lines, seed=9)
    deadline = timezone.now().replace(microsecond=0) + dt.timedelta(days=40)
    Tender.objects.filter(pk=tender_id).update(
        title="Support et expertise logiciels libres (charge)", tender_deadline=deadline
    )
    Lot.objects.filter(tender_id=tender_id).update(tender_deadline=deadline)
    tender = Tender.objects.get(pk=tender_id)
    started = time.perf_counter()
    split_tender(actor=actor, tender=tender)
    run = run_match(actor=actor, tender=tender)
    match_s = time.perf_counter() - started
    answer_by = deadline - dt.timedelta(days=20)
    packages = list(WorkPackage.objects.filter(tender=tender).select_related("lot").order_by("lot__position", "id"))
    for n, package in enumerate(packages):
        invite_firm(actor=actor, package=package, firm=firms[n % len(firms)], deadline=answer_by)
    return {"tender": tender_id, "packages": len(packages), "match_run": run.pk, "match_s": round(match_s, 1)}


def build_offer(*, lots: int, lines: int, firms: int, actor: Any) -> dict[str, Any]:
    """bench/offer.py's accepted tender and its draft group offer: freezing it is the load test's offer build."""
    from bench.offer import build
    from bids.models import Tender
    from bids.services.offers import start_offer

    tender = build(lots=lots, lines=lines, firms=firms)
    Tender.objects.filter(pk=tender.pk).update(title="Tierce maintenance applicative (offre de charge)")
    version = start_offer(actor=actor, tender=tender)
    return {"tender": tender.pk, "version": version.pk, "lines": lines, "lots": lots}


def build_ledger(payments: int) -> dict[str, Any]:
    """bench/ledger.py's won contract, its invoices and payments posted through the ledger services."""
    from django.db import transaction

    from bench import ledger
    from bids.services.offers import render_documents
    from pricing.services.payments import post_payments

    data = ledger.build(payments=payments, per_invoice=10)
    ledger.post_invoices(data["invoice_ids"][1:])  # the first was posted when issued, through the services
    with transaction.atomic():
        written = post_payments(data["payments"], actor=None)
    # bench/ledger.py freezes without queueing the rendering: render it here, or the first sweep of stuck jobs
    # in the fault drills would find it queued and render it in the middle of a drill
    render_documents(version_id=data["contract"].version_id)
    return {"contract": data["contract"].pk, "invoices": len(data["invoice_ids"]), "entries": written}


def build_storm(*, firms: int, actor: Any, tag: str) -> dict[str, Any]:
    """One work package of one lot with `firms` firms invited on it at once (`invite_firm`: the first to
    accept wins), a user each: one round of the accept storm of bench/storm.py (`tag` names the round)."""
    from django.db import transaction
    from django.utils import timezone

    from bids.models import Line, Lot, Tender, WorkPackage
    from bids.services.invitations import invite_firm
    from bids.services.lines import insert_lines
    from partners.models import PartnerFirm
    from partners.services.access import add_member

    deadline = timezone.now().replace(microsecond=0) + dt.timedelta(days=30)
    with transaction.atomic():
        tender = Tender.objects.create(
            title=f"Tempête d'acceptations {tag}", source_format="xlsx", currency="EUR", tender_deadline=deadline
        )
        lot = Lot.objects.create(tender=tender, source_id="1", title="Support PostgreSQL", currency="EUR")
        package = WorkPackage.objects.create(tender=tender, lot=lot, name="PostgreSQL", basis="skill", line_count=5)
        insert_lines(
            [
                (tender.pk, lot.pk, n, "schedule", f"PG-{n + 1}", f"Expertise PostgreSQL — niveau {n % 3 + 1}",
                 "jour", str(5 + n), None, "EUR", "", "", n + 2, "BPU")
                for n in range(5)
            ]
        )  # fmt: skip
        Line.objects.filter(tender=tender).update(work_package=package)
        made = PartnerFirm.objects.bulk_create(
            PartnerFirm(name=STORM_FIRM.format(tag=tag, n=n)) for n in range(1, firms + 1)
        )
    names = [f"tempete-{tag}-{n:02d}" for n in range(1, firms + 1)]
    users = make_users([(name, "partner") for name in names])
    storm = []
    for name, firm in zip(names, made, strict=True):
        add_member(actor=None, user=users[name], firm=firm)
        invitation = invite_firm(actor=actor, package=package, firm=firm, deadline=deadline - dt.timedelta(days=10))
        storm.append({"username": name, "invitation": invitation.pk})
    return {"package": package.pk, "tender": tender.pk, "users": storm}


def build(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    timings: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        timings[name] = round(time.perf_counter() - mark, 1)
        mark = time.perf_counter()

    firms = build_network(args.firms)
    accounts = build_accounts(firms)
    lap("accounts")
    actor = get_user_model().objects.get(username=accounts["bid_managers"][0])
    tender = build_tender(lots=args.lots, lines=args.lines, firms=firms, actor=actor)
    lap("tender")
    offer = build_offer(lots=args.offer_lots, lines=args.offer_lines, firms=args.offer_firms, actor=actor)
    lap("offer")
    ledger = build_ledger(args.payments)
    lap("ledger")
    schedule = schedule_file(args.schedule_lines)
    lap("schedule")
    return {
        "password": PASSWORD,
        **accounts,
        "tender": tender,
        "offer": offer,
        "ledger": ledger,
        "schedule": {"path": str(schedule), "lines": args.schedule_lines},
        "setup_s": timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--firms", type=int, default=40)
    parser.add_argument("--lots", type=int, default=400)
    parser.add_argument("--lines", type=int, default=12_000)
    parser.add_argument("--offer-lots", type=int, default=100)
    parser.add_argument("--offer-lines", type=int, default=10_000)
    parser.add_argument("--offer-firms", type=int, default=20)
    parser.add_argument("--payments", type=int, default=2_000)
    parser.add_argument("--schedule-lines", type=int, default=100_000)
    args = parser.parse_args()
    import django

    django.setup()
    data = build(args)
    args.out.write_text(json.dumps(data, indent=1))
    print(json.dumps(data["setup_s"]))


if __name__ == "__main__":
    main()
