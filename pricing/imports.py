"""Purchase orders, invoices and bank payments from XLSX or CSV into one contract: the whole file or nothing.

The file goes through the tender import's guards (bids): the size limit, the zip-bomb and DOCTYPE checks
before the workbook is opened, the sheet extent, CSV encoding and delimiter sniffing. The header row is
found in the first rows by French or English column names; every sheet holding one is read. Each row is
checked against the contract (lots, lines, orders, invoices, what is left to invoice or to pay) and every
problem is collected with its file, sheet, row and column. Only a file without problems is written, through
the contract services, in one transaction; a refusal from a service names the row it came from and undoes
the whole file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bids.importers.base import ImportFailed
from bids.importers.common import clean_text, parse_amount
from bids.importers.spreadsheet import (
    HEADER_SCAN_ROWS,
    normalise,
    open_grids,  # the tender import's guarded reader
)
from bids.models import Lot
from bids.offer_models import OfferLine
from bids.prices import parse_unit_price
from bids.services.imports import check_size
from consortium.money import from_cents
from consortium.services import record_event
from consortium.templatetags.guichet import money
from consortium.templatetags.guichet import quantity as show_quantity

from .models import (
    Contract,
    ContractParty,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    InvoicingCircuit,
    OrderLine,
    Payment,
    PurchaseOrder,
)
from .selectors.contracts import invoice_position
from .services.contracts import ContractRefused, create_order, issue_invoice
from .services.payments import PaymentInput, record_payments

ORDERS, INVOICES, PAYMENTS = "orders", "invoices", "payments"
KINDS = (ORDERS, INVOICES, PAYMENTS)
KIND_LABELS = {
    ORDERS: gettext_lazy("bons de commande"),
    INVOICES: gettext_lazy("factures"),
    PAYMENTS: gettext_lazy("paiements reçus"),
}
MAX_PROBLEMS = 100
MAX_NUMBER_CHARS = 60  # PurchaseOrder.number, Invoice.number
MAX_REFERENCE_CHARS = 100  # Payment.bank_reference
_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y")
_AMBIGUOUS = -1
_TOTALS_RE = re.compile(r"(sous )?tota(l|ux)( [a-z].*)?$")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls and other old Office files
T = TypeVar("T")


@dataclass(frozen=True)
class ImportProblem:
    where: str  # "fichier.xlsx, feuille X, ligne 12, colonne Montant"
    message: str

    def __str__(self) -> str:
        return f"{self.where} : {self.message}" if self.where else self.message


@dataclass(frozen=True)
class ImportResult:
    kind: str
    created: int
    problems: list[ImportProblem]
    total_cents: int  # orders: HT; invoices: TTC; payments: received

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------- columns


@dataclass(frozen=True)
class _Column:
    field: str
    label: str  # shown when the column is missing
    keywords: tuple[str, ...]  # normalised header texts; a header may also start with one
    required: bool = True


_ORDER_NUMBER = ("no bc", "n bc", "bc", "numero bc", "bon de commande", "no bon de commande", "n bon de commande",
                 "no du bon de commande", "numero de bon de commande", "numero du bon de commande", "commande",
                 "no commande", "n commande", "numero de commande", "order", "order number", "order no",
                 "purchase order", "po", "po number")  # fmt: skip
_INVOICE_NUMBER = ("no facture", "n facture", "no de facture", "numero de facture", "numero facture", "facture",
                   "reference facture", "ref facture", "invoice", "invoice number", "invoice no")  # fmt: skip
_LINE = ("ref", "reference", "ref ligne", "reference ligne", "code", "article", "poste", "line", "line reference",
         "item", "item code")  # fmt: skip
_DESIGNATION = ("designation", "libelle", "description", "intitule", "prestation")
_QUANTITY = ("quantite", "qte", "qty", "quantity", "q")
_FIRM = ("emetteur", "membre", "entreprise", "cotraitant", "societe", "siret", "facture par", "issuer", "firm",
         "invoiced by", "company")  # fmt: skip

COLUMNS: dict[str, tuple[_Column, ...]] = {
    ORDERS: (
        _Column("order", "N° BC", _ORDER_NUMBER),
        _Column(
            "date",
            "Date",
            (
                "date",
                "date bc",
                "date de commande",
                "date du bon",
                "date d emission",
                "emis le",
                "order date",
                "issue date",
                "issued on",
            ),
        ),
        _Column("lot", "Lot", ("lot", "no lot", "n lot", "numero de lot", "numero lot", "lot number"), False),
        _Column("line", "Réf.", _LINE),
        _Column("designation", "Désignation", _DESIGNATION, False),
        _Column("quantity", "Quantité", _QUANTITY),
    ),
    INVOICES: (
        _Column("invoice", "N° facture", _INVOICE_NUMBER),
        _Column(
            "date",
            "Date",
            (
                "date",
                "date facture",
                "date de facture",
                "date d emission",
                "emise le",
                "invoice date",
                "issue date",
                "issued on",
            ),
        ),
        _Column("order", "N° BC", _ORDER_NUMBER),
        _Column("line", "Réf.", _LINE),
        _Column("designation", "Désignation", _DESIGNATION, False),
        _Column("quantity", "Quantité", _QUANTITY),
        _Column("issuer", "Émetteur", _FIRM, False),
    ),
    PAYMENTS: (
        _Column(
            "date",
            "Date",
            (
                "date",
                "date de paiement",
                "date de valeur",
                "date valeur",
                "date de reception",
                "date d operation",
                "date operation",
                "recu le",
                "payment date",
                "value date",
                "received on",
            ),
        ),
        _Column(
            "amount",
            "Montant",
            ("montant", "montant recu", "montant ttc", "montant paye", "credit", "somme", "amount", "amount received"),
        ),
        _Column("invoice", "N° facture", _INVOICE_NUMBER),
        _Column(
            "reference",
            "Référence bancaire",
            (
                "reference bancaire",
                "ref bancaire",
                "reference",
                "ref",
                "reference virement",
                "ref virement",
                "reference de l operation",
                "bank reference",
                "transaction",
                "transaction id",
                "end to end id",
            ),
            False,
        ),
        _Column(
            "paid_to",
            "Payé à",
            ("paye a", "paye directement a", "paiement direct", "beneficiaire", "paid to", "direct payment"),
            False,
        ),
    ),
}


def expected_columns(kind: str) -> list[str]:
    """The column names a file of this kind needs (an asterisk: optional), for the upload page."""
    return [column.label if column.required else f"{column.label}*" for column in COLUMNS[kind]]


# ---------------------------------------------------------------- reading the file


class _Bad(Exception):
    """A cell that cannot be used; the message goes with the cell's position."""


class _Problems(list[ImportProblem]):
    def add(self, where: str, message: str) -> None:
        if len(self) < MAX_PROBLEMS:
            self.append(ImportProblem(where, message))
        elif len(self) == MAX_PROBLEMS:
            self.append(
                ImportProblem("", _("plus de %(n)s problèmes : corrigez ceux-ci d'abord") % {"n": MAX_PROBLEMS})
            )


@dataclass
class _Sheet:
    where: str  # "fichier.xlsx, feuille Paiements" or "fichier.csv"
    header_row: int  # 1-based
    columns: dict[str, int]  # field -> 0-based column
    headers: dict[str, str]  # field -> the header text in the file


@dataclass
class _Row:
    sheet: _Sheet
    number: int  # 1-based
    cells: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.sheet.where}, " + _("ligne %(n)s") % {"n": self.number}

    def at(self, name: str) -> str:
        header = self.sheet.headers.get(name)
        return (f"{self.where}, " + _("colonne %(name)s") % {"name": header}) if header else self.where


def _read_rows(filename: str, data: bytes, columns: Sequence[_Column], problems: _Problems) -> list[_Row]:
    """Every data row of every sheet with a header row; problems of the file itself end the reading."""
    rows: list[_Row] = []
    refused: list[ImportProblem] = []
    sheets = 0
    try:
        check_size(len(data), source=filename)
        for grid in open_grids(data, source=filename, fmt=_format(data, filename), sheet=None):
            where = (f"{filename}, " + _("feuille %(name)s") % {"name": grid.name}) if grid.name else filename
            found = _layout(grid, where, columns)
            if isinstance(found, _Sheet):
                sheets += 1
                rows.extend(_sheet_rows(grid, found, problems))
            elif found is not None:
                refused.append(found)
    except ImportFailed as failure:
        for found_problem in failure.problems:
            problems.add(found_problem.where, found_problem.message)
        return []
    if not sheets:
        for problem in refused or [ImportProblem(filename, _("le fichier est vide"))]:
            problems.add(problem.where, problem.message)
    elif not rows and not problems:
        problems.add(filename, _("aucune ligne à importer sous l'en-tête"))
    return rows


def _format(data: bytes, filename: str) -> str:
    """Which reader the file goes to, "xlsx" or "csv"; anything else is refused before any parsing."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:8] == _OLE_MAGIC:
        raise ImportFailed(_("ancien format Excel (.xls) : enregistrez le fichier au format XLSX"), where=filename)
    if not data.strip():
        raise ImportFailed(_("le fichier est vide"), where=filename)
    head = data[:65536]
    if b"\x00" in head or head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[", b"<", b"%"):
        raise ImportFailed(_("ce n'est pas un tableur : enregistrez-le au format XLSX ou CSV (UTF-8)"), where=filename)
    return "csv"


def _layout(grid: Any, where: str, columns: Sequence[_Column]) -> _Sheet | ImportProblem | None:
    """The sheet's header row and columns; None for an empty sheet, a problem when no row has the columns."""
    head: list[Sequence[Any]] = grid.read_head()
    if not any(_filled(value) for row in head for value in row):
        return None
    best: tuple[int, dict[str, tuple[int, str]]] | None = None
    for number, row in enumerate(head, start=1):
        found = _header_fields(row, grid.first_column, columns)
        if all(column.field in found for column in columns if column.required):
            return _Sheet(
                where,
                number,
                {name: column for name, (column, _text) in found.items()},
                {name: text for name, (_column, text) in found.items()},
            )
        if len(found) >= 2 and (best is None or len(found) > len(best[1])):
            best = (number, found)
    expected = ", ".join(column.label for column in columns if column.required)
    if best is None:
        return ImportProblem(
            where,
            _("aucune ligne d'en-tête dans les %(n)s premières lignes (colonnes attendues : %(expected)s)")
            % {"n": HEADER_SCAN_ROWS, "expected": expected},
        )
    number, found = best
    missing = ", ".join(column.label for column in columns if column.required and column.field not in found)
    return ImportProblem(
        f"{where}, " + _("ligne %(n)s") % {"n": number},
        _("colonne(s) manquante(s) : %(missing)s (colonnes attendues : %(expected)s)")
        % {"missing": missing, "expected": expected},
    )


def _header_fields(row: Sequence[Any], first_column: int, columns: Sequence[_Column]) -> dict[str, tuple[int, str]]:
    """Field -> (0-based column, header text); a header equal to a keyword wins over one starting with it."""
    exact: dict[str, tuple[int, str]] = {}
    prefixed: dict[str, tuple[int, str]] = {}
    for index, value in enumerate(row):
        if not isinstance(value, str) or not value.strip() or len(value) > 80:
            continue
        normal = normalise(value)
        name = next((c.field for c in columns if normal in c.keywords), None)
        if name is not None:
            exact.setdefault(name, (first_column + index, value.strip()))
            continue
        name = next((c.field for c in columns if any(normal.startswith(k + " ") for k in c.keywords)), None)
        if name is not None:
            prefixed.setdefault(name, (first_column + index, value.strip()))
    for name, found in prefixed.items():
        exact.setdefault(name, found)
    return exact


def _sheet_rows(grid: Any, sheet: _Sheet, problems: _Problems) -> Iterator[_Row]:
    """The data rows below the header: empty rows and totals rows skipped, merged cells filled down."""
    first = grid.first_column
    fill = _MergedFill(grid.merged)
    for number, values in enumerate(grid.rows, start=1):
        values = fill.apply(number, values, first)
        if number <= sheet.header_row:
            continue
        cells = {name: _cell(values, column - first) for name, column in sheet.columns.items()}
        if not any(_filled(value) for value in cells.values()):
            continue
        if _is_totals(values):
            continue
        row = _Row(sheet, number, cells)
        gaps = [name for name, column in sheet.columns.items() if (number, column) in grid.formula_gaps]
        for name in gaps:
            problems.add(
                row.at(name), _("formule sans valeur calculée : ouvrez et enregistrez le fichier dans un tableur")
            )
        if not gaps:
            yield row


class _MergedFill:
    """Vertically merged cells (an order number spanning its lines) give every row the top cell's value."""

    def __init__(self, merged: Iterable[tuple[tuple[int, int], tuple[int, int]]]) -> None:
        self.tops: dict[int, list[int]] = {}
        self.covered: dict[int, list[tuple[int, int]]] = {}
        self.values: dict[tuple[int, int], Any] = {}
        for (top, left), (bottom, _right) in merged:
            if bottom > top:
                self.tops.setdefault(top + 1, []).append(left)
                for number in range(top + 2, bottom + 2):
                    self.covered.setdefault(number, []).append((left, top + 1))

    def apply(self, number: int, row: Sequence[Any], first: int) -> Sequence[Any]:
        for column in self.tops.get(number, ()):
            self.values[(column, number)] = _cell(row, column - first)
        if number not in self.covered:
            return row
        filled = list(row)
        for column, top in self.covered[number]:
            if 0 <= column - first < len(filled):
                filled[column - first] = self.values.get((column, top), "")
        return filled


def _cell(row: Sequence[Any], index: int) -> Any:
    return row[index] if 0 <= index < len(row) else None


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _is_totals(row: Sequence[Any]) -> bool:
    """A row whose first filled cell reads "Total", "Sous-total", "Total TTC"... (not "TOTAL-1", a number)."""
    first = next((value for value in row if _filled(value)), None)
    return isinstance(first, str) and bool(_TOTALS_RE.match(normalise(first)))


# ---------------------------------------------------------------- cells


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    try:
        return clean_text(value, where="")
    except ImportFailed as exc:
        raise _Bad(exc.problems[0].message) from None


def _number(value: Any, label: str, limit: int = MAX_NUMBER_CHARS) -> str:
    text = _text(value)
    if not text:
        raise _Bad(_("%(label)s manquant") % {"label": label})
    if len(text) > limit:
        raise _Bad(_("%(label)s de plus de %(n)s caractères") % {"label": label, "n": limit})
    return text


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if not text:
        raise _Bad(_("date manquante"))
    token = text.split()[0].split("T")[0]
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(token, pattern).date()
        except ValueError:
            continue
    raise _Bad(_("« %(value)s » n'est pas une date (attendu JJ/MM/AAAA)") % {"value": text[:40]})


def _quantity(value: Any) -> Decimal:
    try:
        if isinstance(value, bool):
            raise ImportFailed(str(value))
        # Excel keeps 15 significant digits: a float 0.1 is the 0.1 the user typed
        number = Decimal(format(value, ".15g")) if isinstance(value, float) else parse_amount(value, where="")
    except ImportFailed:
        raise _Bad(_("« %(value)s » n'est pas une quantité") % {"value": str(value)[:40]}) from None
    if number is None:
        raise _Bad(_("quantité manquante"))
    if number <= 0:
        raise _Bad(_("quantité %(q)s : une quantité positive est attendue") % {"q": number})
    if number >= 10**14:
        raise _Bad(_("quantité %(q)s trop grande") % {"q": number})
    if number != number.quantize(Decimal("0.0001")):
        raise _Bad(_("quantité %(q)s : au plus 4 décimales") % {"q": number})
    return number


def _amount_cents(value: Any) -> int:
    """Cents of a received amount: '1 234,56', '1234.56', '1 234,56 €' or a number cell; 2 decimals at most."""
    if not _filled(value):
        raise _Bad(_("montant manquant"))
    raw = Decimal(format(value, ".15g")) if isinstance(value, float) else value
    try:
        amount = parse_unit_price(raw)
    except ValueError as exc:
        raise _Bad(_("montant refusé : %(reason)s") % {"reason": exc}) from None
    if amount == 0:
        raise _Bad(_("montant nul"))
    return int(amount * 100)


def _euros(cents: int, contract: Contract) -> str:
    return money(from_cents(cents), contract.currency)


# ---------------------------------------------------------------- what the contract knows


class _Names:
    """Keys by name (a line's Réf. or designation, a lot's id or title, a firm's name or SIRET), normalised;
    a name two keys share is ambiguous."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.shown: list[str] = []

    def add(self, key: int, *names: str, shown: str = "") -> None:
        for name in {normalise(n) for n in names if n and normalise(n)}:
            self.names[name] = key if self.names.get(name, key) == key else _AMBIGUOUS
        if shown:
            self.shown.append(shown)

    def add_line(self, key: int, code: str, designation: str) -> None:
        """A line is named by the buyer's Réf. (its code), and by its designation."""
        self.add(key, code, designation, shown=code or designation[:40])

    def find(self, text: str, unknown: str) -> int:
        """The key named `text`; `unknown` (with %(value)s and %(known)s) when there is none."""
        key = self.names.get(normalise(text))
        if key is None:
            listed = ", ".join(self.shown[:10]) + (", …" if len(self.shown) > 10 else "")
            raise _Bad(unknown % {"value": text[:60], "known": listed or "—"})
        if key == _AMBIGUOUS:
            raise _Bad(_("« %(value)s » désigne plusieurs lignes : indiquez la Réf.") % {"value": text[:60]})
        return key


def _line(row: _Row, names: _Names, place: str) -> int:
    """The line a row names by its Réf., else by the designation column."""
    text = _text(row.cells.get("line")) or _text(row.cells.get("designation"))
    if not text:
        raise _Bad(_("Réf. manquante"))
    return names.find(text, _("Réf. « %(value)s » inconnue ") + place + _(" (Réf. connues : %(known)s)"))


def _parties(contract: Contract) -> tuple[_Names, dict[int, str]]:
    names, firms = _Names(), {}
    for firm_id, name, siret in ContractParty.objects.filter(contract=contract).values_list(
        "firm_id", "firm__name", "firm__siret"
    ):
        names.add(firm_id, name, siret, shown=name)
        firms[firm_id] = name
    return names, firms


def _firm(value: Any, parties: _Names) -> int | None:
    """A member of the contract by its name or SIRET; None when the cell is empty."""
    text = _text(value)
    if not text:
        return None
    digits = text.replace(" ", "")
    return parties.find(
        digits if digits.isdigit() else text,
        _("« %(value)s » n'est ni le nom ni le SIRET d'un membre du marché (membres : %(known)s)"),
    )


def _guard(problems: _Problems, row: _Row, name: str, read: Callable[..., T], *args: Any) -> T | None:
    """`read(*args)`, or None after recording its problem at the row's cell `name`."""
    try:
        return read(*args)
    except _Bad as exc:
        problems.add(row.at(name), str(exc))
        return None


@dataclass
class _Draft:
    """One order (or invoice) gathered from its rows."""

    number: str
    first: _Row
    issued_on: dt.date
    parent: int  # orders: the lot; invoices: the order
    parent_label: str
    issuer_id: int | None = None
    lines: dict[int, Decimal] = field(default_factory=dict)

    def add(
        self, problems: _Problems, row: _Row, *, issued_on: dt.date, parent: int, parent_column: str,
        one_parent: str, line_id: int, quantity: Decimal,
    ) -> None:  # fmt: skip
        """A further row of the same number: same date, same lot (or order), each line once."""
        if issued_on != self.issued_on:
            problems.add(
                row.at("date"),
                _("date %(date)s différente de celle de la ligne %(row)s (%(first)s) pour %(n)s")
                % {"date": issued_on.isoformat(), "row": self.first.number, "first": self.issued_on.isoformat(),
                   "n": self.number},
            )  # fmt: skip
        if parent != self.parent:
            problems.add(
                row.at(parent_column),
                one_parent % {"n": self.number, "row": self.first.number, "first": self.parent_label},
            )
        if line_id in self.lines:
            problems.add(row.at("line"), _("cette ligne figure déjà dans %(n)s") % {"n": self.number})
        self.lines[line_id] = quantity


# ---------------------------------------------------------------- orders


def _import_orders(*, actor: Any, contract: Contract, rows: list[_Row], problems: _Problems) -> tuple[int, int]:
    offer_lines = OfferLine.objects.filter(version_id=contract.version_id)
    lots = {lot.pk: lot for lot in Lot.objects.filter(pk__in=offer_lines.values("lot_id")).order_by("position", "pk")}
    lot_names = _Names()
    for known in lots.values():
        lot_names.add(known.pk, known.source_id, known.internal_ref, known.title, f"lot {known.source_id}",
                      shown=known.source_id)  # fmt: skip
    lines = {lot_id: _Names() for lot_id in lots}
    for pk, lot_id, code, designation in offer_lines.values_list("pk", "lot_id", "line__code", "line__designation"):
        lines[lot_id].add_line(pk, code, designation)
    drafts: dict[str, _Draft] = {}
    for row in rows:
        cells = row.cells
        number = _guard(problems, row, "order", _number, cells["order"], _("N° de bon"))
        issued_on = _guard(problems, row, "date", _date, cells["date"])
        lot = _guard(problems, row, "lot", _lot, cells.get("lot"), lot_names, lots)
        quantity = _guard(problems, row, "quantity", _quantity, cells["quantity"])
        if lot is None:
            continue
        place = _("dans le lot %(lot)s du marché") % {"lot": lot.source_id}
        line_id = _guard(problems, row, "line", _line, row, lines[lot.pk], place)
        if number is None or issued_on is None or line_id is None or quantity is None:
            continue
        draft = drafts.setdefault(_key(number), _Draft(number, row, issued_on, lot.pk, lot.source_id))
        draft.add(
            problems, row, issued_on=issued_on, parent=lot.pk, parent_column="lot", line_id=line_id, quantity=quantity,
            one_parent=_("le bon %(n)s mêle plusieurs lots (ligne %(row)s : %(first)s) : un bon par lot"),
        )  # fmt: skip
    for existing in PurchaseOrder.objects.filter(contract=contract).values_list("number", flat=True):
        if _key(existing) in drafts:
            problems.add(
                drafts[_key(existing)].first.at("order"),
                _("le bon de commande %(n)s existe déjà sur ce marché") % {"n": existing},
            )
    if problems:
        return 0, 0
    total = 0
    for draft in drafts.values():
        try:
            order = create_order(
                actor=actor, contract=contract, lot_id=draft.parent, number=draft.number, issued_on=draft.issued_on,
                lines=list(draft.lines.items()),
            )  # fmt: skip
        except ContractRefused as exc:
            problems.add(draft.first.where, str(exc))
            continue
        total += order.total_ht_cents
    return len(drafts), total


def _lot(value: Any, names: _Names, lots: dict[int, Lot]) -> Lot:
    """The lot a row names (its id, internal reference or title); the contract's only lot when empty."""
    text = _text(value)
    if not text:
        if len(lots) == 1:
            return next(iter(lots.values()))
        raise _Bad(_("lot manquant : ce marché a plusieurs lots"))
    return lots[names.find(text, _("lot « %(value)s » inconnu dans ce marché (lots : %(known)s)"))]


# ---------------------------------------------------------------- invoices


@dataclass
class _OrderLineInfo:
    firm_id: int
    label: str
    left: Decimal  # still to invoice, after the rows read so far


def _import_invoices(*, actor: Any, contract: Contract, rows: list[_Row], problems: _Problems) -> tuple[int, int]:
    orders = {_key(order.number): order for order in PurchaseOrder.objects.filter(contract=contract)}
    names = {order.pk: _Names() for order in orders.values()}
    info: dict[int, _OrderLineInfo] = {}
    for pk, order_id, firm_id, ordered, code, designation in OrderLine.objects.filter(
        order__contract=contract
    ).values_list("pk", "order_id", "firm_id", "quantity", "offer_line__line__code", "offer_line__line__designation"):
        info[pk] = _OrderLineInfo(firm_id, code or designation[:40], ordered)
        names[order_id].add_line(pk, code, designation)
    for order_line_id, invoiced in InvoiceLine.objects.filter(
        order_line__order__contract=contract, invoice__kind=InvoiceKind.INVOICE
    ).values_list("order_line_id", "quantity"):
        info[order_line_id].left -= invoiced  # summed here: SQLite sums decimals as floats
    parties, firms = _parties(contract)
    members = contract.invoicing_circuit == InvoicingCircuit.MEMBERS
    drafts: dict[str, _Draft] = {}
    for row in rows:
        cells = row.cells
        number = _guard(problems, row, "invoice", _number, cells["invoice"], _("N° de facture"))
        issued_on = _guard(problems, row, "date", _date, cells["date"])
        order = _guard(problems, row, "order", _order, cells["order"], orders)
        quantity = _guard(problems, row, "quantity", _quantity, cells["quantity"])
        issuer_id = _guard(problems, row, "issuer", _firm, cells.get("issuer"), parties)
        if order is None:
            continue
        place = _("sur le bon de commande %(n)s") % {"n": order.number}
        line_id = _guard(problems, row, "line", _line, row, names[order.pk], place)
        if number is None or issued_on is None or line_id is None or quantity is None:
            continue
        line = info[line_id]
        if members and not _filled(cells.get("issuer")):
            problems.add(
                row.at("issuer"),
                _("circuit « chaque cotraitant facture » : indiquez le membre qui facture (colonne Émetteur)"),
            )
        elif issuer_id is not None and line.firm_id != issuer_id:
            problems.add(
                row.at("line"),
                _("la ligne %(line)s est celle de %(owner)s, pas de %(issuer)s")
                % {"line": line.label, "owner": firms.get(line.firm_id, "?"), "issuer": firms.get(issuer_id, "?")},
            )
        if quantity > line.left:
            problems.add(
                row.at("quantity"),
                _("quantité %(q)s au-delà du reste à facturer (%(left)s) sur la ligne %(line)s du bon %(order)s")
                % {"q": show_quantity(quantity), "left": show_quantity(max(line.left, Decimal(0))),
                   "line": line.label, "order": order.number},
            )  # fmt: skip
        line.left -= quantity
        draft = drafts.setdefault(_key(number), _Draft(number, row, issued_on, order.pk, order.number, issuer_id))
        draft.add(
            problems, row, issued_on=issued_on, parent=order.pk, parent_column="order", line_id=line_id,
            quantity=quantity,
            one_parent=_("la facture %(n)s mêle plusieurs bons de commande (ligne %(row)s : %(first)s) : "
                         "une facture par bon"),
        )  # fmt: skip
        if issuer_id != draft.issuer_id:
            problems.add(
                row.at("issuer"), _("émetteur différent de celui de la ligne %(row)s") % {"row": draft.first.number}
            )
    for existing in Invoice.objects.filter(contract=contract).values_list("number", flat=True):
        if _key(existing) in drafts:
            problems.add(
                drafts[_key(existing)].first.at("invoice"),
                _("la facture %(n)s existe déjà sur ce marché") % {"n": existing},
            )
    if problems:
        return 0, 0
    by_pk = {order.pk: order for order in orders.values()}
    total = 0
    for draft in drafts.values():
        try:
            invoice = issue_invoice(
                actor=actor, order=by_pk[draft.parent], number=draft.number, issued_on=draft.issued_on,
                lines=list(draft.lines.items()), issuer_id=draft.issuer_id,
            )  # fmt: skip
        except ContractRefused as exc:
            problems.add(draft.first.where, str(exc))
            continue
        total += invoice.total_ttc_cents
    return len(drafts), total


def _order(value: Any, orders: dict[str, PurchaseOrder]) -> PurchaseOrder:
    text = _number(value, _("N° de bon"))
    order = orders.get(_key(text))
    if order is None:
        raise _Bad(_("bon de commande « %(n)s » inconnu sur ce marché") % {"n": text})
    return order


# ---------------------------------------------------------------- payments


def _import_payments(*, actor: Any, contract: Contract, rows: list[_Row], problems: _Problems) -> tuple[int, int]:
    invoices = {_key(i.number): i for i in Invoice.objects.filter(contract=contract, kind=InvoiceKind.INVOICE)}
    parties, _firms = _parties(contract)
    recorded = set(Payment.objects.filter(contract=contract).values_list("bank_reference", flat=True))
    seen: dict[str, int] = {}
    left: dict[int, int] = {}  # invoice -> outstanding after the rows read so far
    inputs: list[tuple[_Row, PaymentInput]] = []
    for row in rows:
        cells = row.cells
        received_on = _guard(problems, row, "date", _date, cells["date"])
        cents = _guard(problems, row, "amount", _amount_cents, cells["amount"])
        invoice = _guard(problems, row, "invoice", _invoice, cells["invoice"], invoices)
        reference = _guard(problems, row, "reference", _reference, cells.get("reference"), row, seen, recorded)
        firm_id = _guard(problems, row, "paid_to", _firm, cells.get("paid_to"), parties)
        if received_on is None or cents is None or invoice is None or reference is None:
            continue
        if invoice.pk not in left:
            left[invoice.pk] = invoice_position(invoice).outstanding_cents
        if cents > left[invoice.pk]:
            problems.add(
                row.at("amount"),
                _("%(amount)s reçus pour %(left)s restant dus sur la facture %(n)s")
                % {"amount": _euros(cents, contract), "left": _euros(max(left[invoice.pk], 0), contract),
                   "n": invoice.number},
            )  # fmt: skip
        left[invoice.pk] -= cents
        inputs.append((row, PaymentInput(invoice.pk, received_on, cents, reference, firm_id)))
    if problems:
        return 0, 0
    try:
        record_payments(actor=actor, payments=[payment for _row, payment in inputs])
    except ContractRefused as exc:
        problems.add(_refused_row(str(exc), [row for row, _payment in inputs]), str(exc))
        return 0, 0
    return len(inputs), sum(payment.amount_cents for _row, payment in inputs)


def _invoice(value: Any, invoices: dict[str, Invoice]) -> Invoice:
    text = _number(value, _("N° de facture"))
    invoice = invoices.get(_key(text))
    if invoice is None:
        raise _Bad(_("facture « %(n)s » inconnue sur ce marché") % {"n": text})
    if invoice.status == InvoiceStatus.SUBMITTED:
        raise _Bad(_("la facture %(n)s attend la validation du mandataire") % {"n": invoice.number})
    return invoice


def _reference(value: Any, row: _Row, seen: dict[str, int], recorded: set[str]) -> str:
    """The bank reference (optional), once in the file and never already recorded on the contract."""
    reference = _text(value)
    if not reference:
        return ""
    if len(reference) > MAX_REFERENCE_CHARS:
        raise _Bad(_("référence de plus de %(n)s caractères") % {"n": MAX_REFERENCE_CHARS})
    if reference in recorded:
        raise _Bad(_("la référence bancaire %(ref)s est déjà enregistrée sur ce marché") % {"ref": reference})
    if reference in seen:
        raise _Bad(
            _("la référence bancaire %(ref)s figure déjà ligne %(row)s de ce fichier")
            % {"ref": reference, "row": seen[reference]}
        )
    seen[reference] = row.number
    return reference


def _refused_row(message: str, rows: list[_Row]) -> str:
    """The row a refusal of `record_payments` names: its "paiement 3" is the third payment given."""
    pattern = re.escape(_("paiement %(n)s") % {"n": "\x00"}).replace("\x00", r"(\d+)")
    match = re.match(pattern, message)
    if match and 1 <= int(match.group(1)) <= len(rows):
        return rows[int(match.group(1)) - 1].where
    return rows[0].sheet.where if rows else ""


# ---------------------------------------------------------------- entry point


class _RollBack(Exception):
    """Raised inside the transaction to undo every write of a file with a problem."""


_IMPORTERS = {ORDERS: _import_orders, INVOICES: _import_invoices, PAYMENTS: _import_payments}


def import_finance_file(*, actor: Any, contract: Contract, kind: str, filename: str, data: bytes) -> ImportResult:
    """Read `data` (XLSX or CSV) as orders, invoices or payments of `contract` and write it all, or nothing."""
    problems = _Problems()
    filename = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] or _("sans nom")
    if kind not in KINDS:
        problems.add(filename, _("type d'import inconnu « %(kind)s » (attendu : %(kinds)s)") % {
            "kind": kind, "kinds": ", ".join(KINDS)})  # fmt: skip
        return ImportResult(kind, 0, list(problems), 0)
    rows = _read_rows(filename, data, COLUMNS[kind], problems)
    if not rows:  # the file itself is refused (a problem says why); else every row is checked, then written
        return ImportResult(kind, 0, list(problems), 0)
    try:
        with transaction.atomic():
            created, total = _IMPORTERS[kind](actor=actor, contract=contract, rows=rows, problems=problems)
            if problems:
                raise _RollBack
            record_event(
                actor=actor, action="finance.imported", obj=contract, kind=kind, filename=filename, created=created,
                total_cents=total,
            )  # fmt: skip
    except _RollBack:
        return ImportResult(kind, 0, list(problems), 0)
    return ImportResult(kind, created, [], total)


__all__ = [
    "COLUMNS",
    "KINDS",
    "KIND_LABELS",
    "ImportProblem",
    "ImportResult",
    "expected_columns",
    "import_finance_file",
]
