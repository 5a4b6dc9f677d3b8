"""Writes made through the REST API: a firm's contact details, one atomic, audited change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from consortium.regions import is_department_code
from consortium.services import record_event

from ..models import PartnerFirm
from ..selectors import firms_for

CONTACT_FIELDS = ("address", "postcode", "city", "website", "description", "is_sme", "departments", "daily_rate")


def clean_departments(codes: Any) -> list[str]:
    """A list of French department codes, upper case, without duplicates; anything else is refused by name."""
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise ValidationError({"departments": [_("Une liste de codes de département est attendue.")]})
    upper = [code.strip().upper() for code in codes]
    unknown = [code for code in upper if not is_department_code(code)]
    if unknown:
        raise ValidationError(
            {
                "departments": [
                    _("Département inconnu : %(codes)s (codes attendus : 01 à 95, 2A, 2B, 971 à 976).")
                    % {"codes": ", ".join(unknown)}
                ]
            }
        )
    return list(dict.fromkeys(upper))


def _check_rate(rate: Any) -> None:
    if rate is None:
        return
    if not isinstance(rate, Decimal) or not rate.is_finite():
        raise ValidationError({"daily_rate": [_("Un montant décimal est attendu.")]})
    if rate < 0:
        raise ValidationError({"daily_rate": [_("Le tarif journalier ne peut pas être négatif.")]})


@transaction.atomic
def update_firm_contact_details(*, actor: Any, firm: PartnerFirm, **fields: Any) -> PartnerFirm:
    """Change some of the firm's CONTACT_FIELDS; refused unless `actor` may edit the firm, nothing saved on error.

    Fields not given keep their value. The audit row names the fields that really changed.
    """
    unknown = sorted(set(fields) - set(CONTACT_FIELDS))
    if unknown:
        raise ValidationError({name: [_("Ce champ ne peut pas être modifié ici.")] for name in unknown})
    locked = firms_for(actor, action="change").select_for_update().filter(pk=firm.pk).first()
    if locked is None:
        raise PermissionDenied
    if "departments" in fields:
        fields["departments"] = clean_departments(fields["departments"])
    if "daily_rate" in fields:
        _check_rate(fields["daily_rate"])
    changed = sorted(name for name, value in fields.items() if getattr(locked, name) != value)
    for name in changed:
        setattr(locked, name, fields[name])
    # The model's own checks (lengths, URL, digits) on the fields that change, before anything is written.
    locked.clean_fields(exclude=[field.name for field in PartnerFirm._meta.fields if field.name not in changed])
    if changed:
        locked.save(update_fields=[*changed, "updated_at"])
        record_event(actor=actor, action="partners.firm_contact_updated", obj=locked, fields=changed, via="api")
    return locked
