"""python manage.py split_tender TENDER_ID [--json]"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from bids.models import Line, Tender, WorkPackage

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("split_tender", *args, stdout=out)
    return out.getvalue()


def test_json_shape(tender: Tender) -> None:
    payload = json.loads(run(str(tender.pk), "--json"))
    assert set(payload) == {"tender", "packages"}
    assert payload["tender"] == tender.pk
    packages = payload["packages"]
    assert len(packages) == WorkPackage.objects.filter(tender=tender).count() == 42
    first = packages[0]
    assert set(first) >= {"id", "lot", "name", "skills", "lines", "basis", "flagged", "line_count", "estimated_value"}
    assert first["lot"] == "LOT-0001"
    assert first["name"] == "PostgreSQL" and first["skills"] == ["PostgreSQL"]
    assert set(first["lines"][0]) == {"code", "designation"}
    assert all("PostgreSQL" in line["designation"] for line in first["lines"])
    codes = [line["code"] for package in packages for line in package["lines"]]
    assert sorted(codes) == sorted(Line.objects.filter(tender=tender).values_list("code", flat=True))
    assert len(codes) == len(set(codes)) == 180
    postgis = next(p for p in packages if p["name"] == "PostGIS")
    assert postgis["skills"] == ["PostGIS", "PostgreSQL"]
    assert isinstance(postgis["estimated_value"], str) and "." in postgis["estimated_value"]


def test_french_summary_per_lot(tender: Tender) -> None:
    text = run(str(tender.pk))
    assert "lot LOT-0001 : 21 lot(s) de travaux, 90 ligne(s)" in text
    assert "lot LOT-0002 : 21 lot(s) de travaux, 90 ligne(s)" in text
    assert f"appel d'offres n° {tender.pk} : 42 lot(s) de travaux, 180 ligne(s), 0 à vérifier" in text


def test_unknown_tender_is_a_clear_error(db: None) -> None:
    with pytest.raises(CommandError, match="aucun appel d'offres n° 424242"):
        run("424242")


def test_unknown_user_is_a_clear_error(tender: Tender) -> None:
    with pytest.raises(CommandError, match="nobody"):
        run(str(tender.pk), "--user", "nobody")


def test_runs_twice_with_the_same_result(samples: Path, tender: Tender) -> None:
    first = json.loads(run(str(tender.pk), "--json"))
    second = json.loads(run(str(tender.pk), "--json"))
    strip = [{k: v for k, v in p.items() if k != "id"} for p in first["packages"]]
    assert strip == [{k: v for k, v in p.items() if k != "id"} for p in second["packages"]]
