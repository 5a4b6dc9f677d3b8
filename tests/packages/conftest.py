"""Fixtures of the work-package tests: a small skill catalogue and a realistic support tender."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.utils.text import slugify

from bids.models import Tender
from bids.schedule_samples import SOFTWARE_FAMILIES, write_support_schedule
from bids.services.imports import import_file
from partners.models import Skill

ALIASES = {
    "Java (OpenJDK)": ["OpenJDK", "Java"],
    "Apache HTTP Server": ["Apache httpd", "httpd"],
    "OCS Inventory NG": ["OCS NG"],
    "PostgreSQL": ["Postgres"],
}
PARENTS = {"PostGIS": "PostgreSQL"}
LOTS = [("1", "Support des logiciels libres"), ("2", "Expertise et formation")]


def make_catalogue(*, without: tuple[str, ...] = ()) -> dict[str, Skill]:
    """A Skill for every software of the sample schedules (but `without`), with the usual aliases."""
    skills = {}
    for _family, programs in SOFTWARE_FAMILIES:
        for name in programs:
            if name not in without:
                skills[name] = Skill.objects.create(name=name, slug=slugify(name), aliases=ALIASES.get(name, []))
    for child, parent in PARENTS.items():
        if child in skills and parent in skills:
            skills[child].parent = skills[parent]
            skills[child].save(update_fields=["parent"])
    return skills


def support_tender(
    samples: Path,
    *,
    lines: int = 180,
    lots: list[tuple[str, str]] | None = None,
    notice_name: str = "eforms/cn_24_FRA_comments.xml",
) -> Tender:
    """A notice (two lots by default) with a realistic BPU/DQE attached: one section per family."""
    notice = samples / notice_name
    tender = import_file(actor=None, data=notice.read_bytes(), source=notice.name).saved[0].tender
    buffer = io.BytesIO()
    write_support_schedule(buffer, lines=lines, lots=lots or LOTS, seed=4)
    import_file(actor=None, data=buffer.getvalue(), source="bpu-dqe.xlsx", target=tender)
    return tender


@pytest.fixture
def catalogue(db: None) -> dict[str, Skill]:
    return make_catalogue()


@pytest.fixture
def tender(samples: Path, catalogue: dict[str, Skill]) -> Tender:
    return support_tender(samples)


@pytest.fixture
def cpv_codes(db: None) -> None:
    """A few CPV codes (the full vocabulary is loaded by a migration or command elsewhere)."""
    from consortium.models import CpvCode

    for code, label in (
        ("72000000", "Services de technologies de l'information"),
        ("72267000", "Services de maintenance et de réparation de logiciels"),
        ("48000000", "Logiciels et systèmes d'information"),
    ):
        CpvCode.objects.update_or_create(
            code=code, defaults={"check_digit": "0", "label_fr": label, "label_en": label, "level": 5}
        )


def lot_of(tender: Tender, source_id: str) -> Any:
    return tender.lots.get(source_id=source_id)
