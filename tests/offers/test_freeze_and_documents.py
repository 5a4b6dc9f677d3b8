"""Freezing writes the version's own rows; the documents are rendered once, stored with their SHA-256,
and each partner downloads only its own part."""

from __future__ import annotations

import hashlib
import io
import zipfile
from decimal import Decimal
from typing import Any

import pytest

from bids.models import JobStatus, Tender
from bids.offer_models import (
    DocumentKind,
    MemberRole,
    OfferAllocation,
    OfferDocument,
    OfferLine,
    OfferMember,
    OfferStatus,
    OfferVersion,
)
from bids.offer_render import content_hash
from bids.selectors.offers import documents_for, offer_snapshot, offer_zip, read_document
from bids.services.invitations import InvitationRefused, accept_invitation
from bids.services.offers import OfferRefused, freeze_version, render_documents, retry_rendering, set_policy
from consortium.models import AuditEvent
from consortium.offer_pricing import Policy
from partners.models import Attestation
from tests.invitations.conftest import MARKER_PRICE

from .conftest import OfferMarket, freeze, start_draft, texts_of

# Firm B's unit price as a reader may see it, and its offered price (x 1.10) likewise.
B_PRICES = ("4242.17", "4242,17", "4 242,17", "4\u202f242,17", "4\u00a0242,17", "4666.39", "4666,39", "4\u202f666,39")


def rendered(offer_market: OfferMarket, capture: Any) -> OfferVersion:
    with capture(execute=True):
        version = freeze(offer_market)
    version.refresh_from_db()
    assert version.render_status == JobStatus.SUCCEEDED, version.render_errors
    return version


def test_freezing_writes_priced_lines_whose_splits_and_totals_add_up(offer_market: OfferMarket) -> None:
    version = freeze(offer_market)

    assert version.status == OfferStatus.FROZEN and version.frozen_by == offer_market.bid_manager
    assert (version.fee_rate, version.levy_rate, version.vat_rate) == (Decimal("8"), Decimal("2"), Decimal("20"))
    assert (version.total_ht, version.total_vat, version.total_ttc) == (
        Decimal("25201.95"),
        Decimal("5040.39"),
        Decimal("30242.34"),
    )
    lines = list(OfferLine.objects.filter(version=version).order_by("line__position"))
    assert len(lines) == 5
    for line in lines:
        assert line.firm_amount + line.fee_amount + line.levy_amount == line.amount
    assert [line.unit_price for line in lines] == [
        Decimal("110.00"),
        Decimal("220.00"),
        Decimal("330.00"),
        Decimal("4666.39"),
        Decimal("330.00"),
    ]
    assert lines[-1].quantity is None and lines[-1].amount == Decimal("0.00")  # a unit price only
    assert sum((line.amount for line in lines), Decimal(0)) == version.total_ht
    assert sum((line.firm_amount for line in lines), Decimal(0)) == Decimal("22910.85")
    assert sum((line.fee_amount for line in lines), Decimal(0)) == Decimal("1832.88")
    assert sum((line.levy_amount for line in lines), Decimal(0)) == Decimal("458.22")
    firms = {line.firm_id for line in lines if line.package_id == offer_market.packages["Nginx"].pk}
    assert firms == {offer_market.firm_b.pk}

    members = {m.firm_id: (m.role, m.direct_payment) for m in OfferMember.objects.filter(version=version)}
    assert members == {
        offer_market.firm_a.pk: (MemberRole.COCONTRACTOR, False),
        offer_market.firm_b.pk: (MemberRole.COCONTRACTOR, False),
    }
    allocations = {a.package_id: (a.firm_id, a.invitation_id) for a in OfferAllocation.objects.filter(version=version)}
    assert allocations == {
        offer_market.packages["PostgreSQL"].pk: (offer_market.firm_a.pk, offer_market.invitations["PostgreSQL"].pk),
        offer_market.packages["Nginx"].pk: (offer_market.firm_b.pk, offer_market.invitations["Nginx"].pk),
    }
    event = AuditEvent.objects.get(action="offer.frozen", object_id=str(version.pk))
    assert event.details["total_ht"] == "25201.95" and event.details["origin"] == "web"


def test_freezing_with_awkward_rates_keeps_every_cent(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    version = set_policy(
        actor=offer_market.bid_manager,
        version_id=version.pk,
        revision=version.revision,
        policy=Policy(fee_rate=Decimal("8.5"), levy_rate=Decimal("1.25"), vat_rate=Decimal("20")),
    )
    version = freeze(offer_market, version)
    nginx = OfferLine.objects.get(version=version, line=offer_market.market.lines["Nginx"][0])
    assert (nginx.amount, nginx.firm_amount, nginx.fee_amount, nginx.levy_amount) == (
        Decimal("23278.90"),
        Decimal("21210.85"),
        Decimal("1802.92"),
        Decimal("265.13"),
    )


def test_the_frozen_snapshot_reads_the_stored_lines(offer_market: OfferMarket) -> None:
    draft = offer_snapshot(start_draft(offer_market))
    version = freeze(offer_market)
    OfferLine.objects.filter(version=version, line=offer_market.market.lines["PostgreSQL"][0]).update(
        unit_price=Decimal("111.00"), amount=Decimal("1110.00"), fee_amount=Decimal("90.00")
    )
    frozen = offer_snapshot(OfferVersion.objects.get(pk=version.pk))
    assert frozen.total.amount == draft.total.amount == Decimal("25201.95")  # the version's own totals
    assert frozen.lines[0].unit_price == Decimal("111.00")  # the stored line, not a new pricing
    assert [firm.name for firm in frozen.firms] == ["Firm A", "Firm B"]
    assert frozen.firms[0].skills[0].level == "mainteneur"
    assert frozen.firms[0].references[0].buyer == "Département de l'Eure"
    package = frozen.lots[0].packages[0]
    assert package.name == "PostgreSQL" and package.note == "Note de Firm A" and package.team == "Équipe de Firm A"
    assert package.upstream_projects == ["PostgreSQL Global Development Group"]
    assert package.reasons[0].startswith("Classée n° 1")
    assert "Compétences : mainteneur de PostgreSQL (31,5 points sur 35)." in package.reasons


def test_freezing_refuses_with_its_problems_and_writes_nothing(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    Attestation.objects.filter(firm=offer_market.firm_b, kind="tax").delete()

    with pytest.raises(OfferRefused) as refused:
        freeze_version(actor=offer_market.bid_manager, version_id=version.pk, revision=version.revision)

    assert [problem.what for problem in refused.value.problems] == [
        "Firm B : attestation de régularité fiscale manquante."
    ]
    version.refresh_from_db()
    assert version.status == OfferStatus.DRAFT
    assert not OfferLine.objects.filter(version=version).exists()
    assert not OfferMember.objects.filter(version=version).exists()
    assert Tender.objects.get(pk=offer_market.tender.pk).offer_frozen_at is None


def test_a_stale_revision_is_refused(offer_market: OfferMarket) -> None:
    version = start_draft(offer_market)
    with pytest.raises(OfferRefused, match="rechargez la page"):
        freeze_version(actor=offer_market.bid_manager, version_id=version.pk, revision=version.revision - 1)
    assert OfferVersion.objects.get(pk=version.pk).status == OfferStatus.DRAFT


def test_a_frozen_offer_stops_the_answers(offer_market: OfferMarket) -> None:
    version = freeze(offer_market)
    tender = Tender.objects.get(pk=offer_market.tender.pk)
    assert tender.offer_frozen_at == version.frozen_at is not None
    with pytest.raises(InvitationRefused, match="figée"):
        accept_invitation(
            actor=offer_market.partner_a,
            invitation_id=offer_market.invitations["PostgreSQL"].pk,
            entries=offer_market.market.entries("PostgreSQL", ["1.00", "2.00", "3.00"]),
            version=None,
        )
    with pytest.raises(OfferRefused, match="créez une nouvelle version"):
        freeze_version(actor=offer_market.bid_manager, version_id=version.pk, revision=version.revision)


def test_every_document_is_stored_with_its_sha256(
    offer_market: OfferMarket, django_capture_on_commit_callbacks: Any
) -> None:
    version = rendered(offer_market, django_capture_on_commit_callbacks)

    documents = list(OfferDocument.objects.filter(version=version))
    kinds = sorted((document.kind, document.firm_id or 0) for document in documents)
    a, b = offer_market.firm_a.pk, offer_market.firm_b.pk
    assert kinds == sorted(
        [
            (DocumentKind.SCHEDULE, 0),
            (DocumentKind.MEMO, 0),
            (DocumentKind.GROUPEMENT, 0),
            (DocumentKind.PART_SCHEDULE, a),
            (DocumentKind.PART_GROUPEMENT, a),
            (DocumentKind.PART_SCHEDULE, b),
            (DocumentKind.PART_GROUPEMENT, b),
        ]
    )
    for document in documents:
        data = read_document(document)
        assert hashlib.sha256(data).hexdigest() == document.sha256
        assert len(data) == document.size > 0
    assert (version.render_done, version.render_total) == (7, 7)
    expected = content_hash((d.kind, d.firm_id, d.filename, d.sha256) for d in documents)
    assert version.content_hash == expected and len(expected) == 64

    # A second run rewrites nothing: same rows, same files, same hash.
    before = {(d.pk, d.content.name, d.sha256) for d in documents}
    OfferVersion.objects.filter(pk=version.pk).update(render_status=JobStatus.QUEUED)
    again = render_documents(version_id=version.pk)
    assert again.render_status == JobStatus.SUCCEEDED and again.content_hash == expected
    assert {(d.pk, d.content.name, d.sha256) for d in OfferDocument.objects.filter(version=version)} == before
    # A finished job is left alone.
    assert render_documents(version_id=version.pk).content_hash == expected


def test_a_failing_renderer_fails_the_job_and_a_retry_finishes_it(
    offer_market: OfferMarket, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bids.offer_documents import memo

    def broken(snapshot: Any) -> Any:
        raise ValueError("plus de papier")

    monkeypatch.setattr(memo, "render_memo", broken)
    with django_capture_on_commit_callbacks(execute=True):
        version = freeze(offer_market)
    version.refresh_from_db()

    assert version.render_status == JobStatus.FAILED
    assert version.render_errors == [{"where": "mémoire technique", "message": "plus de papier"}]
    stored = {d.kind: d.pk for d in OfferDocument.objects.filter(version=version)}
    assert stored == {DocumentKind.SCHEDULE: stored[DocumentKind.SCHEDULE]}  # nothing of the memo, nothing after

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        retry_rendering(actor=offer_market.bid_manager, version_id=version.pk)
    version.refresh_from_db()
    assert version.render_status == JobStatus.SUCCEEDED and version.render_errors == []
    assert OfferDocument.objects.filter(version=version).count() == 7
    assert OfferDocument.objects.get(version=version, kind=DocumentKind.SCHEDULE).pk == stored[DocumentKind.SCHEDULE]
    with pytest.raises(OfferRefused):
        retry_rendering(actor=offer_market.bid_manager, version_id=version.pk)


def test_each_partner_downloads_only_its_own_part(
    offer_market: OfferMarket, django_capture_on_commit_callbacks: Any, finance: Any, outsider: Any
) -> None:
    version = rendered(offer_market, django_capture_on_commit_callbacks)
    a = offer_market.firm_a.pk

    mine = documents_for(offer_market.partner_a, version)
    assert sorted(d.kind for d in mine) == [DocumentKind.PART_GROUPEMENT, DocumentKind.PART_SCHEDULE]
    assert {d.firm_id for d in mine} == {a}
    name, data = offer_zip(offer_market.partner_a, version)
    assert name == "offre-invite-1-v1-firm-a.zip"
    assert offer_zip(offer_market.partner_a, version) == (name, data)  # the same bytes every time
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(d.filename for d in mine)
        for entry in archive.namelist():
            seen = texts_of(entry, archive.read(entry))
            assert "Firm A" in seen
            assert not any(price in seen for price in B_PRICES), entry
            assert "Firm B" not in seen and "Nginx" not in seen, entry
    assert str(MARKER_PRICE) == B_PRICES[0]

    everything = documents_for(offer_market.bid_manager, version)
    assert len(everything) == 7
    name, data = offer_zip(offer_market.bid_manager, version)
    assert name == "offre-invite-1-v1.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert len(names) == 7 and sum(name.startswith("firm-b/") for name in names) == 2
        schedule = next(n for n in names if "/" not in n and n.endswith(".xlsx"))
        assert "4666.39" in texts_of(schedule, archive.read(schedule))  # the buyer's schedule has B's price
    assert len(documents_for(finance, version)) == 7
    assert documents_for(outsider, version) == []
    assert documents_for(offer_market.partner_b, version) != mine
