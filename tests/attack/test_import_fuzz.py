"""Fuzzing the importers the tender fuzz tests (tests/importers) do not cover: the finance import (orders,
invoices, payments), the community signals import and the partner network import (service and command).

Three kinds of input: a good file with random byte splices (tests/importers/fuzzing.py), random bytes, and good
headers over random cells. Two outcomes only: the whole file saved (and exactly what it announces), or a
list of problems naming the file, and the row and column when a cell is at fault, with nothing saved. Any
other exception fails the test. Each example runs in a savepoint rolled back afterwards, so they all start
from the same database. Derandomized: CI sees the same files every run; FUZZ_EXAMPLES=500 digs deeper.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from consortium.models import AuditEvent
from partners.catalogue import load_skill_catalogue
from partners.models import CapacityMonth, Contact, FirmSkill, PartnerFirm
from partners.network_rows import checked_rows
from partners.partner_file import FileRow
from partners.services.network import PartnerImportError, import_partners
from pricing.imports import ImportResult, import_finance_file
from pricing.models import Entry, Invoice, InvoiceLine, OrderLine, Payment, Posting, ProjectSignal, PurchaseOrder
from pricing.services.commitments import ProjectInput, save_project
from pricing.services.contracts import issue_invoice
from pricing.signal_imports import import_signals_file
from pricing.tabular import MAX_PROBLEMS
from tests.attack.conftest import FIGURES
from tests.conftest import make_xlsx
from tests.importers.fuzzing import Edit, apply_edits, sample_edits
from tests.ledger.conftest import SIGNED_ON, LedgerContract, build_ledger_contract

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))  # per strategy; raise it for a deeper run
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 10, 15)


def csv_bytes(rows: list[list[Any]], delimiter: str = ";") -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(
        [["" if cell is None else str(cell) for cell in row] for row in rows]
    )
    return text.getvalue().encode("utf-8")


def _storable(cell: Any) -> Any:
    """What openpyxl agrees to write: no control characters, no date before the 1900 epoch (kept as text)."""
    if isinstance(cell, str):
        return ILLEGAL_CHARACTERS_RE.sub("", cell)
    if isinstance(cell, dt.date) and cell < dt.date(1900, 3, 1):
        return cell.isoformat()
    return cell


def as_file(rows: list[list[Any]], fmt: str) -> bytes:
    if fmt == "xlsx":
        return make_xlsx([[_storable(cell) for cell in row] for row in rows])
    return csv_bytes(rows)


# Cells a user's spreadsheet may hold, the hostile ones included.
CELLS = st.one_of(
    st.none(),
    st.text(max_size=24),
    st.integers(-(10**18), 10**18),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
    st.booleans(),
    st.sampled_from(["=1+1", "=SUM(A1:A9)", "1 234,56", "1.234,56", "-0", "0,001", "12/13/2026", "31/02/2026",
                     "PG-1", "NG-1", "LOT-1", "BC-1", "F-1", "Firm A", "grafana", "2026-09-01", " ", "\x00", "€"]),
)  # fmt: skip


def row_cells(width: int, good: list[Any]) -> st.SearchStrategy[list[Any]]:
    """A row of `width` cells, each the good row's value or a random one."""
    return st.tuples(*[st.one_of(st.just(value), CELLS) for value in good[:width]]).map(list)


def in_savepoint(check: Callable[[], None]) -> None:
    """Run `check` and roll its writes back: every example starts from the same database."""
    with transaction.atomic():
        check()
        transaction.set_rollback(True)


# ---------------------------------------------------------------- finance: orders, invoices, payments

ORDERS = [["N° BC", "Date", "Lot", "Réf.", "Quantité"], ["BC-7", "15/01/2026", "LOT-1", "PG-1", "2"],
          ["BC-7", "15/01/2026", "LOT-1", "NG-1", "1"], ["BC-8", "20/01/2026", "LOT-1", "PG-2", "1"]]  # fmt: skip
INVOICES = [["N° facture", "Date", "N° BC", "Réf.", "Quantité"], ["F-2", "01/02/2026", "BC-1", "PG-1", "1"],
            ["F-3", "01/02/2026", "BC-1", "NG-1", "1"]]  # fmt: skip
PAYMENTS = [["Date de valeur", "Montant", "N° facture", "Référence bancaire"],
            ["10/02/2026", "1 000,00", "F-1", "VIR-1"], ["11/02/2026", "10,00", "F-1", "VIR-2"]]  # fmt: skip
GOOD_FINANCE = {"orders": ORDERS, "invoices": INVOICES, "payments": PAYMENTS}
FINANCE_MODELS: list[Any] = [PurchaseOrder, OrderLine, Invoice, InvoiceLine, Payment, Entry, Posting]
CREATED_BY_KIND = {"orders": PurchaseOrder, "invoices": Invoice, "payments": Payment}


@pytest.fixture
def lc(bid_manager: Any, partner_a: Any, partner_b: Any, finance: Any) -> LedgerContract:
    """The contract of tests/ledger with order BC-1 (every line, twice) and invoice F-1 (each line once)."""
    contract = build_ledger_contract(bid_manager=bid_manager, partner_a=partner_a, partner_b=partner_b, finance=finance)
    order = contract.order("BC-1", quantity=Decimal(2))
    issue_invoice(
        actor=finance, order=order, number="F-1", issued_on=SIGNED_ON + dt.timedelta(days=20),
        lines=[(line.pk, Decimal(1)) for line in order.lines.all()],
    )  # fmt: skip
    return contract


def finance_counts() -> dict[str, int]:
    found = {model.__name__: model.objects.count() for model in FINANCE_MODELS}
    found["events"] = AuditEvent.objects.filter(action="finance.imported").count()
    return found


def assert_named(problems: list[Any], filename: str) -> None:
    assert problems
    for problem in problems:
        assert problem.message.strip()
        if problem.where == "":  # only the note that the list was cut
            assert len(problems) == MAX_PROBLEMS + 1
            continue
        assert problem.where.startswith(filename), problem


def try_finance(lc: LedgerContract, kind: str, filename: str, data: bytes) -> None:
    def check() -> None:
        before = finance_counts()
        result: ImportResult = import_finance_file(
            actor=lc.finance, contract=lc.contract, kind=kind, filename=filename, data=data
        )
        after = finance_counts()
        if result.ok:
            created = after[CREATED_BY_KIND[kind].__name__] - before[CREATED_BY_KIND[kind].__name__]
            assert created == result.created > 0
            assert after["events"] == before["events"] + 1
            FIGURES["import fuzz: finance files saved"] += 1
        else:
            assert after == before, "a refused file saved something"
            assert (result.created, result.total_cents) == (0, 0)
            assert_named(result.problems, filename)
            FIGURES["import fuzz: finance files refused with named problems"] += 1

    in_savepoint(check)


@pytest.mark.parametrize("kind", ["orders", "invoices", "payments"])
def test_finance_files_fuzzed(lc: LedgerContract, kind: str) -> None:
    header, *good_rows = GOOD_FINANCE[kind]
    for fmt in ("csv", "xlsx"):  # the control: the files the fuzzing starts from are saved whole
        in_savepoint(lambda fmt=fmt: _saved_whole(lc, kind, fmt))

    goods = {fmt: as_file(GOOD_FINANCE[kind], fmt) for fmt in ("csv", "xlsx")}  # once: a workbook holds its time

    @FUZZ
    @given(fmt=st.sampled_from(sorted(goods)), data=st.data())
    def spliced(fmt: str, data: st.DataObject) -> None:
        try_finance(lc, kind, f"import.{fmt}", apply_edits(goods[fmt], data.draw(sample_edits(goods[fmt]))))

    @FUZZ
    @given(
        fmt=st.sampled_from(["csv", "xlsx"]),
        rows=st.lists(st.sampled_from(good_rows).flatmap(lambda good: row_cells(len(header), good)), max_size=6),
    )
    def cells(fmt: str, rows: list[list[Any]]) -> None:
        try_finance(lc, kind, f"cells.{fmt}", as_file([header, *rows], fmt))

    @FUZZ
    @given(data=st.binary(max_size=3000), zipped=st.booleans(), name=st.sampled_from(["x.csv", "x.xlsx", "x", "x.ods"]))
    def noise(data: bytes, zipped: bool, name: str) -> None:
        try_finance(lc, kind, name, (b"PK\x03\x04" + data) if zipped else data)

    spliced()
    cells()
    noise()


def _saved_whole(lc: LedgerContract, kind: str, fmt: str) -> None:
    before = finance_counts()
    data = as_file(GOOD_FINANCE[kind], fmt)
    result = import_finance_file(actor=lc.finance, contract=lc.contract, kind=kind, filename=f"f.{fmt}", data=data)
    assert (result.problems, result.created) == ([], 2)
    assert finance_counts()[CREATED_BY_KIND[kind].__name__] == before[CREATED_BY_KIND[kind].__name__] + 2


# ---------------------------------------------------------------- community signals

SIGNALS = [["project", "observed_on", "active_contributors", "releases_last_year", "last_release_on", "source_url"],
           ["grafana", "2026-09-01", "40", "5", "2026-08-15", "https://github.com/grafana/grafana/pulse"],
           ["Matomo", "01/10/2026", "", "3", "", ""]]  # fmt: skip


@pytest.fixture
def projects(bid_manager: Any) -> None:
    save_project(actor=bid_manager, data=ProjectInput(name="Grafana"))
    save_project(actor=bid_manager, data=ProjectInput(name="Matomo"))


def signal_counts() -> tuple[int, int]:
    return ProjectSignal.objects.count(), AuditEvent.objects.filter(action="project.signals_imported").count()


def try_signals(actor: Any, filename: str, data: bytes) -> None:
    def check() -> None:
        before = signal_counts()
        result = import_signals_file(actor=actor, filename=filename, data=data, today=TODAY)
        after = signal_counts()
        if result.ok:
            assert result.created > 0
            assert after[1] == before[1] + 1
            assert after[0] <= before[0] + result.created  # a second observation of a day replaces the first
            FIGURES["import fuzz: signals files saved"] += 1
        else:
            assert after == before, "a refused file saved something"
            assert_named(result.problems, filename)
            FIGURES["import fuzz: signals files refused with named problems"] += 1

    in_savepoint(check)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_signals_files_fuzzed(bid_manager: Any, projects: None, fmt: str) -> None:
    good = as_file(SIGNALS, fmt)
    result = import_signals_file(actor=bid_manager, filename=f"s.{fmt}", data=good, today=TODAY)
    assert (result.problems, result.created) == ([], 2)  # the control
    header, *good_rows = SIGNALS

    @FUZZ
    @given(edits=sample_edits(good))
    def spliced(edits: list[Edit]) -> None:
        try_signals(bid_manager, f"signaux.{fmt}", apply_edits(good, edits))

    @FUZZ
    @given(rows=st.lists(st.sampled_from(good_rows).flatmap(lambda good: row_cells(len(header), good)), max_size=6))
    def cells(rows: list[list[Any]]) -> None:
        try_signals(bid_manager, f"signaux.{fmt}", as_file([header, *rows], fmt))

    @FUZZ
    @given(data=st.binary(max_size=3000))
    def noise(data: bytes) -> None:
        try_signals(bid_manager, f"bruit.{fmt}", data)

    spliced()
    cells()
    noise()


# ---------------------------------------------------------------- partner network

PARTNER_MODELS: list[Any] = [PartnerFirm, FirmSkill, CapacityMonth, Contact]


@pytest.fixture
def catalogue(db: None) -> None:
    load_skill_catalogue()


def documented_example() -> bytes:
    text = (ROOT / "docs" / "PARTNERS.md").read_text(encoding="utf-8")
    return text.split("```csv\n", 1)[1].split("```", 1)[0].encode("utf-8")


def partner_counts() -> dict[str, int]:
    found = {model.__name__: model.objects.count() for model in PARTNER_MODELS}
    found["events"] = AuditEvent.objects.filter(action="partners.network_imported").count()
    return found


def try_partners(filename: str, data: bytes) -> None:
    def check() -> None:
        before = partner_counts()
        errors: list[Any] = []
        try:
            report = import_partners(actor=None, data=data, filename=filename, today=TODAY)
        except PartnerImportError as refused:
            errors = refused.errors or [None]
        if errors:
            assert partner_counts() == before, "a refused file saved something"
            assert all(error is not None and error.message.strip() and error.row >= 0 for error in errors)
            FIGURES["import fuzz: partner files refused with named problems"] += 1
            return
        after = partner_counts()
        assert after["PartnerFirm"] - before["PartnerFirm"] == report.created
        assert after["events"] == before["events"] + 1
        assert report.rows == report.created + report.updated > 0
        FIGURES["import fuzz: partner files saved"] += 1

    in_savepoint(check)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_partner_files_fuzzed(catalogue: None, fmt: str) -> None:
    rows = list(csv.reader(io.StringIO(documented_example().decode("utf-8")), delimiter=";"))
    good = documented_example() if fmt == "csv" else make_xlsx(rows)
    in_savepoint(lambda: import_partners(actor=None, data=good, filename=f"reseau.{fmt}", today=TODAY))  # control
    header, *good_rows = rows

    @FUZZ
    @given(edits=sample_edits(good))
    def spliced(edits: list[Edit]) -> None:
        try_partners(f"reseau.{fmt}", apply_edits(good, edits))

    @FUZZ
    @given(rows=st.lists(st.sampled_from(good_rows).flatmap(lambda good: row_cells(len(header), good)), max_size=6))
    def cells(rows: list[list[Any]]) -> None:
        try_partners(f"reseau.{fmt}", as_file([header, *rows], fmt))

    @FUZZ
    @given(data=st.binary(max_size=3000), zipped=st.booleans())
    def noise(data: bytes, zipped: bool) -> None:
        try_partners(f"bruit.{fmt}", (b"PK\x03\x04" + data) if zipped else data)

    spliced()
    cells()
    noise()


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    return tmp_path / "reseau.csv"


def test_the_partner_command_fails_cleanly_on_random_files(catalogue: None, upload: Path) -> None:
    @settings(FUZZ, max_examples=20)
    @given(data=st.binary(max_size=2000))
    def run(data: bytes) -> None:
        upload.write_bytes(data)

        def check() -> None:
            before = partner_counts()
            message = None
            try:
                call_command("import_partners", str(upload), stdout=io.StringIO(), stderr=io.StringIO())
            except CommandError as refused:
                message = str(refused)
            if message is not None:
                assert message.strip()
                assert partner_counts() == before
                FIGURES["import fuzz: import_partners command refusals"] += 1

        in_savepoint(check)

    run()


# ---------------------------------------------------------------- what the fuzzing found, kept as plain tests


def test_a_workbook_whose_zip_offsets_are_off_is_refused_by_name(lc: LedgerContract) -> None:
    """Bytes cut before the central directory: zipfile seeks to a negative offset (a ValueError, once a 500)."""
    good = as_file(ORDERS, "xlsx")
    broken = good[:40] + good[50:]
    before = finance_counts()
    result = import_finance_file(actor=lc.finance, contract=lc.contract, kind="orders", filename="bc.xlsx", data=broken)
    assert not result.ok
    assert result.problems[0].where.startswith("bc.xlsx")
    assert finance_counts() == before


@pytest.mark.parametrize("postcode", [float("inf"), float("nan"), 1e300, 75001.5])
def test_a_postcode_cell_that_is_no_whole_number_is_named(catalogue: None, postcode: float) -> None:
    """A float cell of a workbook too big for an int (an OverflowError, once a 500), or not whole."""
    rows = list(csv.reader(io.StringIO(documented_example().decode("utf-8")), delimiter=";"))
    header, first = rows[0], rows[1]
    first[header.index("postcode")] = postcode  # type: ignore[call-overload]
    with pytest.raises(PartnerImportError) as refused:
        checked_rows([FileRow(1, header), FileRow(2, first)])
    assert [(error.row, error.column) for error in refused.value.errors] == [(2, "postcode")]
