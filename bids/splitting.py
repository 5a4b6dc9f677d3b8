"""The automatic split of lots into work packages: plain data in, proposals out, no database.

Each line goes to the first of: a saved rule whose pattern its designation contains; the software
or technology its designation names (the longest catalogue name or alias, else keyword); the
software its schedule section names; its CPV code; its section; the one software the lot's title
names; else the lot's "unrecognised" package, flagged for the bid manager.

Names are found through a phrase index keyed by first word, so a line costs one dictionary
look-up per word, whatever the size of the catalogue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from consortium.text import fold

# The values of bids.models.PackageBasis (kept in step by a test).
SKILL = "skill"
CPV = "cpv"
SECTION = "section"
RULE = "rule"
WHOLE_LOT = "lot"
UNRECOGNISED = "unrecognised"

NAME, ALIAS, KEYWORD = 0, 1, 2  # the lower, the more specific
PRIMARY_WEIGHT = 10
PARENT_WEIGHT = 5
DESCRIPTION_WEIGHT = 6
MAX_PHRASE_WORDS = 8
CENT = Decimal("0.01")
TENTH = Decimal("0.1")

# Folded unit -> days per unit.
DAY_UNITS: dict[str, Decimal] = {
    **dict.fromkeys(
        (
            "j",
            "jour",
            "jours",
            "journee",
            "journees",
            "jh",
            "j h",
            "hj",
            "h j",
            "homme jour",
            "hommes jours",
            "homme jours",
            "jour homme",
            "jours homme",
            "jours hommes",
            "day",
            "days",
            "man day",
            "man days",
            "person day",
            "person days",
        ),
        Decimal(1),
    ),
    **dict.fromkeys(("demi journee", "demi journees", "1 2 journee", "half day", "half days"), Decimal("0.5")),
}


@dataclass(frozen=True, slots=True)
class CatalogueSkill:
    id: int
    name: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    parent_id: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    package_name: str
    skill_id: int | None = None


@dataclass(frozen=True, slots=True)
class LotInput:
    id: int
    source_id: str = ""
    title: str = ""
    description: str = ""
    cpv_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LineInput:
    id: int
    lot_id: int
    position: int
    designation: str
    cpv: str = ""
    section: str = ""
    unit: str = ""
    quantity: Decimal | None = None
    unit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class SkillMatch:
    skill_id: int
    words: int
    priority: int
    start: int


@dataclass(slots=True)
class Totals:
    line_count: int = 0
    estimated_value: Decimal | None = None
    estimated_days: Decimal | None = None


@dataclass(slots=True)
class PackageProposal:
    lot_id: int
    key: str
    name: str
    basis: str
    flagged: bool = False
    line_ids: list[int] = field(default_factory=list)
    first_position: int = 0
    skills: dict[int, int] = field(default_factory=dict)  # skill id -> weight 1..10
    cpv_codes: list[str] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)


class SkillIndex:
    """Every catalogue name, alias and keyword as a folded phrase, found in O(words) per text."""

    def __init__(self, skills: Iterable[CatalogueSkill]) -> None:
        self.skills: dict[int, CatalogueSkill] = {}
        best: dict[tuple[str, ...], tuple[int, str, int]] = {}  # phrase -> (priority, name, skill id)
        for skill in skills:
            self.skills[skill.id] = skill
            for priority, phrases in ((NAME, (skill.name,)), (ALIAS, skill.aliases), (KEYWORD, skill.keywords)):
                for phrase in phrases:
                    words = tuple(fold(phrase).split())
                    if not words or len(words) > MAX_PHRASE_WORDS or (len(words) == 1 and len(words[0]) < 2):
                        continue  # one letter ("R", "C") would match every French elision
                    candidate = (priority, skill.name, skill.id)
                    if words not in best or candidate < best[words]:
                        best[words] = candidate
        self._by_first: dict[str, list[tuple[tuple[str, ...], int, int]]] = {}
        for words, (priority, _name, skill_id) in best.items():
            self._by_first.setdefault(words[0], []).append((words, priority, skill_id))
        for entries in self._by_first.values():
            entries.sort(key=lambda entry: (-len(entry[0]), entry[1]))

    def matches(self, folded: str, *, keywords: bool = True) -> list[SkillMatch]:
        """Every phrase found in `folded` (already folded), longest first at each word."""
        words = folded.split()
        found = []
        for start, word in enumerate(words):
            entries = self._by_first.get(word)
            if not entries:
                continue
            for phrase, priority, skill_id in entries:
                if priority == KEYWORD and not keywords:
                    continue
                size = len(phrase)
                if size == 1 or tuple(words[start : start + size]) == phrase:
                    found.append(SkillMatch(skill_id, size, priority, start))
        return found

    def best(self, folded: str, *, keywords: bool = True) -> SkillMatch | None:
        """The most specific skill named: a name or alias before a keyword, then more words, then first."""
        found = self.matches(folded, keywords=keywords)
        if not found:
            return None
        return min(found, key=lambda m: (m.priority == KEYWORD, -m.words, m.priority, m.start))

    def named(self, folded: str, *, keywords: bool = False) -> list[int]:
        """Distinct skills named in `folded`, in reading order, a longer phrase hiding the shorter inside it."""
        found = sorted(self.matches(folded, keywords=keywords), key=lambda m: (m.start, -m.words, m.priority))
        skills: list[int] = []
        covered_until = 0
        for match in found:
            if match.start < covered_until:
                continue
            covered_until = match.start + match.words
            if match.skill_id not in skills:
                skills.append(match.skill_id)
        return skills


def is_day_unit(unit: str) -> bool:
    return fold(unit) in DAY_UNITS


def totals(lines: Iterable[LineInput]) -> Totals:
    """Line count, value (quantity x unit price where both are known) and days, rounded once."""
    result = Totals()
    value: Decimal | None = None
    days: Decimal | None = None
    unit_factors: dict[str, Decimal | None] = {}
    for line in lines:
        result.line_count += 1
        if line.quantity is not None and line.unit_price is not None:
            value = (value or Decimal(0)) + line.quantity * line.unit_price
        if line.unit not in unit_factors:
            unit_factors[line.unit] = DAY_UNITS.get(fold(line.unit))
        factor = unit_factors[line.unit]
        if factor is not None and line.quantity is not None:
            days = (days or Decimal(0)) + line.quantity * factor
    result.estimated_value = None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)
    result.estimated_days = None if days is None else days.quantize(TENTH, rounding=ROUND_HALF_UP)
    return result


def skill_weights(line_skills: Sequence[int], index: SkillIndex) -> dict[int, int]:
    """Weights from how many lines name each skill (the most named weighs 10), plus their parents at 5."""
    counts = Counter(line_skills)
    if not counts:
        return {}
    most = max(counts.values())
    weights = {skill_id: max(1, round(PRIMARY_WEIGHT * count / most)) for skill_id, count in counts.items()}
    for skill_id in list(weights):
        skill = index.skills.get(skill_id)
        parent = skill.parent_id if skill else None
        if parent is not None and parent not in weights and parent in index.skills:
            weights[parent] = PARENT_WEIGHT
    return weights


def infer_skills(lines: Iterable[LineInput], index: SkillIndex) -> dict[int, int]:
    """The skills a set of lines needs, from the software their designations name."""
    memo: dict[str, int | None] = {}
    named = []
    for line in lines:
        if line.designation not in memo:
            match = index.best(fold(line.designation))
            memo[line.designation] = match.skill_id if match else None
        if (skill_id := memo[line.designation]) is not None:
            named.append(skill_id)
    return skill_weights(named, index)


def required_cpv(lot_cpv: Sequence[str], lines: Iterable[LineInput]) -> list[str]:
    """The lot's CPV codes (the caller passes the notice's when the lot has none), then the lines' own."""
    codes = dict.fromkeys(code for code in lot_cpv if code)
    codes.update(dict.fromkeys(line.cpv for line in lines if line.cpv))
    return list(codes)


@dataclass(slots=True)
class _Placement:
    key: str
    name: str
    basis: str
    skill_id: int | None = None
    flagged: bool = False


class Splitter:
    """Places lines into packages; reusable over many lots (its memos are per designation)."""

    def __init__(
        self,
        index: SkillIndex,
        *,
        rules: Sequence[Rule] = (),
        cpv_labels: dict[str, str] | None = None,
        unrecognised_name: str = "Lignes non reconnues",
    ) -> None:
        self.index = index
        self.cpv_labels = cpv_labels or {}
        self.unrecognised_name = unrecognised_name
        folded_rules = [(fold(rule.pattern), rule) for rule in rules]
        self.rules = sorted(
            ((f" {pattern} ", rule) for pattern, rule in folded_rules if pattern),
            key=lambda item: (-len(item[0]), item[0]),
        )
        self._folded: dict[str, str] = {}
        self._designation_memo: dict[str, _Placement | None] = {}
        self._section_memo: dict[str, _Placement | None] = {}

    def _fold(self, text: str) -> str:
        folded = self._folded.get(text)
        if folded is None:
            folded = self._folded[text] = fold(text)
        return folded

    def _skill_placement(self, skill_id: int) -> _Placement:
        name = self.index.skills[skill_id].name
        return _Placement(f"name:{fold(name)}", name, SKILL, skill_id)

    def _by_designation(self, designation: str) -> _Placement | None:
        if designation in self._designation_memo:
            return self._designation_memo[designation]
        folded = self._fold(designation)
        padded = f" {folded} "
        placement = None
        for pattern, rule in self.rules:
            if pattern in padded:
                skill_id = rule.skill_id
                if skill_id is None or skill_id not in self.index.skills:
                    match = self.index.best(folded)
                    skill_id = match.skill_id if match else None
                name = rule.package_name.strip() or rule.pattern
                placement = _Placement(f"name:{fold(name)}", name, RULE, skill_id)
                break
        else:
            match = self.index.best(folded)
            if match is not None:
                placement = self._skill_placement(match.skill_id)
        self._designation_memo[designation] = placement
        return placement

    def _by_section_name(self, section: str) -> _Placement | None:
        if section not in self._section_memo:
            match = self.index.best(self._fold(section), keywords=False)
            self._section_memo[section] = self._skill_placement(match.skill_id) if match else None
        return self._section_memo[section]

    def place(self, line: LineInput, lot_skill: int | None) -> _Placement:
        placement = self._by_designation(line.designation)
        if placement is None and line.section:
            placement = self._by_section_name(line.section)
        if placement is not None:
            return placement
        if line.cpv:
            return _Placement(f"cpv:{line.cpv}", self.cpv_labels.get(line.cpv) or f"CPV {line.cpv}", CPV)
        if line.section.strip():
            return _Placement(f"section:{self._fold(line.section)}", line.section.strip(), SECTION)
        if lot_skill is not None:
            return self._skill_placement(lot_skill)
        return _Placement(UNRECOGNISED, self.unrecognised_name, UNRECOGNISED, flagged=True)

    def split_lot(self, lot: LotInput, lines: Sequence[LineInput]) -> list[PackageProposal]:
        """The packages of one lot, ordered by their first line; a lot without lines is one package."""
        if not lines:
            return [self.whole_lot(lot)]
        titled = self.index.named(self._fold(lot.title))
        lot_skill = titled[0] if len(titled) == 1 else None
        packages: dict[str, PackageProposal] = {}
        members: dict[str, list[LineInput]] = {}
        named: dict[str, list[int]] = {}
        for line in sorted(lines, key=lambda item: item.position):
            placement = self.place(line, lot_skill)
            package = packages.get(placement.key)
            if package is None:
                package = packages[placement.key] = PackageProposal(
                    lot_id=lot.id,
                    key=placement.key,
                    name=placement.name[:300],
                    basis=placement.basis,
                    flagged=placement.flagged,
                    first_position=line.position,
                )
                members[placement.key] = []
                named[placement.key] = []
            elif placement.basis == RULE:
                package.basis = RULE
            package.line_ids.append(line.id)
            members[placement.key].append(line)
            if placement.skill_id is not None:
                named[placement.key].append(placement.skill_id)
        for key, package in packages.items():
            package.skills = skill_weights(named[key], self.index)
            package.cpv_codes = required_cpv(lot.cpv_codes, members[key])
            package.totals = totals(members[key])
        return sorted(packages.values(), key=lambda package: package.first_position)

    def whole_lot(self, lot: LotInput) -> PackageProposal:
        """A lot without lines: one package named after it, needing the software its title and description name."""
        skills = dict.fromkeys(self.index.named(self._fold(lot.title)), PRIMARY_WEIGHT)
        for skill_id in self.index.named(fold(lot.description)):
            skills.setdefault(skill_id, DESCRIPTION_WEIGHT)
        return PackageProposal(
            lot_id=lot.id,
            key=WHOLE_LOT,
            name=(lot.title.strip() or f"Lot {lot.source_id}".strip())[:300],
            basis=WHOLE_LOT,
            skills=skills,
            cpv_codes=list(dict.fromkeys(code for code in lot.cpv_codes if code)),
            totals=Totals(),
        )


def propose_split(
    lots: Sequence[LotInput],
    lines: Iterable[LineInput],
    index: SkillIndex,
    *,
    rules: Sequence[Rule] = (),
    cpv_labels: dict[str, str] | None = None,
    unrecognised_name: str = "Lignes non reconnues",
) -> list[PackageProposal]:
    """Packages for every lot, in the order of `lots`, then of each package's first line."""
    by_lot: dict[int, list[LineInput]] = {lot.id: [] for lot in lots}
    for line in lines:
        if line.lot_id in by_lot:
            by_lot[line.lot_id].append(line)
    splitter = Splitter(index, rules=rules, cpv_labels=cpv_labels, unrecognised_name=unrecognised_name)
    return [package for lot in lots for package in splitter.split_lot(lot, by_lot[lot.id])]
