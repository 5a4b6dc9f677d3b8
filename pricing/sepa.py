"""SEPA credit-transfer initiation file (ISO 20022 pain.001.001.09) built from plain data, and its check
against the schema kept in `pricing/data/` (see PROVENANCE.md there).

Free text is reduced to the EPC's basic Latin character set (letters a-z A-Z, digits, space and
/ - ? : ( ) . , ' +), which every SEPA bank must accept: accented letters lose their accents, a few
typographic signs get their plain equivalent (quotation marks become spaces), any other run of characters
becomes one '.'. Then texts are cut to the scheme's lengths (names 70, remittance 140, identifiers 35).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from django.utils.translation import gettext as _
from lxml import etree

from consortium.money import from_cents

from .iban import bic_problem, iban_problem, normalize_bic, normalize_iban

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
SCHEMA_PATH = Path(__file__).parent / "data" / "pain.001.001.09.xsd"

NAME_LENGTH = 70
REMITTANCE_LENGTH = 140
IDENTIFIER_LENGTH = 35
MAX_AMOUNT_CENTS = 99_999_999_999  # 999,999,999.99 EUR: the scheme's ceiling for one transfer
NOT_PROVIDED = "NOTPROVIDED"

_OUTSIDE_SEPA_SET = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]+")
_SPACES = re.compile(r" {2,}")
# Letters that carry no combining accent, so that decomposition alone would drop them.
_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "Ø": "O",
        "ø": "o",
        "Đ": "D",
        "đ": "d",
        "Ð": "D",
        "ð": "d",
        "Ł": "L",
        "ł": "l",
        "Þ": "TH",
        "þ": "th",
        "ı": "i",
        "&": "+",
        "_": "-",
        "‘": "'",
        "’": "'",
        "‐": "-",
        "‑": "-",
        "–": "-",
        "—": "-",
        **dict.fromkeys('"«»“”„‹›', " "),
    }
)


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    creditor_name: str
    iban: str
    bic: str  # "" when unknown: the creditor's bank is then found from the IBAN
    amount_cents: int
    remittance: str


@dataclass(frozen=True)
class TransferBatch:
    message_id: str
    created_at: datetime  # aware
    execution_date: date
    debtor_name: str
    debtor_iban: str
    debtor_bic: str  # "" when unknown
    transfers: Sequence[Transfer]


def pain001(batch: TransferBatch) -> bytes:
    """The batch as one pain.001.001.09 document (UTF-8, with its XML declaration): one payment
    information block debiting the debtor's account once for the whole batch. Raises ValueError, with a
    French message naming the transfer and field, when the batch cannot be paid as it is."""
    check_batch(batch)
    total_cents = sum(transfer.amount_cents for transfer in batch.transfers)
    count = str(len(batch.transfers))
    message_id = sepa_identifier(batch.message_id)

    # The default namespace's key is None, which lxml-stubs does not allow for.
    document = etree.Element(_tag("Document"), nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    initiation = _sub(document, "CstmrCdtTrfInitn")

    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", batch.created_at.isoformat(timespec="seconds"))
    _sub(header, "NbOfTxs", count)
    _sub(header, "CtrlSum", _amount(total_cents))
    _sub(_sub(header, "InitgPty"), "Nm", sepa_text(batch.debtor_name, NAME_LENGTH))

    payment = _sub(initiation, "PmtInf")
    _sub(payment, "PmtInfId", message_id)
    _sub(payment, "PmtMtd", "TRF")
    _sub(payment, "BtchBookg", "true")
    _sub(payment, "NbOfTxs", count)
    _sub(payment, "CtrlSum", _amount(total_cents))
    _sub(_sub(_sub(payment, "PmtTpInf"), "SvcLvl"), "Cd", "SEPA")
    _sub(_sub(payment, "ReqdExctnDt"), "Dt", batch.execution_date.isoformat())
    _sub(_sub(payment, "Dbtr"), "Nm", sepa_text(batch.debtor_name, NAME_LENGTH))
    _account(payment, "DbtrAcct", batch.debtor_iban)
    institution = _sub(_sub(payment, "DbtrAgt"), "FinInstnId")
    if batch.debtor_bic.strip():
        _sub(institution, "BICFI", normalize_bic(batch.debtor_bic))
    else:
        _sub(_sub(institution, "Othr"), "Id", NOT_PROVIDED)
    _sub(payment, "ChrgBr", "SLEV")

    for transfer in batch.transfers:
        _transaction(payment, transfer)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def check_batch(batch: TransferBatch) -> None:
    """Raises ValueError listing, in French, everything that stops the batch from being paid."""
    problems: list[str] = []
    if not sepa_identifier(batch.message_id):
        problems.append(_("Lot : identifiant du message manquant."))
    if batch.created_at.utcoffset() is None:
        problems.append(_("Lot : la date de création doit porter son fuseau horaire."))
    if not batch.debtor_name.strip():
        problems.append(_("Lot : nom du donneur d'ordre manquant."))
    if problem := iban_problem(batch.debtor_iban):
        problems.append(_("Compte du donneur d'ordre : %(problem)s") % {"problem": problem})
    if batch.debtor_bic.strip() and (problem := bic_problem(batch.debtor_bic)):
        problems.append(_("Banque du donneur d'ordre : %(problem)s") % {"problem": problem})
    if not batch.transfers:
        problems.append(_("Lot : aucun virement à émettre."))
    seen: set[str] = set()
    for number, transfer in enumerate(batch.transfers, start=1):
        problems.extend(_transfer_problems(number, transfer, seen))
    if problems:
        raise ValueError(" ".join(problems))


def _transfer_problems(number: int, transfer: Transfer, seen: set[str]) -> list[str]:
    where = _("Virement %(number)s") % {"number": number}
    if reference := transfer.end_to_end_id.strip():
        where = _("Virement %(number)s (%(reference)s)") % {"number": number, "reference": reference[:40]}
    problems = []
    amount = transfer.amount_cents
    if isinstance(amount, bool) or not isinstance(amount, int):
        problems.append(_("%(where)s : le montant doit être un nombre entier de centimes.") % {"where": where})
    elif amount <= 0:
        problems.append(
            _("%(where)s : montant %(amount)s €, il doit être positif.") % {"where": where, "amount": _amount(amount)}
        )
    elif amount > MAX_AMOUNT_CENTS:
        problems.append(
            _("%(where)s : montant %(amount)s € au-delà du plafond SEPA de 999999999.99 €.")
            % {"where": where, "amount": _amount(amount)}
        )
    if not transfer.creditor_name.strip():
        problems.append(_("%(where)s : nom du bénéficiaire manquant.") % {"where": where})
    if problem := iban_problem(transfer.iban):
        problems.append(_("%(where)s : %(problem)s") % {"where": where, "problem": problem})
    if transfer.bic.strip() and (problem := bic_problem(transfer.bic)):
        problems.append(_("%(where)s : %(problem)s") % {"where": where, "problem": problem})
    reference = sepa_identifier(transfer.end_to_end_id)
    if reference:
        if reference in seen:
            problems.append(
                _("%(where)s : la référence de bout en bout « %(reference)s » est déjà prise par un autre virement.")
                % {"where": where, "reference": reference}
            )
        seen.add(reference)
    return problems


def _transaction(payment: etree._Element, transfer: Transfer) -> None:
    transaction = _sub(payment, "CdtTrfTxInf")
    _sub(_sub(transaction, "PmtId"), "EndToEndId", sepa_identifier(transfer.end_to_end_id) or NOT_PROVIDED)
    _sub(_sub(transaction, "Amt"), "InstdAmt", _amount(transfer.amount_cents), Ccy="EUR")
    if transfer.bic.strip():
        _sub(_sub(_sub(transaction, "CdtrAgt"), "FinInstnId"), "BICFI", normalize_bic(transfer.bic))
    _sub(_sub(transaction, "Cdtr"), "Nm", sepa_text(transfer.creditor_name, NAME_LENGTH))
    _account(transaction, "CdtrAcct", transfer.iban)
    if remittance := sepa_text(transfer.remittance, REMITTANCE_LENGTH, empty=""):
        _sub(_sub(transaction, "RmtInf"), "Ustrd", remittance)


def sepa_text(text: str, length: int, *, empty: str = ".") -> str:
    """`text` in the SEPA character set, cut to `length`; `empty` when nothing printable is left."""
    plain = unicodedata.normalize("NFKD", text.translate(_LETTERS)).translate(_LETTERS)
    plain = "".join(character for character in plain if not unicodedata.combining(character))
    plain = " ".join(plain.split())  # every kind of space or line break becomes one space
    plain = _OUTSIDE_SEPA_SET.sub(".", plain)
    plain = _SPACES.sub(" ", plain)[:length].strip()
    return plain or empty


def sepa_identifier(text: str) -> str:
    """An identifier (message, end to end) as the EPC rules want it: the SEPA character set, at most 35
    characters, neither starting nor ending with '/' nor containing '//'; "" when nothing is left."""
    identifier = sepa_text(text, IDENTIFIER_LENGTH * 2, empty="")
    identifier = re.sub(r"/{2,}", "/", identifier).strip("/ ")
    return identifier[:IDENTIFIER_LENGTH].rstrip("/ ")


def pain001_problems(xml: bytes) -> list[str]:
    """What the pain.001.001.09 schema finds wrong with `xml`, one line per error; [] when it is valid."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        document = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as error:
        return [_("XML illisible : %(error)s") % {"error": error}]
    if document.getroottree().docinfo.internalDTD is not None:
        # Entities are left unresolved, and libxml2's validator fails on them rather than reporting.
        return [_("XML refusé : une déclaration DOCTYPE n'est pas admise dans un fichier de virements.")]
    schema = _schema()
    try:
        if schema.validate(document):
            return []
    except etree.XMLSchemaValidateError as error:
        return [_("XML invalide : %(error)s") % {"error": error}]
    return [
        _("ligne %(line)s : %(message)s") % {"line": error.line, "message": error.message}
        for error in schema.error_log  # type: ignore[attr-defined]
    ]


# One compiled schema per thread: a validator keeps the last validation's errors on itself.
_per_thread = threading.local()


def _schema() -> etree.XMLSchema:
    schema: etree.XMLSchema | None = getattr(_per_thread, "schema", None)
    if schema is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        schema = _per_thread.schema = etree.XMLSchema(etree.parse(str(SCHEMA_PATH), parser))
    return schema


def _tag(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _tag(name), attributes)
    if text is not None:
        element.text = text
    return element


def _account(parent: etree._Element, name: str, iban: str) -> None:
    _sub(_sub(_sub(parent, name), "Id"), "IBAN", normalize_iban(iban))


def _amount(cents: int) -> str:
    return f"{from_cents(cents):.2f}"
