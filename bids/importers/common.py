"""Small helpers every importer shares: CPV codes, text, amounts, dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

from .base import ImportFailed

MAX_TEXT_CHARS = 32_767  # Excel's own cell limit; longer texts are refused, never truncated
MAX_AMOUNT_DIGITS = 15  # significant digits accepted in an amount, quantity or price

_CPV_RE = re.compile(r"^\s*(\d{8})(?:-\d)?\s*$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalise_cpv(raw: str | None) -> str | None:
    """Return the 8-digit CPV code ("72000000-5" -> "72000000"), or None when it is not one."""
    if raw is None:
        return None
    match = _CPV_RE.match(str(raw))
    return match.group(1) if match else None


def unique(codes: list[str]) -> list[str]:
    """Codes in first-seen order without repeats (the main code stays first)."""
    return list(dict.fromkeys(c for c in codes if c))


def clean_text(value: object, *, where: str) -> str:
    """A stripped text; NUL and control characters or an over-long text fail with `where`."""
    if value is None:
        return ""
    text = str(value)
    if "\x00" in text:
        raise ImportFailed("contains a NUL character", where=where)
    if _CONTROL_RE.search(text):
        text = _CONTROL_RE.sub(" ", text)
    if len(text) > MAX_TEXT_CHARS:
        raise ImportFailed(f"text longer than {MAX_TEXT_CHARS} characters", where=where)
    return " ".join(text.split()) if "\n" not in text else text.strip()


def parse_amount(raw: object, *, where: str) -> Decimal | None:
    """An exact Decimal from a string, int, Decimal or float (floats go through str()).

    Accepts French writing ("1 234,50", "12,5 €"). Empty gives None. NaN, infinity,
    exponents out of range and over-long numbers fail.
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ImportFailed(f"expected a number, found {raw!r}", where=where)
    if isinstance(raw, float):
        text = repr(raw)
    elif isinstance(raw, int | Decimal):
        text = str(raw)
    else:
        text = str(raw).strip()
        if not text:
            return None
        text = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
        text = text.removesuffix("€").removesuffix("EUR").strip()
        if "," in text and "." in text:
            text = (
                text.replace(".", "").replace(",", ".") if text.rfind(",") > text.rfind(".") else text.replace(",", "")
            )
        else:
            text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ImportFailed(f"not a number: {str(raw)[:40]!r}", where=where) from None
    if not value.is_finite():
        raise ImportFailed(f"not a finite number: {str(raw)[:40]!r}", where=where)
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) + max(exponent, 0) > MAX_AMOUNT_DIGITS + 6 or exponent < -10:
        raise ImportFailed(f"number out of range: {str(raw)[:40]!r}", where=where)
    return value.quantize(Decimal(1)) if exponent > 0 else value


_OFFSET_RE = re.compile(r"(Z|[+-]\d{2}:\d{2})$")


def _split_offset(text: str) -> tuple[str, timezone | None]:
    match = _OFFSET_RE.search(text)
    if not match:
        return text, None
    offset = match.group(1)
    if offset == "Z":
        return text[: match.start()], UTC
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    return text[: match.start()], timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_date_time(
    date_text: str | None, time_text: str | None = None, *, where: str, default_tz: timezone = UTC
) -> datetime | None:
    """Combine an XML date ("2019-06-24Z", "2023-05-22+01:00") and time ("16:00:00Z").

    The time's own offset wins, then the date's, then `default_tz`. A date without a time
    means the end of that day is not assumed: it is midnight, as the notice says nothing more.
    """
    if not date_text:
        return None
    try:
        day_text, day_tz = _split_offset(date_text.strip())
        day = date.fromisoformat(day_text[:10])
        moment = time(0, 0)
        tz = day_tz
        if time_text:
            clock_text, clock_tz = _split_offset(time_text.strip())
            moment = time.fromisoformat(clock_text)
            tz = clock_tz or tz
        return datetime.combine(day, moment.replace(tzinfo=None), tzinfo=tz or default_tz)
    except ValueError:
        raise ImportFailed(f"not a date: {date_text!r} {time_text or ''}".strip(), where=where) from None


def parse_iso_datetime(text: str | None, *, where: str) -> datetime | None:
    """A full ISO 8601 datetime (OCDS); a naive one is taken as UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ImportFailed(f"not a date-time: {text!r}", where=where) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
