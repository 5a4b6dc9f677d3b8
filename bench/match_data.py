"""The data of the matching benchmark: a tender of 1,000 lots and 100,000 lines, and 5,000 firms.

Every lot's lines name three programs of the catalogue, so the split finds about three work
packages per lot; each firm knows one program well (plus a language), which gives each package
about twenty plausible candidates, as in a real network. Deterministic for a seed.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from django.db import transaction

BENCH_TITLE = "bench: support tender, 1,000 lots"
FIRM_PREFIX = "Bench firm"
PROGRAMS_PER_LOT = 3
SERVICES = (
    ("Journée d'expertise {software} — niveau {level}", "jour"),
    ("Ticket de support — correctif {software}", "ticket"),
    ("Forfait maintenance composant {software} (mois)", "mois"),
    ("Unité d'œuvre TMA — {software}", "UO"),
    ("Installation et paramétrage {software}", "forfait"),
)
ATTESTATIONS = ("urssaf", "tax", "kbis", "insurance")


def software_skills() -> list[tuple[int, str]]:
    from partners.catalogue import load_skill_catalogue
    from partners.models import Skill, SkillKind

    load_skill_catalogue()
    return list(Skill.objects.filter(kind=SkillKind.SOFTWARE).order_by("pk").values_list("pk", "name"))


@transaction.atomic
def build_tender(*, lots: int, lines: int, seed: int = 1) -> int:
    from bids.models import Lot, Tender
    from bids.services.lines import insert_lines

    rng = random.Random(seed)
    Tender.objects.filter(title=BENCH_TITLE).delete()
    skills = software_skills()
    tender = Tender.objects.create(
        title=BENCH_TITLE, source_format="xlsx", currency="EUR", main_cpv="72267000", procedure_id="bench-match"
    )
    created = Lot.objects.bulk_create(
        Lot(
            tender=tender,
            position=n,
            source_id=f"LOT-{n + 1:04d}",
            title=f"Support lot {n + 1}",
            main_cpv="72267000",
            estimated_value=Decimal(rng.randrange(40_000, 400_000)),
            currency="EUR",
            duration_value=12,
            duration_unit="MONTH",
        )
        for n in range(lots)
    )
    per_lot = lines // lots
    rows = []
    position = 0
    for index, lot in enumerate(created):
        programs = [skills[(index * PROGRAMS_PER_LOT + k) % len(skills)][1] for k in range(PROGRAMS_PER_LOT)]
        for number in range(per_lot):
            pattern, unit = SERVICES[number % len(SERVICES)]
            software = programs[number % PROGRAMS_PER_LOT]
            designation = pattern.format(software=software, level=number % 3 + 1)
            price = f"{rng.randrange(90, 1400)}.00"
            rows.append(
                (tender.pk, lot.pk, position, "schedule", f"{index + 1}.{number + 1:03d}", designation, unit,
                 str(rng.randint(1, 40)), price, "EUR", "", "", position + 6, "BPU")
            )  # fmt: skip
            position += 1
    insert_lines(rows)
    return tender.pk


@transaction.atomic
def build_network(*, firms: int, seed: int = 1, today: date | None = None) -> int:
    from partners.identifiers import vat_for_siren
    from partners.models import Attestation, CapacityMonth, FirmSkill, PartnerFirm, Reference, Skill, SkillKind

    rng = random.Random(seed)
    today = today or date.today()
    PartnerFirm.objects.filter(name__startswith=FIRM_PREFIX).delete()
    skills = software_skills()
    languages = list(Skill.objects.filter(kind=SkillKind.LANGUAGE).values_list("pk", flat=True)) or [skills[0][0]]
    regions = ["11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93"]
    made = PartnerFirm.objects.bulk_create(
        PartnerFirm(
            name=f"{FIRM_PREFIX} {n:05d}",
            siren=siren,
            siret=_siret(siren),
            vat_number=vat_for_siren(siren),
            region=regions[n % len(regions)],
            daily_rate=Decimal(rng.randrange(550, 1200)),
        )
        for n, siren in enumerate(_sirens(firms))
    )
    months = [_add_months(date(today.year, today.month, 1), k) for k in range(24)]
    FirmSkill.objects.bulk_create(
        item
        for n, firm in enumerate(made)
        for item in (
            FirmSkill(
                firm=firm,
                skill_id=skills[n % len(skills)][0],
                level=rng.choice((2, 2, 2, 3, 3, 4, 5, 6)),
                years=rng.randint(1, 15),
                evidence_url="https://example.org/merge-requests/1" if rng.random() < 0.5 else "",
            ),
            FirmSkill(firm=firm, skill_id=languages[n % len(languages)], level=3, years=5),
        )
    )
    CapacityMonth.objects.bulk_create(
        CapacityMonth(firm=firm, month=month, days=Decimal(rng.randint(4, 40))) for firm in made for month in months
    )
    Attestation.objects.bulk_create(
        Attestation(firm=firm, kind=kind, valid_until=_add_months(today, rng.randint(-3, 12)))
        for firm in made
        for kind in ATTESTATIONS
    )
    Reference.objects.bulk_create(
        Reference(firm=firm, title="Support", buyer="Ville", year=2024, cpv_codes=["72267000"])
        for firm in made
        if rng.random() < 0.6
    )
    return len(made)


def _sirens(count: int) -> list[str]:
    from partners.identifiers import siren_is_valid

    found: list[str] = []
    number = 800_000_000
    while len(found) < count:
        number += 1
        if siren_is_valid(str(number)):
            found.append(str(number))
    return found


def _siret(siren: str) -> str:
    from partners.identifiers import luhn_is_valid

    return next(siren + f"0001{digit}" for digit in range(10) if luhn_is_valid(siren + f"0001{digit}"))


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, min(day.day, 28))
