"""French company identifiers: SIREN (9 digits), SIRET (14 digits) and the intra-EU VAT number."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

LA_POSTE_SIREN = "356000000"  # its establishments' SIRETs follow La Poste's own rule, not Luhn
LA_POSTE_HEAD_OFFICE = "35600000000048"  # ... except the head office's, which is a plain Luhn number


def digits_only(text: str) -> str:
    """The identifier without the spaces, dots and dashes people type in it."""
    return "".join(char for char in text if char not in " .-\u00a0\u202f")


def luhn_is_valid(number: str) -> bool:
    if not number.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def siren_is_valid(siren: str) -> bool:
    return len(siren) == 9 and luhn_is_valid(siren)


def siret_is_valid(siret: str) -> bool:
    if len(siret) != 14 or not siret.isdigit():
        return False
    if siret.startswith(LA_POSTE_SIREN) and siret != LA_POSTE_HEAD_OFFICE:
        # INSEE's rule for La Poste: the sum of the 14 digits is a multiple of 5.
        return sum(int(char) for char in siret) % 5 == 0
    return luhn_is_valid(siret) and siren_is_valid(siret[:9])


def vat_key(siren: str) -> str:
    """The two-digit key of the French VAT number: (12 + 3 x (SIREN mod 97)) mod 97."""
    return f"{(12 + 3 * (int(siren) % 97)) % 97:02d}"


def vat_for_siren(siren: str) -> str:
    return f"FR{vat_key(siren)}{siren}"


def vat_is_valid(vat: str, *, siren: str | None = None) -> bool:
    """A French VAT number whose key matches its SIREN (and, when given, the firm's SIREN)."""
    vat = digits_only(vat).upper()
    if len(vat) != 13 or not vat.startswith("FR") or not vat[2:].isdigit():
        return False
    if siren is not None and vat[4:] != siren:
        return False
    return vat[2:4] == vat_key(vat[4:])


def clean_siret(text: str) -> str:
    """The SIRET as 14 digits, or a ValidationError saying what is wrong with it."""
    siret = digits_only(text)
    if not siret.isdigit() or len(siret) != 14:
        raise ValidationError(
            _("SIRET « %(value)s » : 14 chiffres attendus (%(count)d caractères reçus)."),
            params={"value": text, "count": len(siret)},
            code="siret_length",
        )
    if not siret_is_valid(siret):
        raise ValidationError(
            _("SIRET « %(value)s » : la clé de contrôle (Luhn) est fausse ; vérifiez le numéro."),
            params={"value": text},
            code="siret_checksum",
        )
    return siret


def clean_vat(text: str, *, siren: str) -> str:
    """The VAT number in canonical form (FRkk + SIREN), or a ValidationError naming the mismatch."""
    vat = digits_only(text).upper()
    if not vat_is_valid(vat):
        raise ValidationError(
            _("N° de TVA « %(value)s » invalide : attendu FR, une clé de 2 chiffres et le SIREN."),
            params={"value": text},
            code="vat_format",
        )
    if siren and vat[4:] != siren:
        raise ValidationError(
            _("N° de TVA « %(value)s » : il ne correspond pas au SIREN %(siren)s (attendu %(expected)s)."),
            params={"value": text, "siren": siren, "expected": vat_for_siren(siren)},
            code="vat_siren",
        )
    return vat
