"""The one PDF wrapper reaches nothing but data: URLs and our static files."""

from __future__ import annotations

import base64
import http.server
import io
import threading
from collections.abc import Iterator

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import weasyprint
from PIL import Image

from consortium.pdf import (
    FetchRefused,
    StaticOnlyFetcher,
    inline_stylesheet,
    render_pdf,
    render_pdf_parts,
    static_path,
)

PASSWD_LINE = b"root:x:0:0"


def _text(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    try:
        return "\n".join(document[index].get_textpage().get_text_range() for index in range(len(document)))
    finally:
        document.close()


def _attachments(pdf: bytes) -> int:
    """Files embedded in the document (<link rel=attachment>) or in a page's annotation (<a rel=attachment>)."""
    document = pdfium.PdfDocument(pdf)
    try:
        count = int(document.count_attachments())
        for index in range(len(document)):
            page = document[index]
            for position in range(pdfium_c.FPDFPage_GetAnnotCount(page.raw)):
                annotation = pdfium_c.FPDFPage_GetAnnot(page.raw, position)
                count += pdfium_c.FPDFAnnot_GetSubtype(annotation) == pdfium_c.FPDF_ANNOT_FILEATTACHMENT
                pdfium_c.FPDFPage_CloseAnnot(annotation)
            page.close()
        return count
    finally:
        document.close()


def _images_on_first_page(pdf: bytes) -> int:
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        count = len(list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])))
        page.close()
        return count
    finally:
        document.close()


class CountingServer:
    def __init__(self) -> None:
        self.paths: list[str] = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                paths.append(self.path)
                body = b"p { color: red }" if self.path.endswith(".css") else b"not an image"
                self.send_response(200)
                self.send_header("Content-Type", "text/css" if self.path.endswith(".css") else "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]


@pytest.fixture
def loopback() -> Iterator[CountingServer]:
    server = CountingServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join(timeout=5)


def _loopback_html(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    return (
        f'<html><head><link rel="stylesheet" href="{base}/x.css">'
        f"<style>@import url({base}/imported.css); div {{ background: url({base}/bg.png) }}</style></head>"
        f'<body><p>Bonjour</p><img src="{base}/a.png"><div>fond</div>'
        f'<a rel="attachment" href="{base}/secret.txt">pièce</a></body></html>'
    )


def test_loopback_urls_are_never_called(loopback: CountingServer) -> None:
    pdf = render_pdf(_loopback_html(loopback.port))

    assert pdf.startswith(b"%PDF")
    assert "Bonjour" in _text(pdf)
    assert loopback.paths == []


def test_bare_weasyprint_would_call_the_loopback_server(loopback: CountingServer) -> None:
    """The control: the server works, so the test above can fail."""
    weasyprint.HTML(string=_loopback_html(loopback.port)).write_pdf()

    assert "/x.css" in loopback.paths
    assert "/a.png" in loopback.paths


def test_an_attachment_link_to_a_local_file_embeds_nothing() -> None:
    html = (
        '<html><head><link rel="attachment" href="file:///etc/passwd"></head>'
        '<body><a rel="attachment" href="file:///etc/passwd">mots de passe</a></body></html>'
    )

    pdf = render_pdf(html)

    assert _attachments(pdf) == 0
    assert PASSWD_LINE not in pdf
    assert b"EmbeddedFile" not in pdf
    assert "mots de passe" in _text(pdf)


def test_bare_weasyprint_would_embed_the_local_file() -> None:
    """The control: WeasyPrint's default fetcher does embed /etc/passwd, both ways."""
    html = '<link rel="attachment" href="file:///etc/passwd"><a rel="attachment" href="file:///etc/passwd">x</a>'
    pdf = weasyprint.HTML(string=html).write_pdf(uncompressed_pdf=True)

    assert _attachments(pdf) == 2
    assert PASSWD_LINE in pdf


def test_even_a_data_attachment_is_dropped() -> None:
    pdf = render_pdf('<a rel="attachment" href="data:text/plain;base64,c2VjcmV0">pièce</a>')

    assert _attachments(pdf) == 0


def test_a_local_file_image_is_not_loaded() -> None:
    pdf = render_pdf('<p>avant</p><img src="file:///etc/passwd"><img src="FILE:///etc/passwd"><p>après</p>')

    assert _images_on_first_page(pdf) == 0
    assert PASSWD_LINE not in pdf
    assert "après" in _text(pdf)


def _png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (220, 30, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_a_data_image_is_rendered() -> None:
    pdf = render_pdf(f'<img src="{_png_data_url()}" style="width: 40px; height: 40px">')

    assert _images_on_first_page(pdf) == 1


def test_a_static_stylesheet_is_used() -> None:
    """offer.css numbers the pages in the footer: the text is there only when the file was read."""
    with_css = render_pdf('<link rel="stylesheet" href="guichet-static:pdf/offer.css"><p>Texte</p>')
    without_css = render_pdf("<p>Texte</p>")

    assert "Page 1 / 1" in _text(with_css)
    assert "Page 1 / 1" not in _text(without_css)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "http://127.0.0.1:1/x.css",
        "https://example.org/x.css",
        "ftp://127.0.0.1/x",
        "gopher://127.0.0.1/x",
        "guichet-static:../settings.py",
        "guichet-static:pdf/../../settings.py",
        "guichet-static:/etc/passwd",
        "guichet-static:pdf/missing.css",
    ],
)
def test_the_fetcher_refuses_everything_else(url: str) -> None:
    with pytest.raises(FetchRefused):
        StaticOnlyFetcher().fetch(url)


def test_the_fetcher_serves_data_and_static() -> None:
    data = StaticOnlyFetcher().fetch("data:text/plain;base64,Ym9uam91cg==")
    static = StaticOnlyFetcher().fetch("guichet-static:pdf/offer.css")

    assert data.read() == b"bonjour"
    assert b"@page" in static.read()
    assert static.content_type == "text/css"


def test_static_path_stays_inside_the_static_dirs() -> None:
    assert static_path("pdf/offer.css").name == "offer.css"
    with pytest.raises(FetchRefused):
        static_path("../../consortium/settings.py")


def test_the_inlined_stylesheet_is_our_css() -> None:
    assert "@page" in inline_stylesheet("pdf/offer.css")


def test_parts_are_joined_into_one_pdf() -> None:
    pdf = render_pdf_parts(["<p>Première partie</p>", '<p>x</p><p style="break-before: page">Seconde partie</p>'])

    document = pdfium.PdfDocument(pdf)
    try:
        assert len(document) == 3
    finally:
        document.close()
    text = _text(pdf)
    assert "Première partie" in text
    assert "Seconde partie" in text
