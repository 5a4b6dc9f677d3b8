"""Purchase orders, invoices and bank payments from XLSX or CSV into one contract: the whole file or nothing.

The file is read by `pricing.tabular` (the tender import's guards, header row found by French or English
column names, every problem named by file, sheet, row and column). Each row is checked against the contract
(lots, lines, orders, invoices, what is left to invoice or to pay). Only a file without problems is written,
through the contract services, in one transaction; a refusal from a service names the row it came from and
undoes the whole file.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bids.importers.base import ImportFailed
from bids.importers.common import parse_amount
from bids.importers.spreadsheet import normalise
from bids.models import Lot
from bids.offer_models import OfferLine
from bids.prices import parse_unit_price
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
from .tabular import (
    BadCell,
    Column,
    ImportProblem,
    Problems,
    Row,
    casefold_key,
    cell_text,
    filled,
    guard,
    parse_date,
    read_rows,
)

ORDERS, INVOICES, PAYMENTS = "orders", "invoices", "payments"
KINDS = (ORDERS, INVOICES, PAYMENTS)
KIND_LABELS = {
    ORDERS: gettext_lazy("bons de commande"),
    INVOICES: gettext_lazy("factures"),
    PAYMENTS: gettext_lazy("paiements reçus"),
}
MAX_NUMBER_CHARS = 60  # PurchaseOrder.number, Invoice.number
MAX_REFERENCE_CHARS = 100  # Payment.bank_reference
_AMBIGUOUS = -1


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

COLUMNS: dict[str, tuple[Column, ...]] = {
    ORDERS: (
        Column("order", "N° BC", _ORDER_NUMBER),
        Column(
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
        Column("lot", "Lot", ("lot", "no lot", "n lot", "numero de lot", "numero lot", "lot number"), False),
        Column("line", "Réf.", _LINE),
        Column("designation", "Désignation", _DESIGNATION, False),
        Column("quantity", "Quantité", _QUANTITY),
    ),
    INVOICES: (
        Column("invoice", "N° facture", _INVOICE_NUMBER),
        Column(
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
        Column("order", "N° BC", _ORDER_NUMBER),
        Column("line", "Réf.", _LINE),
        Column("designation", "Désignation", _DESIGNATION, False),
        Column("quantity", "Quantité", _QUANTITY),
        Column("issuer", "Émetteur", _FIRM, False),
    ),
    PAYMENTS: (
        Column(
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
        Column(
            "amount",
            "Montant",
            ("montant", "montant recu", "montant ttc", "montant paye", "credit", "somme", "amount", "amount received"),
        ),
        Column("invoice", "N° facture", _INVOICE_NUMBER),
        Column(
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
        Column(
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


def _number(value: Any, label: str, limit: int = MAX_NUMBER_CHARS) -> str:
    text = cell_text(value)
    if not text:
        raise BadCell(_("%(label)s manquant") % {"label": label})
    if len(text) > limit:
        raise BadCell(_("%(label)s de plus de %(n)s caractères") % {"label": label, "n": limit})
    return text


def _quantity(value: Any) -> Decimal:
    try:
        if isinstance(value, bool):
            raise ImportFailed(str(value))
        # Excel keeps 15 significant digits: a float 0.1 is the 0.1 the user typed
        number = Decimal(format(value, ".15g")) if isinstance(value, float) else parse_amount(value, where="")
    except ImportFailed:
        raise BadCell(_("« %(value)s » n'est pas une quantité") % {"value": str(value)[:40]}) from None
    if number is None:
        raise BadCell(_("quantité manquante"))
    if number <= 0:
        raise BadCell(_("quantité %(q)s : une quantité positive est attendue") % {"q": number})
    if number >= 10**14:
        raise BadCell(_("quantité %(q)s trop grande") % {"q": number})
    if number != number.quantize(Decimal("0.0001")):
        raise BadCell(_("quantité %(q)s : au plus 4 décimales") % {"q": number})
    return number


def _amount_cents(value: Any) -> int:
    """Cents of a received amount: '1 234,56', '1234.56', '1 234,56 €' or a number cell; 2 decimals at most."""
    if not filled(value):
        raise BadCell(_("montant manquant"))
    raw = Decimal(format(value, ".15g")) if isinstance(value, float) else value
    try:
        amount = parse_unit_price(raw)
    except ValueError as exc:
        raise BadCell(_("montant refusé : %(reason)s") % {"reason": exc}) from None
    if amount == 0:
        raise BadCell(_("montant nul"))
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
            raise BadCell(unknown % {"value": text[:60], "known": listed or "—"})
        if key == _AMBIGUOUS:
            raise BadCell(_("« %(value)s » désigne plusieurs lignes : indiquez la Réf.") % {"value": text[:60]})
        return key


def _line(row: Row, names: _Names, place: str) -> int:
    """The line a row names by its Réf., else by the designation column."""
    text = cell_text(row.cells.get("line")) or cell_text(row.cells.get("designation"))
    if not text:
        raise BadCell(_("Réf. manquante"))
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
    text = cell_text(value)
    if not text:
        return None
    digits = text.replace(" ", "")
    return parties.find(
        digits if digits.isdigit() else text,
        _("« %(value)s » n'est ni le nom ni le SIRET d'un membre du marché (membres : %(known)s)"),
    )


@dataclass
class _Draft:
    """One order (or invoice) gathered from its rows."""

    number: str
    first: Row
    issued_on: dt.date
    parent: int  # orders: the lot; invoices: the order
    parent_label: str
    issuer_id: int | None = None
    lines: dict[int, Decimal] = field(default_factory=dict)

    def add(
        self, problems: Problems, row: Row, *, issued_on: dt.date, parent: int, parent_column: str,
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


def _import_orders(*, actor: Any, contract: Contract, rows: list[Row], problems: Problems) -> tuple[int, int]:
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
        number = guard(problems, row, "order", _number, cells["order"], _("N° de bon"))
        issued_on = guard(problems, row, "date", parse_date, cells["date"])
        lot = guard(problems, row, "lot", _lot, cells.get("lot"), lot_names, lots)
        quantity = guard(problems, row, "quantity", _quantity, cells["quantity"])
        if lot is None:
            continue
        place = _("dans le lot %(lot)s du marché") % {"lot": lot.source_id}
        line_id = guard(problems, row, "line", _line, row, lines[lot.pk], place)
        if number is None or issued_on is None or line_id is None or quantity is None:
            continue
        draft = drafts.setdefault(casefold_key(number), _Draft(number, row, issued_on, lot.pk, lot.source_id))
        draft.add(
            problems, row, issued_on=issued_on, parent=lot.pk, parent_column="lot", line_id=line_id, quantity=quantity,
            one_parent=_("le bon %(n)s mêle plusieurs lots (ligne %(row)s : %(first)s) : un bon par lot"),
        )  # fmt: skip
    for existing in PurchaseOrder.objects.filter(contract=contract).values_list("number", flat=True):
        if casefold_key(existing) in drafts:
            problems.add(
                drafts[casefold_key(existing)].first.at("order"),
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
    text = cell_text(value)
    if not text:
        if len(lots) == 1:
            return next(iter(lots.values()))
        raise BadCell(_("lot manquant : ce marché a plusieurs lots"))
    return lots[names.find(text, _("lot « %(value)s » inconnu dans ce marché (lots : %(known)s)"))]


# ---------------------------------------------------------------- invoices


@dataclass
class _OrderLineInfo:
    firm_id: int
    label: str
    left: Decimal  # still to invoice, after the rows read so far


def _import_invoices(*, actor: Any, contract: Contract, rows: list[Row], problems: Problems) -> tuple[int, int]:
    orders = {casefold_key(order.number): order for order in PurchaseOrder.objects.filter(contract=contract)}
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
        number = guard(problems, row, "invoice", _number, cells["invoice"], _("N° de facture"))
        issued_on = guard(problems, row, "date", parse_date, cells["date"])
        order = guard(problems, row, "order", _order, cells["order"], orders)
        quantity = guard(problems, row, "quantity", _quantity, cells["quantity"])
        issuer_id = guard(problems, row, "issuer", _firm, cells.get("issuer"), parties)
        if order is None:
            continue
        place = _("sur le bon de commande %(n)s") % {"n": order.number}
        line_id = guard(problems, row, "line", _line, row, names[order.pk], place)
        if number is None or issued_on is None or line_id is None or quantity is None:
            continue
        line = info[line_id]
        if members and not filled(cells.get("issuer")):
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
        draft = drafts.setdefault(
            casefold_key(number), _Draft(number, row, issued_on, order.pk, order.number, issuer_id)
        )
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
        if casefold_key(existing) in drafts:
            problems.add(
                drafts[casefold_key(existing)].first.at("invoice"),
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
    order = orders.get(casefold_key(text))
    if order is None:
        raise BadCell(_("bon de commande « %(n)s » inconnu sur ce marché") % {"n": text})
    return order


# ---------------------------------------------------------------- payments


def _import_payments(*, actor: Any, contract: Contract, rows: list[Row], problems: Problems) -> tuple[int, int]:
    invoices = {casefold_key(i.number): i for i in Invoice.objects.filter(contract=contract, kind=InvoiceKind.INVOICE)}
    parties, _firms = _parties(contract)
    recorded = set(Payment.objects.filter(contract=contract).values_list("bank_reference", flat=True))
    seen: dict[str, int] = {}
    left: dict[int, int] = {}  # invoice -> outstanding after the rows read so far
    inputs: list[tuple[Row, PaymentInput]] = []
    for row in rows:
        cells = row.cells
        received_on = guard(problems, row, "date", parse_date, cells["date"])
        cents = guard(problems, row, "amount", _amount_cents, cells["amount"])
        invoice = guard(problems, row, "invoice", _invoice, cells["invoice"], invoices)
        reference = guard(problems, row, "reference", _reference, cells.get("reference"), row, seen, recorded)
        firm_id = guard(problems, row, "paid_to", _firm, cells.get("paid_to"), parties)
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
    invoice = invoices.get(casefold_key(text))
    if invoice is None:
        raise BadCell(_("facture « %(n)s » inconnue sur ce marché") % {"n": text})
    if invoice.status == InvoiceStatus.SUBMITTED:
        raise BadCell(_("la facture %(n)s attend la validation du mandataire") % {"n": invoice.number})
    return invoice


def _reference(value: Any, row: Row, seen: dict[str, int], recorded: set[str]) -> str:
    """The bank reference (optional), once in the file and never already recorded on the contract."""
    reference = cell_text(value)
    if not reference:
        return ""
    if len(reference) > MAX_REFERENCE_CHARS:
        raise BadCell(_("référence de plus de %(n)s caractères") % {"n": MAX_REFERENCE_CHARS})
    if reference in recorded:
        raise BadCell(_("la référence bancaire %(ref)s est déjà enregistrée sur ce marché") % {"ref": reference})
    if reference in seen:
        raise BadCell(
            _("la référence bancaire %(ref)s figure déjà ligne %(row)s de ce fichier")
            % {"ref": reference, "row": seen[reference]}
        )
    seen[reference] = row.number
    return reference


def _refused_row(message: str, rows: list[Row]) -> str:
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
    problems = Problems()
    filename = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] or _("sans nom")
    if kind not in KINDS:
        problems.add(filename, _("type d'import inconnu « %(kind)s » (attendu : %(kinds)s)") % {
            "kind": kind, "kinds": ", ".join(KINDS)})  # fmt: skip
        return ImportResult(kind, 0, list(problems), 0)
    rows = read_rows(filename, data, COLUMNS[kind], problems)
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
