"""The split service on a realistic support schedule, and each bulk correction."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bids.models import (
    Assignment,
    Line,
    Lot,
    PackageBasis,
    PackageSkill,
    SplitRule,
    Tender,
    WorkPackage,
)
from bids.schedule_samples import SOFTWARE_FAMILIES
from bids.services.packages import (
    PackageChangeRefused,
    merge_packages,
    move_lines,
    rename_package,
    save_rule,
    set_requirements,
    split_package,
    split_tender,
)
from consortium.models import AuditEvent
from consortium.text import fold
from partners.models import Skill

from .conftest import lot_of, make_catalogue, support_tender

pytestmark = pytest.mark.django_db

SOFTWARE = {name for _family, programs in SOFTWARE_FAMILIES for name in programs}


def package_named(lot: Lot, name: str) -> WorkPackage:
    return WorkPackage.objects.get(lot=lot, name=name)


def test_support_schedule_splits_into_one_package_per_software(tender: Tender, bid_manager: Any) -> None:
    summary = split_tender(actor=bid_manager, tender=tender)
    lines = Line.objects.filter(tender=tender)
    assert summary.lines == lines.count() == 180
    assert not lines.filter(work_package__isnull=True).exists()
    for lot in tender.lots.all():
        packages = WorkPackage.objects.filter(lot=lot)
        assert {package.name for package in packages} == SOFTWARE
        assert sum(package.line_count for package in packages) == lot.lines.count()
        assert not packages.filter(flagged=True).exists()
        # Every line is in a package of its own lot, named after the software it names.
        for package in packages:
            designations = list(package.lines.values_list("designation", "lot_id"))
            assert {lot_id for _text, lot_id in designations} == {lot.pk}
            assert all(package.name in text for text, _lot in designations), package.name
    assert summary.flagged == 0
    assert summary.packages == WorkPackage.objects.filter(tender=tender).count() == 2 * len(SOFTWARE)
    assert AuditEvent.objects.filter(action="tender.split", object_id=str(tender.pk)).count() == 1


def test_package_requirements_values_and_days(tender: Tender) -> None:
    split_tender(actor=None, tender=tender)
    lot = lot_of(tender, "LOT-0001")
    postgis = package_named(lot, "PostGIS")
    assert dict(postgis.required_skills.values_list("skill__name", "weight")) == {"PostGIS": 10, "PostgreSQL": 5}
    assert set(postgis.required_skills.values_list("inferred", flat=True)) == {True}
    assert postgis.cpv_codes[: len(lot.cpv_codes or tender.cpv_codes)] == (lot.cpv_codes or tender.cpv_codes)
    expected_value = sum((line.quantity * line.unit_price for line in postgis.lines.all()), Decimal(0)).quantize(
        Decimal("0.01")
    )
    assert postgis.estimated_value == expected_value
    day_lines = postgis.lines.filter(unit="jour")
    if day_lines.exists():
        assert postgis.estimated_days == sum(line.quantity for line in day_lines)
    else:
        assert postgis.estimated_days is None
    # Positions follow the first line of each package.
    positions = list(WorkPackage.objects.filter(lot=lot).values_list("position", flat=True))
    firsts = [package.lines.order_by("position").first().position for package in WorkPackage.objects.filter(lot=lot)]
    assert positions == sorted(positions) == firsts


def test_unrecognised_lines_are_flagged(samples: Path) -> None:
    make_catalogue(without=("Moodle", "GeoServer"))
    tender = support_tender(samples, lines=180)
    Line.objects.filter(tender=tender).update(section="")  # no section to fall back on
    split_tender(actor=None, tender=tender)
    flagged = WorkPackage.objects.get(lot=lot_of(tender, "LOT-0001"), flagged=True)
    assert flagged.basis == PackageBasis.UNRECOGNISED
    texts = list(flagged.lines.values_list("designation", flat=True))
    assert texts and all("Moodle" in text or "GeoServer" in text for text in texts)


def test_section_and_cpv_fallbacks(samples: Path, cpv_codes: None) -> None:
    make_catalogue(without=("Moodle",))
    tender = support_tender(samples, lines=180)
    lot = lot_of(tender, "LOT-0001")
    moodle = Line.objects.filter(lot=lot, designation__contains="Moodle")
    first = moodle.first()
    assert first is not None
    Line.objects.filter(pk=first.pk).update(cpv="48000000")
    split_tender(actor=None, tender=tender)
    by_cpv = WorkPackage.objects.get(lot=lot, basis=PackageBasis.CPV)
    assert by_cpv.name == "Logiciels et systèmes d'information"
    assert list(by_cpv.lines.values_list("pk", flat=True)) == [first.pk]
    assert "48000000" in by_cpv.cpv_codes
    by_section = WorkPackage.objects.get(lot=lot, basis=PackageBasis.SECTION)
    assert by_section.name == "FORMATION EN LIGNE"
    assert by_section.line_count == moodle.count() - 1


def test_lot_without_lines_is_one_package(samples: Path, catalogue: dict[str, Skill]) -> None:
    tender = support_tender(samples, lines=30, lots=[("1", "Support")])
    empty = lot_of(tender, "LOT-0002")
    Lot.objects.filter(pk=empty.pk).update(title="Maintenance Nextcloud")
    split_tender(actor=None, tender=tender)
    [package] = WorkPackage.objects.filter(lot=empty)
    assert (package.name, package.basis, package.line_count) == ("Maintenance Nextcloud", PackageBasis.WHOLE_LOT, 0)
    assert list(package.required_skills.values_list("skill__name", "weight")) == [("Nextcloud", 10)]


def test_withdrawn_lots_are_skipped(tender: Tender) -> None:
    Lot.objects.filter(pk=lot_of(tender, "LOT-0002").pk).update(withdrawn=True)
    summary = split_tender(actor=None, tender=tender)
    assert summary.lots == 1
    assert not WorkPackage.objects.filter(lot__source_id="LOT-0002").exists()
    assert Line.objects.filter(lot__source_id="LOT-0002", work_package__isnull=True).count() == 90


def test_resplit_replaces_packages_and_their_assignments(tender: Tender) -> None:
    split_tender(actor=None, tender=tender)
    old = list(WorkPackage.objects.values_list("pk", flat=True))
    Assignment.objects.create(package_id=old[0])
    split_tender(actor=None, tender=tender, lots=[lot_of(tender, "LOT-0001")])
    assert not Assignment.objects.exists()
    kept = set(WorkPackage.objects.filter(lot__source_id="LOT-0002").values_list("pk", flat=True))
    assert kept <= set(old)
    assert not WorkPackage.objects.filter(pk__in=old, lot__source_id="LOT-0001").exists()
    assert not Line.objects.filter(tender=tender, work_package__isnull=True).exists()


def test_split_refuses_a_lot_of_another_tender(tender: Tender, samples: Path) -> None:
    other = Tender.objects.create(title="autre", source_format="xlsx")
    lot = Lot.objects.create(tender=other, source_id="X")
    with pytest.raises(PackageChangeRefused):
        split_tender(actor=None, tender=tender, lots=[lot])


def test_rules_saved_on_one_tender_are_reused_on_the_next(samples: Path, bid_manager: Any) -> None:
    skills = make_catalogue()
    first = support_tender(samples, lines=90, lots=[("1", "Support")])
    split_tender(actor=bid_manager, tender=first)
    save_rule(actor=bid_manager, pattern="Veille de sécurité", package_name="Veille sécurité", skill=skills["Debian"])
    assert SplitRule.objects.count() == 1
    # Same rule typed differently: updated, not duplicated.
    rule = save_rule(actor=bid_manager, pattern="veille de securite", package_name="Veille de sécurité")
    assert SplitRule.objects.count() == 1 and rule.skill is None
    rule = save_rule(
        actor=bid_manager, pattern="VEILLE DE SÉCURITÉ", package_name="Veille de sécurité", skill=skills["Debian"]
    )
    second = support_tender(samples, lines=600, lots=[("1", "Support")], notice_name="eforms/cn_24_multilingual.xml")
    assert second.pk != first.pk
    split_tender(actor=bid_manager, tender=second)
    package = WorkPackage.objects.get(tender=second, name="Veille de sécurité")
    assert package.basis == PackageBasis.RULE
    texts = list(package.lines.values_list("designation", flat=True))
    assert texts and all(text.startswith("Veille de sécurité") for text in texts)
    assert list(package.required_skills.values_list("skill__name", "weight")) == [("Debian", 10)]
    assert not Line.objects.filter(
        tender=second, designation__startswith="Veille", work_package__name="PostgreSQL"
    ).exists()


def test_save_rule_refuses_a_short_pattern() -> None:
    with pytest.raises(PackageChangeRefused, match="au moins 3"):
        save_rule(actor=None, pattern=" - ", package_name="X")


def test_move_lines_between_packages_of_a_lot(tender: Tender, bid_manager: Any) -> None:
    split_tender(actor=None, tender=tender)
    lot = lot_of(tender, "LOT-0001")
    source, target = package_named(lot, "MariaDB"), package_named(lot, "PostgreSQL")
    before = target.line_count
    line_ids = list(source.lines.values_list("pk", flat=True)[:2])
    assert move_lines(actor=bid_manager, tender=tender, line_ids=line_ids, target=target, source=source) == 2
    target.refresh_from_db()
    source.refresh_from_db()
    assert target.line_count == before + 2 and source.line_count == source.lines.count()
    assert set(target.lines.filter(pk__in=line_ids).values_list("pk", flat=True)) == set(line_ids)
    # MariaDB lines now in the PostgreSQL package make MariaDB a (lighter) requirement too.
    weights = dict(target.required_skills.values_list("skill__name", "weight"))
    assert weights["PostgreSQL"] == 10 and 1 <= weights["MariaDB"] < 10
    assert AuditEvent.objects.filter(action="package.lines_moved").count() == 1
    # The same form posted again is stale: the lines already left MariaDB.
    with pytest.raises(PackageChangeRefused, match="rechargez"):
        move_lines(actor=bid_manager, tender=tender, line_ids=line_ids, target=target, source=source)


def test_moving_every_line_deletes_the_emptied_package(tender: Tender) -> None:
    split_tender(actor=None, tender=tender)
    lot = lot_of(tender, "LOT-0001")
    source, target = package_named(lot, "PHP"), package_named(lot, "Python")
    move_lines(actor=None, tender=tender, line_ids=list(source.lines.values_list("pk", flat=True)), target=target)
    assert not WorkPackage.objects.filter(pk=source.pk).exists()
    target.refresh_from_db()
    assert target.line_count == target.lines.count()


def test_lines_stay_in_their_lot(tender: Tender) -> None:
    split_tender(actor=None, tender=tender)
    source = package_named(lot_of(tender, "LOT-0001"), "PostgreSQL")
    target = package_named(lot_of(tender, "LOT-0002"), "PostgreSQL")
    line_ids = list(source.lines.values_list("pk", flat=True)[:1])
    with pytest.raises(PackageChangeRefused, match="reste dans son lot"):
        move_lines(actor=None, tender=tender, line_ids=line_ids, target=target)
    assert source.lines.count() == source.line_count


def test_merge_packages(tender: Tender, bid_manager: Any) -> None:
    split_tender(actor=None, tender=tender)
    lot = lot_of(tender, "LOT-0001")
    names = ["PostgreSQL", "MariaDB", "PostGIS"]
    packages = [package_named(lot, name) for name in names]
    total = sum(package.line_count for package in packages)
    merged = merge_packages(
        actor=bid_manager, tender=tender, package_ids=[package.pk for package in packages], name="Bases de données"
    )
    assert merged.name == "Bases de données" and merged.basis == PackageBasis.MANUAL
    assert merged.line_count == merged.lines.count() == total
    assert WorkPackage.objects.filter(pk__in=[package.pk for package in packages]).count() == 1
    assert set(merged.required_skills.values_list("skill__name", flat=True)) == set(names)
    with pytest.raises(PackageChangeRefused, match="rechargez"):
        merge_packages(actor=None, tender=tender, package_ids=[package.pk for package in packages], name="Encore")


def test_merge_refuses_packages_of_two_lots_and_a_single_package(tender: Tender) -> None:
    split_tender(actor=None, tender=tender)
    one = package_named(lot_of(tender, "LOT-0001"), "Nginx")
    two = package_named(lot_of(tender, "LOT-0002"), "Nginx")
    with pytest.raises(PackageChangeRefused, match="même lot"):
        merge_packages(actor=None, tender=tender, package_ids=[one.pk, two.pk], name="Nginx")
    with pytest.raises(PackageChangeRefused, match="au moins deux"):
        merge_packages(actor=None, tender=tender, package_ids=[one.pk], name="Nginx")
    with pytest.raises(PackageChangeRefused, match="nom"):
        merge_packages(actor=None, tender=tender, package_ids=[one.pk, two.pk], name="   ")


def test_split_package(tender: Tender, bid_manager: Any) -> None:
    split_tender(actor=None, tender=tender)
    package = package_named(lot_of(tender, "LOT-0001"), "PostgreSQL")
    before = package.line_count
    training = list(package.lines.filter(designation__contains="formation").values_list("pk", flat=True))
    if not training:
        training = list(package.lines.values_list("pk", flat=True)[:1])
    created = split_package(actor=bid_manager, package=package, line_ids=training, name="Formation PostgreSQL")
    package.refresh_from_db()
    assert created.lot_id == package.lot_id and created.basis == PackageBasis.MANUAL
    assert created.line_count == len(training) and package.line_count == before - len(training)
    assert list(created.required_skills.values_list("skill__name", flat=True)) == ["PostgreSQL"]
    everything = list(package.lines.values_list("pk", flat=True))
    with pytest.raises(PackageChangeRefused, match="Laissez au moins une ligne"):
        split_package(actor=None, package=package, line_ids=everything, name="Tout")
    with pytest.raises(PackageChangeRefused, match="rechargez"):
        split_package(actor=None, package=package, line_ids=training, name="Encore")


def test_rename_clears_the_flag(samples: Path) -> None:
    make_catalogue(without=("Moodle",))
    tender = support_tender(samples)
    Line.objects.filter(tender=tender).update(section="")
    split_tender(actor=None, tender=tender)
    flagged = WorkPackage.objects.filter(tender=tender, flagged=True).first()
    assert flagged is not None
    rename_package(actor=None, package=flagged, name="  Plateforme   Moodle ")
    flagged.refresh_from_db()
    assert (flagged.name, flagged.flagged) == ("Plateforme Moodle", False)
    with pytest.raises(PackageChangeRefused):
        rename_package(actor=None, package=flagged, name="x" * 301)


def test_set_requirements_confirms_and_survives_moves(
    tender: Tender, catalogue: dict[str, Skill], cpv_codes: None
) -> None:
    split_tender(actor=None, tender=tender)
    lot = lot_of(tender, "LOT-0001")
    package = package_named(lot, "Keycloak")
    set_requirements(
        actor=None,
        package=package,
        skills=[(catalogue["Keycloak"], 9), (catalogue["OpenLDAP"], 4)],
        cpv_codes=["72267000-4", "48000000"],
    )
    package.refresh_from_db()
    assert package.cpv_codes == ["72267000", "48000000"]
    assert set(PackageSkill.objects.filter(package=package).values_list("skill__name", "weight", "inferred")) == {
        ("Keycloak", 9, False),
        ("OpenLDAP", 4, False),
    }
    # Moving a line in keeps what a person confirmed.
    line = package_named(lot, "Debian").lines.first()
    assert line is not None
    move_lines(actor=None, tender=tender, line_ids=[line.pk], target=package)
    assert set(package.required_skills.values_list("skill__name", flat=True)) == {"Keycloak", "OpenLDAP"}
    with pytest.raises(PackageChangeRefused, match="99999999"):
        set_requirements(actor=None, package=package, skills=[], cpv_codes=["99999999"])
    with pytest.raises(PackageChangeRefused, match="1 à 10"):
        set_requirements(actor=None, package=package, skills=[(catalogue["Keycloak"], 11)], cpv_codes=[])
    with pytest.raises(PackageChangeRefused, match="deux fois"):
        set_requirements(
            actor=None, package=package, skills=[(catalogue["Keycloak"], 3), (catalogue["Keycloak"], 4)], cpv_codes=[]
        )
    assert package.required_skills.count() == 2  # nothing half-saved


def test_split_with_the_real_catalogue(samples: Path) -> None:
    from partners.catalogue import load_skill_catalogue

    load_skill_catalogue()
    tender = support_tender(samples, lines=600)
    summary = split_tender(actor=None, tender=tender)
    assert summary.flagged == 0
    assert not Line.objects.filter(tender=tender, work_package__isnull=True).exists()
    packages = WorkPackage.objects.filter(lot__source_id="LOT-0001")
    assert len(packages) == len(SOFTWARE)
    assert {"PostgreSQL", "PostGIS", "MariaDB", "GLPI", "Keycloak", "Apache HTTP Server"} <= {p.name for p in packages}
    for package in packages:
        assert package.basis == PackageBasis.SKILL
        for designation in package.lines.values_list("designation", flat=True):
            assert fold(package.name) in fold(designation), (package.name, designation)
