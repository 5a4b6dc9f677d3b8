"""IBAN and BIC checks: published example IBANs, IBANs built here for every SEPA country, broken ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.iban import IBAN_LENGTHS, bic_problem, iban_problem, normalize_iban


def check_digits(country: str, bban: str) -> str:
    """ISO 13616 check digits, worked out here independently of the module under test."""
    rearranged = bban + country + "00"
    number = int(
        "".join(str(ord(character) - ord("A") + 10) if character.isalpha() else character for character in rearranged)
    )
    return f"{98 - number % 97:02d}"


def iban_for(country: str, bban: str) -> str:
    return country + check_digits(country, bban) + bban


# Example IBANs published by the banks and standard bodies (and reproduced on Wikipedia).
PUBLISHED = [
    "GB82 WEST 1234 5698 7654 32",
    "DE89 3704 0044 0532 0130 00",
    "FR14 2004 1010 0505 0001 3M02 606",
    "FR76 3000 6000 0112 3456 7890 189",
    "BE71 0961 2345 6769",
    "NL91 ABNA 0417 1643 00",
    "CH93 0076 2011 6238 5295 7",
    "IT60 X054 2811 1010 0000 0123 456",
    "ES91 2100 0418 4502 0005 1332",
    "AT61 1904 3002 3457 3201",
]


@pytest.mark.parametrize("iban", PUBLISHED)
def test_published_examples_are_valid(iban: str) -> None:
    assert iban_problem(iban) is None


@pytest.mark.parametrize("country", sorted(IBAN_LENGTHS))
def test_an_iban_of_the_right_length_with_its_check_digits_is_valid_in_every_sepa_country(country: str) -> None:
    bban = ("30006000011234567890ABCDEF" * 2)[: IBAN_LENGTHS[country] - 4]
    iban = iban_for(country, bban)
    assert len(iban) == IBAN_LENGTHS[country]
    assert iban_problem(iban) is None
    assert iban_problem(" ".join(iban[i : i + 4] for i in range(0, len(iban), 4)).lower()) is None


def test_the_helper_agrees_with_the_published_check_digits() -> None:
    assert iban_for("DE", "370400440532013000") == "DE89370400440532013000"
    assert iban_for("FR", "20041010050500013M02606") == "FR1420041010050500013M02606"


def test_normalize_removes_every_space_and_upper_cases() -> None:
    assert normalize_iban(" fr14 2004\u00a01010 0505\t0001 3m02 606\n") == "FR1420041010050500013M02606"


def test_a_wrong_check_digit_is_named() -> None:
    assert (
        iban_problem("FR15 2004 1010 0505 0001 3M02 606")
        == "IBAN FR1520041010050500013M02606 : clé de contrôle invalide."
    )


def test_two_swapped_digits_are_caught() -> None:
    assert iban_problem("DE89 3704 0044 0532 0131 00") == "IBAN DE89370400440532013100 : clé de contrôle invalide."
    assert iban_problem("DE89 3704 0044 0523 0130 00") == "IBAN DE89370400440523013000 : clé de contrôle invalide."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "IBAN manquant."),
        ("   ", "IBAN manquant."),
        ("FR14-2004-1010", "IBAN FR14-2004-1010 : seuls des lettres et des chiffres sont admis."),
        ("FRÉ4 2004", "IBAN FRÉ42004 : seuls des lettres et des chiffres sont admis."),
        ("1234 5678", "IBAN 12345678 : il doit commencer par le code pays en deux lettres."),
        (
            "FRAB20041010050500013M02606",
            "IBAN FRAB20041010050500013M02606 : les 3e et 4e caractères doivent être les deux chiffres de la clé.",
        ),
        ("FR1", "IBAN FR1 : les 3e et 4e caractères doivent être les deux chiffres de la clé."),
        ("US64SVBKUS6S3300958879", "IBAN US64SVBKUS6S3300958879 : pays « US » inconnu ou hors de la zone SEPA."),
        (
            "FR14 2004 1010 0505 0001 3M02 60",
            "IBAN FR1420041010050500013M0260 : 26 caractères au lieu de 27 pour le pays FR.",
        ),
        ("DE89 3704 0044 0532 0130 000", "IBAN DE893704004405320130000 : 23 caractères au lieu de 22 pour le pays DE."),
    ],
)
def test_broken_ibans_say_what_is_wrong(text: str, message: str) -> None:
    assert iban_problem(text) == message


@given(
    bban=st.text(alphabet="0123456789", min_size=23, max_size=23),
    position=st.integers(min_value=0, max_value=22),
    change=st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_changed_in_the_account_number_is_caught(bban: str, position: int, change: int) -> None:
    iban = iban_for("FR", bban)
    assert iban_problem(iban) is None
    wrong = str((int(bban[position]) + change) % 10)
    broken = iban[: 4 + position] + wrong + iban[5 + position :]
    assert iban_problem(broken) == f"IBAN {broken} : clé de contrôle invalide."


@pytest.mark.parametrize("bic", ["DEUTDEFF", "DEUTDEFF500", "BNPAFRPPXXX", "bnpa fr pp", "AGRIFRPP882", "B1NPFRPP"])
def test_well_shaped_bics(bic: str) -> None:
    assert bic_problem(bic) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "BIC manquant."),
        ("DEUTDEF", "BIC DEUTDEF : 8 ou 11 caractères attendus, 7 reçus."),
        ("DEUTDEFF50", "BIC DEUTDEFF50 : 8 ou 11 caractères attendus, 10 reçus."),
        (
            "DEUT12FF",
            "BIC DEUT12FF : forme invalide (4 lettres ou chiffres pour l'établissement, 2 lettres pour le pays, "
            "2 lettres ou chiffres pour la localité, puis 3 facultatifs pour l'agence).",
        ),
        (
            "DEUTDEFF-01",
            "BIC DEUTDEFF-01 : forme invalide (4 lettres ou chiffres pour l'établissement, 2 lettres pour le pays, "
            "2 lettres ou chiffres pour la localité, puis 3 facultatifs pour l'agence).",
        ),
    ],
)
def test_broken_bics_say_what_is_wrong(text: str, message: str) -> None:
    assert bic_problem(text) == message
