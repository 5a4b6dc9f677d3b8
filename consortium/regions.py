"""French regions: INSEE code, name and NUTS 2021 code, so a firm's region can meet a buyer's NUTS code."""

from __future__ import annotations

import re
import unicodedata

from django.db import models


class Region(models.TextChoices):
    ILE_DE_FRANCE = "11", "Île-de-France"
    CENTRE_VAL_DE_LOIRE = "24", "Centre-Val de Loire"
    BOURGOGNE_FRANCHE_COMTE = "27", "Bourgogne-Franche-Comté"
    NORMANDIE = "28", "Normandie"
    HAUTS_DE_FRANCE = "32", "Hauts-de-France"
    GRAND_EST = "44", "Grand Est"
    PAYS_DE_LA_LOIRE = "52", "Pays de la Loire"
    BRETAGNE = "53", "Bretagne"
    NOUVELLE_AQUITAINE = "75", "Nouvelle-Aquitaine"
    OCCITANIE = "76", "Occitanie"
    AUVERGNE_RHONE_ALPES = "84", "Auvergne-Rhône-Alpes"
    PROVENCE_ALPES_COTE_D_AZUR = "93", "Provence-Alpes-Côte d'Azur"
    CORSE = "94", "Corse"
    GUADELOUPE = "01", "Guadeloupe"
    MARTINIQUE = "02", "Martinique"
    GUYANE = "03", "Guyane"
    LA_REUNION = "04", "La Réunion"
    MAYOTTE = "06", "Mayotte"


NUTS_BY_REGION: dict[str, str] = {
    "11": "FR1",
    "24": "FRB",
    "27": "FRC",
    "28": "FRD",
    "32": "FRE",
    "44": "FRF",
    "52": "FRG",
    "53": "FRH",
    "75": "FRI",
    "76": "FRJ",
    "84": "FRK",
    "93": "FRL",
    "94": "FRM",
    "01": "FRY1",
    "02": "FRY2",
    "03": "FRY3",
    "04": "FRY4",
    "06": "FRY5",
}


def _fold(text: str) -> str:
    """Lower case, no accents, hyphens and apostrophes as spaces: how people type region names."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).lower()
    for separator in "-'’_":
        plain = plain.replace(separator, " ")
    return " ".join(plain.split())


_BY_FOLDED_NAME = {_fold(label): code for code, label in Region.choices}


def region_code(text: str) -> str | None:
    """The INSEE code for a region given by code or by name, however accented; None when unknown."""
    text = text.strip()
    if text in NUTS_BY_REGION:
        return text
    return _BY_FOLDED_NAME.get(_fold(text))


def region_of_nuts(nuts: str) -> str | None:
    """The region holding a NUTS code (FRJ23 -> Occitanie's code), or None outside France or when too coarse."""
    nuts = nuts.strip().upper()
    best: tuple[int, str] | None = None
    for code, prefix in NUTS_BY_REGION.items():
        if nuts.startswith(prefix) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), code)
    return best[1] if best else None


# Metropolitan departments 01 to 95 (no "20" since Corsica split into 2A and 2B) and the overseas 971 to 976.
_DEPARTMENT = re.compile(r"^(0[1-9]|1\d|2[1-9]|[3-8]\d|9[0-5]|2A|2B|97[1-6])$")


def is_department_code(code: str) -> bool:
    return bool(_DEPARTMENT.match(code))
