"""The skills catalogue: the State's SILL 2020 plus the languages, platforms and software it lacks.

Sources, both in `partners/data/`:

- `sill-2020.csv`: the Socle interministériel de logiciels libres 2020 (DINUM / DISIC, Licence
  Ouverte 2.0, https://code.gouv.fr/sill), 225 entries. Names are normalised (`NextCloud` ->
  `Nextcloud`, `Qgis` -> `QGIS`), plug-ins with a generic name get their host's name in front
  (`Mobile` -> `GLPI Mobile`), and a name repeated under another parent gets the parent in brackets.
- `extra_skills.csv`: one row per skill to add or enrich. A row whose name (or alias) is already a
  SILL entry only adds to it (aliases, keywords, upstream project, repository, kind, parent, CPV
  codes); any other row is a new skill.

Keywords are the SILL function and component phrases of two to five words that name one skill only
(a phrase shared by several skills names none of them), plus the ones curated in `extra_skills.csv`.
CPV codes come from the component (a table of 48xxxxxx packages and 72xxxxxx services), plus the
support and maintenance services every skill relates to, plus any curated in `extra_skills.csv`.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from consortium.services import CPV_DATA_DIR
from consortium.text import fold

from .catalogue_tables import (
    COMPONENT_CPV,
    COMPONENTS,
    SECTORS,
    SILL_ALIASES,
    SILL_KINDS,
    SILL_NAMES,
    SILL_NAMES_KEPT_AS_ALIAS,
    SUPPORT_CPV,
)
from .models import Skill, SkillKind, SkillLevel

DATA_DIR = Path(__file__).resolve().parent / "data"
SILL_FILE = DATA_DIR / "sill-2020.csv"
EXTRA_FILE = DATA_DIR / "extra_skills.csv"
MAX_KEYWORDS = 4

LEVEL_WORDS: dict[str, SkillLevel] = {
    **dict.fromkeys(("1", "user", "utilisateur", "utilisatrice", "usager"), SkillLevel.USER),
    **dict.fromkeys(("2", "integrator", "integrateur", "integratrice"), SkillLevel.INTEGRATOR),
    **dict.fromkeys(("3", "expert", "experte", "expertise"), SkillLevel.EXPERT),
    **dict.fromkeys(("4", "contributor", "contributeur", "contributrice"), SkillLevel.CONTRIBUTOR),
    **dict.fromkeys(("5", "maintainer", "mainteneur", "mainteneuse", "mainteneure"), SkillLevel.MAINTAINER),
    **dict.fromkeys(("6", "editor", "editeur", "editrice", "publisher"), SkillLevel.EDITOR),
}
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+|\S+\.(?:org|fr|com|js)\b")
_BRACKETS = re.compile(r"\([^)]*\)?")
_PHRASE_SPLIT = re.compile(r"\s*(?:[,;:&]|\bet/ou\b| - )\s*", re.IGNORECASE)
_GENERIC_LEAD = re.compile(r"^(?:outils?|logiciels?|solution|application)\s+(?:de\s+|d['’]\s*|pour\s+)", re.IGNORECASE)
# Folded words a keyword may not start with (a fragment), and phrases too common in tenders to name one skill.
_FRAGMENT_STARTS = frozenset(
    ("a", "au", "aux", "avec", "d", "de", "des", "du", "en", "et", "l", "la", "le", "les", "ou", "par", "pour", "sur")
)
_COMMON_PHRASES = frozenset(
    {
        "base de donnees",
        "base de donnees relationnelle",
        "cycle de vie",
        "mise a jour",
        "environnement de developpement",
        "gestion de projet",
        "systemes gnu linux",
        "orientee serveur",
        "oriente serveur",
    }
)


@dataclass
class SkillSpec:
    """One skill of the catalogue before it is written."""

    name: str
    kind: str = SkillKind.SOFTWARE
    function: str = ""
    aliases: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    curated_keywords: list[str] = field(default_factory=list)
    upstream_project: str = ""
    repository_url: str = ""
    licence: str = ""
    wikidata_id: str = ""
    parent: str = ""
    sector: str = ""
    component: str = ""
    cpv_codes: list[str] = field(default_factory=list)
    sill_id: int | None = None

    def names(self) -> list[str]:
        return [self.name, *self.aliases]


# --------------------------------------------------------------------------------------------- reading


def _clean_sector(text: str) -> str:
    text = " ".join(text.split())
    return SECTORS.get(fold(text), text)


def _clean_component(text: str) -> str:
    text = " ".join(text.split())
    return COMPONENTS.get(fold(text), text)


def _add_alias(spec: SkillSpec, alias: str) -> None:
    alias = " ".join(alias.split())
    if alias and fold(alias) not in {fold(name) for name in spec.names()}:
        spec.aliases.append(alias)


def read_sill(path: Path = SILL_FILE) -> list[SkillSpec]:
    """The SILL entries, names normalised and made unique."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    specs: list[SkillSpec] = []
    taken: set[str] = set()
    for row in rows:
        raw = " ".join(row["nom"].split())
        name = SILL_NAMES.get(raw, raw)
        parent = " ".join(row["parent"].split())
        parent = SILL_NAMES.get(parent, parent)
        if fold(name) in taken:
            name = f"{name} ({parent})" if parent else f"{name} (SILL {row['ID']})"
        taken.add(fold(name))
        spec = SkillSpec(
            name=name,
            kind=SILL_KINDS.get(name, SkillKind.SOFTWARE),
            function=" ".join(_LINK.sub(r"\1", row["fonction"]).split()),  # "[text](url)" -> "text"
            licence=row["licence"].strip()[:100],
            wikidata_id=row["wikidata"].strip(),
            parent=parent,
            sector=_clean_sector(row["secteur"]),
            component=_clean_component(row["composant"]),
            sill_id=int(row["ID"]),
        )
        if raw in SILL_NAMES_KEPT_AS_ALIAS:
            _add_alias(spec, raw)
        for alias in SILL_ALIASES.get(name, ()):
            _add_alias(spec, alias)
        specs.append(spec)
    return specs


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split("|") if part.strip()]


def merge_extras(specs: list[SkillSpec], path: Path = EXTRA_FILE) -> list[SkillSpec]:
    """`specs` enriched by `extra_skills.csv`, plus its new skills (in file order, after the SILL)."""
    by_name: dict[str, SkillSpec] = {}
    for spec in specs:
        for name in spec.names():
            by_name.setdefault(fold(name), spec)
    result = list(specs)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["name"].strip()
            aliases = _split_list(row["aliases"])
            found = next((by_name[f] for f in map(fold, [name, *aliases]) if f in by_name), None)
            spec = found or SkillSpec(name=name)
            if found is None:
                result.append(spec)
            elif fold(spec.name) != fold(name):
                _add_alias(spec, name)
            for alias in aliases:
                _add_alias(spec, alias)
            for attribute in ("kind", "function", "licence", "sector", "component", "upstream_project"):
                if row[attribute].strip():
                    setattr(spec, attribute, row[attribute].strip())
            if row["repository_url"].strip():
                spec.repository_url = row["repository_url"].strip()
            if row["parent"].strip():
                spec.parent = row["parent"].strip()
            spec.curated_keywords.extend(_split_list(row["keywords"]))
            spec.cpv_codes.extend(_split_list(row["cpv"]))
            for key in map(fold, spec.names()):
                by_name.setdefault(key, spec)
    return result


# ------------------------------------------------------------------------------------ keywords and CPV


def _phrases(text: str) -> list[str]:
    """The keyword candidates of a SILL function or component: "Serveur cartographique (WMS, WFS)" -> one."""
    text = _BRACKETS.sub(" ", _URL.sub(" ", _LINK.sub(r"\1", text)))
    phrases = []
    for part in _PHRASE_SPLIT.split(text):
        part = " ".join(_GENERIC_LEAD.sub("", part.strip(" .-")).split())
        words = fold(part).split()
        fragment = words and (words[0] in _FRAGMENT_STARTS or words[-1] in _FRAGMENT_STARTS)
        if 2 <= len(words) <= 5 and not fragment and " ".join(words) not in _COMMON_PHRASES:
            phrases.append(part.lower())
    return phrases


def assign_keywords(specs: list[SkillSpec]) -> None:
    """Each skill's keywords: its own phrases that no other skill uses, nor any skill's name or alias."""
    own = {id(spec): list(dict.fromkeys(_phrases(spec.function) + _phrases(spec.component))) for spec in specs}
    holders = Counter(
        phrase for spec in specs for phrase in {fold(p) for p in [*own[id(spec)], *spec.curated_keywords]}
    )
    names = {fold(name) for spec in specs for name in spec.names()}
    for spec in specs:
        unique = [p for p in own[id(spec)] if holders[fold(p)] == 1 and fold(p) not in names]
        keywords = list(dict.fromkeys([*spec.curated_keywords, *unique]))
        spec.keywords = keywords[:MAX_KEYWORDS]


def assign_cpv_codes(specs: list[SkillSpec]) -> None:
    for spec in specs:
        from_component = COMPONENT_CPV.get(fold(spec.component), ())
        spec.cpv_codes = list(dict.fromkeys([*spec.cpv_codes, *from_component, *SUPPORT_CPV]))


@cache
def known_cpv_codes() -> frozenset[str]:
    """The 8-digit codes of the CPV catalogue file (no database needed)."""
    with (CPV_DATA_DIR / "cpv_fr.csv").open(encoding="utf-8-sig", newline="") as handle:
        return frozenset(row["CODE"].split("-")[0] for row in csv.DictReader(handle))


def catalogue_specs() -> list[SkillSpec]:
    """Every skill of the catalogue, ready to write; raises ValueError on an inconsistent data file."""
    specs = merge_extras(read_sill())
    assign_keywords(specs)
    assign_cpv_codes(specs)
    known = known_cpv_codes()
    names = {fold(name) for spec in specs for name in spec.names()}
    for spec in specs:
        unknown = [code for code in spec.cpv_codes if code not in known]
        if unknown:
            raise ValueError(f"skill {spec.name!r}: CPV codes not in the catalogue: {unknown}")
        if spec.parent and fold(spec.parent) not in names:
            raise ValueError(f"skill {spec.name!r}: unknown parent {spec.parent!r}")
        if spec.kind not in SkillKind.values:
            raise ValueError(f"skill {spec.name!r}: unknown kind {spec.kind!r}")
    return specs


# ------------------------------------------------------------------------------------------- writing

FIELDS = (
    "name",
    "kind",
    "function",
    "aliases",
    "keywords",
    "upstream_project",
    "repository_url",
    "licence",
    "wikidata_id",
    "sector",
    "component",
    "cpv_codes",
    "sill_id",
)


def _unique_slug(name: str, taken: set[str]) -> str:
    base = (slugify(name.replace("+", " plus").replace("#", " sharp")) or "skill")[:190]
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    taken.add(slug)
    return slug


@transaction.atomic
def load_skill_catalogue() -> int:
    """Create or update every catalogue skill (SILL rows by SILL id, the others by name); returns their number.

    Skills added by hand are left alone, unless one bears a catalogue name: it then becomes that entry.
    """
    specs = catalogue_specs()
    existing = list(Skill.objects.all())
    by_sill = {skill.sill_id: skill for skill in existing if skill.sill_id is not None}
    by_name = {fold(skill.name): skill for skill in existing}
    slugs = {skill.slug for skill in existing}
    to_create, to_update, skills = [], [], []
    for spec in specs:
        skill = by_sill.get(spec.sill_id) if spec.sill_id is not None else None
        skill = skill or by_name.get(fold(spec.name))
        if skill is None:
            skill = Skill(slug=_unique_slug(spec.name, slugs))
            to_create.append(skill)
        else:
            to_update.append(skill)
        for attribute in FIELDS:
            setattr(skill, attribute, getattr(spec, attribute))
        skills.append(skill)
    Skill.objects.bulk_update(to_update, list(FIELDS), batch_size=500)
    Skill.objects.bulk_create(to_create, batch_size=500)
    if any(skill.pk is None for skill in to_create):  # a database that does not return ids
        ids = dict(Skill.objects.filter(name__in=[s.name for s in to_create]).values_list("name", "pk"))
        for skill in to_create:
            skill.pk = ids[skill.name]
    ids_by_name = {fold(alias): skill.pk for spec, skill in zip(specs, skills, strict=True) for alias in spec.aliases}
    ids_by_name.update({fold(spec.name): skill.pk for spec, skill in zip(specs, skills, strict=True)})
    for spec, skill in zip(specs, skills, strict=True):
        skill.parent_id = ids_by_name[fold(spec.parent)] if spec.parent else None
    Skill.objects.bulk_update(skills, ["parent"], batch_size=500)
    return len(specs)


# ------------------------------------------------------------------------------------------- reading


# Ways to name a skill that the import accepts but the splitting engine must not look for in designations:
# "Go" is also the French gigabyte ("100 Go").
LOOKUP_ONLY = {"go": "Go (langage)"}


def skill_lookup(skills: Iterable[Skill] | None = None) -> dict[str, int]:
    """Folded name, slug or alias -> skill id; a skill's own name wins over another skill's alias."""
    rows = list(skills) if skills is not None else list(Skill.objects.only("pk", "name", "slug", "aliases"))
    lookup: dict[str, int] = {}
    for skill in rows:
        for alias in skill.aliases if isinstance(skill.aliases, list) else []:
            lookup.setdefault(fold(str(alias)), skill.pk)
    for skill in rows:
        lookup[fold(skill.slug)] = skill.pk
    for skill in rows:
        lookup[fold(skill.name)] = skill.pk
    by_name = {fold(skill.name): skill.pk for skill in rows}
    for key, target in LOOKUP_ONLY.items():
        if key not in lookup and fold(target) in by_name:
            lookup[key] = by_name[fold(target)]
    lookup.pop("", None)
    return lookup


def resolve_skill(text: str) -> Skill | None:
    """The skill `text` names (name, alias or slug, however cased or accented), or None."""
    key = fold(text)
    if not key:
        return None
    skill_id = skill_lookup().get(key)
    return Skill.objects.filter(pk=skill_id).first() if skill_id is not None else None


def parse_level(text: str) -> SkillLevel | None:
    """A level from its English or French name (any case or accents) or its rank 1-6, else None."""
    return LEVEL_WORDS.get(fold(str(text)))
