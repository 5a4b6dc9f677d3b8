"""Saving imported tenders: every sample, change notices, schedules, and all-or-nothing."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from bids.importers.base import ImportFailed
from bids.models import Line, Lot, LotGroup, NoticeVersion, Tender
from bids.services.imports import import_file
from bids.services.tenders import LotChoiceNeeded
from consortium.models import AuditEvent

pytestmark = pytest.mark.django_db

# file -> (tenders, lots, lines) once saved
SAMPLE_COUNTS = {
    "eforms/cn_24_FRA_comments.xml": (1, 2, 0),
    "eforms/cn_24_maximal.xml": (1, 2, 0),
    "eforms/cn_24_maximal_100_lots.xml": (1, 100, 0),
    "eforms/cn_24_multilingual.xml": (1, 1, 0),
    "eforms-ted-published/547670-2023.xml": (1, 3, 0),
    "eforms-ted-published/615708-2023.xml": (1, 1, 0),
    "eforms-ted-published/665175-2023.xml": (1, 4, 0),
    "eforms-ted-published/762961-2023.xml": (1, 4, 0),
    "eforms-converted/20-213571-001-EXP.xml": (1, 2, 0),
    "ted-r209/20-213571-001-EXP.xml": (1, 2, 0),
    "ted-r209/22-104446-001-EXP.xml": (1, 3, 0),
    "ocds/test_data.json": (1, 2, 16),
    "ocds/releases_with_combined_tables.json": (10, 27, None),
}


def load(samples: Path, relative: str, **kwargs):  # type: ignore[no-untyped-def]
    path = samples / relative
    return import_file(actor=None, data=path.read_bytes(), source=path.name, **kwargs)


@pytest.mark.parametrize(("relative", "expected"), SAMPLE_COUNTS.items())
def test_every_sample_saves_its_lots(samples: Path, relative: str, expected: tuple[int, int, int | None]) -> None:
    tenders, lots, lines = expected
    result = load(samples, relative)
    assert len(result.saved) == tenders
    assert Lot.objects.count() == lots
    if lines is not None:
        assert Line.objects.count() == lines
    assert AuditEvent.objects.filter(action="tender.imported").count() == tenders


def test_saved_values_are_exact_decimals_with_currency(samples: Path) -> None:
    load(samples, "eforms-ted-published/762961-2023.xml")
    lots = Lot.objects.order_by("position")
    assert [lot.estimated_value for lot in lots] == [
        Decimal("428000.00"),
        Decimal("258000.00"),
        Decimal("236000.00"),
        Decimal("84000.00"),
    ]
    assert {lot.currency for lot in lots} == {"EUR"}
    assert sum(lot.estimated_value for lot in lots) == Decimal("1006000")


def test_lot_group_is_saved_with_its_lots(samples: Path) -> None:
    load(samples, "eforms-ted-published/665175-2023.xml")
    group = LotGroup.objects.get()
    assert group.source_id == "GLO-0008"
    assert group.lots.count() == 4


def test_ocds_items_become_lines_of_their_lot(samples: Path) -> None:
    load(samples, "ocds/test_data.json")
    per_lot = sorted(Line.objects.values_list("lot__source_id", flat=True))
    assert len(per_lot) == 16
    assert sorted({per_lot.count(lot_id) for lot_id in set(per_lot)}) == [6, 10]
    assert Line.objects.filter(unit_price__isnull=False).count() == 16
    assert set(Line.objects.values_list("currency", flat=True)) == {"PYG"}


def test_same_procedure_updates_instead_of_duplicating(samples: Path) -> None:
    # cn_24_maximal and its 100-lot variant share one procedure id (ContractFolderID).
    first = load(samples, "eforms/cn_24_maximal.xml").saved[0]
    second = load(samples, "eforms/cn_24_maximal_100_lots.xml").saved[0]
    assert first.created and not second.created
    assert Tender.objects.count() == 1
    assert first.tender.pk == second.tender.pk
    assert Lot.objects.filter(tender=first.tender).count() == 100
    assert NoticeVersion.objects.filter(tender=first.tender).count() == 2


def test_reimport_is_idempotent(samples: Path) -> None:
    load(samples, "ocds/test_data.json")
    load(samples, "ocds/test_data.json")
    assert Tender.objects.count() == 1
    assert Lot.objects.count() == 2
    assert Line.objects.count() == 16


def test_change_notice_dropping_a_lot_keeps_lines_but_marks_the_lot(samples: Path) -> None:
    load(samples, "eforms/cn_24_FRA_comments.xml")
    tender = Tender.objects.get()
    lot = tender.lots.get(source_id="LOT-0002")
    schedule = _schedule_bytes([("Entretien", "forfait", "1", "100")])
    import_file(actor=None, data=schedule, source="dpgf.xlsx", target=tender, options={"lot": "LOT-0002"})
    changed = (samples / "eforms/cn_24_FRA_comments.xml").read_text(encoding="utf-8")
    start = changed.index("<cac:ProcurementProjectLot>", changed.index("LOT-0001"))
    end = changed.index("</cac:ProcurementProjectLot>", start) + len("</cac:ProcurementProjectLot>")
    import_file(actor=None, data=(changed[:start] + changed[end:]).encode(), source="change.xml")
    lot.refresh_from_db()
    assert lot.withdrawn
    assert lot.lines.count() == 1


def _schedule_bytes(
    rows: list[tuple[str, ...]], *, header: tuple[str, ...] = ("Désignation", "Unité", "Quantité", "Prix unitaire")
) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append([float(cell) if cell.replace(".", "").isdigit() else cell for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_schedule_attaches_to_the_only_lot(samples: Path) -> None:
    tender = load(samples, "eforms/cn_24_multilingual.xml").saved[0].tender
    data = _schedule_bytes(
        [("Journée d'expertise PostgreSQL", "jour", "10", "850.50"), ("Ticket de support", "ticket", "200", "95")]
    )
    result = import_file(actor=None, data=data, source="bpu.xlsx", target=tender)
    assert result.saved[0].lines == 2
    line = Line.objects.get(designation="Journée d'expertise PostgreSQL")
    assert line.lot.tender == tender
    assert line.quantity == Decimal("10")
    assert line.unit_price == Decimal("850.5")


def test_schedule_without_lot_column_asks_which_lot(samples: Path) -> None:
    tender = load(samples, "eforms/cn_24_FRA_comments.xml").saved[0].tender
    data = _schedule_bytes([("Tonte", "m2", "1000", "0.35")])
    with pytest.raises(LotChoiceNeeded) as excinfo:
        import_file(actor=None, data=data, source="dpgf.xlsx", target=tender)
    assert "LOT-0001" in str(excinfo.value) and "LOT-0002" in str(excinfo.value)
    assert Line.objects.count() == 0
    import_file(actor=None, data=data, source="dpgf.xlsx", target=tender, options={"lot": "LOT-0002"})
    assert Line.objects.get().lot.source_id == "LOT-0002"


def test_schedule_lot_column_matches_lot_numbers(samples: Path) -> None:
    tender = load(samples, "eforms/cn_24_FRA_comments.xml").saved[0].tender
    data = _schedule_bytes(
        [("1", "Tonte", "m2", "1000", "0.35"), ("2", "Taille", "h", "20", "40")],
        header=("Lot", "Désignation", "Unité", "Quantité", "Prix unitaire"),
    )
    import_file(actor=None, data=data, source="dpgf.xlsx", target=tender)
    assert dict(Line.objects.values_list("designation", "lot__source_id")) == {
        "Tonte": "LOT-0001",
        "Taille": "LOT-0002",
    }


def test_reattaching_a_schedule_replaces_its_lines(samples: Path) -> None:
    tender = load(samples, "eforms/cn_24_multilingual.xml").saved[0].tender
    import_file(actor=None, data=_schedule_bytes([("A", "jour", "1", "1")] * 3), source="v1.xlsx", target=tender)
    import_file(actor=None, data=_schedule_bytes([("B", "jour", "1", "1")] * 2), source="v2.xlsx", target=tender)
    assert list(Line.objects.values_list("designation", flat=True)) == ["B", "B"]


def test_schedule_alone_creates_a_tender(samples: Path) -> None:
    result = import_file(
        actor=None, data=_schedule_bytes([("Tonte", "m2", "1000", "0.35")]), source="bpu-espaces-verts.xlsx"
    )
    tender = result.saved[0].tender
    assert tender.source_format == "xlsx"
    assert tender.lots.count() == 1
    assert tender.lines.count() == 1


def test_unknown_lot_in_schedule_saves_nothing(samples: Path) -> None:
    tender = load(samples, "eforms/cn_24_FRA_comments.xml").saved[0].tender
    data = _schedule_bytes(
        [("1", "Tonte", "m2", "1000", "0.35"), ("9", "Taille", "h", "20", "40")],
        header=("Lot", "Désignation", "Unité", "Quantité", "Prix unitaire"),
    )
    with pytest.raises(ImportFailed) as excinfo:
        import_file(actor=None, data=data, source="dpgf.xlsx", target=tender)
    assert "dpgf.xlsx, row 3" in str(excinfo.value)
    assert "unknown lot '9'" in str(excinfo.value)
    assert Line.objects.count() == 0


def test_notice_for_another_procedure_is_refused_on_a_target(samples: Path) -> None:
    tender = load(samples, "eforms/cn_24_FRA_comments.xml").saved[0].tender
    with pytest.raises(ImportFailed, match="is for procedure"):
        load(samples, "eforms/cn_24_multilingual.xml", target=tender)
    assert Tender.objects.count() == 1


def test_file_over_the_size_limit_is_refused(settings, samples: Path) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_MAX_BYTES = 1000
    with pytest.raises(ImportFailed, match="over the 1,000-byte limit"):
        load(samples, "eforms/cn_24_FRA_comments.xml")
    assert Tender.objects.count() == 0


def test_too_many_decimals_is_refused_not_rounded(samples: Path) -> None:
    tender = load(samples, "eforms/cn_24_multilingual.xml").saved[0].tender
    data = _schedule_bytes([("Jour", "jour", "1", "12.123456")])
    with pytest.raises(ImportFailed, match="more than 4 decimal places"):
        import_file(actor=None, data=data, source="bpu.xlsx", target=tender)
    assert Line.objects.count() == 0
