"""Import a network of partner firms from a CSV or XLSX file: every row checked first, then one transaction.

Columns (headers matched without case or accents, English or French): name, siret, region,
capacity_days, daily_rate, skills; optional vat_number, address, postcode, city, departments, is_sme,
website, contact_name, contact_email, contact_phone. `skills` holds `Skill:level` items separated by
`;` (or `,` or a new line). The format is documented in docs/PARTNERS.md.

Firms are matched by SIRET, else by name. A firm's skills and its capacity for the twelve months from
the current one are replaced by the file's; an empty optional cell leaves the firm's value unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consortium.roles import Role, user_role
from consortium.services import record_event
from consortium.text import fold

from ..identifiers import vat_is_valid
from ..models import CapacityMonth, Contact, FirmSkill, PartnerFirm
from ..network_rows import FirmRow, PartnerImportError, RowError, checked_rows
from ..partner_file import PartnerFileError, read_rows
from ..selectors import month_starts

__all__ = ["PartnerImportError", "PartnerImportReport", "RowError", "check_partners", "import_partners"]

CAPACITY_MONTHS = 12
IMPORTERS = frozenset({Role.BID_MANAGER, Role.ADMIN})


@dataclass(frozen=True)
class PartnerImportReport:
    created: int
    updated: int
    skills: int  # firm skills written
    rows: int  # firm rows read


# ------------------------------------------------------------------------------------------ the service


def import_partners(*, actor: Any, data: bytes, filename: str, today: dt.date | None = None) -> PartnerImportReport:
    """Read, check and save a network of firms; raise PartnerImportError listing every problem, saving nothing.

    `actor` None is the system (the command line); a user must be a bid manager or an admin.
    """
    if actor is not None and user_role(actor) not in IMPORTERS:
        raise PermissionDenied
    rows = _read_and_check(data, filename)
    try:
        return _save(actor=actor, rows=rows, filename=filename, today=today or timezone.localdate())
    except IntegrityError:  # another import or edit saved the same SIRET or name meanwhile
        raise PartnerImportError(
            [RowError(0, "", _("Une autre modification des entreprises a eu lieu pendant l'import ; relancez-le."))]
        ) from None


def check_partners(*, data: bytes, filename: str) -> PartnerImportReport:
    """What `import_partners` would do with the file, saving nothing; raises PartnerImportError like it."""
    rows = _read_and_check(data, filename)
    created = sum(1 for row in rows if row.firm is None)
    return PartnerImportReport(
        created=created,
        updated=len(rows) - created,
        skills=sum(len(row.skills) for row in rows),
        rows=len(rows),
    )


def _read_and_check(data: bytes, filename: str) -> list[FirmRow]:
    try:
        file_rows = read_rows(data, filename=filename)
    except PartnerFileError as exc:
        raise PartnerImportError([RowError(0, "", str(exc))]) from None
    return checked_rows(file_rows)


# ------------------------------------------------------------------------------------------ saving

FIRM_FIELDS = ("address", "postcode", "city", "departments", "is_sme", "website")


@transaction.atomic
def _save(*, actor: Any, rows: list[FirmRow], filename: str, today: dt.date) -> PartnerImportReport:
    now = timezone.now()
    created: list[PartnerFirm] = []
    updated: list[PartnerFirm] = []
    for row in rows:
        firm = row.firm or PartnerFirm()
        firm.name = row.name
        firm.siret = row.siret
        firm.siren = row.siret[:9]
        firm.region = row.region
        firm.daily_rate = row.daily_rate
        if "vat_number" in row.values:
            firm.vat_number = row.values["vat_number"]
        elif firm.vat_number and not vat_is_valid(firm.vat_number, siren=firm.siren):
            firm.vat_number = ""  # the SIRET changed: the old VAT number belongs to another SIREN
        for attribute in FIRM_FIELDS:
            if attribute in row.values:
                setattr(firm, attribute, row.values[attribute])
        firm.updated_at = now
        (updated if firm.pk else created).append(firm)
        row.firm = firm
    PartnerFirm.objects.bulk_update(
        updated,
        ["name", "siret", "siren", "region", "daily_rate", "vat_number", *FIRM_FIELDS, "updated_at"],
        batch_size=500,
    )
    PartnerFirm.objects.bulk_create(created, batch_size=500)
    firm_ids = [firm.pk for firm in [*updated, *created]]
    skills = _replace_skills(rows, firm_ids)
    _replace_capacity(rows, firm_ids, today)
    _save_contacts(rows)
    record_event(
        actor=actor,
        action="partners.network_imported",
        filename=filename,
        rows=len(rows),
        created=len(created),
        updated=len(updated),
        skills=skills,
    )
    return PartnerImportReport(created=len(created), updated=len(updated), skills=skills, rows=len(rows))


def _firm(row: FirmRow) -> PartnerFirm:
    assert row.firm is not None, "rows are matched to a firm before they are saved"
    return row.firm


def _replace_skills(rows: list[FirmRow], firm_ids: list[int]) -> int:
    """Each firm's skills become the file's; a skill kept keeps its years, evidence and rate."""
    existing = {(item.firm_id, item.skill_id): item for item in FirmSkill.objects.filter(firm_id__in=firm_ids)}
    wanted = {(_firm(row).pk, skill_id): level for row in rows for skill_id, level in row.skills.items()}
    FirmSkill.objects.filter(pk__in=[item.pk for key, item in existing.items() if key not in wanted]).delete()
    changed = []
    for key, level in wanted.items():
        item = existing.get(key)
        if item is not None and item.level != level:
            item.level = level
            changed.append(item)
    FirmSkill.objects.bulk_update(changed, ["level"], batch_size=500)
    FirmSkill.objects.bulk_create(
        [FirmSkill(firm_id=f, skill_id=s, level=level) for (f, s), level in wanted.items() if (f, s) not in existing],
        batch_size=1000,
    )
    return len(wanted)


def _replace_capacity(rows: list[FirmRow], firm_ids: list[int], today: dt.date) -> None:
    months = month_starts(today, CAPACITY_MONTHS)
    CapacityMonth.objects.filter(firm_id__in=firm_ids, month__in=months).delete()
    CapacityMonth.objects.bulk_create(
        [CapacityMonth(firm=_firm(row), month=month, days=row.capacity_days) for row in rows for month in months],
        batch_size=1000,
    )


def _save_contacts(rows: list[FirmRow]) -> None:
    """The file's contact becomes the firm's primary contact (found by name, else added)."""
    with_contact = [row for row in rows if "contact_name" in row.values]
    if not with_contact:
        return
    firm_ids = [_firm(row).pk for row in with_contact]
    existing = {(item.firm_id, fold(item.name)): item for item in Contact.objects.filter(firm_id__in=firm_ids)}
    Contact.objects.filter(firm_id__in=firm_ids, is_primary=True).update(is_primary=False)
    for row in with_contact:
        firm = _firm(row)
        contact = existing.get((firm.pk, fold(row.values["contact_name"]))) or Contact(firm=firm)
        contact.name = row.values["contact_name"]
        contact.email = row.values.get("contact_email", contact.email)
        contact.phone = row.values.get("contact_phone", contact.phone)
        contact.is_primary = True
        contact.save()
