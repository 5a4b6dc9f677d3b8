"""`python manage.py match_tender TENDER_ID [--json]`."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from bids.models import MatchRun

from .conftest import Network
from .test_match_service import small_network

pytestmark = pytest.mark.django_db


def test_json_shape(network: Network) -> None:
    small_network(network)
    out = io.StringIO()
    call_command("match_tender", str(network.tender.pk), "--json", stdout=out)
    data = json.loads(out.getvalue())
    run = MatchRun.objects.get()
    assert set(data) == {"tender", "run", "packages", "unassigned", "excluded"}
    assert (data["tender"], data["run"]) == (network.tender.pk, run.pk)
    packages = {package["name"]: package for package in data["packages"]}
    assert list(packages) == ["Support PostgreSQL", "Support PostgreSQL 2", "Support Fortran"]
    first = packages["Support PostgreSQL"]
    assert set(first) == {"id", "lot", "name", "candidates", "assigned", "backup"}
    assert (first["lot"], first["assigned"], first["backup"]) == ("LOT-1", "Experts", "Integrators")
    assert [c["firm"] for c in first["candidates"]] == ["Maintainers", "Experts", "Integrators"]
    best = first["candidates"][0]
    assert set(best) == {"firm", "firm_id", "score", "reasons"}
    assert best["firm_id"] == network.firms["Maintainers"].pk and isinstance(best["score"], float)
    assert sum(Decimal(str(reason["points"])) for reason in best["reasons"]) == Decimal(str(best["score"]))
    assert {"key", "label", "weight", "value", "points", "text"} <= set(best["reasons"][0])
    assert best["reasons"][0]["label"] == "Compétences"
    fortran = packages["Support Fortran"]
    assert (fortran["candidates"], fortran["assigned"], fortran["backup"]) == ([], None, None)
    assert data["unassigned"] == [{"id": fortran["id"], "reason": "aucune entreprise n'a la compétence Fortran"}]
    assert data["excluded"] == []


def test_plain_output_and_errors(network: Network, bid_manager: object) -> None:
    small_network(network)
    out = io.StringIO()
    call_command("match_tender", str(network.tender.pk), "--user", "bid-manager", stdout=out)
    text = out.getvalue()
    assert "3 packages, 2 assigned, 1 unassigned" in text
    assert "aucune entreprise n'a la compétence Fortran" in text
    with pytest.raises(CommandError, match="aucun appel d'offres n° 999999"):
        call_command("match_tender", "999999")
    with pytest.raises(CommandError, match="utilisateur inconnu"):
        call_command("match_tender", str(network.tender.pk), "--user", "nobody")
