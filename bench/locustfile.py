"""The users of the load test (Locust 2.47, run by bench/load.py; not a test of the suite).

    LOAD_DATA=var/bench/load/data.json LOAD_OUT=var/bench/load/run \
        locust -f bench/locustfile.py --headless -H http://127.0.0.1:PORT -u 100 -r 2 -t 180s

  BidManager  browses tenders, lots, work packages, match results, invitation dashboards, offers, firms
  Partner     browses its invitations and answers them: accepts with a price on every line (a real form
              POST with its CSRF token) or declines with a reason; its firm, its statement, its offers
  Finance     browses the contracts, the finance dashboard, the statements of the firms, the payouts
  Importer    (one) uploads the 100,000-line price schedule on the import page and polls the job
  OfferBuilder (one) freezes the draft group offer and polls the rendering of its documents by the workers
Every request is recorded (class, method, name, status, milliseconds) in LOAD_OUT/samples.jsonl, every
answer sent in LOAD_OUT/answers.json; the two background jobs write LOAD_OUT/jobs.json. Requests carry
what the TLS reverse proxy adds (X-Forwarded-Proto: https): gunicorn runs the production settings unchanged.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import json
import os
import random
import re
import time
from pathlib import Path
from typing import Any

import gevent
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from urllib3 import encode_multipart_formdata

DATA: dict[str, Any] = json.loads(Path(os.environ.get("LOAD_DATA", "var/bench/load/data.json")).read_text())
OUT = Path(os.environ.get("LOAD_OUT", "var/bench/load/run"))
JOB_DELAY = float(os.environ.get("LOAD_JOB_DELAY", "10"))  # seconds after every user is in
THINK = [float(value) for value in os.environ.get("LOAD_THINK", "2,8").split(",")]  # seconds between two tasks
PASSWORD = DATA["password"]
TENDER = DATA["tender"]["tender"]
OFFER_TENDER = DATA["offer"]["tender"]
OFFER_VERSION = DATA["offer"]["version"]

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')
REVISION = re.compile(r'name="revision" value="(\d+)"')
PRICE = re.compile(r'name="price_(\d+)"')
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SAMPLES: list[dict[str, Any]] = []
LOGGED_IN: list[float] = []
ANSWERS: list[dict[str, Any]] = []  # every accept or decline sent by a partner, and whether it was seen saved
JOBS: dict[str, Any] = {}
ACCOUNTS = {
    "bid_manager": itertools.cycle(DATA["bid_managers"]),
    "finance": itertools.cycle(DATA["finance"]),
    # one user of each firm first, then each firm's second user
    "partner": itertools.cycle(sorted(DATA["partners"], key=lambda p: (p["parity"], p["username"]))),
}


def ids(pattern: str, page: str) -> list[int]:
    return sorted({int(found) for found in re.findall(pattern, page)})


@events.request.add_listener
def record(request_type: str, name: str, response_time: float, response: Any, exception: Any, context: dict[str, Any],
           **kwargs: Any) -> None:  # fmt: skip
    SAMPLES.append(
        {
            "class": context.get("class", "?"),
            "method": request_type,
            "name": name,
            "status": getattr(response, "status_code", 0) or 0,
            "ms": round(response_time, 1),
            "failed": exception is not None,
            "error": str(exception)[:200] if exception else "",
            "at": round(time.time(), 2),
        }
    )


@events.test_stop.add_listener
def save(**kwargs: Any) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "samples.jsonl").open("w") as out:
        out.writelines(json.dumps(sample) + "\n" for sample in SAMPLES)
    (OUT / "jobs.json").write_text(json.dumps(JOBS, indent=1))
    (OUT / "answers.json").write_text(json.dumps(ANSWERS))


class HttpsBehindProxy(http.cookiejar.DefaultCookiePolicy):
    """Send the secure cookies back over loopback HTTP, as a browser does over the proxy's HTTPS."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return True


class GuichetUser(FastHttpUser):
    abstract = True
    role = ""
    wait_time = between(THINK[0], THINK[1])
    connection_timeout = 30.0
    network_timeout = 60.0

    def context(self) -> dict[str, Any]:
        return {"class": self.role}

    def on_start(self) -> None:
        # the TLS reverse proxy's header, and the origin a browser sends with a same-site form
        origin = "https://" + str(self.host).split("://", 1)[1]
        self.headers = {"X-Forwarded-Proto": "https", "Origin": origin, "Referer": origin + "/"}
        self.client.cookiejar.set_policy(HttpsBehindProxy())
        self.csrf = ""
        self.account = next(ACCOUNTS[self.role])
        username = self.account["username"] if isinstance(self.account, dict) else self.account
        self.page("/accounts/login/", "login page")
        self.post("/accounts/login/", "login", {"username": username, "password": PASSWORD})
        self.page("/", "home")
        LOGGED_IN.append(time.time())
        if len(LOGGED_IN) >= self.environment.runner.target_user_count:  # type: ignore[union-attr]
            # from here on every user is logged in and browsing: the steady state the targets are read on
            JOBS.setdefault("steady_from", time.time())

    def page(self, path: str, name: str) -> str:
        """A GET answered 200; its body, and the form token it carries (for the next POST)."""
        with self.client.get(path, name=name, headers=self.headers, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return ""
            body = response.text or ""
            found = CSRF.search(body)
            if found:
                self.csrf = found.group(1)
            return body

    def post(self, path: str, name: str, data: dict[str, Any]) -> str:
        """A form POST that must redirect (302), as every successful write does; returns where to."""
        with self.client.post(
            path, name=name, data={"csrfmiddlewaretoken": self.csrf, **data}, headers=self.headers,
            allow_redirects=False, catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 302:
                response.failure(f"HTTP {response.status_code}: {refusal(response.text or '')}")
                return ""
            return str(response.headers.get("Location", ""))


def refusal(page: str) -> str:
    """The first error message of a refused form (the messages framework's list), for the failure report."""
    found = re.search(r'class="[^"]*error[^"]*"[^>]*>([^<]{1,200})', page)
    return found.group(1).strip() if found else page[:120]


class BidManager(GuichetUser):
    role = "bid_manager"
    weight = 35

    def on_start(self) -> None:
        super().on_start()
        self.packages: list[int] = []
        self.lots: list[int] = []
        self.tenders: list[int] = []

    @task(3)
    def tenders_page(self) -> None:
        body = self.page("/tenders/", "tender list")
        self.tenders = ids(r'href="/tenders/(\d+)/"', body) or self.tenders
        if random.random() < 0.3:
            self.page("/tenders/?q=support", "tender search")

    @task(4)
    def tender(self) -> None:
        body = self.page(f"/tenders/{TENDER}/", "tender detail")
        self.lots = ids(r"\?lot=(\d+)", body) or self.lots
        if self.lots:
            self.page(f"/tenders/{TENDER}/?lot={random.choice(self.lots)}", "tender detail, one lot")
        if self.tenders:
            self.page(f"/tenders/{random.choice(self.tenders)}/", "tender detail (other tenders)")

    @task(4)
    def packages_page(self) -> None:
        body = self.page(f"/tenders/{TENDER}/packages/", "package list")
        self.packages = ids(rf"/tenders/{TENDER}/packages/(\d+)/", body) or self.packages
        if self.packages:
            self.page(f"/tenders/{TENDER}/packages/{random.choice(self.packages)}/", "package detail")

    @task(3)
    def match(self) -> None:
        self.page(f"/tenders/{TENDER}/match/", "match overview")
        if self.packages:
            package = random.choice(self.packages)
            self.page(f"/tenders/{TENDER}/packages/{package}/candidates/", "match candidates")

    @task(2)
    def invitations(self) -> None:
        self.page(f"/tenders/{TENDER}/invitations/", "invitation dashboard")

    @task(2)
    def offers(self) -> None:
        self.page(f"/tenders/{OFFER_TENDER}/offer/", "offer detail")
        if self.tenders:
            self.page(f"/tenders/{random.choice(self.tenders)}/offer/", "offer detail (other tenders)")

    @task(1)
    def firms(self) -> None:
        body = self.page("/partners/", "firm list")
        firms = ids(r'href="/partners/(\d+)/"', body)
        if firms:
            self.page(f"/partners/{random.choice(firms)}/", "firm detail")

    @task(1)
    def imports(self) -> None:
        self.page("/imports/", "import list")


class Partner(GuichetUser):
    role = "partner"
    weight = 45

    @task(3)
    def answer(self) -> None:
        """Open the first invitation waiting for this user, then accept it with prices or decline it."""
        parity = self.account["parity"]
        body = self.page("/invitations/?status=sent", "invitation list (to answer)")
        waiting = [pk for pk in ids(r'href="/invitations/(\d+)/"', body) if pk % 2 == parity]
        if not waiting:
            return
        pk = waiting[0]
        detail = self.page(f"/invitations/{pk}/", "invitation detail")
        version = VERSION.search(detail)
        lines = PRICE.findall(detail)
        if not version or not lines:
            return
        # logged before it leaves: an answer cut by the end of the run may be saved without its 302 being seen
        answer = {"invitation": pk, "action": "accept" if random.random() < 0.8 else "decline", "answered": False}
        ANSWERS.append(answer)
        if answer["action"] == "accept":
            prices = {f"price_{line}": f"{random.randint(400, 1400)},{random.randint(0, 99):02d}" for line in lines}
            data = {"version": version.group(1), "note": "Deux consultants.", "team": "2 ingénieurs", **prices}
            where = self.post(f"/invitations/{pk}/accept/", "invitation accept", data)
        else:
            data = {"version": version.group(1), "reason": "Plan de charge complet sur la période."}
            where = self.post(f"/invitations/{pk}/decline/", "invitation decline", data)
        answer.update(answered=True, saved=bool(where))
        if where:
            self.page(where, "invitation detail (after the answer)")

    @task(2)
    def invitations(self) -> None:
        self.page("/invitations/", "invitation list")

    @task(1)
    def firm(self) -> None:
        self.page("/partners/me/", "my firm")

    @task(1)
    def statement(self) -> None:
        self.page("/statements/", "my statement")

    @task(1)
    def offers(self) -> None:
        self.page("/offers/", "my offers")


class Finance(GuichetUser):
    role = "finance"
    weight = 20

    def on_start(self) -> None:
        super().on_start()
        self.contracts: list[int] = []
        self.firm_ids: list[int] = []

    @task(3)
    def contracts_page(self) -> None:
        body = self.page("/finance/contracts/", "contract list")
        self.contracts = ids(r'href="/finance/contracts/(\d+)/"', body) or self.contracts
        if self.contracts:
            self.page(f"/finance/contracts/{random.choice(self.contracts)}/", "contract detail")

    @task(2)
    def dashboard(self) -> None:
        self.page("/finance/", "finance dashboard")

    @task(3)
    def statements(self) -> None:
        body = self.page("/statements/firms/", "statement firm list")
        self.firm_ids = ids(r'href="/statements/firms/(\d+)/"', body) or self.firm_ids
        if self.firm_ids:
            self.page(f"/statements/firms/{random.choice(self.firm_ids)}/", "firm statement")

    @task(1)
    def payouts(self) -> None:
        self.page("/finance/payouts/", "payout list")

    @task(1)
    def transparency(self) -> None:
        self.page("/transparency/", "transparency page")


class BackgroundJob(GuichetUser):
    """One user running one long job, then waiting: its figures go to jobs.json."""

    abstract = True
    role = "bid_manager"
    fixed_count = 1

    def context(self) -> dict[str, Any]:
        return {"class": "jobs"}

    def poll(self, path: str, name: str, started: float) -> dict[str, Any]:
        state: dict[str, Any] = {}
        seen: dict[str, float] = {}  # when each stage was first seen
        while True:
            with self.client.get(path, name=name, headers=self.headers, catch_response=True) as response:
                if response.status_code == 200:
                    state = response.json()
                    seen.setdefault(str(state.get("stage") or state.get("status")), time.monotonic() - started)
                else:
                    response.failure(f"HTTP {response.status_code}")
            if state.get("finished"):
                return {**state, "stages_s": {k: round(v, 1) for k, v in seen.items()}}
            gevent.sleep(2)

    def wait_for_steady_state(self) -> None:
        while "steady_from" not in JOBS:
            gevent.sleep(1)
        gevent.sleep(JOB_DELAY)

    def idle(self) -> None:
        while True:
            gevent.sleep(60)


class Importer(BackgroundJob):
    @task
    def upload_and_wait(self) -> None:
        self.wait_for_steady_state()
        path = Path(DATA["schedule"]["path"])
        self.page("/imports/new/", "import page")
        body, content_type = encode_multipart_formdata(
            {
                "csrfmiddlewaretoken": self.csrf,
                "format": "auto",
                "file": (path.name, path.read_bytes(), XLSX),
            }
        )  # fmt: skip
        started = time.monotonic()
        JOBS["import"] = {"started_at": time.time(), "bytes": path.stat().st_size}
        with self.client.post(
            "/imports/new/", name=f"import upload ({DATA['schedule']['lines']:,} lines)", data=body,
            headers={**self.headers, "Content-Type": content_type}, allow_redirects=False, catch_response=True,
        ) as response:  # fmt: skip
            location = str(response.headers.get("Location", ""))
            if response.status_code != 302 or not re.search(r"/imports/\d+/$", location):
                response.failure(f"HTTP {response.status_code}")
                location = ""
        JOBS["import"]["upload_s"] = round(time.monotonic() - started, 2)
        if not location:
            JOBS["import"]["error"] = "upload refused"
            self.idle()
        job_id = int(location.rstrip("/").rsplit("/", 1)[1])
        JOBS["import"]["job"] = job_id
        final = self.poll(f"/imports/{job_id}/status.json", "import status (poll)", started)
        JOBS["import"].update(final=final, seen_done_s=round(time.monotonic() - started, 1))
        self.idle()


class OfferBuilder(BackgroundJob):
    @task
    def freeze_and_wait(self) -> None:
        self.wait_for_steady_state()
        body = self.page(f"/tenders/{OFFER_TENDER}/offer/", "offer page (to freeze)")
        revision = REVISION.search(body)
        JOBS["offer"] = {"started_at": time.time(), "version": OFFER_VERSION}
        if revision is None:
            JOBS["offer"]["error"] = "no freeze form on the offer page (already frozen by a previous run?)"
            self.idle()
        started = time.monotonic()
        where = self.post(f"/offers/{OFFER_VERSION}/freeze/", "offer freeze", {"revision": revision.group(1)})
        JOBS["offer"]["freeze_s"] = round(time.monotonic() - started, 2)
        if not where:
            JOBS["offer"]["error"] = "freeze refused"
            self.idle()
        final = self.poll(f"/offers/{OFFER_VERSION}/status.json", "offer rendering status (poll)", started)
        JOBS["offer"].update(final=final, seen_done_s=round(time.monotonic() - started, 1))
        self.idle()
