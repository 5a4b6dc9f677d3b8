"""The OpenAPI schema: generated without warnings or errors, valid, holding every endpoint, served as YAML or JSON."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern
from drf_spectacular.drainage import reset_generator_stats

from consortium import api_urls
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

NOT_IN_SCHEMA = {"api-root", "api-schema"}  # the browsable entry point and the schema itself


def _documented_paths() -> set[str]:
    """/api/firms/{id}/ for firms/<int:pk>/: the paths the schema must hold, read from the URL conf."""
    paths = set()
    for pattern in api_urls.urlpatterns:
        if isinstance(pattern, URLPattern) and pattern.name not in NOT_IN_SCHEMA:
            route = re.sub(
                r"<int:(\w+)>", lambda match: "{id}" if match[1] == "pk" else f"{{{match[1]}}}", str(pattern.pattern)
            )
            paths.add(f"/api/{route}")
    return paths


def test_schema_generates_without_warnings_and_validates(tmp_path: Path) -> None:
    reset_generator_stats()
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert set(schema["paths"]) == _documented_paths()
    assert len(_documented_paths()) == 21
    assert {
        "/api/commitments/",
        "/api/commitments/{id}/",
        "/api/commitments/{id}/deliveries/",
        "/api/projects/",
    } <= set(schema["paths"])
    assert set(schema["paths"]["/api/commitments/{id}/deliveries/"]) == {"post"}
    commitment_parameters = {item["name"] for item in schema["paths"]["/api/commitments/"]["get"]["parameters"]}
    assert commitment_parameters == {"status", "project", "page"}
    assert {
        "/api/contracts/",
        "/api/contracts/{id}/",
        "/api/contracts/{id}/invoices/",
        "/api/payments/",
        "/api/statements/{firm_id}/",
    } <= set(schema["paths"])
    assert {
        "/api/invitations/",
        "/api/invitations/{id}/",
        "/api/invitations/{id}/accept/",
        "/api/invitations/{id}/decline/",
    } <= set(schema["paths"])
    invitation_parameters = {item["name"] for item in schema["paths"]["/api/invitations/"]["get"]["parameters"]}
    assert invitation_parameters == {"status", "tender", "page"}
    accept = schema["paths"]["/api/invitations/{id}/accept/"]["post"]
    assert set(accept["responses"]) == {"200", "400", "409"}
    body = schema["components"]["schemas"]["InvitationAccept"]
    assert set(body["properties"]) == {"version", "prices", "note", "team"}
    assert set(body["required"]) == {"version", "prices"}
    decline = schema["components"]["schemas"]["InvitationDecline"]
    assert set(decline["required"]) == {"version", "reason"}
    line = schema["components"]["schemas"]["InvitationLine"]["properties"]
    assert set(line) == {"line", "number", "code", "designation", "unit", "quantity", "unit_price", "amount"}
    assert set(schema["paths"]["/api/firms/{id}/"]) == {"get", "patch"}
    parameters = {item["name"] for item in schema["paths"]["/api/firms/"]["get"]["parameters"]}
    assert parameters == {"q", "region", "skill", "min_level", "page"}
    patch_body = schema["components"]["schemas"]["PatchedFirmContact"]["properties"]
    assert set(patch_body) == {
        "address",
        "postcode",
        "city",
        "website",
        "description",
        "is_sme",
        "departments",
        "daily_rate",
    }


def test_schema_served_as_yaml_by_default_and_json_on_request(bid_manager: Any, partner_a: Any) -> None:
    response = client_for(partner_a).get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert "/api/work-packages/{id}/match/" in yaml.safe_load(response.content)["paths"]
    as_json = client_for(bid_manager).get("/api/schema/", {"format": "json"})
    assert as_json.status_code == 200
    assert as_json.json()["info"]["title"] == "Guichet API"
    assert set(as_json.json()["paths"]) == _documented_paths()


def test_schema_needs_a_role(outsider: Any) -> None:
    assert client_for(outsider).get("/api/schema/").status_code == 403
    assert client_for(None).get("/api/schema/").status_code == 403
