"""The invitation pages: the partner's portal (list, detail, answer by form or spreadsheet), the bid manager's
dashboard, and the confidentiality between firms on every page."""

from __future__ import annotations

import datetime as dt
import html
import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bids.models import Invitation, InvitationPrice, InvitationSource, InvitationStatus, Line, WorkPackage
from bids.services.invitations import accept_invitation, default_deadline, send_invitations
from consortium.templatetags.guichet import money
from tests.conftest import client_for

from .conftest import MARKER_PRICE, Market, invitation_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(market: Market, bid_manager: Any) -> Market:
    """PostgreSQL offered to firm A, Nginx to firm B (the assigned leads)."""
    summary = send_invitations(actor=bid_manager, tender=market.tender, deadline=default_deadline(market.tender))
    assert len(summary.sent) == 2
    return market


def page(response: Any) -> str:
    return html.unescape(response.content.decode())


def detail_url(invitation: Invitation) -> str:
    return reverse("bids:invitation_detail", args=[invitation.pk])


def accept_url(invitation: Invitation) -> str:
    return reverse("bids:invitation_accept", args=[invitation.pk])


def price_form(market: Market, package: str, prices: list[str | None], version: int, **extra: str) -> dict[str, Any]:
    """The accept form as the page posts it; a None price leaves the line's input out."""
    data: dict[str, Any] = {"version": version, **extra}
    for line, price in zip(market.lines[package], prices, strict=True):
        if price is not None:
            data[f"price_{line.pk}"] = price
    return data


def b_accepts_nginx_with_secret_prices(market: Market, partner_b: Any) -> Invitation:
    nginx = invitation_of(market, "Nginx", "B")
    entries = market.entries("Nginx", [str(MARKER_PRICE), str(MARKER_PRICE)])
    return accept_invitation(actor=partner_b, invitation_id=nginx.pk, entries=entries, version=nginx.version)


# --- The partner's portal and confidentiality --------------------------------------------------------------


def test_partner_sees_its_invitation_and_lines_never_another_firms(
    sent: Market, partner_a: Any, partner_b: Any
) -> None:
    b_accepts_nginx_with_secret_prices(sent, partner_b)
    client = client_for(partner_a)

    listing = page(client.get(reverse("bids:invitation_list")))
    assert "PostgreSQL" in listing
    assert "Nginx" not in listing and "Firm B" not in listing
    assert "4242" not in listing and money(MARKER_PRICE, "EUR") not in listing

    pg = invitation_of(sent, "PostgreSQL", "A")
    response = client.get(detail_url(pg))
    assert response.status_code == 200
    body = page(response)
    for code, designation in (("PG-1", "Support PostgreSQL niveau 3"), ("PG-2", "Montée de version")):
        assert code in body and designation in body
    assert "Ville de Rouen" in body and "Support des logiciels libres de la Ville" in body
    assert "NG-1" not in body and "Firm B" not in body and "4242" not in body
    assert f'name="price_{sent.lines["PostgreSQL"][0].pk}"' in body
    assert Invitation.objects.get(pk=pg.pk).status == InvitationStatus.VIEWED

    nginx = invitation_of(sent, "Nginx", "B")
    assert client.get(detail_url(nginx)).status_code == 404
    assert client.get(reverse("bids:invitation_sheet", args=[nginx.pk])).status_code == 404
    assert "Firm A" not in page(client_for(partner_b).get(reverse("bids:invitation_list")))


def test_staff_list_shows_every_firm_and_opening_does_not_mark_viewed(sent: Market, bid_manager: Any) -> None:
    body = page(client_for(bid_manager).get(reverse("bids:invitation_list")))
    assert "Firm A" in body and "Firm B" in body
    pg = invitation_of(sent, "PostgreSQL", "A")
    assert client_for(bid_manager).get(detail_url(pg)).status_code == 200
    assert Invitation.objects.get(pk=pg.pk).status == InvitationStatus.SENT


def test_list_filters_by_status(sent: Market, partner_b: Any, bid_manager: Any) -> None:
    b_accepts_nginx_with_secret_prices(sent, partner_b)
    client = client_for(bid_manager)
    accepted = page(client.get(reverse("bids:invitation_list"), {"status": "accepted"}))
    assert "Nginx" in accepted and "PostgreSQL" not in accepted
    assert money(Decimal("25453.02"), "EUR") in accepted  # 5 x 4242.17 + 1 x 4242.17 (no quantity)
    waiting = page(client.get(reverse("bids:invitation_list"), {"status": "sent"}))
    assert "PostgreSQL" in waiting and "Nginx" not in waiting


def test_deadline_within_48_hours_is_flagged(sent: Market, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    relaxed = page(client_for(partner_a).get(detail_url(pg)))
    assert "Plus que" not in relaxed
    Invitation.objects.filter(pk=pg.pk).update(deadline=timezone.now() + dt.timedelta(hours=20))
    body = page(client_for(partner_a).get(detail_url(pg)))
    assert "Plus que" in body and "deadline-warning" in body


# --- Answering with the form -------------------------------------------------------------------------------


def test_accept_through_the_form_saves_prices_and_shows_the_total(sent: Market, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    data = price_form(sent, "PostgreSQL", ["1 000,50", "200", "300.25"], pg.version, note="Dispo", team="Anna")
    response = client_for(partner_a).post(accept_url(pg), data, follow=True)
    assert response.status_code == 200
    saved = Invitation.objects.get(pk=pg.pk)
    assert saved.status == InvitationStatus.ACCEPTED
    assert saved.total == Decimal("10705.25")  # 10 x 1000.50 + 2 x 200 + 1 x 300.25
    assert (saved.note, saved.team) == ("Dispo", "Anna")
    prices = dict(InvitationPrice.objects.filter(invitation=saved).values_list("line__code", "unit_price"))
    assert prices == {"PG-1": Decimal("1000.50"), "PG-2": Decimal("200.00"), "PG-3": Decimal("300.25")}
    body = page(response)
    assert money(Decimal("10705.25"), "EUR") in body
    assert "Prix enregistrés" in body and "acceptée" in body
    assert 'value="1000,50"' in body  # the revision form starts from the saved prices


def test_revising_keeps_one_price_per_line(sent: Market, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    client = client_for(partner_a)
    client.post(accept_url(pg), price_form(sent, "PostgreSQL", ["100", "200", "300"], pg.version))
    version = Invitation.objects.get(pk=pg.pk).version
    client.post(accept_url(pg), price_form(sent, "PostgreSQL", ["110", "200", "300"], version))
    saved = Invitation.objects.get(pk=pg.pk)
    assert saved.total == Decimal("1800.00")
    assert InvitationPrice.objects.filter(invitation=saved).count() == 3


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("-5", "prix négatif"),
        ("abc", "« abc » n'est pas un nombre"),
        ("1.234", "plus de deux décimales"),
        (None, "prix manquant"),
    ],
)
def test_bad_price_is_refused_naming_the_line_and_nothing_is_saved(
    sent: Market, partner_a: Any, typed: str | None, reason: str
) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    response = client_for(partner_a).post(
        accept_url(pg), price_form(sent, "PostgreSQL", ["100", typed, "300"], pg.version)
    )
    assert response.status_code == 400
    body = page(response)
    assert "Prix refusés : rien n'a été enregistré." in body
    assert f"ligne 2, « PG-2 Montée de version » : {reason}" in body
    assert 'value="100"' in body  # what was typed is kept
    if typed:
        assert f'value="{typed}"' in body
    saved = Invitation.objects.get(pk=pg.pk)
    assert saved.status == InvitationStatus.SENT and saved.total is None
    assert not InvitationPrice.objects.filter(invitation=saved).exists()


def test_stale_version_is_refused(sent: Market, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    client = client_for(partner_a)
    client.get(detail_url(pg))  # opening it moves it to "viewed": the version goes up
    response = client.post(accept_url(pg), price_form(sent, "PostgreSQL", ["100", "200", "300"], pg.version))
    assert response.status_code == 400
    assert "a changé depuis que vous l'avez ouverte" in page(response)
    assert Invitation.objects.get(pk=pg.pk).status == InvitationStatus.VIEWED
    assert not InvitationPrice.objects.exists()


def test_missing_version_is_refused_without_server_error(sent: Market, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    response = client_for(partner_a).post(accept_url(pg), {"version": "x"})
    assert response.status_code == 400
    assert "rechargez la page" in page(response)


def test_second_firm_accepting_an_attributed_package_is_told(
    sent: Market, partner_a: Any, partner_b: Any, bid_manager: Any
) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    client_for(bid_manager).post(
        reverse("bids:invitation_invite_firm", args=[sent.tender.pk, sent.packages["PostgreSQL"].pk]),
        {"firm": sent.firms["B"].pk},
    )
    pg_b = invitation_of(sent, "PostgreSQL", "B")
    client_for(partner_a).post(accept_url(pg), price_form(sent, "PostgreSQL", ["100", "200", "300"], pg.version))
    response = client_for(partner_b).post(
        accept_url(pg_b), price_form(sent, "PostgreSQL", ["90", "200", "300"], pg_b.version)
    )
    assert response.status_code == 400
    assert "déjà été attribué à une autre entreprise" in page(response)
    assert Invitation.objects.get(pk=pg_b.pk).status == InvitationStatus.SUPERSEDED


# --- Declining and withdrawing -----------------------------------------------------------------------------


def test_decline_without_reason_is_refused(sent: Market, partner_b: Any) -> None:
    nginx = invitation_of(sent, "Nginx", "B")
    url = reverse("bids:invitation_decline", args=[nginx.pk])
    response = client_for(partner_b).post(url, {"version": nginx.version, "reason": "  "})
    assert response.status_code == 400
    assert "Indiquez le motif du refus." in page(response)
    assert Invitation.objects.get(pk=nginx.pk).status == InvitationStatus.SENT


def test_decline_invites_the_next_firm(
    sent: Market, partner_b: Any, bid_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    nginx = invitation_of(sent, "Nginx", "B")
    url = reverse("bids:invitation_decline", args=[nginx.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(partner_b).post(url, {"version": nginx.version, "reason": "Pas disponible"}, follow=True)
    assert response.status_code == 200
    body = page(response)
    assert "Vous avez décliné" in body and "Pas disponible" in body
    assert "Firm C" not in body  # the partner is not told who comes next
    declined = Invitation.objects.get(pk=nginx.pk)
    assert (declined.status, declined.decline_reason) == (InvitationStatus.DECLINED, "Pas disponible")
    successor = invitation_of(sent, "Nginx", "C")
    assert successor.status == InvitationStatus.SENT and successor.replaces_id == nginx.pk
    history = page(client_for(bid_manager).get(detail_url(successor)))
    assert "Firm B" in history and "Firm C" in history and "déclinée" in history


def test_bid_manager_withdraws_and_the_backup_is_invited(sent: Market, bid_manager: Any, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    url = reverse("bids:invitation_withdraw", args=[pg.pk])
    assert client_for(partner_a).post(url, {"invite_successor": "1"}).status_code == 403
    assert Invitation.objects.get(pk=pg.pk).status == InvitationStatus.SENT

    response = client_for(bid_manager).post(url, {"invite_successor": "1"}, follow=True)
    assert response.status_code == 200
    body = page(response)
    assert "retirée" in body and "Firm B est invitée à sa place." in body
    assert Invitation.objects.get(pk=pg.pk).status == InvitationStatus.WITHDRAWN
    assert invitation_of(sent, "PostgreSQL", "B").source == InvitationSource.BACKUP
    withdrawn = page(client_for(partner_a).get(detail_url(pg)))
    assert "retirée" in withdrawn and "Accepter avec ces prix" not in withdrawn


# --- The spreadsheet ---------------------------------------------------------------------------------------


def filled_sheet(content: bytes, prices: dict[int, str]) -> bytes:
    """The downloaded sheet with the price column filled, by the line reference of each row."""
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    sheet = workbook.active
    assert sheet is not None
    header = next(row[0].row for row in sheet.iter_rows() if row[0].value == "Réf.")
    price_column = next(cell.column for cell in sheet[header] if cell.value == "Prix unitaire HT")
    for row in sheet.iter_rows(min_row=header + 1):
        if isinstance(row[0].value, int) and row[0].value in prices:
            sheet.cell(row=row[0].row, column=price_column, value=prices[row[0].value])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_download_fill_and_upload_accepts(sent: Market, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    client = client_for(partner_a)
    download = client.get(reverse("bids:invitation_sheet", args=[pg.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;") and ".xlsx" in download["Content-Disposition"]
    ids = [line.pk for line in sent.lines["PostgreSQL"]]
    data = filled_sheet(download.content, dict(zip(ids, ["100", "200.5", "300"], strict=True)))
    upload = io.BytesIO(data)
    upload.name = "prix.xlsx"
    response = client.post(
        reverse("bids:invitation_upload", args=[pg.pk]), {"version": pg.version, "file": upload}, follow=True
    )
    assert response.status_code == 200
    saved = Invitation.objects.get(pk=pg.pk)
    assert saved.status == InvitationStatus.ACCEPTED
    assert saved.total == Decimal("1701.00")  # 10 x 100 + 2 x 200.50 + 300
    assert money(Decimal("1701.00"), "EUR") in page(response)


def test_upload_bad_file_is_refused_with_a_clear_message(sent: Market, partner_a: Any, settings: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    client = client_for(partner_a)
    url = reverse("bids:invitation_upload", args=[pg.pk])

    missing = client.post(url, {"version": pg.version})
    assert missing.status_code == 400 and "Choisissez le bordereau XLSX rempli" in page(missing)

    not_xlsx = io.BytesIO(b"code;prix\nPG-1;100\n")
    not_xlsx.name = "prix.csv"
    wrong = client.post(url, {"version": pg.version, "file": not_xlsx})
    assert wrong.status_code == 400
    assert "« prix.csv »" in page(wrong) and "rien n'a été enregistré" in page(wrong)

    settings.IMPORT_MAX_BYTES = 10
    big = io.BytesIO(b"x" * 100)
    big.name = "gros.xlsx"
    too_big = client.post(url, {"version": pg.version, "file": big})
    assert too_big.status_code == 400 and "« gros.xlsx » est trop volumineux" in page(too_big)
    assert Invitation.objects.get(pk=pg.pk).status == InvitationStatus.SENT
    assert not InvitationPrice.objects.exists()


def test_upload_with_a_bad_price_names_the_sheet_row(sent: Market, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    client = client_for(partner_a)
    content = client.get(reverse("bids:invitation_sheet", args=[pg.pk])).content
    ids = [line.pk for line in sent.lines["PostgreSQL"]]
    upload = io.BytesIO(filled_sheet(content, dict(zip(ids, ["100", "-3", "300"], strict=True))))
    upload.name = "prix.xlsx"
    response = client.post(reverse("bids:invitation_upload", args=[pg.pk]), {"version": pg.version, "file": upload})
    assert response.status_code == 400
    body = page(response)
    assert "de la feuille « Prix »" in body and "prix négatif" in body
    assert not InvitationPrice.objects.exists()


# --- The bid manager's dashboard ---------------------------------------------------------------------------


def dashboard(client: Any, market: Market, **filters: str) -> str:
    response = client.get(reverse("bids:invitation_dashboard", args=[market.tender.pk]), filters)
    assert response.status_code == 200
    return page(response)


def test_dashboard_shows_statuses_totals_gap_and_filters(sent: Market, bid_manager: Any, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    accept_invitation(
        actor=partner_a,
        invitation_id=pg.pk,
        entries=sent.entries("PostgreSQL", ["1000", "200", "300"]),
        version=pg.version,
    )
    client = client_for(bid_manager)
    body = dashboard(client, sent)
    assert "acceptée" in body and "envoyée" in body
    assert "Firm A" in body and "Firm B" in body
    assert money(Decimal("10700.00"), "EUR") in body  # 10 x 1000 + 2 x 200 + 300, estimate 10 000
    assert "+7,0 %" in body
    assert "Prêt pour l'assemblage" not in body
    assert 'class="stack"' in body and "segment" in body

    accepted = dashboard(client, sent, status="accepted")
    assert "PostgreSQL" in accepted and "Nginx" not in accepted
    waiting = dashboard(client, sent, status="sent")
    assert "Nginx" in waiting and "+7,0 %" not in waiting
    over = dashboard(client, sent, over_estimate="1")
    assert "PostgreSQL" in over and "Nginx" not in over
    by_lot = dashboard(client, sent, lot=str(sent.lot.pk))
    assert "PostgreSQL" in by_lot and "Nginx" in by_lot
    nothing = dashboard(client, sent, status="not_sent")
    assert "Aucun lot de travaux ne correspond à ces filtres." in nothing
    assert dashboard(client, sent, status="bogus", lot="x")  # bad filters: the whole table, no error


def test_dashboard_pages_its_rows_and_keeps_the_filters(sent: Market, bid_manager: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("bids.invitation_views.DASHBOARD_ROWS", 1)
    client = client_for(bid_manager)
    first = dashboard(client, sent, lot=str(sent.lot.pk))
    second = dashboard(client, sent, lot=str(sent.lot.pk), page="2")
    shown = [name for name in ("PostgreSQL", "Nginx") if f"<td>{name}</td>" in first]
    assert len(shown) == 1
    assert f"<td>{shown[0]}</td>" not in second
    assert f"lot={sent.lot.pk}&page=2" in first  # the next page keeps the filter
    assert "Page 1 sur" in first


def test_ready_banner_when_every_package_is_accepted(
    sent: Market, bid_manager: Any, partner_a: Any, partner_b: Any
) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    accept_invitation(actor=partner_a, invitation_id=pg.pk, entries=sent.entries("PostgreSQL"), version=pg.version)
    b_accepts_nginx_with_secret_prices(sent, partner_b)
    body = dashboard(client_for(bid_manager), sent)
    assert "Prêt pour l'assemblage" in body
    assert money(Decimal("1700.00") + Decimal("25453.02"), "EUR") in body


def test_finance_reads_the_dashboard_without_the_send_form(sent: Market, finance: Any) -> None:
    body = dashboard(client_for(finance), sent)
    assert "Firm A" in body and 'id="send-form"' not in body


def test_dashboard_query_count_does_not_grow_with_packages(sent: Market, bid_manager: Any) -> None:
    client = client_for(bid_manager)
    url = reverse("bids:invitation_dashboard", args=[sent.tender.pk])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    small = count()
    for index in range(6):
        package = WorkPackage.objects.create(
            tender=sent.tender, lot=sent.lot, position=10 + index, name=f"Extra {index}", basis="skill",
            estimated_value=Decimal("1000"),
        )  # fmt: skip
        Line.objects.create(
            tender=sent.tender, lot=sent.lot, position=100 + index, origin="schedule", designation="x",
            work_package=package,
        )  # fmt: skip
        Invitation.objects.create(
            tender=sent.tender, package=package, firm=sent.firms["ABC"[index % 3]], source=InvitationSource.MANUAL,
            deadline=timezone.now() + dt.timedelta(days=5), sent_at=timezone.now(),
        )  # fmt: skip
    assert count() == small


def test_detail_query_count_does_not_grow_with_lines(sent: Market, partner_a: Any) -> None:
    pg = invitation_of(sent, "PostgreSQL", "A")
    client = client_for(partner_a)
    client.get(detail_url(pg))  # the first visit marks it viewed

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(detail_url(pg)).status_code == 200
        return len(queries)

    small = count()
    package = sent.packages["PostgreSQL"]
    Line.objects.bulk_create(
        Line(tender=sent.tender, lot=sent.lot, position=200 + i, origin="schedule", designation=f"L{i}",
             work_package=package)
        for i in range(20)
    )  # fmt: skip
    assert count() == small


# --- Sending -----------------------------------------------------------------------------------------------


def test_send_with_a_past_or_unreadable_deadline_is_refused(market: Market, bid_manager: Any) -> None:
    client = client_for(bid_manager)
    url = reverse("bids:invitation_send", args=[market.tender.pk])
    past = client.post(url, {"deadline": "2000-01-01T12:00"}, follow=True)
    assert "La date limite de réponse doit être dans le futur." in page(past)
    unreadable = client.post(url, {"deadline": "demain midi"}, follow=True)
    assert "Date limite invalide" in page(unreadable)
    assert not Invitation.objects.exists()


def test_send_form_prefills_the_default_deadline_and_sends_the_checked_packages(
    market: Market, bid_manager: Any
) -> None:
    client = client_for(bid_manager)
    body = dashboard(client, market)
    proposed = timezone.localtime(default_deadline(market.tender)).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{proposed}"' in body and "non envoyée" in body
    response = client.post(
        reverse("bids:invitation_send", args=[market.tender.pk]),
        {"deadline": proposed, "packages": [market.packages["PostgreSQL"].pk]},
        follow=True,
    )
    assert "1 invitation(s) envoyée(s)" in page(response)
    invitation = Invitation.objects.get()
    assert (invitation.package, invitation.firm) == (market.packages["PostgreSQL"], market.firms["A"])
    assert invitation.deadline == timezone.make_aware(dt.datetime.strptime(proposed, "%Y-%m-%dT%H:%M"))

    late = timezone.localtime(market.tender.tender_deadline - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    rest = page(client.post(reverse("bids:invitation_send", args=[market.tender.pk]), {"deadline": late}, follow=True))
    assert "1 invitation(s) envoyée(s)" in rest
    assert "PostgreSQL : déjà envoyée ou acceptée" in rest and "Marge courte" in rest
    assert Invitation.objects.filter(package=market.packages["Nginx"], firm=market.firms["B"]).exists()


def test_invite_firm_from_the_candidates_page(sent: Market, bid_manager: Any, partner_a: Any) -> None:
    client = client_for(bid_manager)
    package = sent.packages["PostgreSQL"]
    url = reverse("bids:invitation_invite_firm", args=[sent.tender.pk, package.pk])
    candidates = page(client.get(reverse("bids:package_candidates", args=[sent.tender.pk, package.pk])))
    assert url in candidates
    response = client.post(url, {"firm": sent.firms["C"].pk, "deadline": "", "next": "candidates"})
    assert response["Location"] == reverse("bids:package_candidates", args=[sent.tender.pk, package.pk])
    invited = invitation_of(sent, "PostgreSQL", "C")
    assert invited.source == InvitationSource.MANUAL
    assert invited.deadline > timezone.now() + dt.timedelta(days=1)

    again = client.post(url, {"firm": sent.firms["A"].pk}, follow=True)
    assert "déjà une invitation en cours" in page(again)
    assert Invitation.objects.filter(package=package).count() == 2
    assert "Firm C" not in page(client_for(partner_a).get(detail_url(invitation_of(sent, "PostgreSQL", "A"))))
