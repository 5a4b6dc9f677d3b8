"""Who may open the transparency page and its open data: everyone, signed in or not, whatever the role.

tests/test_permissions.py checks that every URL has its row, there or here. The figures behind them are
public by design; what they must never contain is tested in test_transparency.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.conftest import client_for
from tests.transparency.conftest import Scene

pytestmark = pytest.mark.django_db

PERSONAS = ("bid_manager", "partner_a", "partner_b", "finance", "outsider", "anonymous")
EVERYONE = dict.fromkeys(PERSONAS, 200)

TRANSPARENCY_MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "transparency:index": ("get", EVERYONE),
    "transparency:data_json": ("get", EVERYONE),
    "transparency:projects_csv": ("get", EVERYONE),
    "transparency:contracts_csv": ("get", EVERYONE),
    "transparency:schema_json": ("get", EVERYONE),
    "transparency:schema_doc": ("get", EVERYONE),
}


@pytest.mark.parametrize("name", TRANSPARENCY_MATRIX)
def test_transparency_pages(name: str, personas: dict[str, Any], scene: Scene) -> None:
    method, expected = TRANSPARENCY_MATRIX[name]
    url = reverse(name)
    seen = {persona: getattr(client_for(personas[persona]), method)(url).status_code for persona in PERSONAS}
    assert seen == expected


@pytest.mark.parametrize("name", TRANSPARENCY_MATRIX)
def test_transparency_pages_are_read_only(name: str, personas: dict[str, Any]) -> None:
    """A POST is refused for everyone (405), signed in or not: nothing here writes."""
    url = reverse(name)
    seen = {persona: client_for(personas[persona]).post(url).status_code for persona in PERSONAS}
    assert seen == dict.fromkeys(PERSONAS, 405)
