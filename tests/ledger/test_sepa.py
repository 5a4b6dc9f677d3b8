"""The pain.001.001.09 payout file: valid against the schema, exact totals, SEPA text, refusals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from consortium.money import from_cents
from pricing.sepa import MAX_AMOUNT_CENTS, NAMESPACE, Transfer, TransferBatch, pain001, pain001_problems

NS = {"p": NAMESPACE}
SEPA_TEXT = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]+")
CREATED_AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def transfer(**changes: Any) -> Transfer:
    values: dict[str, Any] = {
        "end_to_end_id": "PAYOUT-7-FIRM-A",
        "creditor_name": "Firm A",
        "iban": "DE89 3704 0044 0532 0130 00",
        "bic": "COBADEFFXXX",
        "amount_cents": 120_000,
        "remittance": "Reversement facture F-2026-001",
    }
    return Transfer(**(values | changes))


def batch(*transfers: Transfer, **changes: Any) -> TransferBatch:
    values: dict[str, Any] = {
        "message_id": "GUICHET-PAYOUT-7",
        "created_at": CREATED_AT,
        "execution_date": dt.date(2026, 3, 4),
        "debtor_name": "Guichet Libre",
        "debtor_iban": "FR76 3000 6000 0112 3456 7890 189",
        "debtor_bic": "BNPAFRPP",
        "transfers": transfers
        or (
            transfer(),
            transfer(
                end_to_end_id="PAYOUT-7-FIRM-B",
                creditor_name="Firm B",
                iban="NL91 ABNA 0417 1643 00",
                bic="",
                amount_cents=3_456,
                remittance="",
            ),
            transfer(
                end_to_end_id="PAYOUT-7-PGSQL",
                creditor_name="PostgreSQL fund",
                iban="BE71 0961 2345 6769",
                amount_cents=1,
            ),
        ),
    }
    return TransferBatch(**(values | changes))


def parsed(xml: bytes) -> etree._Element:
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))


def texts(xml: bytes, path: str) -> list[str]:
    return [element.text or "" for element in parsed(xml).iterfind(path, NS)]


def test_a_three_transfer_batch_is_valid_against_the_schema() -> None:
    xml = pain001(batch())
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert pain001_problems(xml) == []


def test_totals_in_the_group_header_and_the_payment_block() -> None:
    xml = pain001(batch())
    # 1,200.00 + 34.56 + 0.01
    assert texts(xml, "p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs") == ["3"]
    assert texts(xml, "p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum") == ["1234.57"]
    assert texts(xml, "p:CstmrCdtTrfInitn/p:PmtInf/p:NbOfTxs") == ["3"]
    assert texts(xml, "p:CstmrCdtTrfInitn/p:PmtInf/p:CtrlSum") == ["1234.57"]
    assert texts(xml, ".//p:CdtTrfTxInf/p:Amt/p:InstdAmt") == ["1200.00", "34.56", "0.01"]
    assert [element.get("Ccy") for element in parsed(xml).iterfind(".//p:InstdAmt", NS)] == ["EUR"] * 3


def test_the_payment_block_carries_the_sepa_fields() -> None:
    xml = pain001(batch())
    payment = "p:CstmrCdtTrfInitn/p:PmtInf/"
    assert texts(xml, "p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId") == ["GUICHET-PAYOUT-7"]
    assert texts(xml, "p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm") == ["2026-03-02T09:30:00+00:00"]
    assert texts(xml, "p:CstmrCdtTrfInitn/p:GrpHdr/p:InitgPty/p:Nm") == ["Guichet Libre"]
    assert texts(xml, payment + "p:PmtMtd") == ["TRF"]
    assert texts(xml, payment + "p:BtchBookg") == ["true"]
    assert texts(xml, payment + "p:PmtTpInf/p:SvcLvl/p:Cd") == ["SEPA"]
    assert texts(xml, payment + "p:ReqdExctnDt/p:Dt") == ["2026-03-04"]
    assert texts(xml, payment + "p:Dbtr/p:Nm") == ["Guichet Libre"]
    assert texts(xml, payment + "p:DbtrAcct/p:Id/p:IBAN") == ["FR7630006000011234567890189"]
    assert texts(xml, payment + "p:DbtrAgt/p:FinInstnId/p:BICFI") == ["BNPAFRPP"]
    assert texts(xml, payment + "p:ChrgBr") == ["SLEV"]
    assert texts(xml, ".//p:CdtTrfTxInf/p:PmtId/p:EndToEndId") == [
        "PAYOUT-7-FIRM-A",
        "PAYOUT-7-FIRM-B",
        "PAYOUT-7-PGSQL",
    ]
    assert texts(xml, ".//p:CdtTrfTxInf/p:Cdtr/p:Nm") == ["Firm A", "Firm B", "PostgreSQL fund"]
    assert texts(xml, ".//p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:IBAN") == [
        "DE89370400440532013000",
        "NL91ABNA0417164300",
        "BE71096123456769",
    ]
    # The creditor agent only where a BIC is known; the remittance only where there is one.
    assert texts(xml, ".//p:CdtTrfTxInf/p:CdtrAgt/p:FinInstnId/p:BICFI") == ["COBADEFFXXX", "COBADEFFXXX"]
    assert [len(list(tx.iterfind("p:CdtrAgt", NS))) for tx in parsed(xml).iterfind(".//p:CdtTrfTxInf", NS)] == [1, 0, 1]
    assert texts(xml, ".//p:RmtInf/p:Ustrd") == ["Reversement facture F-2026-001", "Reversement facture F-2026-001"]


def test_a_debtor_bank_without_bic_is_not_provided() -> None:
    xml = pain001(batch(debtor_bic=""))
    assert texts(xml, ".//p:DbtrAgt/p:FinInstnId/p:Othr/p:Id") == ["NOTPROVIDED"]
    assert texts(xml, ".//p:DbtrAgt/p:FinInstnId/p:BICFI") == []
    assert pain001_problems(xml) == []


def test_accents_are_transliterated_and_other_characters_replaced() -> None:
    xml = pain001(
        batch(
            transfer(
                creditor_name="Société Générale d’Études & Œuvres — Müller",
                remittance="Facture n°12 « lot 3 » ; 50 % payé\navec straße",
                end_to_end_id="ÉCHÉANCE/2026//03/",
            ),
            debtor_name="Guichet Libre Coopérative",
        )
    )
    assert texts(xml, ".//p:Cdtr/p:Nm") == ["Societe Generale d'Etudes + OEuvres - Muller"]
    assert texts(xml, ".//p:RmtInf/p:Ustrd") == ["Facture n.12 lot 3 . 50 . paye avec strasse"]
    assert texts(xml, ".//p:PmtId/p:EndToEndId") == ["ECHEANCE/2026/03"]
    assert texts(xml, ".//p:Dbtr/p:Nm") == ["Guichet Libre Cooperative"]
    assert pain001_problems(xml) == []


def test_long_texts_are_cut_to_the_scheme_lengths() -> None:
    name = "Entreprise de Services en Logiciels Libres " * 3  # 129 characters
    xml = pain001(
        batch(
            transfer(creditor_name=name, remittance="x" * 300, end_to_end_id="E" * 50),
            message_id="M" * 50,
            debtor_name="D" * 80,
        )
    )
    assert texts(xml, ".//p:Cdtr/p:Nm") == ["Entreprise de Services en Logiciels Libres Entreprise de Services en L"]
    assert texts(xml, ".//p:RmtInf/p:Ustrd") == ["x" * 140]
    assert texts(xml, ".//p:PmtId/p:EndToEndId") == ["E" * 35]
    assert texts(xml, ".//p:GrpHdr/p:MsgId") == ["M" * 35]
    assert texts(xml, ".//p:Dbtr/p:Nm") == ["D" * 70]
    assert pain001_problems(xml) == []


def test_a_name_with_nothing_in_the_sepa_set_becomes_a_dot() -> None:
    xml = pain001(batch(transfer(creditor_name="株式会社")))
    assert texts(xml, ".//p:Cdtr/p:Nm") == ["."]
    assert pain001_problems(xml) == []


def test_a_document_missing_its_control_sum_is_reported() -> None:
    root = parsed(pain001(batch()))
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header is not None
    control_sum = header.find("p:CtrlSum", NS)
    assert control_sum is not None
    header.remove(control_sum)
    problems = pain001_problems(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    assert len(problems) == 1
    assert problems[0].startswith("ligne ")
    assert "CtrlSum" in problems[0]


def test_a_zero_amount_and_a_wrong_service_level_are_reported() -> None:
    root = parsed(pain001(batch()))
    amount = root.find(".//p:InstdAmt", NS)
    level = root.find(".//p:SvcLvl/p:Cd", NS)
    assert amount is not None and level is not None
    amount.text = "0.00"
    level.text = "URGP"
    problems = pain001_problems(etree.tostring(root))
    assert len(problems) == 2
    assert "The value 'URGP' is not an element of the set {'SEPA'}" in problems[0]  # in document order
    assert "InstdAmt" in problems[1]


def test_text_that_is_not_xml_is_reported() -> None:
    problems = pain001_problems(b"<Document")
    assert len(problems) == 1
    assert problems[0].startswith("XML illisible : ")


def test_an_external_entity_is_never_read() -> None:
    xml = (
        pain001(batch())
        .replace(b"<Document", b'<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n<Document', 1)
        .replace(b"<Nm>Firm A</Nm>", b"<Nm>&secret;</Nm>")
    )
    assert pain001_problems(xml) == [
        "XML refusé : une déclaration DOCTYPE n'est pas admise dans un fichier de virements."
    ]


def test_a_batch_without_transfers_is_refused() -> None:
    empty = dataclasses.replace(batch(), transfers=())
    with pytest.raises(ValueError, match=r"^Lot : aucun virement à émettre\.$"):
        pain001(empty)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (0, "Virement 1 (PAYOUT-7-FIRM-A) : montant 0.00 €, il doit être positif."),
        (-500, "Virement 1 (PAYOUT-7-FIRM-A) : montant -5.00 €, il doit être positif."),
        (
            MAX_AMOUNT_CENTS + 1,
            "Virement 1 (PAYOUT-7-FIRM-A) : montant 1000000000.00 € au-delà du plafond SEPA de 999999999.99 €.",
        ),
        (Decimal("12.50"), "Virement 1 (PAYOUT-7-FIRM-A) : le montant doit être un nombre entier de centimes."),
    ],
)
def test_an_amount_that_is_not_positive_whole_cents_is_refused(amount: Any, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        pain001(batch(transfer(amount_cents=amount)))
    assert str(refused.value) == message


def test_invalid_iban_and_bic_are_refused_naming_the_transfer() -> None:
    bad = batch(
        transfer(),
        transfer(end_to_end_id="PAYOUT-7-FIRM-B", iban="FR15 2004 1010 0505 0001 3M02 606", bic="BNPA"),
    )
    with pytest.raises(ValueError) as refused:
        pain001(bad)
    assert str(refused.value) == (
        "Virement 2 (PAYOUT-7-FIRM-B) : IBAN FR1520041010050500013M02606 : clé de contrôle invalide. "
        "Virement 2 (PAYOUT-7-FIRM-B) : BIC BNPA : 8 ou 11 caractères attendus, 4 reçus."
    )


def test_the_debtor_account_is_checked_too() -> None:
    with pytest.raises(ValueError) as refused:
        pain001(batch(debtor_iban="FR76 3000 6000 0112 3456 7890 180", debtor_bic="BNPAFRP"))
    assert str(refused.value) == (
        "Compte du donneur d'ordre : IBAN FR7630006000011234567890180 : clé de contrôle invalide. "
        "Banque du donneur d'ordre : BIC BNPAFRP : 8 ou 11 caractères attendus, 7 reçus."
    )


def test_missing_names_a_naive_date_and_a_repeated_reference_are_refused() -> None:
    bad = batch(
        transfer(),
        transfer(creditor_name="  "),
        created_at=dt.datetime(2026, 3, 2, 9, 30),
        debtor_name="",
        message_id="  ",
    )
    with pytest.raises(ValueError) as refused:
        pain001(bad)
    assert str(refused.value) == (
        "Lot : identifiant du message manquant. "
        "Lot : la date de création doit porter son fuseau horaire. "
        "Lot : nom du donneur d'ordre manquant. "
        "Virement 2 (PAYOUT-7-FIRM-A) : nom du bénéficiaire manquant. "
        "Virement 2 (PAYOUT-7-FIRM-A) : la référence de bout en bout « PAYOUT-7-FIRM-A » est déjà prise "
        "par un autre virement."
    )


def test_transfers_without_reference_are_sent_as_not_provided() -> None:
    xml = pain001(batch(transfer(end_to_end_id=""), transfer(end_to_end_id=" ")))
    assert texts(xml, ".//p:PmtId/p:EndToEndId") == ["NOTPROVIDED", "NOTPROVIDED"]
    assert pain001_problems(xml) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payees=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=MAX_AMOUNT_CENTS),
            st.text(min_size=1, max_size=120).filter(str.strip),
            st.text(max_size=200),
        ),
        min_size=1,
        max_size=20,
    ),
    debtor_name=st.text(min_size=1, max_size=100).filter(str.strip),
)
def test_any_positive_amounts_and_unicode_names_give_a_valid_file_with_the_exact_sum(
    payees: list[tuple[int, str, str]], debtor_name: str
) -> None:
    transfers = [
        transfer(end_to_end_id=f"T-{number}", amount_cents=amount, creditor_name=name, remittance=remittance)
        for number, (amount, name, remittance) in enumerate(payees)
    ]
    xml = pain001(batch(*transfers, debtor_name=debtor_name))
    assert pain001_problems(xml) == []
    exact = from_cents(sum(amount for amount, _name, _remittance in payees))
    assert [Decimal(total) for total in texts(xml, ".//p:CtrlSum")] == [exact, exact]
    assert texts(xml, ".//p:GrpHdr/p:NbOfTxs") == [str(len(payees))]
    for name in texts(xml, ".//p:Nm"):
        assert SEPA_TEXT.fullmatch(name) and len(name) <= 70
    for remittance in texts(xml, ".//p:Ustrd"):
        assert SEPA_TEXT.fullmatch(remittance) and len(remittance) <= 140
