"""Accept storm: 50 partner users of 50 firms accept the same work package at the same instant.

    python bench/storm.py [--users 50] [--rounds 3] [--reuse]

The product lets a bid manager invite several firms on one package at once (`invite_firm`: "the first to
accept wins"), so each round is the real race: bench/load_data.build_storm invites `--users` firms on one
fresh package, each with a user of its own. Each user logs in on its own keep-alive session and opens its
invitation (the form, its version and one price input per line); then all wait on a barrier and POST the
accept form at once, with prices on every line, to gunicorn (production settings) on PostgreSQL.
Expected: exactly one acceptance in the database (with its prices), the other invitations superseded, one
302 answer and every other a clean refusal (HTTP 400, the page saying the package went to another firm),
no 5xx. Prints each round and the latencies; writes var/bench/storm.json.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import ROOT, Browser, running_stack

SUMMARY = ROOT / "var" / "bench" / "storm.json"
VERSION = re.compile(r'name="version" value="(\d+)"')
PRICE = re.compile(r'name="price_(\d+)"')
ALREADY_TAKEN = "déjà été attribué"  # the refusal of accept_invitation to the losers of the race


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def contender(url: str, password: str, user: dict[str, Any], barrier: threading.Barrier, out: dict[str, Any]) -> None:
    """One partner: log in, open the invitation, wait for the others, accept."""
    try:
        browser = Browser(url)
        browser.login(user["username"], password)
        page = browser.get(f"/invitations/{user['invitation']}/").text
        version = VERSION.search(page)
        lines = PRICE.findall(page)
        if version is None or not lines:
            raise RuntimeError("no accept form on the invitation page")
        form = {"version": version.group(1), **{f"price_{line}": "987,65" for line in lines}}
    except Exception as error:  # the round then fails on the missing answer, with this reason
        out["error"] = f"before the storm: {error}"
        barrier.abort()
        return
    barrier.wait()
    started = time.perf_counter()
    try:
        answer = browser.post(f"/invitations/{user['invitation']}/accept/", form)
    except Exception as error:
        out.update(error=f"no answer: {error}", ms=(time.perf_counter() - started) * 1000)
        return
    out.update(status=answer.status_code, ms=(time.perf_counter() - started) * 1000)
    out["refusal"] = ALREADY_TAKEN in answer.text if answer.status_code == 400 else None


def storm_round(url: str, password: str, users: int, tag: str) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from bench.load_data import build_storm
    from bids.models import Invitation, InvitationPrice, InvitationStatus

    actor = get_user_model().objects.filter(role="bid_manager").order_by("pk").first()
    storm = build_storm(firms=users, actor=actor, tag=tag)
    barrier = threading.Barrier(users)
    results: list[dict[str, Any]] = [{} for _ in storm["users"]]
    threads = [
        threading.Thread(target=contender, args=(url, password, user, barrier, out))
        for user, out in zip(storm["users"], results, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    statuses = Counter(out.get("status", "none") for out in results)
    invitations = Invitation.objects.filter(package_id=storm["package"])
    accepted = list(invitations.filter(status=InvitationStatus.ACCEPTED).values_list("pk", flat=True))
    times = [out["ms"] for out in results if "ms" in out]
    winner_prices = InvitationPrice.objects.filter(invitation_id__in=accepted).count()
    clean_refusals = sum(1 for out in results if out.get("status") == 400 and out.get("refusal"))
    return {
        "tag": tag,
        "users": users,
        "statuses": {str(key): value for key, value in sorted(statuses.items(), key=str)},
        "accepted_in_db": len(accepted),
        "winner_prices": winner_prices,
        "superseded_in_db": invitations.filter(status=InvitationStatus.SUPERSEDED).count(),
        "clean_refusals": clean_refusals,
        "server_errors": sum(1 for out in results if out.get("status", 0) >= 500),
        "errors": sorted({out["error"] for out in results if "error" in out})[:5],
        "p50_ms": round(percentile(times, 0.5)),
        "p95_ms": round(percentile(times, 0.95)),
        "max_ms": round(max(times, default=0)),
        "winner_ms": round(next((out["ms"] for out in results if out.get("status") == 302), 0)),
        "ok": len(accepted) == 1
        and statuses.get(302) == 1
        and clean_refusals == users - 1
        and winner_prices == 5
        and invitations.filter(status=InvitationStatus.SUPERSEDED).count() == users - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="start on the database of the last build")
    args = parser.parse_args()
    rounds = []
    with running_stack(reuse=args.reuse) as (stack, data):
        stack.setup_django()
        for number in range(1, args.rounds + 1):
            result = storm_round(stack.url, data["password"], args.users, f"{int(time.time())}-{number}")
            rounds.append(result)
            print(f"round {number}: {result['users']} accepts at once -> HTTP {result['statuses']}; "
                  f"{result['accepted_in_db']} acceptance in the database ({result['winner_prices']} prices), "
                  f"{result['superseded_in_db']} superseded, {result['clean_refusals']} clean refusals, "
                  f"{result['server_errors']} 5xx; latency p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
                  f"max {result['max_ms']} ms, winner {result['winner_ms']} ms"
                  + (f"; errors: {result['errors']}" if result["errors"] else ""))  # fmt: skip
    ok = all(item["ok"] for item in rounds)
    print("storm: " + ("OK, exactly one acceptance per round" if ok else "FAILED"))
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    command = "python bench/storm.py " + " ".join(sys.argv[1:])
    SUMMARY.write_text(json.dumps({"rounds": rounds, "ok": ok, "command": command}, indent=1))
    print(f"written: {SUMMARY}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
