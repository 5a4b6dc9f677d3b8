"""Posting to the ledger: accounts by code, balanced entries written in bulk, reversals.

Every function here runs inside the caller's transaction; the services own the transaction and the
audit event. The balance of each entry is checked here on every database, and again by PostgreSQL at
commit (migration 0003).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from consortium.bulk import bulk_insert, reserve_ids

from .ledger_models import Account, AccountKind, Entry, EntryKind, Posting

ENTRY_COLUMNS = (
    "id", "kind", "key", "contract_id", "invoice_id", "payment_id", "reverses_id",
    "posted_on", "memo", "created_by_id", "created_at",
)  # fmt: skip


class LedgerRefused(Exception):
    """A posting the ledger will not take: unbalanced, empty, or already posted."""


@dataclass(frozen=True)
class AccountRef:
    kind: str
    contract_id: int | None = None
    firm_id: int | None = None
    project_id: int | None = None

    @property
    def code(self) -> str:
        owner = self.contract_id or self.firm_id or self.project_id
        return self.kind if owner is None else f"{self.kind}:{owner}"


BANK = AccountRef(AccountKind.BANK)
FEE = AccountRef(AccountKind.FEE)
NETWORK_FUND = AccountRef(AccountKind.FUND)  # the levy of lines whose skills name no upstream project


def receivable(contract_id: int) -> AccountRef:
    return AccountRef(AccountKind.RECEIVABLE, contract_id=contract_id)


def to_redistribute(contract_id: int) -> AccountRef:
    return AccountRef(AccountKind.TO_REDISTRIBUTE, contract_id=contract_id)


def advance(contract_id: int) -> AccountRef:
    return AccountRef(AccountKind.ADVANCE, contract_id=contract_id)


def guarantee(contract_id: int) -> AccountRef:
    return AccountRef(AccountKind.GUARANTEE, contract_id=contract_id)


def partner(firm_id: int) -> AccountRef:
    return AccountRef(AccountKind.PARTNER, firm_id=firm_id)


def direct(firm_id: int) -> AccountRef:
    return AccountRef(AccountKind.DIRECT, firm_id=firm_id)


def fund(project_id: int | None) -> AccountRef:
    return NETWORK_FUND if project_id is None else AccountRef(AccountKind.FUND, project_id=project_id)


@dataclass
class EntryDraft:
    kind: str
    key: str
    posted_on: dt.date
    lines: list[tuple[AccountRef, int]] = field(default_factory=list)
    contract_id: int | None = None
    invoice_id: int | None = None
    payment_id: int | None = None
    reverses_id: int | None = None
    memo: str = ""

    def add(self, account: AccountRef, cents: int) -> None:
        if cents:
            self.lines.append((account, cents))


def check_balanced(draft: EntryDraft) -> None:
    total = sum(cents for _account, cents in draft.lines)
    if len(draft.lines) < 2 or total != 0:
        raise LedgerRefused(
            _("L'écriture %(key)s ne s'équilibre pas : %(count)s lignes, somme %(total)s centimes.")
            % {"key": draft.key, "count": len(draft.lines), "total": total}
        )


def account_ids(refs: Iterable[AccountRef]) -> dict[AccountRef, int]:
    """The account of each ref, created the first time it is used."""
    wanted = {ref.code: ref for ref in refs}
    found = dict(Account.objects.filter(code__in=list(wanted)).values_list("code", "id"))
    missing = [ref for code, ref in wanted.items() if code not in found]
    if missing:
        Account.objects.bulk_create(
            [
                Account(
                    code=ref.code,
                    kind=ref.kind,
                    contract_id=ref.contract_id,
                    firm_id=ref.firm_id,
                    project_id=ref.project_id,
                )
                for ref in missing
            ],
            ignore_conflicts=True,  # a concurrent first use of the same account
        )
        found = dict(Account.objects.filter(code__in=list(wanted)).values_list("code", "id"))
    return {ref: found[code] for code, ref in wanted.items()}


def existing_keys(keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 5000):
        found.update(Entry.objects.filter(key__in=keys[start : start + 5000]).values_list("key", flat=True))
    return found


def post_entries(drafts: Sequence[EntryDraft], *, actor: Any = None) -> int:
    """Write balanced entries with their postings, in bulk; returns how many entries were written.

    Refuses the whole list (nothing written) when one entry does not balance or a key was posted before.
    """
    if not drafts:
        return 0
    for draft in drafts:
        check_balanced(draft)
    keys = [draft.key for draft in drafts]
    if len(set(keys)) != len(keys) or existing_keys(keys):
        raise LedgerRefused(_("Écriture déjà passée (même clé) : rien n'a été écrit."))
    accounts = account_ids({ref for draft in drafts for ref, _cents in draft.lines})
    ids = reserve_ids(Entry, len(drafts))
    now = timezone.now()
    actor_id = getattr(actor, "pk", None)
    entry_rows = []
    posting_rows: list[tuple[int, int, int]] = []
    for entry_id, draft in zip(ids, drafts, strict=True):
        entry_rows.append(
            (
                entry_id, draft.kind, draft.key, draft.contract_id, draft.invoice_id, draft.payment_id,
                draft.reverses_id, draft.posted_on, draft.memo[:200], actor_id, now,
            )
        )  # fmt: skip
        posting_rows.extend((entry_id, accounts[ref], cents) for ref, cents in draft.lines)
    try:
        with transaction.atomic():
            bulk_insert(Entry, ENTRY_COLUMNS, entry_rows)
            bulk_insert(Posting, ("entry_id", "account_id", "amount_cents"), posting_rows)
    except IntegrityError as exc:  # a key posted by a concurrent transaction
        raise LedgerRefused(_("Écriture déjà passée (même clé) : rien n'a été écrit.")) from exc
    return len(drafts)


def reversal_draft(entry: Entry, *, posted_on: dt.date, memo: str) -> EntryDraft:
    """The mirror of `entry`: the same accounts with opposite amounts."""
    draft = EntryDraft(
        kind=EntryKind.REVERSAL,
        key=f"reversal:{entry.pk}",
        posted_on=posted_on,
        contract_id=entry.contract_id,
        invoice_id=entry.invoice_id,
        payment_id=entry.payment_id,
        reverses_id=entry.pk,
        memo=memo,
    )
    for posting in entry.postings.select_related("account"):
        account = posting.account
        ref = AccountRef(account.kind, account.contract_id, account.firm_id, account.project_id)
        draft.add(ref, -posting.amount_cents)
    return draft


def reverse_entries(entries: Sequence[Entry], *, actor: Any, posted_on: dt.date, memo: str) -> int:
    already = [entry.pk for entry in entries if Entry.objects.filter(reverses_id=entry.pk).exists()]
    if already:
        raise LedgerRefused(_("Écriture déjà contre-passée : %(ids)s.") % {"ids": ", ".join(map(str, already))})
    return post_entries([reversal_draft(entry, posted_on=posted_on, memo=memo) for entry in entries], actor=actor)


def balance(refs: Iterable[AccountRef]) -> int:
    """The sum of the postings on these accounts (debits positive), exact on every database."""
    codes = [ref.code for ref in refs]
    total = Posting.objects.filter(account__code__in=codes).aggregate(total=Sum("amount_cents"))["total"]
    return int(total or 0)
