"""The demo network: 72 invented firms across France with the skills a real open-source ecosystem shows.

Per software: at most one editor (and only for software a French firm publishes), one or two
maintainers, a few contributors, many integrators and experts; every firm also knows a few
languages and platforms. Contributor, maintainer and editor levels carry an evidence link on the
skill's repository. Deterministic for a seed and a date, idempotent (firms upserted by name, their
profile replaced), so loading twice leaves the same data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from consortium.services import record_event

from .demo_data import (
    CLUSTERS,
    CONTACT_ROLES,
    DEPARTMENTS_BY_REGION,
    EDITABLE,
    FIRMS,
    FIRST_NAMES,
    FIXED_SKILLS,
    LAST_NAMES,
    NATIONAL_BUYERS,
    PHONE_PREFIX,
    REFERENCE_TITLES,
    REGIONAL_BUYERS,
    STACKS,
    STREETS,
    DemoFirm,
)
from .identifiers import LA_POSTE_SIREN, luhn_is_valid, vat_for_siren
from .models import (
    EVIDENCED_LEVELS,
    Attestation,
    AttestationKind,
    CapacityMonth,
    Contact,
    FirmSkill,
    LevelRate,
    PartnerFirm,
    Reference,
    Skill,
    SkillKind,
    SkillLevel,
)
from .selectors import month_starts

YEARS_BY_LEVEL = {1: (1, 3), 2: (2, 8), 3: (4, 14), 4: (3, 12), 5: (5, 18), 6: (6, 20)}
ATTESTATION_MONTHS = {
    AttestationKind.URSSAF: 6,
    AttestationKind.TAX: 12,
    AttestationKind.KBIS: 3,
    AttestationKind.INSURANCE: 12,
}
GITLAB_HOSTS = (
    "gitlab.com",
    "gitlab.gnome.org",
    "code.videolan.org",
    "git.drupalcode.org",
    "gitlab.ow2.org",
    "git.openldap.org",
)
SEASON = {7: Decimal("0.8"), 8: Decimal("0.4"), 12: Decimal("0.7")}  # summer and year-end holidays


@dataclass
class Plan:
    """What the generator decided for one firm before anything is written."""

    seed: DemoFirm
    skills: dict[str, int] = field(default_factory=dict)  # skill name -> level


# ------------------------------------------------------------------------------------------ identifiers


def _with_key(digits: str) -> str:
    return next(f"{digits}{key}" for key in "0123456789" if luhn_is_valid(f"{digits}{key}"))


def demo_siret(rng: random.Random, taken: set[str]) -> str:
    """A SIRET that passes the checks: a SIREN with its Luhn key, an establishment number, the SIRET's key."""
    while True:
        siren = _with_key(str(rng.randrange(30_000_000, 99_999_999)))
        siret = _with_key(f"{siren}{rng.choice(('0001', '0002', '0003', '0004', '0005'))}")
        if siren != LA_POSTE_SIREN and siret not in taken and siren not in {t[:9] for t in taken}:
            taken.add(siret)
            return siret


# ------------------------------------------------------------------------------------------ skills


def plan_skills(rng: random.Random, skills: dict[str, Skill]) -> list[Plan]:
    """Every firm's skills and levels: integrators and experts first, then the upstream roles per software.

    `skills` is the catalogue by name. Upstream roles go only to software with a repository, where the
    evidence can point.
    """
    available = set(skills)
    basics = {name for name, skill in skills.items() if skill.kind in (SkillKind.LANGUAGE, SkillKind.PLATFORM)}
    plans = [Plan(seed) for seed in FIRMS]
    for plan in plans:
        fixed = FIXED_SKILLS.get(plan.seed.name)
        if fixed is not None:
            plan.skills = {name: level for name, level in fixed.items() if name in available}
            continue
        pool = [name for key in plan.seed.specialties for name in CLUSTERS[key] if name in available]
        pool = list(dict.fromkeys(pool))
        count = min(len(pool), rng.randint(3, 6))
        # The first programs of a specialty are the common ones: weigh them up.
        weights = [1 / (1 + pool.index(name) * 0.35) for name in pool]
        chosen: list[str] = []
        while len(chosen) < count:
            name = rng.choices(pool, weights)[0]
            if name not in chosen:
                chosen.append(name)
        for name in chosen:
            plan.skills[name] = rng.choices((1, 2, 3), (1, 11, 8))[0]
        stack = [name for key in plan.seed.specialties for name in STACKS[key] if name in available]
        stack = list(dict.fromkeys(stack))
        picked = rng.sample(stack, min(len(stack), rng.randint(2, 4)))
        if not basics & set(picked):  # frameworks alone: add the language under them
            picked.append(next(name for name in stack if name in basics))
        for name in picked:
            plan.skills.setdefault(name, rng.choices((2, 3), (1, 1))[0])
    _assign_upstream_roles(rng, plans, {name for name, skill in skills.items() if skill.repository_url})
    return plans


def _assign_upstream_roles(rng: random.Random, plans: list[Plan], with_repository: set[str]) -> None:
    """Per software: 0-1 editor, 1-3 contributors, 1-2 maintainers, at most half of the firms that hold it."""
    holders: dict[str, list[Plan]] = defaultdict(list)
    fixed_names = set(FIXED_SKILLS)
    for plan in plans:
        for name in plan.skills:
            holders[name].append(plan)
    software = {name for key in CLUSTERS for name in CLUSTERS[key]}
    for name in sorted(holders):
        if name not in software or name not in with_repository:
            continue
        group = holders[name]
        held = [plan.skills[name] for plan in group]
        free = [plan for plan in group if plan.seed.name not in fixed_names]
        rng.shuffle(free)
        wanted = [
            (6, 1 if name in EDITABLE and rng.random() < 0.6 else 0),
            (4, rng.randint(1, 3)),
            (5, 1 if len(group) < 8 else rng.randint(1, 2)),
        ]
        for level, target in wanted:
            missing = target - held.count(level)
            while missing > 0 and len(free) > len(group) // 2:  # most holders stay integrators and experts
                plan = free.pop()
                plan.skills[name] = level
                missing -= 1


def evidence_url(repository: str, rng: random.Random) -> str:
    """A plausible link to a merged change on the skill's repository."""
    number = rng.randint(200, 40_000)
    if "github.com" in repository:
        return f"{repository}/pull/{number}"
    if any(host in repository for host in GITLAB_HOSTS):
        return f"{repository}/-/merge_requests/{number}"
    if "git.postgresql.org" in repository:
        return f"https://commitfest.postgresql.org/{rng.randint(40, 52)}/{number}/"
    if "git.libreoffice.org" in repository:
        return f"https://gerrit.libreoffice.org/c/core/+/{number + 100_000}"
    if "git.spip.net" in repository:
        return f"{repository}/pulls/{number}"
    commit = hashlib.sha1(str(number).encode(), usedforsecurity=False).hexdigest()
    return f"{repository}/commit/?id={commit}"


# ------------------------------------------------------------------------------------------ writing


@transaction.atomic
def load_demo_network(*, seed: int = 2026, today: dt.date | None = None) -> int:
    """Create or refresh the demo firms with full profiles; returns the number of firms."""
    today = today or timezone.localdate()
    rng = random.Random(seed)
    skills = {skill.name: skill for skill in Skill.objects.all()}
    plans = plan_skills(rng, skills)
    names = [plan.seed.name for plan in plans]
    existing = {firm.name: firm for firm in PartnerFirm.objects.filter(name__in=names)}
    taken = set(PartnerFirm.objects.exclude(name__in=names).exclude(siret="").values_list("siret", flat=True))
    for plan in plans:
        firm = existing.get(plan.seed.name) or PartnerFirm(name=plan.seed.name)
        _fill_firm(firm, plan.seed, rng, taken)
        firm.save()
        _write_skills(firm, plan, skills, rng)
        _write_rates(firm, plan, rng)
        _write_capacity(firm, rng, today)
        _write_contacts(firm, plan.seed, rng)
        _write_attestations(firm, rng, today)
        _write_references(firm, plan, skills, rng, today)
    record_event(actor=None, action="partners.demo_network_loaded", firms=len(plans), seed=seed)
    return len(plans)


def _fill_firm(firm: PartnerFirm, seed: DemoFirm, rng: random.Random, taken: set[str]) -> None:
    firm.siret = demo_siret(rng, taken)
    firm.siren = firm.siret[:9]
    firm.vat_number = vat_for_siren(firm.siren)
    firm.address = f"{rng.randint(1, 120)} {rng.choice(STREETS)}"
    firm.postcode = seed.city.postcode
    firm.city = seed.city.name
    firm.region = seed.region
    neighbours = [code for code in DEPARTMENTS_BY_REGION[seed.region] if code != seed.city.department]
    served = rng.sample(neighbours, min(len(neighbours), rng.randint(0, 3)))
    firm.departments = [seed.city.department, *sorted(served)]
    firm.is_sme = seed.is_sme
    firm.website = f"https://www.{slugify(seed.name)}.example"
    people = rng.randint(3, 12) if seed.is_sme else rng.randint(250, 900)
    firm.description = (
        f"Entreprise de {people} personnes basée à {seed.city.name}, spécialisée en logiciels libres "
        f"({', '.join(CLUSTERS[key][0] for key in seed.specialties)})."
    )
    firm.daily_rate = Decimal(rng.randrange(550, 1201, 10))
    firm.currency = "EUR"


def _write_skills(firm: PartnerFirm, plan: Plan, skills: dict[str, Skill], rng: random.Random) -> None:
    firm.skills.all().delete()
    rows = []
    for name, level in sorted(plan.skills.items()):
        skill = skills[name]
        low, high = YEARS_BY_LEVEL[level]
        evidenced = level in EVIDENCED_LEVELS and bool(skill.repository_url)
        rate = None
        if level >= SkillLevel.EXPERT and firm.daily_rate is not None and rng.random() < 0.3:
            rate = firm.daily_rate + Decimal(rng.randrange(50, 301, 10))
        rows.append(
            FirmSkill(
                firm=firm,
                skill=skill,
                level=level if evidenced or level not in EVIDENCED_LEVELS else SkillLevel.EXPERT,
                years=rng.randint(low, high),
                evidence_url=evidence_url(skill.repository_url, rng) if evidenced else "",
                daily_rate=rate,
            )
        )
    FirmSkill.objects.bulk_create(rows)


def _write_rates(firm: PartnerFirm, plan: Plan, rng: random.Random) -> None:
    firm.level_rates.all().delete()
    if firm.daily_rate is None or rng.random() < 0.55:
        return
    step = Decimal(rng.randrange(60, 151, 10))
    levels = sorted(set(plan.skills.values()) - {SkillLevel.USER})
    LevelRate.objects.bulk_create(
        LevelRate(firm=firm, level=level, daily_rate=firm.daily_rate + step * (level - SkillLevel.EXPERT))
        for level in levels
    )


def _write_capacity(firm: PartnerFirm, rng: random.Random, today: dt.date) -> None:
    months = month_starts(today, 12)
    firm.capacity.filter(month__in=months).delete()
    base = rng.randint(10, 45) if firm.is_sme else rng.randint(40, 60)
    rows = []
    for month in months:
        days = round(base * SEASON.get(month.month, Decimal(1)) * rng.randint(80, 120) / 100)
        rows.append(CapacityMonth(firm=firm, month=month, days=Decimal(max(5, min(60, days)))))
    CapacityMonth.objects.bulk_create(rows)


def _write_contacts(firm: PartnerFirm, seed: DemoFirm, rng: random.Random) -> None:
    firm.contacts.all().delete()
    domain = f"{slugify(seed.name)}.example"
    for index in range(rng.randint(1, 2)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = slugify(f"{first} {last}").replace("-", ".")
        Contact.objects.create(
            firm=firm,
            name=f"{first} {last}",
            role=CONTACT_ROLES[index % len(CONTACT_ROLES)] if index else rng.choice(CONTACT_ROLES[:2]),
            email=f"{local}@{domain}",
            phone=f"{PHONE_PREFIX[seed.region]} {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}",
            is_primary=index == 0,
        )


def _write_attestations(firm: PartnerFirm, rng: random.Random, today: dt.date) -> None:
    """Four attestations: most valid, about one in ten expired and one in ten expiring within 30 days."""
    for kind, months in ATTESTATION_MONTHS.items():
        draw = rng.random()
        if draw < 0.1:
            valid_until = today - dt.timedelta(days=rng.randint(1, 120))
        elif draw < 0.2:
            valid_until = today + dt.timedelta(days=rng.randint(1, 29))
        else:
            valid_until = today + dt.timedelta(days=rng.randint(45, months * 30))
        Attestation.objects.update_or_create(
            firm=firm,
            kind=kind,
            defaults={
                "reference": f"{kind.upper()}-{valid_until.year}-{rng.randint(100000, 999999)}",
                "issued_on": valid_until - dt.timedelta(days=months * 30),
                "valid_until": valid_until,
            },
        )


def _write_references(
    firm: PartnerFirm, plan: Plan, skills: dict[str, Skill], rng: random.Random, today: dt.date
) -> None:
    firm.references.all().delete()
    software = [name for name, level in sorted(plan.skills.items()) if level >= SkillLevel.INTEGRATOR]
    buyers = REGIONAL_BUYERS[plan.seed.region] + NATIONAL_BUYERS
    rows = []
    for _ in range(rng.randint(0, 5) if software else 0):
        name = rng.choice(software)
        codes = skills[name].cpv_codes
        services = [code for code in codes if code.startswith("72")]
        packages = [code for code in codes if code.startswith("48")]
        cpv = [rng.choice(services)] + ([rng.choice(packages)] if packages and rng.random() < 0.5 else [])
        rows.append(
            Reference(
                firm=firm,
                title=rng.choice(REFERENCE_TITLES).format(skill=name),
                buyer=rng.choice(buyers),
                year=rng.randint(2019, max(2019, min(2026, today.year))),
                amount=Decimal(rng.randrange(12, 480)) * 1000,
                currency="EUR",
                cpv_codes=cpv,
            )
        )
    Reference.objects.bulk_create(rows)
