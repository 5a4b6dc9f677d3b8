"""IBAN (ISO 13616) and BIC (ISO 9362) checks: pure functions, a French message naming what is wrong.

An IBAN is a two-letter country code, two check digits and a national account number (BBAN) whose length
is fixed per country. The check digits make the whole number, read with letters as 10..35 and the first
four characters moved to the end, equal 1 modulo 97.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

# Length of a whole IBAN per country, from the SWIFT IBAN registry, for every country of the SEPA schemes
# (EU, EEA, and the other members). French overseas departments and territories use FR, and Jersey,
# Guernsey and the Isle of Man use GB, so they need no row of their own.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24,  # Andorra
    "AL": 28,  # Albania
    "AT": 20,  # Austria
    "BE": 16,  # Belgium
    "BG": 22,  # Bulgaria
    "CH": 21,  # Switzerland
    "CY": 28,  # Cyprus
    "CZ": 24,  # Czechia
    "DE": 22,  # Germany
    "DK": 18,  # Denmark
    "EE": 20,  # Estonia
    "ES": 24,  # Spain
    "FI": 18,  # Finland (and Åland)
    "FR": 27,  # France (and its overseas departments and territories)
    "GB": 22,  # United Kingdom (and Jersey, Guernsey, Isle of Man)
    "GI": 23,  # Gibraltar
    "GR": 27,  # Greece
    "HR": 21,  # Croatia
    "HU": 28,  # Hungary
    "IE": 22,  # Ireland
    "IS": 26,  # Iceland
    "IT": 27,  # Italy
    "LI": 21,  # Liechtenstein
    "LT": 20,  # Lithuania
    "LU": 20,  # Luxembourg
    "LV": 21,  # Latvia
    "MC": 27,  # Monaco
    "MD": 24,  # Moldova
    "ME": 22,  # Montenegro
    "MK": 19,  # North Macedonia
    "MT": 31,  # Malta
    "NL": 18,  # Netherlands
    "NO": 15,  # Norway
    "PL": 28,  # Poland
    "PT": 25,  # Portugal
    "RO": 24,  # Romania
    "RS": 22,  # Serbia
    "SE": 24,  # Sweden
    "SI": 19,  # Slovenia
    "SK": 24,  # Slovakia
    "SM": 27,  # San Marino
    "VA": 22,  # Vatican City
}

_ALPHANUMERIC = re.compile(r"[A-Z0-9]+")
_BIC_SHAPE = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_SHOWN = 40  # characters of the user's input repeated in a message; enough to recognise it


def normalize_iban(text: str) -> str:
    """The IBAN as stored and sent: no spaces (of any kind), upper case."""
    return "".join(text.split()).upper()


def normalize_bic(text: str) -> str:
    return "".join(text.split()).upper()


def iban_problem(text: str) -> str | None:
    """None when `text` is a valid IBAN of a SEPA country; otherwise what is wrong, in French."""
    iban = normalize_iban(text)
    if not iban:
        return _("IBAN manquant.")
    shown = iban[:_SHOWN]
    if not _ALPHANUMERIC.fullmatch(iban):
        return _("IBAN %(iban)s : seuls des lettres et des chiffres sont admis.") % {"iban": shown}
    country, check_digits = iban[:2], iban[2:4]
    if not country.isalpha():
        return _("IBAN %(iban)s : il doit commencer par le code pays en deux lettres.") % {"iban": shown}
    if len(check_digits) < 2 or not check_digits.isdigit():
        return _("IBAN %(iban)s : les 3e et 4e caractères doivent être les deux chiffres de la clé.") % {"iban": shown}
    expected = IBAN_LENGTHS.get(country)
    if expected is None:
        return _("IBAN %(iban)s : pays « %(country)s » inconnu ou hors de la zone SEPA.") % {
            "iban": shown,
            "country": country,
        }
    if len(iban) != expected:
        return _("IBAN %(iban)s : %(length)s caractères au lieu de %(expected)s pour le pays %(country)s.") % {
            "iban": shown,
            "length": len(iban),
            "expected": expected,
            "country": country,
        }
    if mod97(iban[4:] + iban[:4]) != 1:
        return _("IBAN %(iban)s : clé de contrôle invalide.") % {"iban": shown}
    return None


def mod97(alphanumeric: str) -> int:
    """The ISO 7064 MOD 97-10 remainder of an upper-case alphanumeric string, letters read as 10..35."""
    return int("".join(str(int(character, 36)) for character in alphanumeric)) % 97


def bic_problem(text: str) -> str | None:
    """None when `text` has the shape of a BIC (ISO 9362): 4 characters for the institution, 2 letters
    for the country, 2 for the location, and optionally 3 for the branch; otherwise what is wrong."""
    bic = normalize_bic(text)
    if not bic:
        return _("BIC manquant.")
    shown = bic[:_SHOWN]
    if len(bic) not in (8, 11):
        return _("BIC %(bic)s : 8 ou 11 caractères attendus, %(length)s reçus.") % {"bic": shown, "length": len(bic)}
    if not _BIC_SHAPE.fullmatch(bic):
        return _(
            "BIC %(bic)s : forme invalide (4 lettres ou chiffres pour l'établissement, 2 lettres pour le pays, "
            "2 lettres ou chiffres pour la localité, puis 3 facultatifs pour l'agence)."
        ) % {"bic": shown}
    return None
