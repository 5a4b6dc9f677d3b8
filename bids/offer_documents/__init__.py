"""The documents of a group offer, each rendered from an OfferSnapshot as (filename, content_type, bytes)."""

from __future__ import annotations

Rendered = tuple[str, str, bytes]
