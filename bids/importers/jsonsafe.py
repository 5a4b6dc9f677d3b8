"""A JSON loader for untrusted files: exact numbers, bounded depth, no silent surprises.

Python's `json.loads` alone turns `1e400` into infinity, accepts NaN, keeps the last of two
duplicate keys, and overflows the C stack (RecursionError) on deeply nested arrays. Every
one of those becomes an `ImportFailed` here, with the place in the file it comes from.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from .base import ImportFailed

MAX_JSON_BYTES = 200 * 1024 * 1024
MAX_INTEGER_DIGITS = 40  # far above any amount or id; far below Python's 4300-digit int limit
MAX_NUMBER_CHARS = 100
MAX_EXPONENT = 1000  # beyond this, Decimal arithmetic (quantize...) fails or crawls

_UTF8_BOM = b"\xef\xbb\xbf"
# A whole string literal (closing quote optional, so an unterminated one swallows the rest)
# or one bracket. Strings are matched first so brackets inside them are never counted.
_STRING_OR_BRACKET_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
# Escapes that may decode to a NUL or a lone surrogate, which only a walk can place.
_SUSPECT_ESCAPE_RE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def located(source: str, path: str) -> str:
    """The `where` of a problem: the file name, then the JSON path inside it."""
    return ": ".join(part for part in (source, path) if part)


def load_json(data: bytes, *, source: str, max_depth: int = 64, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse untrusted JSON bytes; numbers with a fraction or exponent come back as Decimal."""
    text = _decode(data, source=source, max_bytes=max_bytes)
    _check_depth(text, source=source, max_depth=max_depth)
    value = _parse(text, source=source)
    if _SUSPECT_ESCAPE_RE.search(text):
        _check_strings(value, source=source)
    return value


def _decode(data: bytes, *, source: str, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise ImportFailed(f"the file is too large ({len(data)} bytes; at most {max_bytes})", where=source)
    try:
        text = data.removeprefix(_UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ImportFailed(
            f"not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start} is invalid", where=source
        ) from None
    if not text.strip():
        raise ImportFailed("the file is empty", where=source)
    return text


def _line_column(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line} column {column}"


def _check_depth(text: str, *, source: str, max_depth: int) -> None:
    """Refuse nesting deeper than `max_depth` before json recurses into it (one linear pass)."""
    depth = 0
    for match in _STRING_OR_BRACKET_RE.finditer(text):
        lexeme = match.group()
        if lexeme in "[{":
            depth += 1
            if depth > max_depth:
                where = _line_column(text, match.start())
                raise ImportFailed(f"JSON nested deeper than {max_depth} levels at {where}", where=source)
        elif lexeme in "]}":
            depth -= 1


class _Refused(ValueError):
    """Raised from inside a json hook, which cannot know where it is; `token` helps find it."""

    def __init__(self, message: str, token: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.token = token


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows", token=name)


def _bounded_int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise _Refused(f"an integer of {digits} digits is too long (at most {MAX_INTEGER_DIGITS})", token=literal)
    return int(literal)


def _bounded_decimal(literal: str) -> Decimal:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(literal)} characters is too long", token=literal)
    value = Decimal(literal)
    if abs(value.adjusted()) > MAX_EXPONENT:
        raise _Refused(f"the number {literal} is out of range", token=literal)
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"duplicate key {key[:80]!r} in one object")
        result[key] = value
    return result


def _parse(text: str, *, source: str) -> Any:
    try:
        return json.loads(
            text,
            parse_float=_bounded_decimal,
            parse_int=_bounded_int,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except _Refused as refused:
        offset = _find_token(text, refused.token) if refused.token else None
        place = f" at {_line_column(text, offset)}" if offset is not None else ""
        raise ImportFailed(refused.message + place, where=source) from None
    except json.JSONDecodeError as error:
        raise ImportFailed(_syntax_message(text, error), where=source) from None
    except RecursionError:  # the depth check makes this unreachable; kept as a last guard
        raise ImportFailed("JSON nested too deeply", where=source) from None


def _find_token(text: str, token: str) -> int | None:
    """Offset of the first `token` outside any string literal (the hooks only know its text)."""
    pattern = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|' + re.escape(token) + r"(?![\w.])", re.DOTALL)
    for match in pattern.finditer(text):
        if not match.group().startswith('"'):
            return match.start()
    return None


def _syntax_message(text: str, error: json.JSONDecodeError) -> str:
    where = f"line {error.lineno} column {error.colno}"
    reason = error.msg.removesuffix(" at")  # json says "Invalid control character at"
    if error.msg.startswith("Unterminated string"):
        return f"the JSON ends too early (truncated file?): the string starting at {where} is never closed"
    if error.pos >= len(text.rstrip()):
        return f"the JSON ends too early (truncated file?) at {where}: {reason}"
    return f"malformed JSON at {where}: {reason}"


def _check_strings(value: Any, *, source: str) -> None:
    """Refuse NUL characters and lone surrogates, naming the path of the string."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, node = pending.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                child_path = f"{path}.{key}" if path else key
                _check_text(key, where=located(source, f"{child_path} (the key)"))
                pending.append((child_path, child))
        elif isinstance(node, list):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(node))
        elif isinstance(node, str):
            _check_text(node, where=located(source, path))


def _check_text(text: str, *, where: str) -> None:
    if "\x00" in text:
        raise ImportFailed("contains a NUL character", where=where)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ImportFailed("contains an unpaired surrogate escape (\\ud800-\\udfff)", where=where) from None
