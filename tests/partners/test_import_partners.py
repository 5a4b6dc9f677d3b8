"""`import_partners`: a network of firms from CSV or XLSX; every bad row named, nothing half-saved."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from consortium.models import AuditEvent
from partners.catalogue import load_skill_catalogue
from partners.identifiers import luhn_is_valid, vat_for_siren
from partners.models import CapacityMonth, Contact, FirmSkill, PartnerFirm, Skill, SkillLevel
from partners.services.network import PartnerImportError, PartnerImportReport, check_partners, import_partners
from tests.conftest import make_user, make_xlsx

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 15)
HEADER = ["name", "siret", "region", "capacity_days", "daily_rate", "skills"]


def siret(number: int) -> str:
    """A valid SIRET: an 8-digit base and its key, then establishment 0001 and its key."""
    siren = next(f"{number:08d}{k}" for k in range(10) if luhn_is_valid(f"{number:08d}{k}"))
    return next(f"{siren}0001{k}" for k in range(10) if luhn_is_valid(f"{siren}0001{k}"))


S1, S2, S3 = siret(41234567), siret(51234567), siret(61234567)


@pytest.fixture(autouse=True)
def catalogue() -> None:
    load_skill_catalogue()


def csv_bytes(rows: list[list[str]], *, delimiter: str = ";", bom: bool = True) -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode("utf-8")


def run(data: bytes, filename: str = "reseau.csv") -> PartnerImportReport:
    return import_partners(actor=None, data=data, filename=filename, today=TODAY)


def errors_of(data: bytes, filename: str = "reseau.csv") -> list[tuple[int, str, str]]:
    with pytest.raises(PartnerImportError) as failure:
        run(data, filename)
    return [(error.row, error.column, error.message) for error in failure.value.errors]


GOOD = [
    [*HEADER, "vat_number", "city", "postcode", "departments", "is_sme", "contact_name", "contact_email"],
    [
        "Atelier Libre du Causse",
        S1.replace("0001", " 0001 "),
        "Occitanie",
        "12,5",
        "780",
        "PostgreSQL:maintainer;Python:expert;postgis:contributeur",
        vat_for_siren(S1[:9]),
        "Rodez",
        "12000",
        "12, 81",
        "oui",
        "Jeanne Martin",
        "jeanne.martin@example.org",
    ],
    ["Forge des Marais", S2, "52", "20", "650.50", "Nextcloud:intégrateur", "", "", "", "", "non", "", ""],
]


def test_a_good_csv_creates_the_firms_their_skills_and_capacity() -> None:
    report = run(csv_bytes(GOOD))
    assert (report.created, report.updated, report.rows, report.skills) == (2, 0, 2, 4)
    causse = PartnerFirm.objects.get(name="Atelier Libre du Causse")
    assert (causse.siret, causse.siren, causse.region) == (S1, S1[:9], "76")
    assert causse.vat_number == vat_for_siren(S1[:9])
    assert causse.daily_rate == Decimal("780.00")
    assert (causse.city, causse.postcode, causse.departments, causse.is_sme) == ("Rodez", "12000", ["12", "81"], True)
    levels = dict(causse.skills.values_list("skill__name", "level"))
    assert levels == {"PostgreSQL": SkillLevel.MAINTAINER, "Python": SkillLevel.EXPERT, "PostGIS": 4}
    months = list(causse.capacity.values_list("month", "days"))
    assert len(months) == 12
    assert months[0] == (dt.date(2026, 3, 1), Decimal("12.5"))
    assert months[-1][0] == dt.date(2027, 2, 1)
    contact = Contact.objects.get(firm=causse)
    assert (contact.name, contact.email, contact.is_primary) == ("Jeanne Martin", "jeanne.martin@example.org", True)
    marais = PartnerFirm.objects.get(name="Forge des Marais")
    assert (marais.region, marais.daily_rate, marais.is_sme) == ("52", Decimal("650.50"), False)
    event = AuditEvent.objects.get(action="partners.network_imported")
    assert event.details["created"] == 2
    assert event.details["filename"] == "reseau.csv"


def test_a_good_xlsx_with_french_headers_and_numbers_as_numbers() -> None:
    data = make_xlsx(
        [
            ["Réseau des partenaires 2026"],
            [],
            ["Raison sociale", "SIRET", "Région", "Capacité (jours)", "TJM", "Compétences"],
            ["Atelier Libre du Causse", int(S1), "Occitanie", 12.5, 780, "PostgreSQL:5;Java (OpenJDK):2"],
            ["Forge des Marais", int(S2), "Pays de la Loire", 20, 650.5, "GLPI:editeur"],
        ]
    )
    with pytest.raises(PartnerImportError):  # the title row is taken as the header: required columns missing
        run(data, "reseau.xlsx")
    data = make_xlsx(
        [
            ["Raison sociale", "SIRET", "Région", "Capacité jours", "TJM", "Compétences"],
            ["Atelier Libre du Causse", int(S1), "Occitanie", 12.499999999999998, 780, "PostgreSQL:5;Java (OpenJDK):2"],
            [None, None, None, None, None, None],
            ["Forge des Marais", int(S2), "Pays de la Loire", 20, 650.5, "GLPI:editeur"],
        ]
    )
    report = run(data, "reseau.xlsx")
    assert (report.created, report.skills) == (2, 3)
    causse = PartnerFirm.objects.get(siret=S1)
    assert causse.capacity.first().days == Decimal("12.5")  # type: ignore[union-attr]
    assert set(causse.skills.values_list("skill__name", flat=True)) == {"PostgreSQL", "Java"}
    assert PartnerFirm.objects.get(siret=S2).skills.get().level == SkillLevel.EDITOR


def test_importing_again_updates_and_replaces_without_duplicates() -> None:
    run(csv_bytes(GOOD))
    causse = PartnerFirm.objects.get(name="Atelier Libre du Causse")
    kept = causse.skills.get(skill__name="PostgreSQL")
    kept.evidence_url = "https://git.postgresql.org/gitweb/?p=postgresql.git;a=commit;h=abc"
    kept.years = 9
    kept.save()
    counts = (PartnerFirm.objects.count(), FirmSkill.objects.count(), CapacityMonth.objects.count())
    report = run(csv_bytes(GOOD))
    assert (report.created, report.updated) == (0, 2)
    assert (PartnerFirm.objects.count(), FirmSkill.objects.count(), CapacityMonth.objects.count()) == counts
    kept.refresh_from_db()
    assert kept.years == 9  # what the file does not say is kept
    assert kept.evidence_url.startswith("https://git.postgresql.org/")
    changed = [row[:] for row in GOOD]
    changed[1][4] = "900"
    changed[1][5] = "PostgreSQL:expert"
    run(csv_bytes(changed))
    causse.refresh_from_db()
    assert causse.daily_rate == Decimal("900.00")
    assert list(causse.skills.values_list("skill__name", "level")) == [("PostgreSQL", SkillLevel.EXPERT)]
    assert Contact.objects.filter(firm=causse).count() == 1


def test_an_existing_firm_is_found_by_name_and_gets_its_siret() -> None:
    firm = PartnerFirm.objects.create(name="Forge des Marais")
    report = run(csv_bytes([HEADER, ["FORGE DES MARAIS", S2, "52", "8", "600", "Moodle:expert"]]))
    assert (report.created, report.updated) == (0, 1)
    firm.refresh_from_db()
    assert (firm.name, firm.siret, firm.siren) == ("FORGE DES MARAIS", S2, S2[:9])


def test_comma_separated_csv_without_bom() -> None:
    rows = [HEADER, ["Forge des Marais", S2, "Bretagne", "10", "700", "Nginx:expert;Debian:integrator"]]
    report = run(csv_bytes(rows, delimiter=",", bom=False))
    assert report.skills == 2


BAD_ROWS = [
    HEADER,
    ["Atelier Libre du Causse", S1, "Occitanie", "10", "700", "PostgreSQL:expert"],  # 2: good
    ["", S3, "Occitanie", "10", "700", "Python:expert"],  # 3: empty name
    ["Siret Faux", "732 829 320 00079", "Occitanie", "10", "700", "Python:expert"],  # 4
    ["Siret Court", "1234", "Occitanie", "10", "700", "Python:expert"],  # 5
    ["Région Inconnue", siret(71234567), "Atlantide", "10", "700", "Python:expert"],  # 6
    ["Capacité Texte", siret(71234568), "11", "beaucoup", "700", "Python:expert"],  # 7
    ["Tarif Négatif", siret(71234569), "11", "10", "-5", "Python:expert"],  # 8
    ["Compétence Inconnue", siret(71234570), "11", "10", "700", "Postgre:expert"],  # 9
    ["Niveau Inconnu", siret(71234571), "11", "10", "700", "Python:gourou"],  # 10
    ["Doublon Compétence", siret(71234572), "11", "10", "700", "Python:expert;python:user"],  # 11
    ["Siret Répété", S1, "11", "10", "700", "Python:expert"],  # 12: same SIRET as row 2
    ["atelier libre du causse", siret(71234573), "11", "10", "700", "Python:expert"],  # 13: same name as row 2
    ["Niveau Absent", siret(71234574), "11", "10", "700", "Python"],  # 14
    ["Trop de décimales", siret(71234575), "11", "10.25", "700", "Python:expert"],  # 15
    ["Sans Compétence", siret(71234576), "11", "10", "700", " ; "],  # 16
]


def test_every_bad_row_is_named_and_nothing_is_saved() -> None:
    firms_before = PartnerFirm.objects.count()
    errors = errors_of(csv_bytes(BAD_ROWS))
    by_row = {row: (column, message) for row, column, message in errors}
    assert sorted(by_row) == list(range(3, 17))
    assert by_row[3][0] == "name"
    assert by_row[4][0] == "siret"
    assert "Luhn" in by_row[4][1]
    assert "732 829 320 00079" in by_row[4][1]
    assert "14 chiffres" in by_row[5][1]
    assert by_row[6] == (
        "region",
        "région inconnue « Atlantide » : donnez son nom (« Occitanie ») ou son code INSEE (« 76 »).",
    )
    assert by_row[7] == ("capacity_days", "« beaucoup » n'est pas un nombre.")
    assert by_row[8] == ("daily_rate", "« -5 » est négatif.")
    assert by_row[9][0] == "skills"
    assert "« Postgre »" in by_row[9][1]
    assert "« PostgreSQL »" in by_row[9][1]  # the closest catalogue name is suggested
    assert "gourou" in by_row[10][1]
    assert "mainteneur" in by_row[10][1]  # the levels are listed
    assert "deux fois" in by_row[11][1]
    assert by_row[12][0] == "siret"
    assert "ligne 2" in by_row[12][1]
    assert by_row[13][0] == "name"
    assert "ligne 2" in by_row[13][1]
    assert "niveau manquant" in by_row[14][1]
    assert "décimale" in by_row[15][1]
    assert by_row[16][0] == "skills"
    assert "aucune compétence" in by_row[16][1]
    assert PartnerFirm.objects.count() == firms_before
    assert not FirmSkill.objects.exists()
    assert not CapacityMonth.objects.exists()


def test_vat_and_optional_columns_are_checked() -> None:
    header = [*HEADER, "vat_number", "postcode", "departments", "is_sme", "website", "contact_email"]
    rows = [
        header,
        ["A", S1, "11", "1", "1", "PHP:expert", vat_for_siren(S2[:9]), "", "", "", "", ""],  # 2: VAT of another SIREN
        ["B", S2, "11", "1", "1", "PHP:expert", "", "7500", "", "", "", ""],  # 3: postcode
        ["C", S3, "11", "1", "1", "PHP:expert", "", "", "75, 99", "", "", ""],  # 4: department 99
        ["D", siret(81234567), "11", "1", "1", "PHP:expert", "", "", "", "peut-être", "", ""],  # 5: SME flag
        ["E", siret(81234568), "11", "1", "1", "PHP:expert", "", "", "", "", "pas une url", ""],  # 6: website
        ["F", siret(81234569), "11", "1", "1", "PHP:expert", "", "", "", "", "", "jeanne@example.org"],  # 7: no name
        ["G", siret(81234570), "11", "1", "1", "PHP:expert", "", "", "", "", "", "jeanne@"],  # 8: email
    ]
    errors = errors_of(csv_bytes(rows))
    columns = {(row, column) for row, column, _message in errors}
    assert {(2, "vat_number"), (3, "postcode"), (4, "departments"), (5, "is_sme"), (6, "website")} <= columns
    assert (7, "contact_name") in columns
    assert (8, "contact_email") in columns
    vat_message = next(message for row, column, message in errors if row == 2)
    assert vat_for_siren(S1[:9]) in vat_message  # says which number was expected
    assert not PartnerFirm.objects.exists()


def test_a_siret_held_by_another_firm_is_refused() -> None:
    PartnerFirm.objects.create(name="Déjà Là", siret=S1, siren=S1[:9])
    errors = errors_of(csv_bytes([HEADER, ["Nouveau Nom", S1, "11", "5", "500", "PHP:expert"]]))
    assert errors == [(2, "siret", f"SIRET {S1} déjà utilisé par l'entreprise « Déjà Là », pas « Nouveau Nom ».")]
    assert PartnerFirm.objects.count() == 1


def test_missing_and_repeated_columns_are_named_on_the_header_row() -> None:
    errors = errors_of(csv_bytes([["nom", "siret", "siret", "region"], ["A", S1, S1, "11"]]))
    assert {(row, column) for row, column, _m in errors} == {
        (1, "siret"),
        (1, "capacity_days"),
        (1, "daily_rate"),
        (1, "skills"),
    }


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"", "reseau.csv", "vide"),
        (b"name;siret\r\n", "reseau.csv", "colonne obligatoire"),
        (b"not a workbook", "reseau.xlsx", "XLSX valide"),
        (b"PK\x03\x04garbage", "reseau.xlsx", "XLSX valide"),
    ],
)
def test_unreadable_files_give_one_clear_error(data: bytes, filename: str, expected: str) -> None:
    errors = errors_of(data, filename)
    assert any(expected in message for _row, _column, message in errors)


def test_only_a_header_is_an_error() -> None:
    errors = errors_of(csv_bytes([HEADER]))
    assert errors[0][0] == 1
    assert "aucune entreprise" in errors[0][2]


def test_a_workbook_with_a_doctype_is_refused() -> None:
    data = make_xlsx([HEADER, ["A", S1, "11", "1", "1", "Python:expert"]])
    source, target = io.BytesIO(data), io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for item in original.infolist():
            content = original.read(item)
            if item.filename == "xl/workbook.xml":
                declaration, _sep, rest = content.partition(b"?>") if content.startswith(b"<?") else (b"", b"", content)
                content = declaration + _sep + b'<!DOCTYPE x [<!ENTITY e "boom">]>' + rest
            copy.writestr(item, content)
    errors = errors_of(target.getvalue(), "reseau.xlsx")
    assert "DOCTYPE" in errors[0][2]


def test_a_file_over_the_size_limit_is_refused(settings: object) -> None:
    settings.IMPORT_MAX_BYTES = 100
    errors = errors_of(csv_bytes([HEADER] + [["A", S1, "11", "1", "1", "Python:expert"]] * 10))
    assert "au plus 100 octets" in errors[0][2]


def test_only_bid_managers_and_admins_may_import() -> None:
    partner = make_user("partner-x", "partner", firm="Firm X")
    with pytest.raises(PermissionDenied):
        import_partners(actor=partner, data=csv_bytes(GOOD), filename="reseau.csv")
    manager = make_user("manager-x", "bid_manager")
    report = import_partners(actor=manager, data=csv_bytes(GOOD), filename="reseau.csv")
    assert report.created == 2
    assert AuditEvent.objects.get(action="partners.network_imported").actor == manager


def test_check_partners_saves_nothing() -> None:
    report = check_partners(data=csv_bytes(GOOD), filename="reseau.csv")
    assert (report.created, report.updated, report.skills, report.rows) == (2, 0, 4, 2)
    assert not PartnerFirm.objects.exists()


# ------------------------------------------------------------------------------------------ the command


def test_command_imports_and_prints_a_french_summary(tmp_path: Path) -> None:
    path = tmp_path / "reseau.csv"
    path.write_bytes(csv_bytes(GOOD))
    out = io.StringIO()
    call_command("import_partners", str(path), stdout=out)
    assert "2 créée(s)" in out.getvalue()
    assert PartnerFirm.objects.count() == 2


def test_command_dry_run_saves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "reseau.xlsx"
    path.write_bytes(make_xlsx([HEADER, ["A", S1, "11", "1", "1", "Python:expert"]]))
    out = io.StringIO()
    call_command("import_partners", str(path), "--dry-run", stdout=out)
    assert "Rien n'a été enregistré" in out.getvalue()
    assert not PartnerFirm.objects.exists()


def test_command_lists_every_error_on_stderr_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "reseau.csv"
    path.write_bytes(csv_bytes(BAD_ROWS))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"14 erreur\(s\) dans reseau.csv : rien n'a été enregistré"):
        call_command("import_partners", str(path), stdout=out, stderr=err)
    lines = err.getvalue().splitlines()
    assert len(lines) == 14
    assert lines[0].startswith("ligne 3, colonne name : ")
    assert "ligne 6, colonne region : région inconnue « Atlantide »" in err.getvalue()
    assert not PartnerFirm.objects.exists()


def test_command_with_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Fichier introuvable"):
        call_command("import_partners", str(tmp_path / "absent.csv"))
    with pytest.raises(CommandError, match="Fichier introuvable"):
        call_command("import_partners", str(tmp_path))  # a folder is no file


def test_skill_levels_for_demo_like_input_are_stored_as_numbers() -> None:
    run(csv_bytes([HEADER, ["A", S1, "11", "1", "1", "Keycloak:6;OpenLDAP:1"]]))
    assert set(FirmSkill.objects.values_list("level", flat=True)) == {1, 6}
    assert Skill.objects.get(name="Keycloak").firm_skills.count() == 1


def test_the_example_of_the_documentation_imports() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "PARTNERS.md").read_text(encoding="utf-8")
    example = text.split("```csv\n", 1)[1].split("```", 1)[0]
    report = run(example.encode("utf-8"))
    assert (report.created, report.rows, report.skills) == (2, 2, 4)
    assert PartnerFirm.objects.get(name="Atelier Libre du Causse").departments == ["12", "81"]
