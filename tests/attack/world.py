"""One world holding an object behind every URL of the product, and a concrete path for every URL pattern.

The paths of the product's pages and API come from the permission matrices' own URL builders (tests/
test_permissions.py, tests/ledger, tests/contributions, tests/api, tests/transparency), fed with this world's
objects; the admin's and Django's own URLs are filled here. `every_path()` walks the URL resolver, so a new
pattern without a path fails the tests that use it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from bids.models import ImportJob, WorkPackage
from bids.offer_models import DocumentKind, OfferDocument
from bids.services.imports import create_import_job, import_file
from bids.services.packages import split_tender
from consortium.models import CpvCode
from partners.models import Skill
from pricing.models import Commitment, PartnerBankAccount
from pricing.services.contracts import issue_invoice
from pricing.services.payments import PaymentInput, record_payment
from pricing.services.payouts import run_payout_batch
from tests import test_permissions as pages
from tests.api import test_api_permissions as api
from tests.conftest import SAMPLES, make_user
from tests.contributions import test_contribution_api as contribution_api
from tests.contributions import test_contribution_permissions as contributions
from tests.ledger import test_money_permissions as money
from tests.ledger.conftest import SIGNED_ON, LedgerContract, build_ledger_contract
from tests.transparency.test_transparency_permissions import TRANSPARENCY_MATRIX

PERSONAS = ("bid_manager", "finance", "partner_a", "partner_b", "outsider", "anonymous")


def _rows(matrix: dict[str, Any]) -> dict[str, dict[str, int]]:
    """name -> expected status per persona, whatever the matrix's shape."""
    return {name: value[1] if isinstance(value, tuple) else value for name, value in matrix.items()}


PAGE_ROWS = _rows(pages.MATRIX)
MONEY_ROWS = _rows(money.MONEY_MATRIX) | _rows(money.MONEY_API_MATRIX)
CONTRIBUTION_ROWS = _rows(contributions.CONTRIBUTION_MATRIX)
CONTRIBUTION_API_ROWS = _rows(contribution_api.CONTRIBUTION_API_MATRIX)
API_ROWS = _rows(api.API_MATRIX)
TRANSPARENCY_ROWS = _rows(TRANSPARENCY_MATRIX)
ALL_ROWS = PAGE_ROWS | MONEY_ROWS | CONTRIBUTION_ROWS | CONTRIBUTION_API_ROWS | API_ROWS | TRANSPARENCY_ROWS

# Django's own pages: who uses them.
AUTH_PERSONAS = {
    "login": "anonymous",
    "logout": "bid_manager",
    "password_change": "bid_manager",
    "password_change_done": "bid_manager",
    "password_reset": "anonymous",
    "password_reset_done": "anonymous",
    "password_reset_confirm": "anonymous",
    "password_reset_complete": "anonymous",
    "set_language": "anonymous",
}


@dataclass(frozen=True)
class Pattern:
    name: str  # "bids:tender_detail"; an unnamed pattern is named by its route
    route: str  # "tenders/<int:pk>/"
    pattern: URLPattern


def url_patterns(resolver: URLResolver | None = None, prefix: str = "", namespace: str = "") -> list[Pattern]:
    found = []
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += url_patterns(entry, prefix + str(entry.pattern), inner)
        else:
            route = prefix + str(entry.pattern)
            found.append(Pattern(namespace + entry.name if entry.name else f"{namespace}<{route}>", route, entry))
    return found


@dataclass
class World:
    users: dict[str, Any]  # persona -> user (None for anonymous), and "admin": a superuser
    objects: dict[str, int]  # the ids tests/test_permissions.py and tests/ledger build their paths from
    ledger: LedgerContract
    commitment: Commitment
    tender_id: int  # an imported eForms tender, split into packages

    def persona_for(self, name: str) -> str:
        """A persona allowed to use `name`: the first of PERSONAS its matrix row does not refuse."""
        if name.startswith("admin:"):
            return "admin"
        if name in AUTH_PERSONAS:
            return AUTH_PERSONAS[name]
        row = ALL_ROWS[name]
        return next(persona for persona in PERSONAS if row[persona] not in (403, 404))

    def path(self, pattern: Pattern) -> str:
        name = pattern.name
        if name in PAGE_ROWS:
            return str(pages._url(name, self.objects))
        if name in MONEY_ROWS:
            return str(money._url(name, self.objects))
        if name in CONTRIBUTION_ROWS:
            return str(contributions._url(name, self.commitment))
        if name in CONTRIBUTION_API_ROWS:
            return str(contribution_api._url(name, SimpleNamespace(a_days=self.commitment)))  # type: ignore[arg-type]
        if name in API_ROWS:
            market = self.ledger.market
            matched = {"tender": market.tender, "package": market.packages["PostgreSQL"]}
            skills = {"postgresql": Skill.objects.get(name="PostgreSQL")}
            invitation = market.invitations["PostgreSQL"]
            return str(api._url(name, matched, skills, market.firm_a, invitation))
        if name in TRANSPARENCY_ROWS:
            return reverse(name)
        if name == "password_reset_confirm":
            user = self.users["bid_manager"]
            uid = urlsafe_base64_encode(force_bytes(user.pk))
            return reverse(name, args=[uid, default_token_generator.make_token(user)])
        if name in AUTH_PERSONAS:
            return reverse(name)
        if name.startswith("admin:"):
            return "/" + self._admin_route(pattern.route)
        raise LookupError(f"{name}: no permission matrix row; add one (tests/test_permissions.py or the app's)")

    def _admin_route(self, route: str) -> str:
        if route.startswith("admin/^"):  # the app index: admin/^(?P<app_label>auth|axes|...)/$
            return "admin/pricing/"
        if route.endswith("(?P<url>.*)$"):  # the catch-all
            return "admin/no-such-page/"
        parts = route.split("/")
        if parts[1] == "r":  # view on site: a content type and an object
            firm = self.ledger.market.firm_a
            return f"admin/r/{ContentType.objects.get_for_model(firm).pk}/{firm.pk}/"
        values = {"user_id": self.users["admin"].pk, "group_id": Group.objects.get_or_create(name="Relecteurs")[0].pk}
        if len(parts) > 3 and re.search(r"<(path:)?(object_id|object_pk|id)>", route):
            model = apps.get_model(parts[1], parts[2])
            first = model._default_manager.order_by("pk").first()
            pk = first.pk if first is not None else 0  # none in the world: the admin says so (a redirect)
            values.update(object_id=pk, object_pk=pk, id=pk)
        return re.sub(r"<(?:\w+:)?(\w+)>", lambda match: str(values[match[1]]), route)


def build_world(users: dict[str, Any], capture_on_commit: Any) -> World:
    """The offer market and contract of tests/ledger, a commitment, a payout, offer documents, an imported and
    split tender and a failed import job: an object behind every URL."""
    admin = make_user("root", "admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    users = {**users, "admin": admin}
    lc = build_ledger_contract(
        bid_manager=users["bid_manager"], partner_a=users["partner_a"], partner_b=users["partner_b"],
        finance=users["finance"],
    )  # fmt: skip
    market = lc.market
    order = lc.order()
    invoice = issue_invoice(actor=lc.finance, order=order, number="F-1", issued_on=SIGNED_ON + dt.timedelta(days=20))
    record_payment(actor=lc.finance, payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=30), 10_000))
    PartnerBankAccount.objects.create(firm=market.firm_a, holder="Firm A", iban="FR1420041010050500013M02606")
    batch = run_payout_batch(actor=lc.finance, key="world", execution_date=SIGNED_ON + dt.timedelta(days=31)).batch
    commitment = contributions.firm_a_days_commitment(lc, users["bid_manager"])
    documents = _offer_documents(lc)
    data = (SAMPLES / "eforms/cn_24_FRA_comments.xml").read_bytes()
    tender = import_file(actor=users["bid_manager"], data=data, source="n.xml").saved[0].tender
    split_tender(actor=users["bid_manager"], tender=tender)
    package = WorkPackage.objects.filter(tender=tender).order_by("pk").first()
    assert package is not None
    _login_records()
    with capture_on_commit(execute=True):
        job = create_import_job(actor=users["bid_manager"], name="bad.csv", data=b"nothing;here\n1;2\n", fmt="csv")
    objects = {
        "tender": tender.pk,
        "package": package.pk,
        "job": ImportJob.objects.get(pk=job.pk).pk,
        "firm": market.firm_a.pk,
        "firm_b": market.firm_b.pk,
        "invitation": market.invitations["PostgreSQL"].pk,
        "invitation_b": market.invitations["Nginx"].pk,
        "market_tender": market.tender.pk,
        "market_package": market.packages["Nginx"].pk,
        "offer_version": lc.version.pk,
        **documents,
        "contract": lc.contract.pk,
        "version": lc.version.pk,
        "order": order.pk,
        "batch": batch.pk,
        "lot": market.lot.pk,
    }
    return World(users=users, objects=objects, ledger=lc, commitment=commitment, tender_id=tender.pk)


def _login_records() -> None:
    """A failed login, its failure log and a login of the log (the admin lists them)."""
    seen = {"username": "intruder", "ip_address": "192.0.2.1", "user_agent": "curl", "path_info": "/accounts/login/"}
    AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1)
    AccessFailureLog.objects.create(**seen)
    AccessLog.objects.create(**seen)
    CpvCode.objects.get_or_create(
        code="72000000", defaults={"check_digit": "5", "label_fr": "Services TI", "label_en": "IT services", "level": 2}
    )


def _offer_documents(lc: LedgerContract) -> dict[str, int]:
    """Each member firm's part and the memo, written directly: the checks need the rows, not a rendering."""
    found = {}
    for key, firm, kind in (
        ("offer_document", lc.market.firm_a, DocumentKind.PART_SCHEDULE),
        ("offer_document_b", lc.market.firm_b, DocumentKind.PART_SCHEDULE),
        ("offer_memo", None, DocumentKind.MEMO),
    ):
        data = f"{key} of version {lc.version.pk}".encode()
        document = OfferDocument(
            version=lc.version, kind=kind, firm=firm, filename=f"{key}.xlsx", content_type="application/octet-stream",
            size=len(data), sha256=hashlib.sha256(data).hexdigest(),
        )  # fmt: skip
        document.content.save(document.filename, ContentFile(data), save=True)
        found[key] = document.pk
    return found
