"""The API's one JSON parser: bounded size and depth, numbers read as Decimal, no NaN or Infinity.

Every failure is a 400 with its reason, never a 500. An API subclasses it to set the `max_bytes` it expects.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, ClassVar

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _refuse_constant(name: str) -> Any:
    raise ValueError(_("%(name)s n'est pas un nombre accepté") % {"name": name})


class BoundedJSONParser(JSONParser):
    max_bytes: ClassVar[int] = 64 * 1024

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        context = parser_context or {}
        body = stream.read(self.max_bytes + 1) if stream is not None else b""
        if len(body) > self.max_bytes:
            raise ParseError(_("Corps de requête trop volumineux (%(max)d octets au plus).") % {"max": self.max_bytes})
        try:
            text = body.decode(context.get("encoding") or "utf-8")
            return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
        except RecursionError as error:
            raise ParseError(_("JSON trop profondément imbriqué.")) from error
        except (LookupError, ValueError) as error:  # unknown charset, bad bytes, bad JSON, a 5,000-digit integer
            raise ParseError(_("JSON illisible : %(error)s") % {"error": str(error)[:200]}) from error
