"""The skills catalogue: SILL 2020 plus the languages and platforms it lacks, names, aliases, levels, CPV."""

from __future__ import annotations

import pytest

from bids.schedule_samples import SOFTWARE_FAMILIES
from consortium.models import CpvCode
from consortium.services import load_cpv_catalogue
from consortium.text import fold
from partners.catalogue import catalogue_specs, load_skill_catalogue, parse_level, resolve_skill, skill_lookup
from partners.models import Skill, SkillKind, SkillLevel

pytestmark = pytest.mark.django_db

SILL_ENTRIES = 225


def test_every_sill_entry_and_the_extras_are_loaded_once() -> None:
    count = load_skill_catalogue()
    assert count == Skill.objects.count()
    assert Skill.objects.filter(sill_id__isnull=False).count() == SILL_ENTRIES
    extras = Skill.objects.filter(sill_id__isnull=True)
    assert extras.count() >= 25
    assert count >= SILL_ENTRIES + 25
    before = dict(Skill.objects.values_list("pk", "name"))
    assert load_skill_catalogue() == count  # again: updates, never duplicates
    assert dict(Skill.objects.values_list("pk", "name")) == before


def test_a_skill_edited_by_hand_is_refreshed_and_one_added_by_hand_is_kept() -> None:
    load_skill_catalogue()
    postgres = Skill.objects.get(name="PostgreSQL")
    postgres.aliases = []
    postgres.save()
    own = Skill.objects.create(name="Savoir-faire maison", slug="savoir-faire-maison", kind=SkillKind.PRACTICE)
    load_skill_catalogue()
    assert "Postgres" in Skill.objects.get(pk=postgres.pk).aliases
    assert Skill.objects.filter(pk=own.pk).exists()


def test_every_software_of_the_sample_schedules_resolves() -> None:
    load_skill_catalogue()
    for _family, programs in SOFTWARE_FAMILIES:
        for program in programs:
            assert resolve_skill(program) is not None, program


NAMES = [
    ("Postgres", "PostgreSQL"),
    ("postgresql", "PostgreSQL"),
    ("NextCloud", "Nextcloud"),
    ("OCS Inventory NG", "OCS Inventory"),
    ("OCS", "OCS Inventory"),
    ("Apache httpd", "Apache HTTP Server"),
    ("apache2", "Apache HTTP Server"),
    ("Java (OpenJDK)", "Java"),
    ("OpenJDK", "OpenJDK"),
    ("Qgis", "QGIS"),
    ("Wordpress", "WordPress"),
    ("libre office", "LibreOffice"),
    ("Mozilla Firefox (Extended Support Release)", "Firefox"),
    ("NodeJS", "Node.js"),
    ("K8s", "Kubernetes"),
    ("RHEL", "Red Hat Enterprise Linux"),
    ("Terraform", "Terraform"),
    ("Go", "Go (langage)"),
    ("golang", "Go (langage)"),
    ("c++", "C++"),
    ("Éditeur inconnu", None),
    ("", None),
]


def test_names_and_aliases_resolve() -> None:
    load_skill_catalogue()
    resolved = [(text, getattr(resolve_skill(text), "name", None)) for text, _name in NAMES]
    assert resolved == NAMES


def test_sill_entries_keep_their_data_and_parents() -> None:
    load_skill_catalogue()
    postgres = Skill.objects.get(name="PostgreSQL")
    assert postgres.sill_id == 118
    assert postgres.wikidata_id == "Q192490"
    assert postgres.licence == "PostgreSQL"
    assert postgres.sector == "Données et contenu"
    assert postgres.repository_url.startswith("https://git.postgresql.org/")
    assert Skill.objects.get(name="Debian").kind == SkillKind.PLATFORM
    assert Skill.objects.get(name="Python").kind == SkillKind.LANGUAGE
    assert Skill.objects.get(name="FusionInventory").parent == Skill.objects.get(name="GLPI")
    assert Skill.objects.get(name="Agent OCS").parent == Skill.objects.get(name="OCS Inventory")
    assert Skill.objects.get(name="PostGIS").parent == postgres
    # One SILL name, two parents: the second is told apart by its parent.
    assert Skill.objects.get(sill_id=56).name == "Grammalecte"
    assert Skill.objects.get(sill_id=57).name == "Grammalecte (Firefox)"
    # A plug-in's generic name gets its host's in front, so "PDF" in a designation does not name it.
    assert Skill.objects.get(sill_id=111).name == "GLPI PDF"
    assert "pdf" not in skill_lookup()


def test_names_are_unique_once_folded_and_contain_no_item_separator() -> None:
    names = [fold(spec.name) for spec in catalogue_specs()]
    assert len(names) == len(set(names))
    assert not [spec.name for spec in catalogue_specs() if set(spec.name) & {";", ","}]


def test_keywords_name_one_skill_only() -> None:
    specs = catalogue_specs()
    seen: dict[str, str] = {}
    names = {fold(name) for spec in specs for name in spec.names()}
    for spec in specs:
        for keyword in spec.keywords:
            assert fold(keyword) not in seen, (keyword, spec.name, seen.get(fold(keyword)))
            assert fold(keyword) not in names
            assert 1 <= len(fold(keyword).split()) <= 6
            seen[fold(keyword)] = spec.name
    glpi = next(spec for spec in specs if spec.name == "GLPI")
    assert "gestion de parc" in glpi.keywords
    assert "base de données" not in [k for spec in specs for k in spec.keywords]


def test_every_cpv_code_exists_in_the_cpv_catalogue() -> None:
    load_cpv_catalogue()
    load_skill_catalogue()
    known = set(CpvCode.objects.values_list("code", flat=True))
    for skill in Skill.objects.all():
        assert skill.cpv_codes, skill.name
        assert set(skill.cpv_codes) <= known, skill.name
        assert any(code.startswith("48") for code in skill.cpv_codes), skill.name
        assert any(code.startswith("72") for code in skill.cpv_codes), skill.name
    assert "48612000" in Skill.objects.get(name="PostgreSQL").cpv_codes  # database management systems
    assert "48190000" in Skill.objects.get(name="Moodle").cpv_codes  # educational software


def test_slugs_are_unique_and_readable() -> None:
    load_skill_catalogue()
    assert Skill.objects.get(name="C++").slug == "c-plus-plus"
    assert Skill.objects.get(name="C").slug == "c"
    slugs = list(Skill.objects.values_list("slug", flat=True))
    assert len(slugs) == len(set(slugs))


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("user", SkillLevel.USER),
        ("Utilisateur", SkillLevel.USER),
        ("integrator", SkillLevel.INTEGRATOR),
        ("intégrateur", SkillLevel.INTEGRATOR),
        ("INTEGRATEUR", SkillLevel.INTEGRATOR),
        ("expert", SkillLevel.EXPERT),
        ("contributeur", SkillLevel.CONTRIBUTOR),
        ("contributor", SkillLevel.CONTRIBUTOR),
        ("mainteneur", SkillLevel.MAINTAINER),
        ("Maintainer", SkillLevel.MAINTAINER),
        ("éditeur", SkillLevel.EDITOR),
        ("editor", SkillLevel.EDITOR),
        ("6", SkillLevel.EDITOR),
        (" 1 ", SkillLevel.USER),
        ("7", None),
        ("0", None),
        ("guru", None),
        ("", None),
    ],
)
def test_parse_level(text: str, level: SkillLevel | None) -> None:
    assert parse_level(text) == level
