"""Who an invoice's money belongs to, and how each settlement of it is split: pure functions.

An invoice's lines carry the offer's split (firm amount, coordination fee, contribution levy, as
`pricing.arithmetic.price_offer` computed it for the offer); the levy goes to the upstream projects
of each line's work package in equal parts (the network fund when none is named). VAT follows each
share: the invoice's TTC is split along the HT shares by largest remainder.

A settlement (a payment, an advance recovered, a guarantee released) is split cumulatively: after
settlements totalling C, each share has received exactly split(C) of it. So the parts of every
settlement add up to it, and the settlements of a whole invoice add up to the split of the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from consortium.money import round_money, split_cents

from .contract_models import ShareKind

Beneficiary = tuple[str, int | None]  # (ShareKind, firm id or project id; None: fee or network fund)


@dataclass(frozen=True)
class LineSplit:
    """One invoiced line: its HT amount and the offer's split of it, in cents."""

    package_id: int
    firm_id: int
    amount_cents: int
    firm_cents: int
    fee_cents: int
    levy_cents: int


@dataclass(frozen=True)
class Share:
    beneficiary: Beneficiary
    ht_cents: int
    ttc_cents: int


def vat_cents(ht_cents: int, vat_rate: Decimal) -> int:
    return int(round_money(Decimal(ht_cents) * vat_rate / 10000) * 100)


def invoice_shares(
    lines: Sequence[LineSplit], *, projects_of_package: dict[int, list[int]], vat_rate: Decimal
) -> tuple[list[Share], int, int]:
    """The shares of an invoice (firms, fee, projects, in a stable order), its HT and its VAT."""
    ht: dict[Beneficiary, int] = {}
    for line in lines:
        if line.firm_cents + line.fee_cents + line.levy_cents != line.amount_cents:
            raise ValueError(f"line split does not add up: {line}")
        _add(ht, (ShareKind.FIRM, line.firm_id), line.firm_cents)
        _add(ht, (ShareKind.FEE, None), line.fee_cents)
        named = projects_of_package.get(line.package_id)
        projects: list[int | None] = list(named) if named else [None]
        weights = [1] * len(projects)
        for project, cents in zip(projects, split_cents(line.levy_cents, weights, len(weights)), strict=True):
            _add(ht, (ShareKind.LEVY, project), cents)
    beneficiaries = sorted((b for b, cents in ht.items() if cents), key=_order)
    total_ht = sum(ht[b] for b in beneficiaries)
    total_ttc = total_ht + vat_cents(total_ht, vat_rate)
    ttc = split_cents(total_ttc, [ht[b] for b in beneficiaries], total_ht) if total_ht else []
    shares = [Share(b, ht[b], cents) for b, cents in zip(beneficiaries, ttc, strict=True)]
    return shares, total_ht, total_ttc - total_ht


def _add(totals: dict[Beneficiary, int], beneficiary: Beneficiary, cents: int) -> None:
    totals[beneficiary] = totals.get(beneficiary, 0) + cents


def _order(beneficiary: Beneficiary) -> tuple[int, int]:
    kind, owner = beneficiary
    return ([ShareKind.FIRM, ShareKind.FEE, ShareKind.LEVY].index(ShareKind(kind)), owner or 0)


def cumulative_split(weights: Sequence[int], settled: int) -> list[int]:
    """Each share's part once `settled` cents (0 <= settled <= sum(weights)) of the whole are settled."""
    whole = sum(weights)
    if not 0 <= settled <= whole:
        raise ValueError(f"settled {settled} is outside 0..{whole}")
    if whole == 0:
        return [0] * len(weights)
    return split_cents(settled, weights, whole)


def settlement_parts(weights: Sequence[int], *, settled_before: int, amount: int) -> list[int]:
    """The parts of one settlement of `amount` cents that follows `settled_before` cents of earlier ones.

    A part can be one cent below zero when a tiny settlement follows (largest remainder is not
    monotone); the parts still add up to `amount` and every cumulative part stays within one cent.
    """
    after = cumulative_split(weights, settled_before + amount)
    before = cumulative_split(weights, settled_before)
    return [a - b for a, b in zip(after, before, strict=True)]


def advance_recovered(
    *, advance_cents: int, base_cents: int, start: Decimal, end: Decimal, executed_before: int, executed_after: int
) -> int:
    """What an invoice repays of the advance under the legal schedule: nothing until `start` % of the base
    is executed, everything by `end` %, in proportion between (code de la commande publique, R2191-11)."""
    return _recovered_at(advance_cents, base_cents, start, end, executed_after) - _recovered_at(
        advance_cents, base_cents, start, end, executed_before
    )


def _recovered_at(advance_cents: int, base_cents: int, start: Decimal, end: Decimal, executed: int) -> int:
    if advance_cents <= 0 or base_cents <= 0:
        return 0
    progress = Decimal(executed) * 100 / base_cents
    if progress >= end:
        return advance_cents
    if progress <= start or end <= start:
        return 0
    return int(round_money(Decimal(advance_cents) * (progress - start) / (end - start) / 100) * 100)
