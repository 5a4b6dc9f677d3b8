"""A firm's profile, edited by its own users and the guichet's bid managers: one atomic, audited write per page.

Every write takes the `version` (the firm's `updated_at` as shown in the form) and refuses with
StaleProfile when the firm changed since, so two people editing the same firm never overwrite each
other silently. Every write bumps `updated_at`, whatever part of the profile it touches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from consortium.services import record_event

from ..identifiers import clean_siret, clean_vat
from ..models import (
    EVIDENCED_LEVELS,
    Attestation,
    CapacityMonth,
    Contact,
    FirmSkill,
    LevelRate,
    PartnerFirm,
    Reference,
    Skill,
    SkillLevel,
)
from ..selectors import firms_for


class StaleProfile(Exception):
    """The firm changed after the form was shown; nothing was saved."""


@dataclass(frozen=True)
class FirmIdentity:
    name: str
    siret: str
    vat_number: str
    address: str
    postcode: str
    city: str
    region: str
    departments: list[str]
    is_sme: bool
    website: str
    description: str
    daily_rate: Decimal | None
    publishes_contributions: bool


@dataclass(frozen=True)
class SkillRow:
    skill: Skill
    level: int
    years: int | None
    evidence_url: str
    daily_rate: Decimal | None


@dataclass(frozen=True)
class AttestationRow:
    kind: str
    reference: str
    issued_on: dt.date | None
    valid_until: dt.date


@dataclass(frozen=True)
class ReferenceRow:
    title: str
    buyer: str
    year: int
    amount: Decimal | None
    cpv_codes: list[str]


@dataclass(frozen=True)
class ContactRow:
    name: str
    role: str
    email: str
    phone: str
    is_primary: bool


def profile_version(firm: PartnerFirm) -> str:
    """What an edit form carries to detect a concurrent change."""
    return firm.updated_at.isoformat()


def _lock(actor: Any, firm: PartnerFirm, version: str) -> PartnerFirm:
    """The firm, locked for this transaction, after checking the actor may edit it and nobody did meanwhile."""
    locked = firms_for(actor, action="change").select_for_update().filter(pk=firm.pk).first()
    if locked is None:
        raise PermissionDenied
    if profile_version(locked) != version:
        raise StaleProfile
    return locked


def _touch(firm: PartnerFirm) -> None:
    firm.save(update_fields=["updated_at"])


@transaction.atomic
def update_firm_identity(*, actor: Any, firm: PartnerFirm, version: str, identity: FirmIdentity) -> PartnerFirm:
    """Name, identifiers, address, area served, size, default rate. The SIREN follows the SIRET (or the VAT)."""
    locked = _lock(actor, firm, version)
    siret = clean_siret(identity.siret) if identity.siret else ""
    siren = siret[:9]
    vat = clean_vat(identity.vat_number, siren=siren) if identity.vat_number else ""
    values = {field.name: getattr(identity, field.name) for field in fields(identity)}
    values.update(siret=siret, vat_number=vat, siren=siren or vat[4:])
    changed = sorted(name for name, value in values.items() if getattr(locked, name) != value)
    for name, value in values.items():
        setattr(locked, name, value)
    try:
        with transaction.atomic():
            locked.save()
    except IntegrityError as error:
        raise ValidationError(_("Une autre entreprise porte déjà cette raison sociale ou ce SIRET.")) from error
    record_event(actor=actor, action="partners.firm_identity_updated", obj=locked, fields=changed)
    return locked


@transaction.atomic
def set_contribution_publication(*, actor: Any, firm: PartnerFirm, publishes: bool) -> None:
    """The firm's consent to show its own upstream contributions (money and days) on the public page."""
    PartnerFirm.objects.filter(pk=firm.pk).update(publishes_contributions=publishes)
    record_event(actor=actor, action="partners.contribution_publication", obj=firm, publishes=publishes)


def _check_skill_rows(rows: Sequence[SkillRow]) -> None:
    seen: set[int] = set()
    for number, row in enumerate(rows, start=1):
        if row.skill.pk in seen:
            raise ValidationError(
                _("Ligne %(row)d : la compétence « %(skill)s » figure deux fois."),
                params={"row": number, "skill": row.skill.name},
            )
        seen.add(row.skill.pk)
        if row.level in EVIDENCED_LEVELS and not row.evidence_url:
            raise ValidationError(
                _("Ligne %(row)d (%(skill)s) : le niveau « %(level)s » demande un lien de preuve."),
                params={"row": number, "skill": row.skill.name, "level": SkillLevel(row.level).label},
            )


@transaction.atomic
def replace_firm_skills(*, actor: Any, firm: PartnerFirm, version: str, rows: Sequence[SkillRow]) -> None:
    """The firm's skills become exactly `rows` (one per skill); evidence is required from contributor up."""
    locked = _lock(actor, firm, version)
    _check_skill_rows(rows)
    existing = {item.skill_id: item for item in locked.skills.all()}
    wanted = {row.skill.pk: row for row in rows}
    removed = [skill_id for skill_id in existing if skill_id not in wanted]
    FirmSkill.objects.filter(firm=locked, skill_id__in=removed).delete()
    changed = []
    for skill_id, row in wanted.items():
        values = {
            "level": row.level,
            "years": row.years,
            "evidence_url": row.evidence_url,
            "daily_rate": row.daily_rate,
        }
        current = existing.get(skill_id)
        if current is None:
            FirmSkill.objects.create(firm=locked, skill=row.skill, **values)
        elif any(getattr(current, name) != value for name, value in values.items()):
            FirmSkill.objects.filter(pk=current.pk).update(**values)
            changed.append(row.skill.name)
    _touch(locked)
    record_event(
        actor=actor,
        action="partners.firm_skills_updated",
        obj=locked,
        added=sorted(row.skill.name for skill_id, row in wanted.items() if skill_id not in existing),
        removed=sorted(existing[skill_id].skill.name for skill_id in removed),
        changed=sorted(changed),
    )


@transaction.atomic
def set_capacity_and_rates(
    *,
    actor: Any,
    firm: PartnerFirm,
    version: str,
    capacity: Mapping[dt.date, Decimal | None],
    level_rates: Mapping[int, Decimal | None],
) -> None:
    """Days offered for the given months (None or 0: none) and the daily rate per level (None: no rate)."""
    locked = _lock(actor, firm, version)
    for month in capacity:
        if month.day != 1:
            raise ValidationError(_("Mois %(month)s : attendu le premier jour du mois."), params={"month": month})
    for level in level_rates:
        if level not in SkillLevel.values:
            raise ValidationError(_("Niveau inconnu : %(level)s."), params={"level": level})
    offered = {month: days for month, days in capacity.items() if days}
    CapacityMonth.objects.filter(firm=locked, month__in=[m for m in capacity if m not in offered]).delete()
    for month, days in offered.items():
        CapacityMonth.objects.update_or_create(firm=locked, month=month, defaults={"days": days})
    priced = {level: rate for level, rate in level_rates.items() if rate is not None}
    LevelRate.objects.filter(firm=locked, level__in=[lvl for lvl in level_rates if lvl not in priced]).delete()
    for level, rate in priced.items():
        LevelRate.objects.update_or_create(firm=locked, level=level, defaults={"daily_rate": rate})
    _touch(locked)
    record_event(
        actor=actor,
        action="partners.firm_capacity_updated",
        obj=locked,
        capacity={f"{month:%Y-%m}": str(days) for month, days in sorted(offered.items())},
        level_rates={str(level): str(rate) for level, rate in sorted(priced.items())},
    )


@transaction.atomic
def replace_attestations(*, actor: Any, firm: PartnerFirm, version: str, rows: Sequence[AttestationRow]) -> None:
    """The firm's attestations become exactly `rows`, at most one per kind."""
    locked = _lock(actor, firm, version)
    kinds = [row.kind for row in rows]
    if len(set(kinds)) != len(kinds):
        raise ValidationError(_("Une seule attestation par type."))
    for row in rows:
        if row.issued_on and row.issued_on > row.valid_until:
            raise ValidationError(_("%(kind)s : délivrée après sa fin de validité."), params={"kind": row.kind})
    Attestation.objects.filter(firm=locked).exclude(kind__in=kinds).delete()
    for row in rows:
        Attestation.objects.update_or_create(
            firm=locked,
            kind=row.kind,
            defaults={"reference": row.reference, "issued_on": row.issued_on, "valid_until": row.valid_until},
        )
    _touch(locked)
    record_event(
        actor=actor,
        action="partners.firm_attestations_updated",
        obj=locked,
        attestations={row.kind: row.valid_until.isoformat() for row in rows},
    )


@transaction.atomic
def replace_references(*, actor: Any, firm: PartnerFirm, version: str, rows: Sequence[ReferenceRow]) -> None:
    """The firm's references become exactly `rows`, in the same currency as the firm."""
    locked = _lock(actor, firm, version)
    Reference.objects.filter(firm=locked).delete()
    Reference.objects.bulk_create(
        Reference(
            firm=locked,
            title=row.title,
            buyer=row.buyer,
            year=row.year,
            amount=row.amount,
            currency=locked.currency,
            cpv_codes=row.cpv_codes,
        )
        for row in rows
    )
    _touch(locked)
    record_event(actor=actor, action="partners.firm_references_updated", obj=locked, count=len(rows))


@transaction.atomic
def replace_contacts(*, actor: Any, firm: PartnerFirm, version: str, rows: Sequence[ContactRow]) -> None:
    """The firm's contacts become exactly `rows`, at most one of them primary."""
    locked = _lock(actor, firm, version)
    if sum(row.is_primary for row in rows) > 1:
        raise ValidationError(_("Un seul contact principal."))
    Contact.objects.filter(firm=locked).delete()
    Contact.objects.bulk_create(
        Contact(firm=locked, name=row.name, role=row.role, email=row.email, phone=row.phone, is_primary=row.is_primary)
        for row in rows
    )
    _touch(locked)
    record_event(
        actor=actor, action="partners.firm_contacts_updated", obj=locked, names=sorted(row.name for row in rows)
    )
