"""The upstream project pages (in the test client): the list and a project with its score and history, creating
and editing a project, entering signals, and importing them from CSV or XLSX (all or nothing), also by command."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consortium.models import AuditEvent
from partners.models import FirmSkill, PartnerFirm, Skill, SkillLevel
from pricing.models import CommitmentKind, ProjectSignal, SignalSource, UpstreamProject
from pricing.services.commitments import (
    CommitmentInput,
    CommitmentRefused,
    ProjectInput,
    create_commitment,
    record_work,
    save_project,
)
from tests.conftest import client_for, make_xlsx

pytestmark = pytest.mark.django_db

HEADER = ["project", "observed_on", "active_contributors", "releases_last_year", "last_release_on", "source_url"]
FRENCH_HEADER = ["Projet", "Observé le", "Contributeurs actifs", "Versions publiées", "Dernière version le", "Source"]


def text_of(response: Any) -> str:
    return html.unescape(response.content.decode())


def csv_bytes(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(rows)
    return buffer.getvalue().encode()


@pytest.fixture
def grafana(bid_manager: Any) -> UpstreamProject:
    """Grafana: one catalogue skill, a maintainer firm, the guichet's days commitment with 30 days delivered."""
    skill = Skill.objects.create(name="Grafana", slug="grafana", upstream_project="Grafana")
    firm = PartnerFirm.objects.create(name="Observabilité SARL")
    FirmSkill.objects.create(firm=firm, skill=skill, level=SkillLevel.MAINTAINER)
    project = save_project(
        actor=bid_manager,
        data=ProjectInput(
            name="Grafana",
            repository_url="https://github.com/grafana/grafana",
            licence="AGPL-3.0",
            funding_manifest_url="https://grafana.com/funding.json",
            funding_channel="company",
            skill_ids=[skill.pk],
        ),
    )
    today = dt.date.today()
    commitment = create_commitment(
        actor=bid_manager,
        data=CommitmentInput(
            project_id=project.pk, kind=CommitmentKind.DAYS, title="Tableaux de bord accessibles",
            starts_on=today - dt.timedelta(days=200), ends_on=today + dt.timedelta(days=100),
            dues=[(today + dt.timedelta(days=100), Decimal(40))], days=Decimal(40),
        ),
    )  # fmt: skip
    record_work(
        actor=bid_manager, commitment=commitment, days=Decimal(30), delivered_on=today - dt.timedelta(days=45),
        description="Navigation au clavier", links=["https://github.com/grafana/grafana/pull/1"],
    )  # fmt: skip
    return project


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("persona", ["bid_manager", "finance"])
def test_list_shows_each_project_with_its_firms_score_and_commitments(
    persona: str, personas: dict[str, Any], grafana: UpstreamProject
) -> None:
    response = client_for(personas[persona]).get(reverse("contributions:project_list"))
    assert response.status_code == 200
    body = text_of(response)
    assert "Grafana" in body
    assert "AGPL-3.0" in body
    assert "l'entreprise qui l'édite" in body
    # 1 firm (4.0) + 1 maintainer (6.7) + 30 days (7.5), no contract, no signal = 18.2
    row = body[body.index("Grafana</strong>") :]
    assert "18,2" in row[:600]


def test_detail_shows_facts_support_commitments_score_and_history(bid_manager: Any, grafana: UpstreamProject) -> None:
    response = client_for(bid_manager).get(reverse("contributions:project_detail", args=[grafana.slug]))
    assert response.status_code == 200
    body = text_of(response)
    assert 'href="https://grafana.com/funding.json"' in body
    assert "Observabilité SARL" in body and "mainteneur" in body
    assert "Tableaux de bord accessibles" in body
    assert "18,2" in body  # the score
    assert "plein à 5 entreprises" in body  # the formula in words
    assert "Jours de travail livrés (12 mois)" in body and "30 j" in body and "7,5 / 15" in body
    assert "non renseigné" in body
    assert "<svg" in body and "<polyline" in body
    table = body[body.index('class="grid dense score-history"') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == 13  # the header and 12 month ends
    assert "10,7" in table  # before the work: today's support only
    assert table.rstrip().endswith("18,2</td></tr></tbody>")  # today: with the 30 days


def test_unknown_project_is_404(bid_manager: Any) -> None:
    assert client_for(bid_manager).get("/contributions/projects/nowhere/").status_code == 404


def test_user_text_is_escaped_and_a_stored_address_is_a_link_only_if_http(bid_manager: Any) -> None:
    with pytest.raises(CommitmentRefused, match="adresse web"):
        save_project(actor=bid_manager, data=ProjectInput(name="X", repository_url="javascript:alert(2)"))
    project = save_project(actor=bid_manager, data=ProjectInput(name="<script>alert(1)</script>", licence="<b>x</b>"))
    # An address stored before the service checked them (or by the admin): the page still links http(s) only.
    UpstreamProject.objects.filter(pk=project.pk).update(repository_url="javascript:alert(2)")
    for url in (reverse("contributions:project_list"), reverse("contributions:project_detail", args=[project.slug])):
        body = client_for(bid_manager).get(url).content.decode()
        assert "<script>alert(1)</script>" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert 'href="javascript:' not in body


def test_list_queries_do_not_grow_with_the_projects(bid_manager: Any) -> None:
    client = client_for(bid_manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("contributions:project_list")).status_code == 200
        return len(captured.captured_queries)

    def add(n: int) -> None:
        skill = Skill.objects.create(name=f"Skill {n}", slug=f"skill-{n}", upstream_project=f"Projet {n}")
        FirmSkill.objects.create(firm=PartnerFirm.objects.create(name=f"Firm {n}"), skill=skill, level=4)
        save_project(actor=bid_manager, data=ProjectInput(name=f"Projet {n}", skill_ids=[skill.pk]))

    for n in range(2):
        add(n)
    few = queries()
    for n in range(2, 8):
        add(n)
    assert queries() == few


# ---------------------------------------------------------------- creating and editing


def test_create_a_project_with_catalogue_skills(bid_manager: Any) -> None:
    skills = [Skill.objects.create(name=f"Matomo {n}", slug=f"matomo-{n}") for n in range(2)]
    client = client_for(bid_manager)
    form = client.get(reverse("contributions:project_new"))
    assert form.status_code == 200
    assert 'size="12"' in form.content.decode()
    response = client.post(
        reverse("contributions:project_new"),
        {
            "name": "Matomo",
            "licence": "GPL-3.0",
            "repository_url": "https://github.com/matomo-org/matomo",
            "funding_channel": "company",
            "skills": [s.pk for s in skills],
        },
    )
    project = UpstreamProject.objects.get(name="Matomo")
    assert response.status_code == 302
    assert response["Location"] == reverse("contributions:project_detail", args=[project.slug])
    assert set(project.skills.values_list("pk", flat=True)) == {s.pk for s in skills}
    assert AuditEvent.objects.filter(action="project.created", object_id=str(project.pk)).exists()


def test_refusals_come_back_with_the_form_and_save_nothing(bid_manager: Any) -> None:
    save_project(actor=bid_manager, data=ProjectInput(name="Matomo"))
    client = client_for(bid_manager)
    duplicate = client.post(reverse("contributions:project_new"), {"name": "matomo"})
    assert duplicate.status_code == 400
    assert "Un projet porte déjà ce nom" in text_of(duplicate)
    not_https = client.post(
        reverse("contributions:project_new"), {"name": "Other", "funding_manifest_url": "http://example.org/f.json"}
    )
    assert not_https.status_code == 400
    assert "https://" in text_of(not_https)
    many = [Skill.objects.create(name=f"S{n}", slug=f"s-{n}").pk for n in range(41)]
    too_many = client.post(reverse("contributions:project_new"), {"name": "Third", "skills": many})
    assert too_many.status_code == 400
    assert "41 compétences choisies : 40 au plus." in text_of(too_many)
    assert client.post(reverse("contributions:project_new"), {}).status_code == 400
    assert list(UpstreamProject.objects.values_list("name", flat=True)) == ["Matomo"]


def test_edit_a_project(bid_manager: Any, grafana: UpstreamProject) -> None:
    client = client_for(bid_manager)
    url = reverse("contributions:project_edit", args=[grafana.slug])
    page = text_of(client.get(url))
    assert 'value="AGPL-3.0"' in page
    response = client.post(url, {"name": "Grafana", "licence": "Apache-2.0", "skills": []})
    assert response.status_code == 302
    grafana.refresh_from_db()
    assert grafana.licence == "Apache-2.0"
    assert grafana.funding_manifest_url == ""
    assert not grafana.skills.exists()
    # the skill still names Grafana as its upstream: the maintainer firm still supports it
    detail = text_of(client.get(reverse("contributions:project_detail", args=[grafana.slug])))
    assert "Observabilité SARL" in detail


# ---------------------------------------------------------------- signals entered


def test_enter_an_observation(finance: Any, grafana: UpstreamProject) -> None:
    client = client_for(finance)
    url = reverse("contributions:project_signals", args=[grafana.slug])
    today = dt.date.today()
    response = client.post(
        url,
        {
            "observed_on": today.isoformat(),
            "active_contributors": "25",
            "releases_last_year": "6",
            "last_release_on": (today - dt.timedelta(days=10)).isoformat(),
            "source_url": "https://github.com/grafana/grafana/releases",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#signals")
    signal = ProjectSignal.objects.get(project=grafana)
    assert (signal.active_contributors, signal.releases_last_year, signal.source) == (25, 6, SignalSource.ENTERED)
    detail = text_of(client.get(reverse("contributions:project_detail", args=[grafana.slug])))
    assert "38,2" in detail  # 18.2 + 10 + 5 + 5


def test_bad_observations_are_refused_with_their_field(bid_manager: Any, grafana: UpstreamProject) -> None:
    client = client_for(bid_manager)
    url = reverse("contributions:project_signals", args=[grafana.slug])
    today = dt.date.today()
    empty = client.post(url, {"observed_on": today.isoformat()})
    assert empty.status_code == 400
    assert "Donnez au moins un signal" in text_of(empty)
    future = client.post(url, {"observed_on": (today + dt.timedelta(days=3)).isoformat(), "active_contributors": "3"})
    assert future.status_code == 400
    assert "Observation datée du futur" in text_of(future)
    negative = client.post(url, {"observed_on": today.isoformat(), "releases_last_year": "-1"})
    assert negative.status_code == 400
    assert client.get(url).status_code == 405
    assert not ProjectSignal.objects.exists()


# ---------------------------------------------------------------- signals imported


def _upload(client: Any, name: str, data: bytes) -> Any:
    return client.post(reverse("contributions:project_signals_import"), {"file": SimpleUploadedFile(name, data)})


def test_import_a_good_csv_with_french_headers(bid_manager: Any, grafana: UpstreamProject) -> None:
    other = save_project(actor=bid_manager, data=ProjectInput(name="Matomo Analytics"))
    data = csv_bytes(
        [
            FRENCH_HEADER,
            ["grafana", "01/09/2026", "40", "5", "15/08/2026", "https://github.com/grafana/grafana/pulse"],
            ["Grafana", "2026-10-01", "42", "", "", ""],
            ["matomo analytics", "01/10/2026", "", "3", "", ""],
        ]
    )
    client = client_for(bid_manager)
    assert client.get(reverse("contributions:project_signals_import")).status_code == 200
    response = _upload(client, "signaux.csv", data)
    assert response.status_code == 302
    assert response["Location"] == reverse("contributions:project_list")
    rows = list(
        ProjectSignal.objects.order_by("project__name", "observed_on").values_list(
            "project__name", "observed_on", "active_contributors", "releases_last_year", "last_release_on", "source"
        )
    )
    assert rows == [
        ("Grafana", dt.date(2026, 9, 1), 40, 5, dt.date(2026, 8, 15), "imported"),
        ("Grafana", dt.date(2026, 10, 1), 42, None, None, "imported"),
        ("Matomo Analytics", dt.date(2026, 10, 1), None, 3, None, "imported"),
    ]
    assert other.signals.count() == 1
    assert AuditEvent.objects.filter(action="project.signals_imported").count() == 1


def test_import_a_good_xlsx(bid_manager: Any, grafana: UpstreamProject) -> None:
    data = make_xlsx(
        [
            ["Relevé des communautés"],
            HEADER,
            ["grafana", dt.datetime(2026, 9, 1), 40, 5.0, dt.datetime(2026, 8, 15), None],
        ]
    )
    response = _upload(client_for(bid_manager), "signaux.xlsx", data)
    assert response.status_code == 302
    signal = ProjectSignal.objects.get()
    assert (signal.observed_on, signal.active_contributors, signal.releases_last_year) == (dt.date(2026, 9, 1), 40, 5)


def test_a_bad_file_names_every_bad_row_and_column_and_saves_nothing(
    bid_manager: Any, grafana: UpstreamProject
) -> None:
    future = (dt.date.today() + dt.timedelta(days=5)).strftime("%d/%m/%Y")
    data = csv_bytes(
        [
            HEADER,
            ["grafana", "01/09/2026", "40", "5", "", ""],  # good, yet not saved
            ["unknown-project", "01/09/2026", "4", "", "", ""],
            ["grafana", "31/02/2026", "4", "", "", ""],
            ["grafana", "02/09/2026", "-3", "", "", ""],
            ["grafana", "03/09/2026", "", "", "", "javascript:alert(1)"],
            ["grafana", "04/09/2026", "", "", "10/09/2026", ""],
            ["grafana", future, "4", "", "", ""],
            ["grafana", "01/09/2026", "41", "", "", ""],
            ["grafana", "05/09/2026", "", "", "", "https://example.org"],
        ]
    )
    response = _upload(client_for(bid_manager), "signaux.csv", data)
    assert response.status_code == 400
    body = text_of(response)
    expected = [
        ("ligne 3, colonne project", "projet « unknown-project » inconnu"),
        ("ligne 4, colonne observed_on", "« 31/02/2026 » n'est pas une date"),
        ("ligne 5, colonne active_contributors", "« -3 » n'est pas un nombre entier positif"),
        ("ligne 6, colonne source_url", "« javascript:alert(1) » n'est pas une adresse http(s)"),
        ("ligne 7, colonne last_release_on", "après l'observation du 2026-09-04"),
        ("ligne 8, colonne observed_on", "observation datée du futur"),
        ("ligne 9, colonne observed_on", "Grafana est déjà observé le 2026-09-01 ligne 2 de ce fichier"),
        ("signaux.csv, ligne 10", "aucun signal"),
    ]
    for where, message in expected:
        assert f"{where}" in body, where
        assert message in body, message
    assert not ProjectSignal.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="project.signals").exists()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "ancien format Excel"),
        ("doc.csv", b"%PDF-1.7 not a sheet", "ce n'est pas un tableur"),
        ("header.csv", b"project;observed_on\n", "aucune ligne à importer"),
        ("columns.csv", b"projet;contributeurs\ngrafana;3\n", "colonne(s) manquante(s) : observed_on"),
        ("corrupt.xlsx", b"PK\x03\x04" + b"\x00garbage" * 50, "corrupt zip"),
    ],
)
def test_files_that_are_not_readable_are_refused(
    bid_manager: Any, grafana: UpstreamProject, name: str, data: bytes, message: str
) -> None:
    response = _upload(client_for(bid_manager), name, data)
    assert response.status_code == 400
    assert message in text_of(response)
    assert not ProjectSignal.objects.exists()


def test_zip_bomb_and_oversized_files_are_refused(bid_manager: Any, settings: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x20" * (8 * 1024 * 1024))
    client = client_for(bid_manager)
    bomb = _upload(client, "bombe.xlsx", buffer.getvalue())
    assert bomb.status_code == 400
    assert "possible zip bomb" in text_of(bomb)
    settings.IMPORT_MAX_BYTES = 100
    big = _upload(client, "big.csv", b"project;observed_on;releases\n" + b"grafana;01/09/2026;1\n" * 10)
    assert big.status_code == 400
    assert "au-delà de la limite de 100 octets" in text_of(big)
    assert client.post(reverse("contributions:project_signals_import"), {}).status_code == 400


def test_import_command(tmp_path: Path, bid_manager: Any, grafana: UpstreamProject) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([HEADER, ["grafana", "01/09/2026", "40", "", "", ""]]))
    out = io.StringIO()
    call_command("import_signals", str(good), "--user", bid_manager.username, stdout=out)
    assert "1 observation(s) recorded for 1 project(s)" in out.getvalue()
    assert ProjectSignal.objects.get().source == SignalSource.IMPORTED
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([HEADER, ["grafana", "02/09/2026", "41", "", "", ""], ["nope", "01/09/2026", "1"]]))
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_signals", str(bad), stderr=err)
    assert "bad.csv, ligne 3, colonne project" in err.getvalue()
    assert ProjectSignal.objects.count() == 1
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_signals", str(tmp_path / "missing.csv"))
