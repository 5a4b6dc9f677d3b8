"""Writes: where a firm's payouts go, kept by finance."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from consortium.services import record_event
from partners.models import PartnerFirm

from ..iban import bic_problem, iban_problem, normalize_bic, normalize_iban
from ..models import PartnerBankAccount
from .contracts import ContractRefused

HOLDER_MAX = 70  # the SEPA limit on a creditor's name


def masked_iban(iban: str) -> str:
    """What the audit log keeps of an IBAN: enough to recognise it, not enough to use it."""
    return f"{iban[:4]}…{iban[-4:]}" if len(iban) > 8 else "…"


@transaction.atomic
def set_bank_account(*, actor: Any, firm: PartnerFirm, holder: str, iban: str, bic: str = "") -> PartnerBankAccount:
    """Record (or replace) the account a firm's payouts are sent to; the next payout batch uses it."""
    holder = " ".join(holder.split())
    iban, bic = normalize_iban(iban), normalize_bic(bic)
    if not holder:
        raise ContractRefused(_("Le titulaire du compte est obligatoire."))
    if len(holder) > HOLDER_MAX:
        raise ContractRefused(_("Titulaire : %(max)s caractères au plus.") % {"max": HOLDER_MAX})
    problem = iban_problem(iban) or (bic_problem(bic) if bic else None)
    if problem:
        raise ContractRefused(problem)
    previous = PartnerBankAccount.objects.select_for_update().filter(firm=firm).first()
    account, created = PartnerBankAccount.objects.update_or_create(
        firm=firm, defaults={"holder": holder, "iban": iban, "bic": bic}
    )
    record_event(
        actor=actor,
        action="bank_account.created" if created else "bank_account.changed",
        obj=account,
        firm=firm.pk,
        iban=masked_iban(iban),
        previous_iban=masked_iban(previous.iban) if previous else "",
    )
    return account
