"""Who may open what: every URL of the product, for each persona of the matrix, on objects owned by
firm A and by firm B.

A URL name missing from MATRIX fails `test_every_url_is_in_the_matrix`, so a new page cannot
ship without its row. Rows are written for firm A's object; on firm B's object the expectations of
partner A and partner B swap.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from bids.models import ImportJob, JobStatus, Tender, WorkPackage
from bids.offer_models import (
    DocumentKind,
    GroupOffer,
    MemberRole,
    OfferDocument,
    OfferMember,
    OfferStatus,
    OfferVersion,
)
from bids.services.imports import create_import_job, import_file
from bids.services.invitations import default_deadline, send_invitations
from bids.services.packages import split_tender
from partners.models import PartnerFirm
from tests.conftest import client_for
from tests.contributions.test_contribution_permissions import CONTRIBUTION_MATRIX
from tests.invitations.conftest import build_market, invitation_of
from tests.ledger.test_money_permissions import MONEY_MATRIX
from tests.transparency.test_transparency_permissions import TRANSPARENCY_MATRIX

pytestmark = pytest.mark.django_db

PERSONAS = ("bid_manager", "partner_a", "partner_b", "finance", "outsider", "anonymous")
STAFF_READ = {"bid_manager": 200, "finance": 200, "partner_a": 403, "partner_b": 403, "outsider": 403, "anonymous": 302}
BID_ONLY = {"bid_manager": 200, "finance": 403, "partner_a": 403, "partner_b": 403, "outsider": 403, "anonymous": 302}
BID_ONLY_POST = {**BID_ONLY, "bid_manager": 302}
ANY_USER = {"bid_manager": 302, "finance": 302, "partner_a": 302, "partner_b": 302, "outsider": 200, "anonymous": 302}
ADMIN_ONLY = dict.fromkeys(PERSONAS, 302)
ANY_ROLE = {"bid_manager": 200, "finance": 200, "partner_a": 200, "partner_b": 200, "outsider": 403, "anonymous": 302}
# Per-firm pages are opened on Firm A: partner B must not learn that it exists.
FIRM_A_READ = {**ANY_ROLE, "partner_b": 404}
FIRM_A_EDIT = {**FIRM_A_READ, "finance": 403}
REDIRECT_ANY_ROLE = {**ANY_ROLE, "bid_manager": 302, "finance": 302, "partner_a": 302, "partner_b": 302}
# Answering an invitation of firm A with an empty form: refused with the reasons (400), never saved.
ANSWER_A = {"bid_manager": 400, "finance": 403, "partner_a": 400, "partner_b": 404, "outsider": 403, "anonymous": 302}
WITHDRAW = {"bid_manager": 302, "finance": 403, "partner_a": 403, "partner_b": 403, "outsider": 403, "anonymous": 302}
# The group offer: a frozen version whose members are firms A and B. Finance reads what was sent; each member
# firm downloads its own parts (the zip holds only them); a part of firm A is not found for partner B.
OFFER_MEMBERS_READ = {**ANY_ROLE}
PARTNERS_ONLY = {
    "bid_manager": 403,
    "finance": 403,
    "partner_a": 200,
    "partner_b": 200,
    "outsider": 403,
    "anonymous": 302,
}

# url name -> (method, expected status per persona)
MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "home": ("get", ANY_USER),
    "bids:tender_list": ("get", STAFF_READ),
    "bids:tender_detail": ("get", STAFF_READ),
    "bids:import_list": ("get", BID_ONLY),
    "bids:import_new": ("get", BID_ONLY),
    "bids:import_detail": ("get", BID_ONLY),
    "bids:import_status": ("get", BID_ONLY),
    "bids:import_retry": ("post", BID_ONLY_POST),
    "bids:package_list": ("get", STAFF_READ),
    "bids:package_detail": ("get", STAFF_READ),
    "bids:package_split": ("post", BID_ONLY_POST),
    "bids:package_merge": ("post", BID_ONLY_POST),
    "bids:package_move": ("post", BID_ONLY_POST),
    "bids:package_divide": ("post", BID_ONLY_POST),
    "bids:package_rename": ("post", BID_ONLY_POST),
    "bids:package_requirements": ("post", BID_ONLY_POST),
    "bids:split_rule_new": ("post", BID_ONLY_POST),
    "bids:match_overview": ("get", STAFF_READ),
    "bids:match_status": ("get", STAFF_READ),
    "bids:package_candidates": ("get", STAFF_READ),
    "bids:match_run": ("post", BID_ONLY_POST),
    "bids:assignment_adjust": ("post", BID_ONLY_POST),
    "bids:exclusion_add": ("post", BID_ONLY_POST),
    "bids:exclusion_remove": ("post", BID_ONLY_POST),
    "partners:firm_list": ("get", ANY_ROLE),
    "partners:firm_export": ("get", ANY_ROLE),
    "partners:skill_list": ("get", ANY_ROLE),
    "partners:my_firm": ("get", REDIRECT_ANY_ROLE),
    "partners:firm_detail": ("get", FIRM_A_READ),
    "partners:firm_edit": ("get", FIRM_A_EDIT),
    "partners:firm_skills": ("get", FIRM_A_EDIT),
    "partners:firm_capacity": ("get", FIRM_A_EDIT),
    "partners:firm_attestations": ("get", FIRM_A_EDIT),
    "partners:firm_references": ("get", FIRM_A_EDIT),
    "partners:firm_contacts": ("get", FIRM_A_EDIT),
    "bids:invitation_list": ("get", ANY_ROLE),
    "bids:invitation_detail": ("get", FIRM_A_READ),
    "bids:invitation_sheet": ("get", FIRM_A_READ),
    "bids:invitation_accept": ("post", ANSWER_A),
    "bids:invitation_decline": ("post", ANSWER_A),
    "bids:invitation_upload": ("post", ANSWER_A),
    "bids:invitation_withdraw": ("post", WITHDRAW),
    "bids:invitation_dashboard": ("get", STAFF_READ),
    "bids:invitation_send": ("post", BID_ONLY_POST),
    "bids:invitation_invite_firm": ("post", BID_ONLY_POST),
    "bids:offer_detail": ("get", STAFF_READ),
    "bids:offer_start": ("post", BID_ONLY_POST),
    "bids:offer_composition": ("post", BID_ONLY_POST),
    "bids:offer_policy": ("post", BID_ONLY_POST),
    "bids:offer_freeze": ("post", BID_ONLY_POST),
    "bids:offer_retry": ("post", BID_ONLY_POST),
    "bids:offer_submit": ("post", BID_ONLY_POST),
    "bids:offer_result": ("post", BID_ONLY_POST),
    "bids:offer_new_version": ("post", BID_ONLY_POST),
    "bids:offer_status": ("get", OFFER_MEMBERS_READ),
    "bids:offer_zip": ("get", OFFER_MEMBERS_READ),
    "bids:offer_document": ("get", FIRM_A_READ),
    "bids:partner_offers": ("get", PARTNERS_ONLY),
}
# Pages of one firm's object: opened on firm A's and on firm B's.
PER_FIRM = {name for name in MATRIX if name.startswith(("partners:firm_", "bids:invitation_"))} - {
    "partners:firm_list",
    "partners:firm_export",
    "bids:invitation_list",
    "bids:invitation_dashboard",
    "bids:invitation_send",
    "bids:invitation_invite_firm",
} | {"bids:offer_document"}
OFFER_URLS = {name for name in MATRIX if name.startswith("bids:offer_")}
# Django's own views, checked elsewhere (auth flows) or reserved to superusers (admin).
# The API has its own matrix in tests/api/test_api_permissions.py.
NOT_PRODUCT_PAGES = ("admin:", "login", "logout", "password_", "set_language", "django.", "api-")


def _url_names(resolver: URLResolver, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= _url_names(pattern, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(prefix + pattern.name)
    return names


def test_every_url_is_in_the_matrix() -> None:
    names = {name for name in _url_names(get_resolver()) if not name.startswith(NOT_PRODUCT_PAGES)}
    # money: tests/ledger/; contributions and transparency: their own folders
    known = set(MATRIX) | set(MONEY_MATRIX) | set(CONTRIBUTION_MATRIX) | set(TRANSPARENCY_MATRIX)
    assert names <= known, f"add these URLs to MATRIX: {sorted(names - known)}"


@pytest.fixture
def objects(
    samples: Path, personas: dict[str, Any], bid_manager: Any, django_capture_on_commit_callbacks: Any
) -> dict[str, int]:
    tender = (
        import_file(actor=bid_manager, data=(samples / "eforms/cn_24_FRA_comments.xml").read_bytes(), source="n.xml")
        .saved[0]
        .tender
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = create_import_job(actor=bid_manager, name="bad.csv", data=b"nothing;here\n1;2\n", fmt="csv")
    split_tender(actor=bid_manager, tender=tender)
    package = WorkPackage.objects.filter(tender=tender).first()
    assert package is not None
    market = build_market(partner_a=personas["partner_a"], partner_b=personas["partner_b"])
    send_invitations(actor=bid_manager, tender=market.tender, deadline=default_deadline(market.tender))
    invitation_a = invitation_of(market, "PostgreSQL", "A")
    invitation_b = invitation_of(market, "Nginx", "B")
    return {
        "tender": tender.pk,
        "job": job.pk,
        "package": package.pk,
        "firm": PartnerFirm.objects.get(name="Firm A").pk,
        "firm_b": PartnerFirm.objects.get(name="Firm B").pk,
        "invitation": invitation_a.pk,
        "invitation_b": invitation_b.pk,
        "market_tender": market.tender.pk,
        "market_package": market.packages["Nginx"].pk,
    }


@pytest.fixture
def offer_objects(objects: dict[str, int], bid_manager: Any) -> dict[str, int]:
    """A frozen version of the market tender's offer, firms A and B its members, each with its own part and
    the memo: written directly, the permission checks need the rows, not the rendering."""
    tender = Tender.objects.get(pk=objects["market_tender"])
    version = OfferVersion.objects.create(
        offer=GroupOffer.objects.create(tender=tender, created_by=bid_manager),
        number=1,
        status=OfferStatus.FROZEN,
        mandataire_name="Guichet",
        frozen_at=timezone.now(),
        render_status=JobStatus.SUCCEEDED,
    )
    documents = {}
    for key, kind in (("firm", DocumentKind.PART_SCHEDULE), ("firm_b", DocumentKind.PART_SCHEDULE), ("", "memo")):
        firm_id = objects[key] if key else None
        if firm_id is not None:
            OfferMember.objects.create(version=version, firm_id=firm_id, role=MemberRole.COCONTRACTOR)
        data = f"document {kind} {key}".encode()
        document = OfferDocument(
            version=version,
            kind=kind,
            firm_id=firm_id,
            filename=f"{kind}-{key or 'all'}.xlsx",
            content_type="application/octet-stream",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        document.content.save(document.filename, ContentFile(data), save=True)
        documents[key or "memo"] = document.pk
    return {
        **objects,
        "offer_version": version.pk,
        "offer_document": documents["firm"],
        "offer_document_b": documents["firm_b"],
        "offer_memo": documents["memo"],
    }


PER_TENDER = {
    "bids:tender_detail",
    "bids:package_list",
    "bids:package_split",
    "bids:package_merge",
    "bids:match_overview",
    "bids:match_status",
    "bids:match_run",
    "bids:exclusion_add",
}
PER_PACKAGE = {
    "bids:package_detail",
    "bids:package_move",
    "bids:package_divide",
    "bids:package_rename",
    "bids:package_requirements",
    "bids:split_rule_new",
    "bids:package_candidates",
    "bids:assignment_adjust",
}


def _url(name: str, objects: dict[str, int], owner: str = "A") -> str:
    from django.urls import reverse

    suffix = "" if owner == "A" else "_b"
    if name.startswith("partners:firm_") and name in PER_FIRM:
        return reverse(name, args=[objects["firm" + suffix]])
    if name.startswith("bids:invitation_") and name in PER_FIRM:
        return reverse(name, args=[objects["invitation" + suffix]])
    # Callers without an offer (tests/test_confidentiality.py) get ids that exist nowhere.
    if name == "bids:offer_document":
        return reverse(name, args=[objects.get("offer_version", 0), objects.get("offer_document" + suffix, 0)])
    if name in {"bids:offer_detail", "bids:offer_start"}:
        return reverse(name, args=[objects["market_tender"]])
    if name in OFFER_URLS:
        return reverse(name, args=[objects.get("offer_version", 0)])
    if name == "bids:invitation_invite_firm":
        return reverse(name, args=[objects["market_tender"], objects["market_package"]])
    if name.startswith("bids:invitation_"):
        return reverse(name, args=[objects["market_tender"]]) if name != "bids:invitation_list" else reverse(name)
    if name == "bids:exclusion_remove":
        return reverse(name, args=[objects["tender"], objects["firm"]])
    if name in PER_PACKAGE:
        return reverse(name, args=[objects["tender"], objects["package"]])
    if name in PER_TENDER:
        return reverse(name, args=[objects["tender"]])
    if name.startswith("bids:import_") and name not in {"bids:import_list", "bids:import_new"}:
        return reverse(name, args=[objects["job"]])
    return reverse(name)


def _expected(name: str, owner: str) -> dict[str, int]:
    expected = MATRIX[name][1]
    if owner == "A":
        return expected
    return {**expected, "partner_a": expected["partner_b"], "partner_b": expected["partner_a"]}


CASES = [(name, "A") for name in MATRIX] + [(name, "B") for name in sorted(PER_FIRM)]


@pytest.mark.parametrize(("name", "owner"), CASES)
def test_matrix(
    name: str, owner: str, personas: dict[str, Any], objects: dict[str, int], request: pytest.FixtureRequest
) -> None:
    if name in OFFER_URLS:
        objects = request.getfixturevalue("offer_objects")
    method = MATRIX[name][0]
    url = _url(name, objects, owner)
    seen = {}
    for persona in PERSONAS:
        client = client_for(personas[persona])
        response = getattr(client, method)(url)
        seen[persona] = response.status_code
    assert seen == _expected(name, owner)


def test_anonymous_is_sent_to_login(objects: dict[str, int]) -> None:
    response = client_for(None).get(_url("bids:tender_detail", objects))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_job_of_unknown_id_is_404_not_500(bid_manager: Any) -> None:
    client = client_for(bid_manager)
    assert client.get("/imports/999999/").status_code == 404
    assert client.get("/imports/999999/status.json").status_code == 404
    assert client.get("/tenders/999999/").status_code == 404


def test_offer_memo_is_not_found_for_partners(personas: dict[str, Any], offer_objects: dict[str, int]) -> None:
    from django.urls import reverse

    url = reverse("bids:offer_document", args=[offer_objects["offer_version"], offer_objects["offer_memo"]])
    seen = {persona: client_for(personas[persona]).get(url).status_code for persona in PERSONAS}
    assert seen == {**FIRM_A_READ, "partner_a": 404}


def test_offer_posts_refuse_get(bid_manager: Any, offer_objects: dict[str, int]) -> None:
    client = client_for(bid_manager)
    for name in sorted(OFFER_URLS):
        if MATRIX[name][0] == "post":
            assert client.get(_url(name, offer_objects)).status_code == 405, name


def test_retry_refuses_get(bid_manager: Any, objects: dict[str, int]) -> None:
    assert client_for(bid_manager).get(_url("bids:import_retry", objects)).status_code == 405


def test_partner_sees_no_tender_data_on_home(personas: dict[str, Any], objects: dict[str, int]) -> None:
    body = client_for(personas["partner_a"]).get("/", follow=True).content.decode()
    assert "Rouen Habitat" not in body
    assert ImportJob.objects.count() == 1
