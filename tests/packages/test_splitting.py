"""The splitting engine alone: plain data in, proposals out."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bids import splitting
from bids.models import PackageBasis
from bids.splitting import CatalogueSkill, LineInput, LotInput, Rule, SkillIndex, propose_split

CATALOGUE = [
    CatalogueSkill(1, "PostgreSQL", aliases=("Postgres",)),
    CatalogueSkill(2, "PostGIS", parent_id=1),
    CatalogueSkill(3, "Apache HTTP Server", aliases=("Apache httpd", "httpd")),
    CatalogueSkill(4, "Apache Tomcat", aliases=("Tomcat",)),
    CatalogueSkill(5, "OCS Inventory", aliases=()),
    CatalogueSkill(6, "OCS Inventory NG"),
    CatalogueSkill(7, "Java (OpenJDK)", aliases=("OpenJDK", "Java")),
    CatalogueSkill(8, "R", aliases=("langage R",)),
    CatalogueSkill(9, "Nextcloud", keywords=("partage de fichiers",)),
    CatalogueSkill(10, "Moodle", keywords=("formation en ligne",)),
]
INDEX = SkillIndex(CATALOGUE)
LOT = LotInput(100, "LOT-1", "Support", cpv_codes=("72267000",))


def lines(*designations: str, **fields: str) -> list[LineInput]:
    return [LineInput(n, LOT.id, n, text, **fields) for n, text in enumerate(designations, start=1)]


def names(packages: list[splitting.PackageProposal]) -> list[str]:
    return [package.name for package in packages]


def test_basis_values_match_the_model() -> None:
    engine = {splitting.SKILL, splitting.CPV, splitting.SECTION, splitting.RULE, splitting.WHOLE_LOT}
    assert engine | {splitting.UNRECOGNISED} <= set(PackageBasis.values)


def test_lines_group_by_the_software_they_name() -> None:
    packages = propose_split(
        [LOT],
        lines(
            "Journée d'expertise PostgreSQL — niveau 3",
            "Ticket de support — correctif Apache HTTP Server",
            "Forfait maintenance composant postgresql (mois)",
            "Installation et paramétrage Apache httpd",
        ),
        INDEX,
    )
    assert names(packages) == ["PostgreSQL", "Apache HTTP Server"]
    assert [package.line_ids for package in packages] == [[1, 3], [2, 4]]
    assert {package.basis for package in packages} == {"skill"}
    assert packages[0].skills == {1: 10}


def test_the_longest_phrase_wins() -> None:
    packages = propose_split(
        [LOT],
        lines("Support OCS Inventory NG", "Support OCS Inventory", "Journée Java (OpenJDK)", "Montée de version Java"),
        INDEX,
    )
    assert names(packages) == ["OCS Inventory NG", "OCS Inventory", "Java (OpenJDK)"]
    assert packages[2].line_ids == [3, 4]


def test_a_name_beats_a_keyword_and_one_letter_names_are_ignored() -> None:
    index_hits = INDEX.best("journee d expertise nextcloud partage de fichiers")
    assert index_hits is not None and index_hits.skill_id == 9
    assert INDEX.best("unite d oeuvre r") is None
    assert INDEX.best("formation au langage r") is not None


def test_a_keyword_alone_still_places_the_line() -> None:
    packages = propose_split([LOT], lines("Plateforme de formation en ligne : hébergement"), INDEX)
    assert names(packages) == ["Moodle"]


def test_parent_skill_is_a_secondary_requirement() -> None:
    [package] = propose_split([LOT], lines("Expertise PostGIS"), INDEX)
    assert package.skills == {2: 10, 1: 5}


def test_saved_rules_come_first() -> None:
    rules = [Rule("serveur d'applications", "Serveurs d'applications Java", skill_id=4)]
    packages = propose_split(
        [LOT],
        lines("Serveur d’applications Tomcat — support", "Expertise PostgreSQL", "Serveur d'applications WildFly"),
        INDEX,
        rules=rules,
    )
    assert names(packages) == ["Serveurs d'applications Java", "PostgreSQL"]
    assert packages[0].basis == "rule"
    assert packages[0].line_ids == [1, 3]
    assert packages[0].skills == {4: 10}


def test_rules_match_whole_words_only() -> None:
    rules = [Rule("api", "API")]
    packages = propose_split([LOT], lines("Rapide intervention"), INDEX, rules=rules)
    assert packages[0].basis == "unrecognised"


def test_cpv_then_section_then_unrecognised() -> None:
    line_list = [
        LineInput(1, LOT.id, 1, "Maintenance corrective", cpv="50324100"),
        LineInput(2, LOT.id, 2, "Hébergement", section="Infrastructure"),
        LineInput(3, LOT.id, 3, "Prestation diverse"),
        LineInput(4, LOT.id, 4, "Sauvegarde", section="Infrastructure", cpv=""),
        LineInput(5, LOT.id, 5, "Ticket", section="PostgreSQL et extensions"),
    ]
    packages = propose_split([LOT], line_list, INDEX, cpv_labels={"50324100": "Services de maintenance de systèmes"})
    assert [(package.name, package.basis, package.line_ids, package.flagged) for package in packages] == [
        ("Services de maintenance de systèmes", "cpv", [1], False),
        ("Infrastructure", "section", [2, 4], False),
        ("Lignes non reconnues", "unrecognised", [3], True),
        ("PostgreSQL", "skill", [5], False),
    ]


def test_the_one_software_a_lot_title_names_takes_the_generic_lines() -> None:
    lot = LotInput(7, "LOT-7", "Support de la plateforme Moodle")
    [package] = propose_split([lot], [LineInput(1, 7, 1, "Journée d'expertise niveau 2")], INDEX)
    assert package.name == "Moodle"
    two = LotInput(8, "LOT-8", "Support PostgreSQL et Nextcloud")
    [package] = propose_split([two], [LineInput(1, 8, 1, "Journée d'expertise niveau 2")], INDEX)
    assert package.flagged


def test_a_lot_without_lines_is_one_package_with_the_software_its_title_names() -> None:
    lot = LotInput(9, "LOT-9", "Maintenance PostgreSQL et PostGIS", "Hébergement Nextcloud", ("72267000",))
    [package] = propose_split([lot], [], INDEX)
    assert (package.name, package.basis, package.line_ids) == ("Maintenance PostgreSQL et PostGIS", "lot", [])
    assert package.skills == {1: 10, 2: 10, 9: 6}
    assert package.cpv_codes == ["72267000"]
    [unnamed] = propose_split([LotInput(10, "LOT-10")], [], INDEX)
    assert unnamed.name == "Lot LOT-10"


def test_totals_value_days_and_cpv() -> None:
    line_list = [
        LineInput(
            1, LOT.id, 1, "Expertise PostgreSQL", unit="jour", quantity=Decimal("10"), unit_price=Decimal("850.5")
        ),
        LineInput(2, LOT.id, 2, "Ticket PostgreSQL", unit="ticket", quantity=Decimal("3"), unit_price=Decimal("0.333")),
        LineInput(3, LOT.id, 3, "Astreinte PostgreSQL", unit="J/H", quantity=Decimal("2.5"), cpv="72267000"),
        LineInput(4, LOT.id, 4, "Audit PostgreSQL", unit="demi-journée", quantity=Decimal("3"), cpv="72000000"),
    ]
    [package] = propose_split([LOT], line_list, INDEX)
    assert package.totals.line_count == 4
    assert package.totals.estimated_value == Decimal("8506.00")  # 8505 + 0.999, rounded once
    assert package.totals.estimated_days == Decimal("14.0")
    assert package.cpv_codes == ["72267000", "72000000"]


def test_no_value_and_no_days_when_unknown() -> None:
    totals = splitting.totals(lines("Expertise", unit="ticket"))
    assert (totals.estimated_value, totals.estimated_days) == (None, None)


def test_day_units() -> None:
    for unit in ("jour", "Jours", "j", "JH", "j/h", "homme-jour", "jour-homme", "day", "days", "man-day"):
        assert splitting.is_day_unit(unit), unit
    for unit in ("ticket", "mois", "forfait", "UO", "heure"):
        assert not splitting.is_day_unit(unit), unit


def test_packages_are_ordered_by_their_first_line_and_lots_kept_apart() -> None:
    other = LotInput(200, "LOT-2")
    line_list = [
        LineInput(1, 200, 10, "Expertise Tomcat"),
        LineInput(2, LOT.id, 3, "Expertise Nextcloud"),
        LineInput(3, LOT.id, 1, "Expertise PostgreSQL"),
        LineInput(4, 200, 11, "Expertise PostgreSQL"),
        LineInput(5, 999, 12, "A line of a lot not being split"),
    ]
    packages = propose_split([LOT, other], line_list, INDEX)
    assert [(package.lot_id, package.name) for package in packages] == [
        (100, "PostgreSQL"),
        (100, "Nextcloud"),
        (200, "Apache Tomcat"),
        (200, "PostgreSQL"),
    ]


WORDS = st.sampled_from(
    ["PostgreSQL", "Tomcat", "support", "journée", "OCS", "Inventory", "NG", "Java", "(OpenJDK)", "R", "d'", "x"]
)


@given(
    st.lists(
        st.tuples(
            st.lists(WORDS, max_size=6).map(" ".join), st.sampled_from(["", "50000000"]), st.sampled_from(["", "S"])
        ),
        max_size=40,
    )
)
def test_every_line_lands_in_exactly_one_package(rows: list[tuple[str, str, str]]) -> None:
    line_list = [LineInput(n, LOT.id, n, text, cpv=cpv, section=section) for n, (text, cpv, section) in enumerate(rows)]
    packages = propose_split([LOT], line_list, INDEX)
    placed = [line_id for package in packages for line_id in package.line_ids]
    assert sorted(placed) == [line.id for line in line_list]
    assert len({package.key for package in packages}) == len(packages)
    assert all(1 <= weight <= 10 for package in packages for weight in package.skills.values())
