"""The memo and the groupement table (DC1 / DC4): what their PDFs say, and what a partner's part hides."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.conf import settings
from PIL import Image

from bids.offer_documents.charts import bar_chart_svg, capped, euros
from bids.offer_documents.groupement import (
    partner_groupement_html,
    render_groupement,
    render_partner_groupement,
)
from bids.offer_documents.memo import memo_html, render_memo
from bids.offer_documents.sample import sample_snapshot
from bids.offer_snapshot import OfferSnapshot
from consortium.money import percent_shares

HOSTILE = '<img src=file:///etc/passwd> <script>alert(1)</script> =HYPERLINK("http://evil")'
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
CHART_BLUE = (42, 111, 151)  # #2a6f97, the bars' colour
WHITE = (255, 255, 255)


def pdf_pages(pdf: bytes) -> list[str]:
    """Each page's text, with every run of white space (new lines, no-break spaces) as one space."""
    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            pages.append(re.sub(r"\s+", " ", page.get_textpage().get_text_range()))
            page.close()
        return pages
    finally:
        document.close()


def pdf_text(pdf: bytes) -> str:
    return " ".join(pdf_pages(pdf))


def shown(amount: Decimal) -> str:
    return re.sub(r"\s+", " ", euros(amount))


@pytest.fixture(scope="module")
def snapshot() -> OfferSnapshot:
    return sample_snapshot(lots=5, lines_per_lot=6, firms=4, subcontractors=1)


@pytest.fixture(scope="module")
def memo(snapshot: OfferSnapshot) -> tuple[str, str, bytes]:
    return render_memo(snapshot)


@pytest.fixture(scope="module")
def groupement(snapshot: OfferSnapshot) -> tuple[str, str, bytes]:
    return render_groupement(snapshot)


def test_the_memo_names_the_tender_the_members_the_lots_and_the_totals(
    snapshot: OfferSnapshot, memo: tuple[str, str, bytes]
) -> None:
    name, content_type, pdf = memo
    text = pdf_text(pdf)

    assert name == "memoire-technique-support-des-logiciels-libres-de-la-ville-v1.pdf"
    assert content_type == "application/pdf"
    assert "Support des logiciels libres de la Ville" in text
    assert "Ville de Rouen" in text
    assert "Procédure ouverte" in text
    assert "Groupement conjoint" in text
    assert "Guichet Open Source" in text
    assert "15 décembre 2026, 13:00" in text  # noon UTC is 13:00 in Paris
    for firm in snapshot.firms:
        assert firm.name in text
    for lot in snapshot.lots:
        assert lot.source_id in text
        assert shown(lot.totals.amount) in text
    assert snapshot.total.amount == Decimal("180451.40")
    assert "180 451,40 €" in text
    assert shown(snapshot.total.amount_with_vat) in text
    assert shown(snapshot.total.fee_amount) in text
    assert shown(snapshot.total.levy_amount) in text
    assert "Mainteneur de Nextcloud, compétence demandée au poids 10." in text
    assert "Montant HT par lot" in text
    assert "Montant HT par entreprise" in text


def test_the_memo_prints_no_price_line(memo: tuple[str, str, bytes]) -> None:
    text = pdf_text(memo[2])

    assert "Support Nextcloud niveau" not in text  # a line's designation: the lines belong in the workbook
    assert "L1-1 " not in text


def test_the_groupement_lists_members_lots_amounts_and_one_dc4_per_subcontractor(
    snapshot: OfferSnapshot, groupement: tuple[str, str, bytes]
) -> None:
    name, content_type, pdf = groupement
    text = pdf_text(pdf)

    assert name == "groupement-dc1-dc4-support-des-logiciels-libres-de-la-ville-v1.pdf"
    assert content_type == "application/pdf"
    assert "Guichet Open Source" in text
    assert "73282932000074" in text
    assert "732829320" in text
    assert "Groupement conjoint" in text
    for firm in snapshot.firms:
        assert firm.name in text
        assert firm.totals is not None
        assert shown(firm.totals.amount) in text
    for lot in snapshot.lots:
        assert lot.source_id in text
        for totals in lot.firm_totals.values():
            assert shown(totals.amount) in text
    assert shown(snapshot.total.amount) in text
    assert "100,00 %" in text
    assert text.count("Déclaration de sous-traitance (DC4) :") == 1  # one subcontractor
    subcontractor = snapshot.firms[-1]
    assert subcontractor.totals is not None
    assert f"Déclaration de sous-traitance (DC4) : {subcontractor.name}" in text
    assert shown(subcontractor.totals.amount_with_vat) in text
    assert "Paiement direct par l'acheteur oui" in text
    assert "Paiement direct obligatoire à partir de 600,00 € TTC" in text


def test_a_partner_part_shows_its_own_rows_and_nothing_of_the_others(snapshot: OfferSnapshot) -> None:
    subcontractor = snapshot.firms[-1]
    name, _content_type, pdf = render_partner_groupement(snapshot.for_firm(subcontractor.id))
    text = pdf_text(pdf)

    assert name == "groupement-dc1-dc4-support-des-logiciels-libres-de-la-ville-v1-expert-debian-4-sarl.pdf"
    assert subcontractor.name in text
    assert subcontractor.totals is not None
    assert shown(subcontractor.totals.amount) in text
    assert f"Déclaration de sous-traitance (DC4) : {subcontractor.name}" in text
    assert "Guichet Open Source" in text
    mine = {lot.id for lot in snapshot.lots if subcontractor.id in lot.firm_totals}
    for lot in snapshot.lots:
        assert (lot.source_id in text) == (lot.id in mine)
        if lot.id in mine:
            assert shown(lot.firm_totals[subcontractor.id].amount) in text
        assert shown(lot.totals.amount) not in text
        for firm_id, totals in lot.firm_totals.items():
            if firm_id != subcontractor.id:
                assert shown(totals.amount) not in text
    for firm in snapshot.firms[:-1]:
        assert firm.name not in text
        assert firm.totals is not None
        assert shown(firm.totals.amount) not in text
    assert shown(snapshot.total.amount) not in text
    assert "%" not in text.replace("Paiement direct", "")  # no share that would reveal the others' amounts


def test_a_cotraitant_part_has_no_dc4(snapshot: OfferSnapshot) -> None:
    text = pdf_text(render_partner_groupement(snapshot.for_firm(snapshot.firms[0].id))[2])

    assert snapshot.firms[0].name in text
    assert "Déclaration de sous-traitance (DC4) :" not in text
    assert snapshot.firms[1].name not in text


def test_a_partner_part_needs_a_snapshot_cut_to_one_firm(snapshot: OfferSnapshot) -> None:
    with pytest.raises(ValueError, match="for_firm"):
        partner_groupement_html(snapshot)


def test_hostile_text_is_printed_as_text_and_reaches_nothing() -> None:
    hostile = sample_snapshot(lots=2, lines_per_lot=4, firms=2, note=HOSTILE)

    html = memo_html(hostile)
    pdf = render_memo(hostile)[2]
    text = pdf_text(pdf)

    assert "<img src=file" not in html
    assert "<script>" not in html
    assert "&lt;img src=file:///etc/passwd&gt;" in html
    assert "<img src=file:///etc/passwd>" in text
    assert "<script>alert(1)</script>" in text
    assert '=HYPERLINK("http://evil")' in text
    assert "root:x:0:0" not in text
    assert b"root:x:0:0" not in pdf
    groupement_pdf = render_groupement(hostile)[2]
    assert b"root:x:0:0" not in groupement_pdf


def test_a_small_offer_with_a_subcontractor_under_600_euros_says_so() -> None:
    small = sample_snapshot(lots=1, lines_per_lot=0, firms=2, subcontractors=1)

    text = pdf_text(render_groupement(small)[2])

    assert "Paiement direct par l'acheteur non" in text
    assert "inférieur à ce seuil" in text


def test_percent_shares_add_up_to_exactly_100() -> None:
    assert percent_shares([Decimal("1"), Decimal("1"), Decimal("1")]) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert percent_shares([Decimal("5269.20"), Decimal("12655.45")]) == [Decimal("29.40"), Decimal("70.60")]
    assert percent_shares([Decimal("0.00"), Decimal("0.00")]) == [Decimal("0.00"), Decimal("0.00")]
    assert sum(percent_shares([Decimal(n) for n in (7, 11, 13, 17, 19, 23)])) == Decimal("100.00")


def test_a_chart_of_a_thousand_lots_keeps_twelve_bars() -> None:
    rows = [(f"LOT-{n:04d}", Decimal(n) + Decimal("0.01")) for n in range(1, 1001)]

    kept = capped(rows)
    svg = bar_chart_svg(rows, title="Montant HT par lot")

    assert len(kept) == 12
    assert kept[0] == ("LOT-1000", Decimal("1000.01"))
    assert kept[-1] == ("autres (989)", sum((amount for _label, amount in rows[:989]), Decimal("0")))
    assert kept[-1][1] == Decimal("489564.89")
    assert svg.count("<rect") == 12
    assert svg.count('fill="#a9c4d8"') == 1  # "autres", lighter, so the named bars keep their scale
    assert 'width="300" height="13" fill="#2a6f97"' in svg  # the largest named bar fills the room
    assert "1\xa0000,01 €" in svg
    assert "489\xa0564,89 €" in svg


def test_a_chart_escapes_its_labels_and_title() -> None:
    svg = bar_chart_svg([("<script>x</script>", Decimal("12345.67"))], title='"><img src=x>')

    assert "<script>" not in svg
    assert "<img" not in svg
    assert "&lt;script&gt;" in svg
    assert "12\xa0345,67 €" in svg


def test_a_chart_without_rows_still_renders() -> None:
    assert "aucun montant" in bar_chart_svg([], title="Rien")


def _pixels(image: Image.Image, colour: tuple[int, int, int]) -> int:
    counts = {rgb: count for count, rgb in image.getcolors(image.width * image.height) or []}
    return counts.get(colour, 0)


def test_the_memo_cover_and_its_summary_page_render_to_png(memo: tuple[str, str, bytes]) -> None:
    """Saved for a look by eye: var/screenshots/offer-memo-page1.png and offer-memo-summary.png."""
    pdf = memo[2]
    summary_index = next(index for index, text in enumerate(pdf_pages(pdf)) if "6. Synthèse financière" in text)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    document = pdfium.PdfDocument(pdf)
    try:
        cover = document[0].render(scale=1.5).to_pil().convert("RGB")
        summary = document[summary_index].render(scale=1.5).to_pil().convert("RGB")
    finally:
        document.close()
    cover.save(SCREENSHOTS / "offer-memo-page1.png")
    summary.save(SCREENSHOTS / "offer-memo-summary.png")

    assert cover.width * cover.height - _pixels(cover, WHITE) > cover.width * cover.height // 10  # the dark band
    assert _pixels(summary, CHART_BLUE) > 5000  # the bars of the two charts
