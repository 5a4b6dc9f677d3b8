"""Writes: payouts to partners in batches, each posted once whatever the number of runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from consortium.services import record_event
from partners.models import PartnerFirm

from .. import ledger
from ..ledger_models import Account, AccountKind, Entry, EntryKind, PayoutBatch, PayoutItem, Posting
from ..models import PartnerBankAccount
from .contracts import ContractRefused


@dataclass
class PayoutRun:
    batch: PayoutBatch
    created: bool  # False: the key was run before, nothing was posted this time
    skipped: list[str] = field(default_factory=list)


def owed_to_firms() -> dict[int, int]:
    """What the guichet owes each firm now, in cents: its partner and direct accounts, negated."""
    rows = (
        Posting.objects.filter(account__kind__in=[AccountKind.PARTNER, AccountKind.DIRECT])
        .values("account__firm_id")
        .annotate(total=Sum("amount_cents"))
    )
    return {row["account__firm_id"]: -int(row["total"]) for row in rows}


@transaction.atomic
def run_payout_batch(*, actor: Any, key: str, execution_date: dt.date) -> PayoutRun:
    """Pay every firm what it is owed, to the IBAN finance recorded; a key already run posts nothing."""
    key = key.strip()
    if not key:
        raise ContractRefused(_("La clé du lot de virements est obligatoire."))
    existing = PayoutBatch.objects.filter(key=key).first()
    if existing is not None:
        return PayoutRun(batch=existing, created=False)
    try:
        with transaction.atomic():
            batch = PayoutBatch.objects.create(key=key, execution_date=execution_date, created_by=actor)
    except IntegrityError:  # the same key run at the same moment elsewhere: that run posts, this one not
        return PayoutRun(batch=PayoutBatch.objects.get(key=key), created=False)
    # Locked: a contribution paid from a firm's payable (services/commitments.py) waits for this batch.
    list(Account.objects.select_for_update().filter(kind=AccountKind.PARTNER).values_list("pk", flat=True))
    owed = {firm_id: cents for firm_id, cents in owed_to_firms().items() if cents > 0}
    firms = PartnerFirm.objects.in_bulk(list(owed))
    accounts = PartnerBankAccount.objects.in_bulk(list(owed), field_name="firm_id")
    skipped, drafts, payable = [], [], []
    for firm_id in sorted(owed, key=lambda pk: firms[pk].name):
        account = accounts.get(firm_id)
        if account is None:
            skipped.append(_("%(firm)s : pas de coordonnées bancaires.") % {"firm": firms[firm_id].name})
            continue
        draft = ledger.EntryDraft(
            kind=EntryKind.PAYOUT, key=f"payout:{key}:{firm_id}", posted_on=execution_date, memo=key
        )
        draft.add(ledger.partner(firm_id), owed[firm_id])
        draft.add(ledger.BANK, -owed[firm_id])
        drafts.append(draft)
        payable.append((firm_id, account))
    ledger.post_entries(drafts, actor=actor)
    entries = dict(Entry.objects.filter(key__in=[d.key for d in drafts]).values_list("key", "id"))
    PayoutItem.objects.bulk_create(
        PayoutItem(
            batch=batch,
            firm_id=firm_id,
            holder=account.holder,
            iban=account.iban,
            bic=account.bic,
            amount_cents=owed[firm_id],
            entry_id=entries[f"payout:{key}:{firm_id}"],
        )
        for firm_id, account in payable
    )
    batch.total_cents = sum(owed[firm_id] for firm_id, _account in payable)
    batch.save(update_fields=["total_cents"])
    record_event(actor=actor, action="payouts.posted", obj=batch, count=len(payable), total_cents=batch.total_cents)
    return PayoutRun(batch=batch, created=True, skipped=skipped)
