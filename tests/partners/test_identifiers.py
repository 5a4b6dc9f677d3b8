"""SIREN, SIRET and VAT numbers: the Luhn key, La Poste's own rule, the VAT key, and what people type."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from partners.identifiers import (
    clean_siret,
    clean_vat,
    digits_only,
    luhn_is_valid,
    siren_is_valid,
    siret_is_valid,
    vat_for_siren,
    vat_is_valid,
    vat_key,
)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("79927398713", True),  # the textbook Luhn example
        ("79927398710", False),
        ("0", True),
        ("18", True),
        ("19", False),
        ("", False),
        ("7992739871a", False),
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_is_valid(number) is valid


@pytest.mark.parametrize(
    ("siren", "valid"),
    [
        ("732829320", True),
        ("732829321", False),
        ("356000000", True),  # La Poste
        ("73282932", False),  # 8 digits
        ("7328293200", False),  # 10 digits
    ],
)
def test_siren(siren: str, valid: bool) -> None:
    assert siren_is_valid(siren) is valid


@pytest.mark.parametrize(
    ("siret", "valid"),
    [
        ("73282932000074", True),
        ("73282932000079", False),  # wrong key
        ("73282932000075", False),
        ("7328293200007", False),  # 13 digits
        ("732829320000740", False),  # 15 digits
        ("7328293200007A", False),
        # La Poste: the sum of the 14 digits is a multiple of 5, Luhn or not ...
        ("35600000049837", True),
        ("35600000000001", True),
        ("35600000049838", False),
        ("35600000000014", False),  # a Luhn number whose digits do not add up to a multiple of 5
        # ... except its head office, whose SIRET is a plain Luhn number.
        ("35600000000048", True),
    ],
)
def test_siret(siret: str, valid: bool) -> None:
    assert siret_is_valid(siret) is valid


def test_a_valid_siret_needs_a_valid_siren() -> None:
    # 14 digits passing Luhn whose first nine do not: refused.
    candidates = (f"1000000{n:07d}" for n in range(10_000))
    number = next(c for c in candidates if luhn_is_valid(c) and not luhn_is_valid(c[:9]))
    assert not siret_is_valid(number)


@pytest.mark.parametrize(
    "typed",
    ["73282932000074", "732 829 320 00074", "732.829.320.00074", "732-829-320-00074", "732\u00a0829\u202f320 00074"],
)
def test_clean_siret_accepts_what_people_type(typed: str) -> None:
    assert digits_only(typed) == "73282932000074"
    assert clean_siret(typed) == "73282932000074"


def test_clean_siret_says_what_is_wrong() -> None:
    with pytest.raises(ValidationError) as too_short:
        clean_siret("732 829 320 0007")
    assert too_short.value.code == "siret_length"
    assert "14 chiffres" in too_short.value.messages[0]
    assert "13" in too_short.value.messages[0]
    with pytest.raises(ValidationError) as bad_key:
        clean_siret("73282932000079")
    assert bad_key.value.code == "siret_checksum"
    assert "73282932000079" in bad_key.value.messages[0]
    with pytest.raises(ValidationError) as letters:
        clean_siret("SIRET inconnu")
    assert letters.value.code == "siret_length"


@pytest.mark.parametrize(
    ("siren", "key"),
    [
        ("732829320", "44"),
        ("356000000", "39"),  # La Poste: FR 39 356 000 000
        ("100000207", "03"),  # a key below 10 keeps its leading zero
    ],
)
def test_vat_key(siren: str, key: str) -> None:
    assert vat_key(siren) == key
    assert vat_for_siren(siren) == f"FR{key}{siren}"
    assert vat_is_valid(vat_for_siren(siren), siren=siren)


@pytest.mark.parametrize(
    ("vat", "valid"),
    [
        ("FR44732829320", True),
        ("FR 44 732 829 320", True),
        ("fr44732829320", True),
        ("FR45732829320", False),  # wrong key
        ("FR4473282932", False),  # SIREN too short
        ("DE44732829320", False),
        ("FRAB732829320", False),
        ("", False),
    ],
)
def test_vat_is_valid(vat: str, valid: bool) -> None:
    assert vat_is_valid(vat) is valid


def test_vat_must_match_the_firms_siren() -> None:
    assert vat_is_valid("FR44732829320", siren="732829320")
    assert not vat_is_valid("FR44732829320", siren="356000000")
    assert clean_vat("fr 44 732 829 320", siren="732829320") == "FR44732829320"
    with pytest.raises(ValidationError) as other_siren:
        clean_vat("FR44732829320", siren="356000000")
    assert other_siren.value.code == "vat_siren"
    assert "FR39356000000" in other_siren.value.messages[0]  # the message gives the expected number
    with pytest.raises(ValidationError) as bad_key:
        clean_vat("FR45732829320", siren="732829320")
    assert bad_key.value.code == "vat_format"
