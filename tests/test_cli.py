"""`python manage.py import_tender`: the JSON lines users' scripts read, and bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from bids.models import Line, Tender

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("import_tender", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_shape_for_an_eforms_notice(samples: Path) -> None:
    (payload,) = run(str(samples / "eforms-ted-published/762961-2023.xml"), "--json")
    assert set(payload) == {"tender", "format", "procedure_id", "title", "buyer", "currency", "lots", "lines"}
    assert payload["format"] == "eforms"
    assert payload["tender"] == Tender.objects.get().pk
    assert payload["lines"] == 0
    assert len(payload["lots"]) == 4
    first = payload["lots"][0]
    assert set(first) == {"id", "title", "cpv", "value", "currency"}
    assert first["value"] == "428000.00"
    assert first["currency"] == "EUR"
    assert all(len(code) == 8 and code.isdigit() for lot in payload["lots"] for code in lot["cpv"])


def test_one_line_per_procedure_for_an_ocds_array(samples: Path) -> None:
    payloads = run(str(samples / "ocds/releases_with_combined_tables.json"), "--json")
    assert len(payloads) == 10
    assert sum(len(p["lots"]) for p in payloads) == 27
    assert all(p["format"] == "ocds" and p["currency"] in {"GBP", ""} for p in payloads)


def test_lot_without_value_is_null(samples: Path) -> None:
    (payload,) = run(str(samples / "eforms/cn_24_FRA_comments.xml"), "--json", "--format", "eforms")
    assert [lot["value"] for lot in payload["lots"]] == [None, None]
    assert payload["buyer"] == "Rouen Habitat"


def test_schedule_attached_with_tender_and_lot(samples: Path, tmp_path: Path) -> None:
    (notice,) = run(str(samples / "eforms/cn_24_FRA_comments.xml"), "--json")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Désignation", "Unité", "Quantité", "Prix unitaire"])
    sheet.append(["Tonte", "m2", 1000, 0.35])
    path = tmp_path / "dpgf.xlsx"
    workbook.save(path)
    with pytest.raises(CommandError, match="choose one of LOT-0001, LOT-0002"):
        run(str(path), "--tender", str(notice["tender"]))
    (payload,) = run(str(path), "--tender", str(notice["tender"]), "--lot", "LOT-0002", "--json")
    assert payload["tender"] == notice["tender"]
    assert payload["lines"] == 1
    assert Line.objects.get().lot.source_id == "LOT-0002"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "DOCTYPE"),
        (b'{"releases": [{"ocid": "x", "tender": {"value": {"amount": NaN}}}]}', "NaN"),
        (b"%PDF-1.7 not a notice", "PDF"),
    ],
)
def test_bad_input_exits_with_one_line_and_saves_nothing(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    with pytest.raises(CommandError) as excinfo:
        run(str(path), "--json")
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    assert Tender.objects.count() == 0


def test_unknown_tender_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no tender with id 999"):
        run(str(tmp_path / "x.xml"), "--tender", "999")
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.xml"))


def test_command_line_exit_status_and_stderr(samples: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text('{"releases": [', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "manage.py", "import_tender", str(bad), "--json"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"},
        check=False,
    )
    assert done.returncode != 0
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "bad.json" in done.stderr
