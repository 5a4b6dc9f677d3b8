"""The buyer's NUTS code is kept, so matching can compare it with a firm's region."""

from __future__ import annotations

from pathlib import Path

import pytest

from bids.importers import parse
from consortium.regions import region_of_nuts


@pytest.mark.parametrize(
    ("sample", "nuts"),
    [
        ("eforms/cn_24_FRA_comments.xml", "FRD22"),
        ("eforms-ted-published/547670-2023.xml", "BE352"),
        ("ted-r209/20-213571-001-EXP.xml", "UK"),
    ],
)
def test_buyer_nuts_is_read(samples: Path, sample: str, nuts: str) -> None:
    _, tenders = parse((samples / sample).read_bytes(), source=sample)
    assert tenders[0].buyers[0].nuts == nuts


@pytest.mark.parametrize(
    ("nuts", "region"),
    [("FRD22", "28"), ("FR101", "11"), ("FRJ23", "76"), ("FRY40", "04"), ("FRY", None), ("BE352", None), ("", None)],
)
def test_region_of_nuts(nuts: str, region: str | None) -> None:
    assert region_of_nuts(nuts) == region
