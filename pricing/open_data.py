"""The transparency figures as open data: one JSON document and two CSV tables, schema in docs/OPEN_DATA.md.

Amounts are strings in euros with two decimals ("1234.50"), days strings with two decimals, so that no
reader parses money as a float. Keys come in the documented order; bump SCHEMA_VERSION as that file says.
Labels are French whatever the visitor's language: the data must not change with the Accept-Language header.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import translation

from consortium.money import from_cents
from partners.exports import FORMULA_STARTS

from .models import FundingChannel
from .selectors.transparency import ContractShare, FirmContribution, ProjectFigures, Transparency, YearFigures

SCHEMA_VERSION = "1.0"
CURRENCY = "EUR"
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")

PROJECT_COLUMNS = (
    "project_slug", "project_name", "repository_url", "licence", "year", "levy_credited", "paid", "days",
)  # fmt: skip
CONTRACT_COLUMNS = ("reference", "title", "buyer", "year_signed", "upstream_amount", "upstream_share_percent")


def euros(cents: int) -> str:
    return f"{from_cents(cents):.2f}"


def days_text(days: Decimal) -> str:
    return f"{days:.2f}"


def document(figures: Transparency, *, generated_at: dt.datetime) -> dict[str, Any]:
    """The data.json document (validated by docs/transparency.schema.json in the tests)."""
    with translation.override(settings.LANGUAGE_CODE):
        return {
            "schema_version": SCHEMA_VERSION,
            "generated_at": generated_at.isoformat(timespec="seconds"),
            "as_of": figures.as_of.isoformat(),
            "currency": CURRENCY,
            "totals": {
                "levy_credited": euros(figures.levy_cents),
                "levy_credited_network_fund": euros(figures.network_levy_cents),
                "paid": euros(figures.paid_cents),
                "days": days_text(figures.days),
            },
            "projects": [_project(project) for project in figures.projects],
            "contracts": [_contract(contract) for contract in figures.contracts],
        }


def _project(figures: ProjectFigures) -> dict[str, Any]:
    project = figures.project
    channel = project.funding_channel or None
    return {
        "slug": project.slug,
        "name": project.name,
        "description": project.description,
        "repository_url": project.repository_url,
        "licence": project.licence,
        "funding": {
            "channel": channel,
            "channel_label": str(FundingChannel(channel).label) if channel in FundingChannel.values else "",
            "fiscal_host": project.fiscal_host,
            "manifest_url": project.funding_manifest_url,
            "url": project.funding_url,
        },
        "totals": {
            "levy_credited": euros(figures.levy_cents),
            "paid": euros(figures.paid_cents),
            "days": days_text(figures.days),
        },
        "years": [_year(year) for year in figures.years],
        "supporting_firms": [
            {"name": firm.firm_name, "level": firm.level, "level_label": str(firm.level_label)}
            for firm in figures.supporters
        ],
        "firm_contributions": [_firm(firm) for firm in figures.firm_contributions],
        "commitments": {**figures.commitments, "total": figures.commitment_count},
        "community_score": _score(figures),
    }


def _year(year: YearFigures) -> dict[str, Any]:
    return {
        "year": year.year,
        "levy_credited": euros(year.levy_cents),
        "paid": euros(year.paid_cents),
        "days": days_text(year.days),
    }


def _firm(firm: FirmContribution) -> dict[str, Any]:
    return {
        "name": firm.firm_name,
        "paid": euros(firm.paid_cents),
        "days": days_text(firm.days),
        "years": [{"year": y.year, "paid": euros(y.paid_cents), "days": days_text(y.days)} for y in firm.years],
    }


def _score(figures: ProjectFigures) -> dict[str, Any] | None:
    score = figures.score
    if score is None:
        return None
    return {
        "total": f"{score.total:.1f}",
        "max": sum(part.max_points for part in score.parts),
        "parts": [
            {
                "key": part.key,
                "label": str(part.label),
                "value": str(part.value),
                "points": f"{part.points:.1f}",
                "max_points": part.max_points,
            }
            for part in score.parts
        ],
    }


def _contract(contract: ContractShare) -> dict[str, Any]:
    return {
        "reference": contract.reference,
        "title": contract.title,
        "buyer": contract.buyer,
        "year_signed": contract.year_signed,
        "upstream_amount": euros(contract.upstream_cents),
        "upstream_share_percent": None if contract.share_percent is None else f"{contract.share_percent:.1f}",
    }


def json_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


def project_rows(figures: Transparency) -> list[list[str]]:
    """One row per project and year with a figure (a project with no money nor days yet has no row)."""
    rows = [list(PROJECT_COLUMNS)]
    for project in figures.projects:
        p = project.project
        for year in project.years:
            rows.append(
                [
                    p.slug, p.name, p.repository_url, p.licence, str(year.year),
                    euros(year.levy_cents), euros(year.paid_cents), days_text(year.days),
                ]
            )  # fmt: skip
    return rows


def contract_rows(figures: Transparency) -> list[list[str]]:
    rows = [list(CONTRACT_COLUMNS)]
    for contract in figures.contracts:
        share = "" if contract.share_percent is None else f"{contract.share_percent:.1f}"
        rows.append(
            [
                contract.reference, contract.title, contract.buyer, str(contract.year_signed),
                euros(contract.upstream_cents), share,
            ]
        )  # fmt: skip
    return rows


def csv_safe(value: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe; our own numbers stay numbers."""
    if value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    """RFC 4180: comma, double quotes, CRLF; UTF-8 without BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([csv_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode()
