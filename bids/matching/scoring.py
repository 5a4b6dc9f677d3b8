"""The score of a (work package, firm) pair: seven weighted components, each explained in words.

Pure: facts in (dataclasses), a `Score` out. Values are kept in thousandths and points in tenths
(integers), so the points always add up to the score exactly, to the tenth.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, Decimal
from functools import cached_property, lru_cache
from typing import Any

from django.utils.translation import gettext, gettext_lazy, gettext_noop, ngettext
from django.utils.translation import gettext as _

from partners.models import EVIDENCED_LEVELS, AttestationKind, SkillLevel

WEIGHTS: dict[str, int] = {
    "skills": 35,
    "cpv": 15,
    "capacity": 15,
    "region": 5,
    "rate": 10,
    "references": 10,
    "attestations": 10,
}
LABELS = {
    "skills": gettext_lazy("Compétences"),
    "cpv": gettext_lazy("Codes CPV"),
    "capacity": gettext_lazy("Capacité"),
    "region": gettext_lazy("Région"),
    "rate": gettext_lazy("Tarif"),
    "references": gettext_lazy("Références"),
    "attestations": gettext_lazy("Attestations"),
}
# Upstream contributors, maintainers and editors rank above integrators: the guichet promises
# buyers direct access to the people who make the software.
LEVEL_FACTORS: dict[int, int] = {1: 150, 2: 350, 3: 550, 4: 750, 5: 900, 6: 1000}  # thousandths
CPV_CLOSENESS = ((8, 1000), (4, 750), (3, 500), (2, 250))  # digits in common -> thousandths
REFERENCE_VALUES = (0, 500, 800, 1000)  # 0, 1, 2, 3 or more references
RATE_TOLERANCE = 0.5  # the rate component reaches 0 at 50 % over the budget
NEUTRAL = 500
_JSON = json.JSONEncoder(ensure_ascii=False)
ATTESTATION_KINDS = tuple(AttestationKind.values)

HOW_ESTIMATE = "estimate"
HOW_VALUE = "value"
HOW_LINES = "lines"


@dataclass(frozen=True)
class Component:
    key: str
    value_milli: int  # 0 to 1000
    explanation: str | Callable[[], str]  # words, or how to write them: only the candidates kept are explained

    points_tenths: int = field(init=False)

    def __post_init__(self) -> None:
        # weight x value, rounded half up to the tenth: weight * milli / 100 tenths.
        object.__setattr__(self, "points_tenths", (WEIGHTS[self.key] * self.value_milli + 50) // 100)

    @property
    def weight(self) -> int:
        return WEIGHTS[self.key]

    @property
    def text(self) -> str:
        return self.explanation if isinstance(self.explanation, str) else self.explanation()

    @property
    def stored(self) -> dict[str, Any]:
        """The JSON form kept on each candidate; the label is added when read, in the reader's language."""
        return {
            "key": self.key,
            "weight": self.weight,
            "value": self.value_milli / 1000,
            "points": self.points_tenths / 10,
            "text": self.text,
        }

    def as_json(self) -> str:
        """`stored` as JSON text, written once even when thousands of candidates share the component."""
        written: str | None = self.__dict__.get("_json")
        if written is None:
            written = (
                f'{{"key": "{self.key}", "weight": {WEIGHTS[self.key]}, "value": {self.value_milli / 1000}, '
                f'"points": {self.points_tenths / 10}, "text": {_JSON.encode(self.text)}}}'
            )
            object.__setattr__(self, "_json", written)  # a cache, not state: the component stays as it was
        return written


@dataclass(frozen=True)
class Score:
    components: tuple[Component, ...]
    days_needed: Decimal
    tenths: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tenths", sum(component.points_tenths for component in self.components))

    @property
    def value(self) -> Decimal:
        return Decimal(self.tenths).scaleb(-1)


@dataclass(frozen=True)
class Period:
    """The months of the contract: `months` months from `start` (the first day of a month)."""

    start: date
    months: int

    @property
    def end(self) -> date:
        """The first day of the month after the last one."""
        return add_months(self.start, self.months)

    @cached_property
    def label(self) -> str:
        last = add_months(self.start, self.months - 1)
        return f"{self.start:%m/%Y}–{last:%m/%Y}"


@dataclass(frozen=True)
class RequiredSkill:
    skill_id: int
    name: str
    weight: int


@dataclass(frozen=True)
class PackageFacts:
    id: int
    name: str
    skills: tuple[RequiredSkill, ...]  # the main skill (highest weight) first
    cpv_codes: tuple[str, ...]
    line_count: int
    estimated_days: Decimal | None
    budget: Decimal | None  # the package's estimated value, or its share of the lot's
    budget_is_share: bool
    currency: str
    period: Period
    skill_key: tuple[tuple[int, int], ...] = field(init=False)
    cpv_groups: tuple[str, ...] = field(init=False)  # 3 significant digits, or the division for a division code

    def __post_init__(self) -> None:
        object.__setattr__(self, "skill_key", tuple((skill.skill_id, skill.weight) for skill in self.skills))
        object.__setattr__(self, "cpv_groups", tuple(sorted({significant(c)[:3] for c in self.cpv_codes})))


@dataclass(frozen=True)
class FirmSkillFacts:
    level: int
    evidenced: bool
    daily_rate: Decimal | None


@dataclass(frozen=True)
class FirmFacts:
    id: int
    name: str
    region: str
    daily_rate: Decimal | None
    skills: Mapping[int, FirmSkillFacts] = field(default_factory=dict)
    level_rates: Mapping[int, Decimal] = field(default_factory=dict)
    cpv_codes: frozenset[str] = frozenset()  # its skills' codes and its references' codes
    references: tuple[tuple[str, ...], ...] = ()  # the CPV codes of each reference
    valid_attestations: frozenset[str] = frozenset()

    @cached_property
    def significant_cpv(self) -> tuple[str, ...]:
        return tuple(sorted({significant(code) for code in self.cpv_codes}))


@dataclass(frozen=True)
class Context:
    """What every pair of one tender shares."""

    buyer_region: str | None
    buyer_region_name: str
    attestation_date: date
    region_names: Mapping[str, str] = field(default_factory=dict)


def add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


def significant(code: str) -> str:
    """The significant digits of a CPV code: trailing zeros dropped, never shorter than the division."""
    digits = code[:8].rstrip("0")
    return digits if len(digits) >= 2 else code[:2]


def cpv_closeness(code: str, firm_codes: tuple[str, ...]) -> tuple[int, int]:
    """(thousandths, digits in common) of the firm's code closest to `code`; exact counts 8 digits."""
    wanted = significant(code)
    best = 0
    for other in firm_codes:
        if other == wanted:
            return 1000, 8
        common = 0
        for left, right in zip(wanted, other, strict=False):
            if left != right:
                break
            common += 1
        best = max(best, common)
    for digits, value in CPV_CLOSENESS:
        if best >= digits:
            return value, best
    return 0, best


@lru_cache(maxsize=4096)
def _days_text(days: Decimal) -> str:
    text = f"{days.normalize():f}" if days == days.to_integral_value() else f"{days:f}"
    return text.replace(".", ",")


@lru_cache(maxsize=65536)
def _money_text(amount: Decimal, currency: str) -> str:
    whole = f"{amount.quantize(Decimal(1)):,}".replace(",", "\u202f")
    return f"{whole} {'€' if currency in ('', 'EUR') else currency}"


def firm_rate(package: PackageFacts, firm: FirmFacts) -> Decimal | None:
    """The firm's daily rate on the package's main skill it holds: per skill, per level, or by default."""
    for required in package.skills:
        held = firm.skills.get(required.skill_id)
        if held is not None:
            return held.daily_rate or firm.level_rates.get(held.level) or firm.daily_rate
    return firm.daily_rate


def days_needed(package: PackageFacts, firm: FirmFacts, rate: Decimal | None) -> tuple[Decimal, str]:
    """The days the firm needs for the package, and how they were estimated."""
    if package.estimated_days:
        return package.estimated_days, HOW_ESTIMATE
    if package.budget and rate:
        halves = (package.budget * 2 / rate).to_integral_value(rounding=ROUND_CEILING)
        return max(Decimal("0.5"), halves / 2), HOW_VALUE
    return Decimal(max(1, package.line_count)), HOW_LINES


def skills_component(package: PackageFacts, firm: FirmFacts) -> Component:
    if not package.skills:
        return Component("skills", NEUTRAL, _("aucune compétence requise identifiée : neutre"))
    total = 0
    weights = 0
    parts = []
    for required in package.skills:
        weights += required.weight
        held = firm.skills.get(required.skill_id)
        if held is None:
            parts.append(_("%(skill)s : absente") % {"skill": required.name})
            continue
        level_name = str(SkillLevel(held.level).label)
        if held.level in EVIDENCED_LEVELS and not held.evidenced:
            total += required.weight * LEVEL_FACTORS[SkillLevel.EXPERT]
            parts.append(
                _("%(skill)s : %(level)s (à justifier, compté comme expert)")
                % {"skill": required.name, "level": level_name}
            )
        elif held.level in EVIDENCED_LEVELS:
            total += required.weight * LEVEL_FACTORS[held.level]
            parts.append(_("%(skill)s : %(level)s (preuve fournie)") % {"skill": required.name, "level": level_name})
        else:
            total += required.weight * LEVEL_FACTORS[held.level]
            parts.append(f"{required.name} : {level_name}")
    return Component("skills", round(total / weights), ", ".join(parts))


def cpv_component(package: PackageFacts, firm: FirmFacts) -> Component:
    if not package.cpv_codes:
        return Component("cpv", NEUTRAL, _("aucun code CPV pour ce lot de travaux : neutre"))
    if not firm.cpv_codes:
        return Component("cpv", 0, _("aucun code CPV connu pour l'entreprise"))
    total = 0
    parts = []
    for code in package.cpv_codes:
        value, common = cpv_closeness(code, firm.significant_cpv)
        total += value
        if value == 1000:
            parts.append(_("%(code)s : couvert") % {"code": code})
        elif value:
            level = {750: _("même classe"), 500: _("même groupe"), 250: _("même division")}[value]
            parts.append(f"{code} : {level} ({code[: min(common, 4)]}…)")
        else:
            parts.append(_("%(code)s : non couvert") % {"code": code})
    return Component("cpv", round(total / len(package.cpv_codes)), ", ".join(parts))


CAPACITY_TEXT = gettext_noop("%(free)s j libres sur %(period)s pour %(days)s j nécessaires (%(source)s)")
FROM_ESTIMATE = gettext_noop("estimation du lot de travaux")
FROM_VALUE = gettext_noop("valeur estimée ÷ tarif de %(rate)s/j")
FROM_LINES = gettext_noop("1 j par ligne, faute de valeur ou de tarif")
RATE_TEXT = gettext_noop("coût estimé %(cost)s (%(days)s j × %(rate)s/j) pour un budget de %(budget)s")
SHARE_OF_LOT = gettext_noop(" (part du lot)")
NO_BUDGET = gettext_noop("pas de budget connu pour ce lot de travaux : neutre")
NO_RATE = gettext_noop("tarif journalier non renseigné : neutre")


class Phrases:
    """gettext once per message for a whole run: the same sentences are written for thousands of pairs."""

    def __init__(self) -> None:
        self._done: dict[str, str] = {}

    def __call__(self, message: str) -> str:
        text = self._done.get(message)
        if text is None:
            text = self._done[message] = gettext(message)
        return text


def capacity_component(
    package: PackageFacts, days: Decimal, how: str, rate: Decimal | None, free: Decimal, tr: Callable[[str], str]
) -> Component:
    value = 0 if free <= 0 else min(1000, round(float(free) * 1000 / float(days)))

    def explain() -> str:
        if how == HOW_ESTIMATE:
            source = tr(FROM_ESTIMATE)
        elif how == HOW_VALUE and rate is not None:
            source = tr(FROM_VALUE) % {"rate": _money_text(rate, package.currency)}
        else:
            source = tr(FROM_LINES)
        return tr(CAPACITY_TEXT) % {
            "free": _days_text(max(free, Decimal(0))),
            "period": package.period.label,
            "days": _days_text(days),
            "source": source,
        }

    return Component("capacity", value, explain)


def rate_component(package: PackageFacts, days: Decimal, rate: Decimal | None, tr: Callable[[str], str]) -> Component:
    budget = package.budget
    if not budget:
        return Component("rate", NEUTRAL, tr(NO_BUDGET))
    if rate is None:
        return Component("rate", NEUTRAL, tr(NO_RATE))
    over = float(days) * float(rate) / float(budget) - 1
    value = 1000 if over <= 0 else max(0, round((1 - over / RATE_TOLERANCE) * 1000))

    def explain() -> str:
        return tr(RATE_TEXT) % {
            "cost": _money_text(days * rate, package.currency),
            "days": _days_text(days),
            "rate": _money_text(rate, package.currency),
            "budget": _money_text(budget, package.currency) + (tr(SHARE_OF_LOT) if package.budget_is_share else ""),
        }

    return Component("rate", value, explain)


def region_component(firm: FirmFacts, context: Context) -> Component:
    if context.buyer_region is None:
        return Component("region", NEUTRAL, _("région de l'acheteur inconnue : neutre"))
    if not firm.region:
        return Component("region", NEUTRAL, _("région de l'entreprise non renseignée : neutre"))
    if firm.region == context.buyer_region:
        return Component(
            "region", 1000, _("même région que l'acheteur (%(region)s)") % {"region": context.buyer_region_name}
        )
    return Component(
        "region",
        0,
        _("entreprise en %(firm)s, acheteur en %(buyer)s")
        % {"firm": context.region_names.get(firm.region, firm.region), "buyer": context.buyer_region_name},
    )


def references_component(package: PackageFacts, firm: FirmFacts) -> Component:
    groups = package.cpv_groups
    if not groups:
        return Component("references", NEUTRAL, _("aucun code CPV pour comparer les références : neutre"))
    count = sum(
        1 for codes in firm.references if any(significant(code).startswith(group) for code in codes for group in groups)
    )
    value = REFERENCE_VALUES[min(count, len(REFERENCE_VALUES) - 1)]
    prefixes = ", ".join(f"{group}…" for group in groups)
    if not count:
        return Component("references", 0, _("aucune référence sur des CPV proches (%(cpv)s)") % {"cpv": prefixes})
    text = ngettext(
        "%(count)s référence sur des CPV proches (%(cpv)s)", "%(count)s références sur des CPV proches (%(cpv)s)", count
    ) % {"count": count, "cpv": prefixes}
    return Component("references", value, text)


def attestations_component(firm: FirmFacts, context: Context) -> Component:
    valid = [kind for kind in ATTESTATION_KINDS if kind in firm.valid_attestations]
    missing = [str(AttestationKind(kind).label) for kind in ATTESTATION_KINDS if kind not in firm.valid_attestations]
    text = _("%(valid)s sur %(total)s valides au %(date)s") % {
        "valid": len(valid),
        "total": len(ATTESTATION_KINDS),
        "date": f"{context.attestation_date:%d/%m/%Y}",
    }
    if missing:
        text += _(" ; manquantes ou expirées : %(kinds)s") % {"kinds": ", ".join(missing)}
    return Component("attestations", round(1000 * len(valid) / len(ATTESTATION_KINDS)), text)


class Scorer:
    """Scores pairs of one tender, computing once what depends on the firm alone or on the firm and the
    package's needs (skills, CPV codes): only capacity and rate are worked out for every pair."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.tr = Phrases()
        self._by_firm: dict[int, tuple[Component, Component]] = {}
        self._shared: dict[tuple[int, tuple[tuple[int, int], ...], tuple[str, ...]], _Shared] = {}

    def _shared_parts(self, package: PackageFacts, firm: FirmFacts) -> _Shared:
        key = (firm.id, package.skill_key, package.cpv_codes)
        shared = self._shared.get(key)
        if shared is None:
            firm_only = self._by_firm.get(firm.id)
            if firm_only is None:
                firm_only = self._by_firm[firm.id] = (
                    region_component(firm, self.context),
                    attestations_component(firm, self.context),
                )
            shared = self._shared[key] = _Shared(
                skills_component(package, firm),
                cpv_component(package, firm),
                firm_only[0],
                references_component(package, firm),
                firm_only[1],
                firm_rate(package, firm),
            )
        return shared

    def score(self, package: PackageFacts, firm: FirmFacts, free_days: Decimal) -> Score:
        shared = self._shared_parts(package, firm)
        rate = shared.rate
        days, how = days_needed(package, firm, rate)
        components = (
            shared.skills,
            shared.cpv,
            capacity_component(package, days, how, rate, free_days, self.tr),
            shared.region,
            rate_component(package, days, rate, self.tr),
            shared.references,
            shared.attestations,
        )
        return Score(components, days)


@dataclass(frozen=True)
class _Shared:
    skills: Component
    cpv: Component
    region: Component
    references: Component
    attestations: Component
    rate: Decimal | None


def score_pair(package: PackageFacts, firm: FirmFacts, free_days: Decimal, context: Context) -> Score:
    return Scorer(context).score(package, firm, free_days)
