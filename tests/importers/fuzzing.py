"""What every importer's fuzz tests share: mutate a real sample, accept only two outcomes."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from bids.importers.base import CanonicalTender, ImportFailed

Parser = Callable[..., list[CanonicalTender]]
Edit = tuple[int, int, bytes]


def assert_one_tender_or_named_failure(parse: Parser, data: bytes, *, source: str = "fuzz.xml") -> None:
    """One tender with lots, or an `ImportFailed` whose message starts with the file name."""
    failure: ImportFailed | None = None
    try:
        tenders = parse(data, source=source)
    except ImportFailed as error:
        failure = error
    if failure is not None:
        assert str(failure).startswith(source)
        return
    assert len(tenders) == 1
    assert tenders[0].lots


def sample_edits(sample: bytes) -> st.SearchStrategy[list[Edit]]:
    """Up to six splices (position, length cut, bytes inserted) anywhere in `sample`."""
    edit = st.tuples(st.integers(0, len(sample) - 1), st.integers(0, 40), st.binary(max_size=12))
    return st.lists(edit, min_size=1, max_size=6)


def apply_edits(sample: bytes, edits: list[Edit]) -> bytes:
    data = bytearray(sample)
    for position, length, replacement in edits:
        data[position : position + length] = replacement
    return bytes(data)


def to_json(value: Any) -> str:
    """json.dumps, with decimals written as the number literals they came from (1E+400 stays 1E+400)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{to_json(item)}" for key, item in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)
