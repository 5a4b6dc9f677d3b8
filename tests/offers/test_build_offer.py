"""python manage.py build_offer TENDER_ID --out DIR [--freeze]"""

from __future__ import annotations

import hashlib
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from bids.models import JobStatus
from bids.offer_models import OfferDocument, OfferStatus, OfferVersion
from consortium.models import AuditEvent
from partners.models import Attestation

from .conftest import OfferMarket, start_draft


def build(tender_id: int, out: Path, *extra: str) -> list[tuple[str, str]]:
    printed = StringIO()
    call_command("build_offer", str(tender_id), "--out", str(out), *extra, stdout=printed)
    return [tuple(line.split("  ", 1)) for line in printed.getvalue().splitlines()]  # type: ignore[misc]


def check_files(out: Path, listed: list[tuple[str, str]]) -> None:
    assert len(listed) == 7
    for sha256, path in listed:
        assert hashlib.sha256((out / path).read_bytes()).hexdigest() == sha256
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(p for _s, p in listed)


def test_a_draft_is_rendered_without_storing_anything(offer_market: OfferMarket, tmp_path: Path) -> None:
    version = start_draft(offer_market)
    listed = build(offer_market.tender.pk, tmp_path / "out")

    check_files(tmp_path / "out", listed)
    assert sum(path.startswith("firm-a/") for _s, path in listed) == 2
    assert OfferVersion.objects.get(pk=version.pk).status == OfferStatus.DRAFT
    assert not OfferDocument.objects.exists()


def test_freeze_stores_the_documents_it_prints(offer_market: OfferMarket, tmp_path: Path) -> None:
    version = start_draft(offer_market)
    listed = build(offer_market.tender.pk, tmp_path / "out", "--freeze")

    check_files(tmp_path / "out", listed)
    version.refresh_from_db()
    assert version.status == OfferStatus.FROZEN and version.render_status == JobStatus.SUCCEEDED
    assert sorted(d.sha256 for d in OfferDocument.objects.filter(version=version)) == sorted(s for s, _p in listed)
    event = AuditEvent.objects.get(action="offer.frozen", object_id=str(version.pk))
    assert event.actor is None and event.details["origin"] == "command"

    # A frozen version: its stored documents again, byte for byte.
    assert build(offer_market.tender.pk, tmp_path / "again") == listed


def test_problems_stop_the_command_before_anything_is_written(offer_market: OfferMarket, tmp_path: Path) -> None:
    start_draft(offer_market)
    Attestation.objects.filter(firm=offer_market.firm_a, kind="insurance").delete()
    with pytest.raises(CommandError, match="Firm A : assurance responsabilité civile professionnelle manquante"):
        build(offer_market.tender.pk, tmp_path / "out", "--freeze")
    assert not (tmp_path / "out").exists()
    assert OfferVersion.objects.get().status == OfferStatus.DRAFT


def test_unknown_tender_or_no_offer(offer_market: OfferMarket, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="aucun appel d'offres n° 999999"):
        build(999999, tmp_path)
    with pytest.raises(CommandError, match="pas d'offre du groupement"):
        build(offer_market.tender.pk, tmp_path)
