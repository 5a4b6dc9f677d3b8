"""The public transparency page and its open data: exact figures, consent, no confidential amount, flat queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from bids.offer_models import OfferLine
from consortium.money import from_cents
from partners.models import FirmSkill, PartnerFirm, Skill, SkillLevel
from pricing.ledger_models import AccountKind, EntryKind, Posting
from pricing.models import (
    CommitmentKind,
    Contract,
    Invoice,
    InvoiceShare,
    Payment,
    PaymentKind,
    ShareKind,
    UpstreamProject,
)
from pricing.open_data import csv_safe
from pricing.selectors.transparency import public_figures, share_percent
from pricing.services.commitments import CommitmentInput, create_commitment, record_work
from tests.conftest import client_for
from tests.invitations.conftest import MARKER_PRICE
from tests.test_confidentiality import spellings
from tests.transparency.conftest import COMMITMENT_MARKER, REFERENCE_MARKER, Scene

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 24)
PUBLIC_URLS = (
    "transparency:index",
    "transparency:data_json",
    "transparency:projects_csv",
    "transparency:contracts_csv",
    "transparency:schema_json",
    "transparency:schema_doc",
)
SCHEMA = Path(settings.BASE_DIR) / "docs" / "transparency.schema.json"


def fund_postings(*, project_id: int | None = None, contract_id: int | None = None, network: bool = False) -> int:
    """What the redistributions (net of their reversals) credited to the funds, read straight from the postings."""
    postings = Posting.objects.filter(account__kind=AccountKind.FUND, entry__kind__in=["redistrib", "reversal"])
    postings = postings.exclude(entry__kind=EntryKind.REVERSAL, entry__reverses__kind=EntryKind.CONTRIBUTION)
    if project_id is not None:
        postings = postings.filter(account__project_id=project_id)
    if network:
        postings = postings.filter(account__project_id__isnull=True)
    if contract_id is not None:
        postings = postings.filter(entry__contract_id=contract_id)
    return -int(postings.aggregate(total=Sum("amount_cents"))["total"] or 0)


def project_json(data: dict[str, Any], slug: str) -> dict[str, Any]:
    return next(project for project in data["projects"] if project["slug"] == slug)


def euros(cents: int) -> str:
    return f"{from_cents(cents):.2f}"


def test_levy_credited_per_project_equals_the_fund_postings_to_the_cent(scene: Scene) -> None:
    figures = public_figures(today=TODAY)
    by_slug = {p.project.slug: p for p in figures.projects}
    for project in (scene.postgres, scene.nginx):
        expected = fund_postings(project_id=project.pk)
        assert expected > 0
        assert by_slug[project.slug].levy_cents == expected
        assert [(y.year, y.levy_cents) for y in by_slug[project.slug].years if y.levy_cents] == [(2026, expected)]
    # The reversed payment took its levy back: the funds hold the levy of 5,000.00 € only.
    levy_of_invoice = sum(InvoiceShare.objects.filter(invoice=scene.invoice, kind=ShareKind.LEVY).values_list(
        "ttc_cents", flat=True
    ))  # fmt: skip
    assert figures.levy_cents == fund_postings() < levy_of_invoice
    assert figures.network_levy_cents == fund_postings(network=True)


def test_money_paid_and_days_per_year(scene: Scene) -> None:
    by_slug = {p.project.slug: p for p in public_figures(today=TODAY).projects}
    postgres, nginx = by_slug[scene.postgres.slug], by_slug[scene.nginx.slug]
    assert [(y.year, y.paid_cents) for y in postgres.years] == [(2026, 12_000)]  # the 7.77 € reversed don't count
    assert [(y.year, y.paid_cents, y.days) for y in nginx.years] == [
        (2025, 0, Decimal("1.50")),
        (2026, 3_000, Decimal("2.25")),
    ]
    assert nginx.days == Decimal("3.75")
    # Counted with commitments_progress on TODAY: firm A's 500.00 € were due on day 300, 120.00 € are paid.
    assert nginx.commitments == {"on_track": 2, "at_risk": 0, "overdue": 0, "fulfilled": 0}
    assert postgres.commitments == {"on_track": 0, "at_risk": 0, "overdue": 1, "fulfilled": 0}


def test_the_json_carries_the_same_figures(scene: Scene) -> None:
    data = client_for(None).get(reverse("transparency:data_json")).json()
    postgres = project_json(data, scene.postgres.slug)
    nginx = project_json(data, scene.nginx.slug)
    assert postgres["years"] == [
        {"year": 2026, "levy_credited": euros(fund_postings(project_id=scene.postgres.pk)), "paid": "120.00",
         "days": "0.00"},
    ]  # fmt: skip
    assert nginx["years"][0] == {"year": 2025, "levy_credited": "0.00", "paid": "0.00", "days": "1.50"}
    assert nginx["totals"]["days"] == "3.75" and nginx["totals"]["paid"] == "30.00"
    assert data["totals"]["levy_credited"] == euros(fund_postings())
    assert data["totals"]["paid"] == "150.00"
    assert data["currency"] == "EUR" and data["schema_version"] == "1.0"
    assert {"name": "Firm A", "level": SkillLevel.MAINTAINER, "level_label": "mainteneur"} in postgres[
        "supporting_firms"
    ]
    assert postgres["commitments"]["total"] == 1
    assert postgres["community_score"]["max"] == 100
    assert list(data) == ["schema_version", "generated_at", "as_of", "currency", "totals", "projects", "contracts"]


def test_firm_figures_only_with_consent(scene: Scene) -> None:
    by_slug = {p.project.slug: p for p in public_figures(today=TODAY).projects}
    (published,) = by_slug[scene.postgres.slug].firm_contributions
    assert (published.firm_name, published.paid_cents, published.days) == ("Firm A", 12_000, Decimal("0.00"))
    assert by_slug[scene.nginx.slug].firm_contributions == ()  # firm B did not agree
    data = client_for(None).get(reverse("transparency:data_json")).json()
    assert project_json(data, scene.nginx.slug)["firm_contributions"] == []

    PartnerFirm.objects.filter(pk=scene.firm_b.pk).update(publishes_contributions=True)
    by_slug = {p.project.slug: p for p in public_figures(today=TODAY).projects}
    (firm_b,) = by_slug[scene.nginx.slug].firm_contributions
    assert (firm_b.firm_name, firm_b.paid_cents, [(y.year, y.days) for y in firm_b.years]) == (
        "Firm B", 0, [(2025, Decimal("1.50")), (2026, Decimal("2.25"))],
    )  # fmt: skip

    PartnerFirm.objects.filter(pk=scene.firm_a.pk).update(publishes_contributions=False)
    by_slug = {p.project.slug: p for p in public_figures(today=TODAY).projects}
    assert by_slug[scene.postgres.slug].firm_contributions == ()


def test_share_of_each_contract_that_went_upstream(scene: Scene) -> None:
    contract = scene.contract.contract
    received = sum(
        Payment.objects.filter(contract=contract, reversed_at__isnull=True)
        .exclude(kind=PaymentKind.ADVANCE)
        .values_list("amount_cents", flat=True)
    )
    assert received == 500_000
    # The levy credited by the contract's redistributions, plus firm A's 120.00 €; the 30.00 € paid out of
    # nginx's fund are levy already counted.
    upstream = fund_postings(contract_id=contract.pk) + 12_000
    (share,) = public_figures(today=TODAY).contracts
    assert (share.reference, share.buyer, share.year_signed) == ("2026-AC-001", "Ville de Rouen", 2026)
    assert share.upstream_cents == upstream
    assert share.share_percent == share_percent(upstream, received)
    assert share.share_percent == (Decimal(upstream) / Decimal(received) * 100).quantize(Decimal("0.1"))
    rows = list(csv.reader(io.StringIO(client_for(None).get(reverse("transparency:contracts_csv")).content.decode())))
    assert rows[0] == ["reference", "title", "buyer", "year_signed", "upstream_amount", "upstream_share_percent"]
    assert rows[1] == [
        "2026-AC-001",
        contract.title,
        "Ville de Rouen",
        "2026",
        euros(upstream),
        f"{share.share_percent}",
    ]


def test_share_percent_rounds_half_up_and_needs_a_payment() -> None:
    assert share_percent(1, 0) is None
    assert share_percent(25, 1000) == Decimal("2.5")
    assert share_percent(1, 2000) == Decimal("0.1")  # 0.05 % rounds up
    assert share_percent(1, 2001) == Decimal("0.0")


def test_projects_csv_one_row_per_project_and_year(scene: Scene) -> None:
    body = client_for(None).get(reverse("transparency:projects_csv")).content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == [
        "project_slug",
        "project_name",
        "repository_url",
        "licence",
        "year",
        "levy_credited",
        "paid",
        "days",
    ]
    nginx = [row for row in rows[1:] if row[0] == scene.nginx.slug]
    assert [row[4:] for row in nginx] == [
        ["2025", "0.00", "0.00", "1.50"],
        ["2026", euros(fund_postings(project_id=scene.nginx.pk)), "30.00", "2.25"],
    ]
    assert body.endswith("\r\n")


def test_formula_looking_text_is_written_safe(scene: Scene) -> None:
    UpstreamProject.objects.filter(pk=scene.nginx.pk).update(name='=HYPERLINK("http://evil")', licence="@SUM(1)")
    Contract.objects.filter(pk=scene.contract.contract.pk).update(title="+cmd|' /C calc'!A0", reference="-2+3")
    client = client_for(None)
    projects = list(csv.reader(io.StringIO(client.get(reverse("transparency:projects_csv")).content.decode())))
    contracts = list(csv.reader(io.StringIO(client.get(reverse("transparency:contracts_csv")).content.decode())))
    nginx = next(row for row in projects if row[0] == scene.nginx.slug)
    assert (nginx[1], nginx[3]) == ('\'=HYPERLINK("http://evil")', "'@SUM(1)")
    assert (contracts[1][0], contracts[1][1]) == ("'-2+3", "'+cmd|' /C calc'!A0")
    for row in projects[1:] + contracts[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@")), cell
    assert csv_safe("-12.50") == "-12.50"  # a negative amount stays a number
    assert csv_safe("-1+1") == "'-1+1"


def test_json_matches_its_schema(scene: Scene) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    data = client_for(None).get(reverse("transparency:data_json")).json()
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    broken = {**data, "projects": [{**data["projects"][0], "years": [{"year": 2026, "paid": 12.0}]}]}
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail: amounts are strings
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def test_json_is_the_same_whatever_the_language(scene: Scene) -> None:
    client = client_for(None)
    french = client.get(reverse("transparency:data_json"), HTTP_ACCEPT_LANGUAGE="fr").json()
    english = client.get(reverse("transparency:data_json"), HTTP_ACCEPT_LANGUAGE="en").json()
    french.pop("generated_at"), english.pop("generated_at")
    assert french == english


# --- Nothing confidential ---------------------------------------------------------------------------------------


def confidential_amounts(scene: Scene) -> set[Decimal]:
    """Prices, unit prices, firm amounts, fees, invoice totals, payments received: none may be published."""
    amounts = {MARKER_PRICE}
    for line in OfferLine.objects.filter(version=scene.contract.version):
        amounts |= {line.unit_price, line.firm_unit_price, line.amount, line.firm_amount, line.fee_amount}
    for share in InvoiceShare.objects.filter(kind__in=[ShareKind.FIRM, ShareKind.FEE]):
        amounts |= {from_cents(share.ht_cents), from_cents(share.ttc_cents)}
    for invoice in Invoice.objects.all():
        amounts |= {from_cents(c) for c in (invoice.total_ht_cents, invoice.vat_cents, invoice.total_ttc_cents)}
    amounts |= {from_cents(cents) for cents in Payment.objects.values_list("amount_cents", flat=True)}
    return {amount for amount in amounts if amount > 0}


def markers_of(scene: Scene) -> set[str]:
    found: set[str] = set()
    for amount in confidential_amounts(scene):
        found |= spellings(amount)
    return found


def leaks(text: str, markers: set[str]) -> list[str]:
    """Markers found as whole numbers (not the tail of a longer one) or as text."""
    return sorted(marker for marker in markers if re.search(rf"(?<![\d.,\u202f\xa0]){re.escape(marker)}(?![\d])", text))


def public_bodies() -> dict[str, str]:
    client = client_for(None)
    bodies = {}
    for name in PUBLIC_URLS:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        bodies[name] = response.content.decode()
    for language in ("fr", "en"):
        bodies[f"index?lang={language}"] = client.get(
            reverse("transparency:index") + f"?lang={language}"
        ).content.decode()
    return bodies


def test_the_markers_are_on_a_page_finance_sees(scene: Scene, finance: Any) -> None:
    """The check below can fail: finance's contract page shows the same amounts."""
    url = reverse("pricing:contract_detail", args=[scene.contract.contract.pk])
    with translation.override("fr"):
        body = client_for(finance).get(url).content.decode()
    assert leaks(body, markers_of(scene))
    invoice_total = spellings(from_cents(scene.invoice.total_ttc_cents))
    assert leaks(body, invoice_total)


def test_nothing_confidential_is_published(scene: Scene) -> None:
    markers = markers_of(scene) | {COMMITMENT_MARKER, REFERENCE_MARKER}
    assert len(markers) > 50
    for name, body in public_bodies().items():
        assert not leaks(body, markers), f"{name} leaks {leaks(body, markers)}"
        assert "IBAN" not in body and "FR14" not in body


def test_a_public_page_shows_the_figures(scene: Scene) -> None:
    body = client_for(None).get(reverse("transparency:index")).content.decode()
    assert "PostgreSQL Global Development Group" in body and "nginx" in body
    assert 'class="level l5"' in body  # supporting firms with their level
    assert "<svg" in body and 'id="formule"' in body
    for name in ("transparency:data_json", "transparency:projects_csv", "transparency:contracts_csv"):
        assert reverse(name) in body
    assert 'class="mainnav"' not in body  # anonymous: no navigation
    assert "csrfmiddlewaretoken" not in body


# --- Access and caching -----------------------------------------------------------------------------------------


def test_anonymous_gets_every_public_url_cached_and_without_cookie(scene: Scene) -> None:
    client = client_for(None)
    for name in PUBLIC_URLS:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert response["Cache-Control"] == "public, max-age=300", name
        assert not response.cookies, name
        if name != "transparency:index":
            assert response["Access-Control-Allow-Origin"] == "*", name
    assert client.head(reverse("transparency:data_json")).status_code == 200
    assert client.get(reverse("transparency:data_json"))["Content-Type"] == "application/json"
    assert client.get(reverse("transparency:projects_csv"))["Content-Type"].startswith("text/csv; charset=utf-8")


def test_a_signed_in_visitor_page_is_private(scene: Scene, partner_a: Any) -> None:
    response = client_for(partner_a).get(reverse("transparency:index"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache"


def test_page_in_english_on_request(scene: Scene) -> None:
    response = client_for(None).get(reverse("transparency:index") + "?lang=en")
    assert response["Content-Language"] == "en"
    assert 'lang="en"' in response.content.decode()


def test_empty_network_renders(db: None) -> None:
    client = client_for(None)
    assert client.get(reverse("transparency:index")).status_code == 200
    data = client.get(reverse("transparency:data_json")).json()
    assert data["projects"] == [] and data["contracts"] == []
    jsonschema.validate(data, json.loads(SCHEMA.read_text()), cls=jsonschema.Draft202012Validator)


# --- Queries ----------------------------------------------------------------------------------------------------


def count_queries(url: str) -> int:
    client = client_for(None)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def grow(scene: Scene, finance: Any, n: int) -> None:
    """More projects, supporting firms, commitments, work and skills: nothing a page should loop a query over."""
    for i in range(n):
        project = UpstreamProject.objects.create(name=f"Projet {i}", slug=f"projet-{i}")
        skill = Skill.objects.create(name=f"Logiciel {i}", slug=f"logiciel-{i}", upstream_project=project.name)
        firm = PartnerFirm.objects.create(name=f"Entreprise {i}", publishes_contributions=i % 2 == 0)
        FirmSkill.objects.create(firm=firm, skill=skill, level=SkillLevel.CONTRIBUTOR)
        commitment = create_commitment(
            actor=finance,
            data=CommitmentInput(
                project_id=project.pk, kind=CommitmentKind.DAYS, title=f"Jours {i}", starts_on=dt.date(2025, 1, 1),
                ends_on=dt.date(2026, 12, 31), dues=[(dt.date(2026, 6, 30), Decimal(4))], firm_id=firm.pk,
                days=Decimal(4),
            ),
        )  # fmt: skip
        record_work(
            actor=finance, commitment=commitment, days=Decimal("0.5"), delivered_on=dt.date(2025, 3, i % 28 + 1),
            description="Revue", links=[f"https://github.com/example/projet-{i}/pull/{i + 1}"],
        )  # fmt: skip


def test_query_count_does_not_grow_with_the_data(scene: Scene, finance: Any) -> None:
    urls = [reverse(name) for name in PUBLIC_URLS[:4]]
    before = [count_queries(url) for url in urls]
    grow(scene, finance, 6)
    assert len(public_figures(today=TODAY).projects) == 8
    assert [count_queries(url) for url in urls] == before
