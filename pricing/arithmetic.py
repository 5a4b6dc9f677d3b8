"""The arithmetic of an offer's prices: pure Decimal functions, no database.

For every line, with rates in percent:
    offered unit = round_money(firm unit x (1 + (fee + levy) / 100))      rounded once
    amount       = round_money(quantity x offered unit)                  0.00 without a quantity
    firm amount  = round_money(quantity x firm unit)
    fee + levy   = amount - firm amount, split fee:levy by largest remainder, to the cent
A lot's VAT is round_money(lot amount x vat / 100); the tender's totals are the sums of its lots'.

Why the margin is never negative: rates are >= 0, so firm unit x (1 + rates) >= firm unit; rounding
half-up is monotone and leaves the firm unit (already whole cents) unchanged, so offered unit >= firm
unit. With quantity >= 0, quantity x offered unit >= quantity x firm unit, and monotone rounding keeps
that order: amount >= firm amount. `price_offer` refuses the inputs this proof does not cover
(negative quantities or prices, prices with fractions of a cent, rates out of range).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, localcontext

from django.utils.translation import gettext as _

from consortium.money import from_cents, integer_weights, round_money, split_cents
from consortium.offer_pricing import LineToPrice, Policy, PricedLine, PricedOffer, PricingRefused, Totals

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
MAX_RATE = Decimal(100)
RATE_STEP = Decimal("0.0001")  # rates are stored with 4 decimals
# Room for exact products of the largest stored quantities (18 digits) and prices (14 digits).
PRECISION = 60


def check_policy(policy: Policy) -> Policy:
    """The policy itself, or PricingRefused naming the rate that is not a percentage with <= 4 decimals."""
    for value, name in (
        (policy.fee_rate, _("frais de coordination")),
        (policy.levy_rate, _("contribution amont")),
        (policy.vat_rate, _("TVA")),
    ):
        if not isinstance(value, Decimal) or not value.is_finite():
            raise PricingRefused(_("Taux « %(field)s » : un nombre est attendu.") % {"field": name})
        if not 0 <= value <= MAX_RATE:
            raise PricingRefused(
                _("Taux « %(field)s » : %(value)s %% n'est pas entre 0 et 100 %%.") % {"field": name, "value": value}
            )
        if value != value.quantize(RATE_STEP):
            raise PricingRefused(
                _("Taux « %(field)s » : %(value)s a plus de 4 décimales.") % {"field": name, "value": value}
            )
    return policy


def price_offer(policy: Policy, lines: Iterable[LineToPrice]) -> PricedOffer:
    """Every line priced, the totals of each lot (`group`) and of the tender; lines keep their order."""
    check_policy(policy)
    with localcontext() as context:
        context.prec = PRECISION
        factor = 1 + (policy.fee_rate + policy.levy_rate) / HUNDRED
        weights = integer_weights([policy.fee_rate, policy.levy_rate])
        whole = sum(weights)  # 0 only when both rates are 0, and then every margin is 0
        priced: list[PricedLine] = []
        sums: dict[int, list[Decimal]] = {}  # group -> [amount, firm, fee, levy]
        for line in lines:
            firm_unit = _firm_unit(line)
            quantity = line.quantity
            unit = round_money(firm_unit * factor)
            if quantity is None:
                amount = firm_amount = fee = levy = ZERO
            else:
                if quantity.is_signed() or not quantity.is_finite():
                    quantity = _zero_quantity(line)
                amount = round_money(quantity * unit)
                firm_amount = round_money(quantity * firm_unit)
                margin = int((amount - firm_amount) * 100)
                if margin:
                    fee_cents, levy_cents = split_cents(margin, weights, whole)
                    fee, levy = from_cents(fee_cents), from_cents(levy_cents)
                else:
                    fee = levy = ZERO
            priced.append(
                PricedLine(
                    key=line.key,
                    group=line.group,
                    quantity=quantity,
                    firm_unit_price=firm_unit,
                    unit_price=unit,
                    amount=amount,
                    firm_amount=firm_amount,
                    fee_amount=fee,
                    levy_amount=levy,
                )
            )
            sums_of_group = sums.get(line.group)
            if sums_of_group is None:
                sums[line.group] = [amount, firm_amount, fee, levy]
            else:
                sums_of_group[0] += amount
                sums_of_group[1] += firm_amount
                sums_of_group[2] += fee
                sums_of_group[3] += levy
        groups = {
            group: Totals.of_lot(amount=v[0], firm=v[1], fee=v[2], levy=v[3], vat_rate=policy.vat_rate)
            for group, v in sums.items()
        }
        return PricedOffer(policy=policy, lines=priced, groups=groups, total=Totals.add(groups.values()))


def _firm_unit(line: LineToPrice) -> Decimal:
    price = line.firm_unit_price
    if price.is_signed() or not price.is_finite() or price != round_money(price):
        if price.is_finite() and price == 0:
            return ZERO  # a negative zero is zero
        raise PricingRefused(
            _("Ligne %(key)s : prix unitaire %(value)s invalide (un montant positif ou nul, au centime, est attendu).")
            % {"key": line.key, "value": price}
        )
    return price


def _zero_quantity(line: LineToPrice) -> Decimal:
    """A negative zero quantity is zero; any other negative or non-finite quantity is refused."""
    quantity = line.quantity
    if quantity is not None and quantity.is_finite() and quantity == 0:
        return Decimal(0)
    raise PricingRefused(
        _("Ligne %(key)s : quantité %(value)s invalide (un nombre positif ou nul est attendu).")
        % {"key": line.key, "value": quantity}
    )
