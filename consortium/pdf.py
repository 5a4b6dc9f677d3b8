"""The one way this project makes a PDF: WeasyPrint behind a URL fetcher that reaches nothing.

WeasyPrint's default fetcher opens any URL a document names: `file:///etc/passwd` as an image or
as an `<a rel=attachment>` embedded into the PDF, or a loopback address. Ours serves only `data:`
URLs and the app's own static files, named `guichet-static:<path under a static dir>`; anything
else is refused, which WeasyPrint logs and skips. Attachments are dropped before writing: no
document of ours carries files.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import finders
from django.utils.safestring import SafeString, mark_safe
from weasyprint import HTML, Document
from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC_SCHEME = "guichet-static:"


class FetchRefused(ValueError):
    """A URL our documents may not reach; WeasyPrint catches it, logs it and goes on."""


def static_path(name: str) -> Path:
    """The file a `guichet-static:` name stands for, only from the static dirs, never above them."""
    if not name or name.startswith("/") or "\\" in name or ".." in name.split("/"):
        raise FetchRefused(f"static name refused: {name!r}")
    found = finders.find(name)
    if not isinstance(found, str):
        raise FetchRefused(f"no such static file: {name!r}")
    return Path(found)


class StaticOnlyFetcher(URLFetcher):
    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False, fail_on_errors=False)

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith(STATIC_SCHEME):
            path = static_path(url.removeprefix(STATIC_SCHEME).split("?")[0].split("#")[0])
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": _content_type(path)})
        if not url.lower().startswith("data:"):
            raise FetchRefused(f"URL refused in a PDF: {url[:80]}")
        return super().fetch(url, headers)


def _content_type(path: Path) -> str:
    return {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}.get(
        path.suffix.lower(), "application/octet-stream"
    )


@cache
def inline_stylesheet(name: str) -> SafeString:
    """One of our static stylesheets, to put inside a <style> element.

    Inlined rather than linked so the HTML is complete by itself (bare WeasyPrint, in the
    benchmark, lays out exactly what we do). Our own file, never user text: safe as is, once
    it can't close the <style> element.
    """
    css = static_path(name).read_text(encoding="utf-8")
    if "</" in css:
        raise ValueError(f"{name} can't be inlined in a <style> element")
    return mark_safe(css)  # our static file, checked above


def render_document(html: str) -> Document:
    """Lay out `html` with the restricted fetcher, with every attachment dropped."""
    document = HTML(string=html, url_fetcher=StaticOnlyFetcher()).render()
    document.metadata.attachments = []
    for page in document.pages:
        page.links[:] = [link for link in page.links if link[0] != "attachment"]
    return document


def render_pdf(html: str) -> bytes:
    pdf: bytes = render_document(html).write_pdf()
    return pdf


def render_pdf_parts(parts: Sequence[str]) -> bytes:
    """Several HTML documents laid out one by one, their pages written as one PDF.

    Lays out smaller documents (a big table in slices) so each layout stays small; the first
    part's metadata (title, language) is the PDF's.
    """
    documents = [render_document(html) for html in parts]
    if not documents:
        raise ValueError("nothing to render")
    pages = [page for document in documents for page in document.pages]
    pdf: bytes = documents[0].copy(pages).write_pdf()
    return pdf
