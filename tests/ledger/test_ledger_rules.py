"""The ledger's rules: balanced entries only, each key once, never edited, corrected by reversal.

The application refuses on every database; PostgreSQL refuses again by itself (migration 0003): an
unbalanced entry at COMMIT, a posting added to an entry of an earlier transaction, any UPDATE or DELETE.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from consortium.bulk import bulk_insert, reserve_ids
from pricing import ledger
from pricing.ledger import ENTRY_COLUMNS, EntryDraft, LedgerRefused
from pricing.ledger_models import Account, Entry, EntryKind, Posting
from pricing.models import Invoice, InvoiceStatus, Payment
from pricing.services.contracts import ContractRefused, issue_invoice
from pricing.services.payments import PaymentInput, record_payment, reverse_payment
from tests.ledger.conftest import SIGNED_ON, LedgerContract

ON = dt.date(2026, 3, 1)


def draft(key: str, *lines: tuple[ledger.AccountRef, int]) -> EntryDraft:
    entry = EntryDraft(kind=EntryKind.PAYMENT, key=key, posted_on=ON)
    for account, cents in lines:
        entry.add(account, cents)
    return entry


def counts() -> tuple[int, int]:
    return Entry.objects.count(), Posting.objects.count()


def all_balances() -> dict[str, int]:
    """Every account's balance, by code, the empty ones left out."""
    totals: dict[str, int] = {}
    for code, cents in Posting.objects.values_list("account__code", "amount_cents"):
        totals[code] = totals.get(code, 0) + cents
    return {code: cents for code, cents in totals.items() if cents}


def entry_snapshot(entry_id: int) -> tuple[Any, ...]:
    entry = Entry.objects.get(pk=entry_id)
    postings = list(entry.postings.order_by("pk").values_list("pk", "account_id", "amount_cents"))
    return (entry.kind, entry.key, entry.memo, entry.posted_on, entry.payment_id, entry.reverses_id, postings)


# the application's checks, on every database ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "lines",
    [
        [],
        [(ledger.BANK, 100)],
        [(ledger.BANK, 100), (ledger.FEE, -99)],
        [(ledger.BANK, 100), (ledger.FEE, -50), (ledger.partner(1), -49)],
        [(ledger.BANK, 100), (ledger.FEE, 0)],  # a zero line is dropped: one line left
    ],
)
def test_an_unbalanced_entry_is_refused_and_nothing_is_written(lines: list[tuple[ledger.AccountRef, int]]) -> None:
    good = draft("good", (ledger.BANK, 100), (ledger.FEE, -100))
    with pytest.raises(LedgerRefused, match="ne s'équilibre pas"):
        ledger.post_entries([good, draft("bad", *lines)])
    assert counts() == (0, 0)
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_a_balanced_entry_is_written_with_its_postings() -> None:
    assert ledger.post_entries([draft("k1", (ledger.BANK, 250), (ledger.FEE, -200), (ledger.NETWORK_FUND, -50))]) == 1
    entry = Entry.objects.get(key="k1")
    assert sorted(entry.postings.values_list("account__code", "amount_cents")) == [
        ("bank", 250),
        ("fee", -200),
        ("fund", -50),
    ]
    assert ledger.balance([ledger.BANK]) == 250
    assert ledger.balance([ledger.FEE, ledger.NETWORK_FUND]) == -250


@pytest.mark.django_db
def test_a_key_posted_before_is_refused() -> None:
    ledger.post_entries([draft("k1", (ledger.BANK, 100), (ledger.FEE, -100))])
    with pytest.raises(LedgerRefused, match="même clé"):
        ledger.post_entries(
            [draft("k2", (ledger.BANK, 7), (ledger.FEE, -7)), draft("k1", (ledger.BANK, 100), (ledger.FEE, -100))]
        )
    assert counts() == (1, 2)
    assert ledger.balance([ledger.BANK]) == 100


@pytest.mark.django_db
def test_a_key_taken_by_a_concurrent_transaction_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    ledger.post_entries([draft("k1", (ledger.BANK, 100), (ledger.FEE, -100))])
    # the other transaction commits the same key after our check: the unique index refuses it
    monkeypatch.setattr(ledger, "existing_keys", lambda keys: set())
    with pytest.raises(LedgerRefused, match="même clé"):
        ledger.post_entries([draft("k1", (ledger.BANK, 100), (ledger.FEE, -100))])
    assert counts() == (1, 2)


@pytest.mark.django_db
def test_a_key_twice_in_one_call_is_refused() -> None:
    twice = [draft("k1", (ledger.BANK, 100), (ledger.FEE, -100)), draft("k1", (ledger.BANK, 5), (ledger.FEE, -5))]
    with pytest.raises(LedgerRefused, match="même clé"):
        ledger.post_entries(twice)
    assert counts() == (0, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE pricing_entry SET memo = 'edited' WHERE key = 'k1'",
        "UPDATE pricing_entry SET posted_on = '2026-01-01'",
        "UPDATE pricing_posting SET amount_cents = amount_cents * 2",
        "UPDATE pricing_posting SET account_id = account_id",
    ],
)
def test_a_posted_entry_cannot_be_updated(sql: str) -> None:
    ledger.post_entries([draft("k1", (ledger.BANK, 100), (ledger.FEE, -100))])
    before = entry_snapshot(Entry.objects.get(key="k1").pk)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert entry_snapshot(Entry.objects.get(key="k1").pk) == before


@pytest.mark.django_db
def test_the_orm_cannot_update_a_posting_either() -> None:
    ledger.post_entries([draft("k1", (ledger.BANK, 100), (ledger.FEE, -100))])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Posting.objects.filter(amount_cents=100).update(amount_cents=1)
    assert ledger.balance([ledger.BANK]) == 100


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    ["DELETE FROM pricing_posting WHERE amount_cents < 0", "DELETE FROM pricing_entry", "DELETE FROM pricing_posting"],
)
def test_a_posted_entry_cannot_be_deleted_on_postgres(sql: str) -> None:
    ledger.post_entries([draft("k1", (ledger.BANK, 100), (ledger.FEE, -100))])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert counts() == (1, 2)


# reversal rather than edit ----------------------------------------------------------------------------


def _invoice(ledger_contract: LedgerContract) -> Invoice:
    order = ledger_contract.order()
    return issue_invoice(actor=ledger_contract.finance, order=order, number="F-1", issued_on=SIGNED_ON)


def _pay(ledger_contract: LedgerContract, invoice: Invoice, cents: int, reference: str) -> Payment:
    return record_payment(
        actor=ledger_contract.finance,
        payment=PaymentInput(invoice.pk, SIGNED_ON + dt.timedelta(days=30), cents, reference),
    )


def test_reversal_posts_mirror_entries_and_restores_every_balance(ledger_contract: LedgerContract) -> None:
    invoice = _invoice(ledger_contract)
    before = all_balances()
    payment = _pay(ledger_contract, invoice, invoice.total_ttc_cents, "VIR-1")
    originals = list(Entry.objects.filter(payment=payment).order_by("pk"))
    assert [entry.kind for entry in originals] == [EntryKind.PAYMENT, EntryKind.REDISTRIBUTION]
    snapshots = {entry.pk: entry_snapshot(entry.pk) for entry in originals}
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID

    reverse_payment(
        actor=ledger_contract.finance, payment=payment, reason="virement rejeté par la banque", posted_on=ON
    )

    assert all_balances() == before
    assert {entry.pk: entry_snapshot(entry.pk) for entry in originals} == snapshots  # never edited
    for original in originals:
        mirror = Entry.objects.get(reverses=original)
        assert mirror.kind == EntryKind.REVERSAL
        assert mirror.key == f"reversal:{original.pk}"
        assert mirror.payment_id == payment.pk
        assert mirror.posted_on == ON
        assert mirror.memo == "virement rejeté par la banque"
        assert sorted(mirror.postings.values_list("account_id", "amount_cents")) == sorted(
            (account, -cents) for account, cents in original.postings.values_list("account_id", "amount_cents")
        )
    payment.refresh_from_db()
    assert payment.reversed_at is not None
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.ISSUED


def test_a_payment_is_reversed_once(ledger_contract: LedgerContract) -> None:
    invoice = _invoice(ledger_contract)
    payment = _pay(ledger_contract, invoice, 100_00, "VIR-1")
    reverse_payment(actor=ledger_contract.finance, payment=payment, reason="doublon")
    after_first = counts()
    with pytest.raises(ContractRefused, match="déjà annulé"):
        reverse_payment(actor=ledger_contract.finance, payment=payment, reason="doublon")
    originals = list(Entry.objects.filter(payment=payment, reverses__isnull=True).exclude(kind=EntryKind.REVERSAL))
    with pytest.raises(LedgerRefused, match="déjà contre-passée"):
        ledger.reverse_entries(originals, actor=None, posted_on=ON, memo="encore")
    assert counts() == after_first


def test_a_reversal_needs_a_reason(ledger_contract: LedgerContract) -> None:
    invoice = _invoice(ledger_contract)
    payment = _pay(ledger_contract, invoice, 100_00, "VIR-1")
    with pytest.raises(ContractRefused, match="motif"):
        reverse_payment(actor=ledger_contract.finance, payment=payment, reason="  ")
    assert not Entry.objects.filter(kind=EntryKind.REVERSAL).exists()


def test_an_older_payment_is_not_reversed_while_a_newer_one_stands(ledger_contract: LedgerContract) -> None:
    invoice = _invoice(ledger_contract)
    older = _pay(ledger_contract, invoice, 100_00, "VIR-1")
    newer = _pay(ledger_contract, invoice, 200_00, "VIR-2")
    entries = counts()
    with pytest.raises(ContractRefused, match="plus récents"):
        reverse_payment(actor=ledger_contract.finance, payment=older, reason="erreur de saisie")
    assert counts() == entries
    older.refresh_from_db()
    assert older.reversed_at is None
    reverse_payment(actor=ledger_contract.finance, payment=newer, reason="erreur de saisie")
    reverse_payment(actor=ledger_contract.finance, payment=older, reason="erreur de saisie")
    assert ledger.balance([ledger.BANK]) == 0


def test_a_correction_is_a_reversal_plus_a_new_payment(ledger_contract: LedgerContract) -> None:
    invoice = _invoice(ledger_contract)
    wrong = _pay(ledger_contract, invoice, 1_000_00, "VIR-1")
    reverse_payment(actor=ledger_contract.finance, payment=wrong, reason="montant mal saisi")
    _pay(ledger_contract, invoice, 100_00, "VIR-1-bis")
    assert ledger.balance([ledger.BANK]) == 100_00
    live = Posting.objects.filter(entry__kind=EntryKind.REDISTRIBUTION, entry__payment__reversed_at=None)
    assert sum(live.exclude(account__kind="billed").values_list("amount_cents", flat=True)) == -100_00
    assert ledger.balance([ledger.to_redistribute(invoice.contract_id)]) == -(invoice.total_ttc_cents - 100_00)


# PostgreSQL refuses by itself, at COMMIT -------------------------------------------------------------


def _raw_entry(
    key: str, postings: list[tuple[ledger.AccountRef, int]], *, entry_id: int | None = None, writer: str = "sql"
) -> int:
    """An entry and its postings written straight into the tables, past the application's checks:
    with `consortium.bulk.bulk_insert` (COPY on PostgreSQL) or plain INSERT statements."""
    accounts = ledger.account_ids(ref for ref, _cents in postings)
    rows = [(entry_id, accounts[ref], cents) for ref, cents in postings]
    if entry_id is None:
        [entry_id] = reserve_ids(Entry, 1)
        rows = [(entry_id, account, cents) for _none, account, cents in rows]
        entry = (entry_id, EntryKind.PAYMENT, key, None, None, None, None, ON, "", None, timezone.now())
        if writer == "bulk_insert":
            bulk_insert(Entry, ENTRY_COLUMNS, [entry])
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO pricing_entry ({', '.join(ENTRY_COLUMNS)}) VALUES ({', '.join(['%s'] * 11)})", entry
                )
    if writer == "bulk_insert":
        bulk_insert(Posting, ("entry_id", "account_id", "amount_cents"), rows)
    elif rows:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO pricing_posting (entry_id, account_id, amount_cents) VALUES (%s, %s, %s)", rows
            )
    return entry_id


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writer", ["bulk_insert", "sql"])
@pytest.mark.parametrize(
    "postings",
    [
        [],
        [(ledger.BANK, 100)],
        [(ledger.BANK, 100), (ledger.FEE, -99)],
        [(ledger.BANK, 100), (ledger.FEE, -60), (ledger.NETWORK_FUND, -60)],
    ],
)
def test_postgres_refuses_an_unbalanced_entry_at_commit(
    postings: list[tuple[ledger.AccountRef, int]], writer: str
) -> None:
    ledger.account_ids([ledger.BANK, ledger.FEE, ledger.NETWORK_FUND])

    def one_transaction() -> None:
        with transaction.atomic():
            _raw_entry("planted", postings, writer=writer)
            assert Entry.objects.filter(key="planted").exists()  # accepted until the COMMIT

    with pytest.raises(IntegrityError, match="does not balance"):
        one_transaction()
    assert counts() == (0, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_an_unbalanced_entry_inserted_by_plain_sql() -> None:
    bank = ledger.account_ids([ledger.BANK])[ledger.BANK]

    def one_transaction() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO pricing_entry (kind, key, posted_on, memo, created_at) "
                "VALUES ('payment', 'plain', '2026-03-01', '', now()) RETURNING id"
            )
            entry_id = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO pricing_posting (entry_id, account_id, amount_cents) VALUES (%s, %s, 500)",
                [entry_id, bank],
            )

    with pytest.raises(IntegrityError, match="does not balance"):
        one_transaction()
    assert counts() == (0, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_commits_a_balanced_entry_written_in_bulk() -> None:
    ledger.account_ids([ledger.BANK, ledger.FEE])
    with transaction.atomic():
        _raw_entry("balanced", [(ledger.BANK, 100), (ledger.FEE, -100)], writer="bulk_insert")
    assert counts() == (1, 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "extra",
    [[(ledger.BANK, 5)], [(ledger.BANK, 5), (ledger.FEE, -5)]],  # even a balanced pair: the entry is closed
)
def test_postgres_refuses_a_posting_added_to_an_entry_of_an_earlier_transaction(
    extra: list[tuple[ledger.AccountRef, int]],
) -> None:
    with transaction.atomic():
        ledger.post_entries([draft("k1", (ledger.BANK, 100), (ledger.FEE, -100))])
    entry_id = Entry.objects.get(key="k1").pk
    with pytest.raises(IntegrityError, match="earlier transaction"), transaction.atomic():
        _raw_entry("", extra, entry_id=entry_id)
    assert counts() == (1, 2)
    assert ledger.balance([ledger.BANK]) == 100
