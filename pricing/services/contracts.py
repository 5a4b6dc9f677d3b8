"""Writes: the contract of a won offer, its purchase orders, invoices and credit notes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from bids.models import PackageSkill
from bids.offer_models import MemberRole, OfferLine, OfferStatus, OfferVersion
from consortium.offer_pricing import LineToPrice, Policy
from consortium.services import record_event

from .. import ledger
from ..arithmetic import price_offer
from ..ledger_models import EntryKind
from ..models import (
    Contract,
    ContractParty,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceShare,
    InvoiceStatus,
    InvoicingCircuit,
    OrderLine,
    PaymentRoute,
    PurchaseOrder,
    UpstreamProject,
)
from ..redistribution import LineSplit, Share, cumulative_split, invoice_shares, vat_cents
from .commitments import free_project_slug


class ContractRefused(Exception):
    """A contract write refused, with the reason for the user."""


@dataclass(frozen=True)
class ContractTerms:
    reference: str
    title: str
    kind: str
    signed_on: dt.date
    starts_on: dt.date
    ends_on: dt.date
    minimum_cents: int | None = None
    maximum_cents: int | None = None
    advance_rate: Decimal = Decimal(0)
    guarantee_rate: Decimal = Decimal(0)
    guarantee_release_on: dt.date | None = None
    invoicing_circuit: str = InvoicingCircuit.GLOBAL
    payment_days: int = 30


@transaction.atomic
def create_contract(
    *, actor: Any, version: OfferVersion, terms: ContractTerms, routes: dict[int, str] | None = None
) -> Contract:
    """The won version becomes a contract; each member keeps its role and gets a payment route
    (a subcontractor with direct payment in the offer is paid directly by the buyer by default)."""
    version = OfferVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != OfferStatus.WON:
        raise ContractRefused(
            _("Seule une offre gagnée devient un marché (version %(n)s : %(status)s).")
            % {"n": version.number, "status": version.get_status_display()}
        )
    if hasattr(version, "contract"):
        raise ContractRefused(_("Cette offre a déjà son marché : %(ref)s.") % {"ref": version.contract.reference})
    _check_terms(terms)
    try:
        with transaction.atomic():
            contract = Contract.objects.create(
                version=version, vat_rate=version.vat_rate or Decimal(0), created_by=actor, **terms.__dict__
            )
    except IntegrityError as exc:
        raise ContractRefused(_("La référence %(ref)s est déjà prise.") % {"ref": terms.reference}) from exc
    routes = routes or {}
    for member in version.members.select_related("firm"):
        default = PaymentRoute.DIRECT if member.direct_payment else PaymentRoute.GUICHET
        route = routes.get(member.firm_id, default)
        if route == PaymentRoute.DIRECT and member.role != MemberRole.SUBCONTRACTOR:
            raise ContractRefused(
                _("%(firm)s : le paiement direct est réservé aux sous-traitants.") % {"firm": member.firm.name}
            )
        ContractParty.objects.create(contract=contract, firm=member.firm, role=member.role, payment_route=route)
    record_event(actor=actor, action="contract.created", obj=contract, version=version.pk)
    return contract


def _check_terms(terms: ContractTerms) -> None:
    if not terms.reference.strip():
        raise ContractRefused(_("La référence du marché est obligatoire."))
    if terms.ends_on < terms.starts_on:
        raise ContractRefused(_("La fin du marché précède son début."))
    if (
        terms.minimum_cents is not None
        and terms.maximum_cents is not None
        and terms.minimum_cents > terms.maximum_cents
    ):
        raise ContractRefused(_("Le minimum dépasse le maximum."))
    if not 0 <= terms.guarantee_rate <= 5:
        raise ContractRefused(_("La retenue de garantie est au plus de 5 %."))
    if not 0 <= terms.advance_rate <= 100:
        raise ContractRefused(_("Le taux d'avance doit être entre 0 et 100 %."))


def version_policy(version: OfferVersion) -> Policy:
    return Policy(
        fee_rate=version.fee_rate or Decimal(0),
        levy_rate=version.levy_rate or Decimal(0),
        vat_rate=version.vat_rate or Decimal(0),
    )


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


@transaction.atomic
def create_order(
    *, actor: Any, contract: Contract, lot_id: int, number: str, issued_on: dt.date,
    lines: Sequence[tuple[int, Decimal]],
) -> PurchaseOrder:  # fmt: skip
    """A purchase order of one lot: (offer line id, quantity) pairs at the offered unit prices."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    if not lines:
        raise ContractRefused(_("Bon de commande %(n)s : aucune ligne.") % {"n": number})
    if not number.strip():
        raise ContractRefused(_("Le numéro du bon de commande est obligatoire."))
    if not contract.starts_on <= issued_on <= contract.ends_on:
        raise ContractRefused(_("Bon de commande %(n)s : daté hors de la durée du marché.") % {"n": number})
    offer_lines = {
        line.pk: line
        for line in OfferLine.objects.filter(version_id=contract.version_id, pk__in=[pk for pk, _q in lines])
    }
    priced = price_offer(
        version_policy(contract.version),
        [_line_to_price(offer_lines, number, lot_id, pk, quantity) for pk, quantity in lines],
    )
    if len({pk for pk, _q in lines}) != len(lines):
        raise ContractRefused(_("Bon de commande %(n)s : une ligne figure deux fois.") % {"n": number})
    total = sum(_cents(line.amount) for line in priced.lines)
    if contract.maximum_cents is not None:
        ordered = PurchaseOrder.objects.filter(contract=contract).aggregate(s=Sum("total_ht_cents"))["s"] or 0
        if ordered + total > contract.maximum_cents:
            raise ContractRefused(
                _("Bon de commande %(n)s : le maximum du marché serait dépassé (%(over)s centimes de trop).")
                % {"n": number, "over": ordered + total - contract.maximum_cents}
            )
    try:
        with transaction.atomic():
            order = PurchaseOrder.objects.create(
                contract=contract, lot_id=lot_id, number=number, issued_on=issued_on, total_ht_cents=total,
                created_by=actor,
            )  # fmt: skip
    except IntegrityError as exc:
        raise ContractRefused(_("Le bon de commande %(n)s existe déjà.") % {"n": number}) from exc
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            offer_line=offer_lines[line.key],
            firm_id=offer_lines[line.key].firm_id,
            quantity=dict(lines)[line.key],
            unit_price=line.unit_price,
            amount_cents=_cents(line.amount),
        )
        for line in priced.lines
    )
    record_event(actor=actor, action="order.created", obj=order, total_ht_cents=total)
    return order


def _line_to_price(
    offer_lines: dict[int, OfferLine], number: str, lot_id: int, pk: int, quantity: Decimal
) -> LineToPrice:
    line = offer_lines.get(pk)
    if line is None or line.lot_id != lot_id:
        raise ContractRefused(
            _("Bon de commande %(n)s : la ligne %(pk)s n'est pas une ligne de ce lot du marché.")
            % {"n": number, "pk": pk}
        )
    if not quantity.is_finite() or quantity <= 0:
        raise ContractRefused(
            _("Bon de commande %(n)s : quantité %(q)s invalide (positive attendue).") % {"n": number, "q": quantity}
        )
    return LineToPrice(key=pk, group=lot_id, firm_unit_price=line.firm_unit_price, quantity=quantity)


@transaction.atomic
def issue_invoice(
    *, actor: Any, order: PurchaseOrder, number: str, issued_on: dt.date,
    lines: Sequence[tuple[int, Decimal]] | None = None, issuer_id: int | None = None,
) -> Invoice:  # fmt: skip
    """An invoice against an order: (order line id, quantity) pairs, by default all that is not yet invoiced.

    Global circuit: the mandataire invoices every firm's lines and the invoice is posted at once.
    Members circuit: `issuer_id` invoices its own lines and the invoice waits for the mandataire's validation.
    """
    contract = Contract.objects.select_for_update().get(pk=order.contract_id)
    members_circuit = contract.invoicing_circuit == InvoicingCircuit.MEMBERS
    if members_circuit and issuer_id is None:
        raise ContractRefused(_("Circuit « chaque cotraitant facture » : indiquez le membre qui facture."))
    if not number.strip():
        raise ContractRefused(_("Le numéro de facture est obligatoire."))
    left = _left_to_invoice(order)
    if lines is None:
        lines = [(pk, qty) for pk, (qty, line) in left.items() if qty > 0 and issuer_id in (None, line.firm_id)]
    if not lines:
        raise ContractRefused(_("Facture %(n)s : plus rien à facturer sur ce bon de commande.") % {"n": number})
    policy = version_policy(contract.version)
    to_price = []
    for pk, quantity in lines:
        remaining, order_line = left.get(pk, (Decimal(0), None))
        if order_line is None:
            raise ContractRefused(_("Facture %(n)s : la ligne %(pk)s n'est pas sur ce bon.") % {"n": number, "pk": pk})
        if issuer_id is not None and order_line.firm_id != issuer_id:
            raise ContractRefused(
                _("Facture %(n)s : la ligne %(pk)s est celle d'un autre membre.") % {"n": number, "pk": pk}
            )
        if not quantity.is_finite() or quantity <= 0 or quantity > remaining:
            raise ContractRefused(
                _("Facture %(n)s, ligne %(pk)s : quantité %(q)s (reste à facturer %(left)s).")
                % {"n": number, "pk": pk, "q": quantity, "left": remaining}
            )
        to_price.append(
            LineToPrice(key=pk, group=0, firm_unit_price=order_line.offer_line.firm_unit_price, quantity=quantity)
        )
    priced = price_offer(policy, to_price)
    splits = [
        LineSplit(
            package_id=left[p.key][1].offer_line.package_id,
            firm_id=left[p.key][1].firm_id,
            amount_cents=_cents(p.amount),
            firm_cents=_cents(p.firm_amount),
            fee_cents=_cents(p.fee_amount),
            levy_cents=_cents(p.levy_amount),
        )
        for p in priced.lines
    ]
    shares, total_ht, vat = invoice_shares(
        splits, projects_of_package=projects_of_packages({s.package_id for s in splits}), vat_rate=policy.vat_rate
    )
    invoice = _create_invoice(
        contract=contract, order=order, number=number, kind=InvoiceKind.INVOICE, issuer_id=issuer_id,
        issued_on=issued_on, total_ht=total_ht, vat=vat, members_circuit=members_circuit, actor=actor,
    )  # fmt: skip
    InvoiceLine.objects.bulk_create(
        InvoiceLine(invoice=invoice, order_line_id=p.key, quantity=dict(lines)[p.key], amount_cents=_cents(p.amount))
        for p in priced.lines
    )
    _save_shares(invoice, shares)
    if invoice.status == InvoiceStatus.ISSUED:
        _post_invoice(invoice, actor=actor)
    record_event(actor=actor, action="invoice.created", obj=invoice, total_ttc_cents=invoice.total_ttc_cents)
    return invoice


def _left_to_invoice(order: PurchaseOrder) -> dict[int, tuple[Decimal, OrderLine]]:
    invoiced = dict(
        InvoiceLine.objects.filter(order_line__order=order, invoice__kind=InvoiceKind.INVOICE)
        .values("order_line")
        .annotate(q=Sum("quantity"))
        .values_list("order_line", "q")
    )
    return {
        line.pk: (line.quantity - (invoiced.get(line.pk) or Decimal(0)), line)
        for line in order.lines.select_related("offer_line")
    }


def projects_of_packages(package_ids: set[int]) -> dict[int, list[int]]:
    """The upstream projects named by each package's required skills, created the first time one is met."""
    named: dict[int, set[str]] = {}
    for package_id, project_name in PackageSkill.objects.filter(package_id__in=package_ids).values_list(
        "package_id", "skill__upstream_project"
    ):
        if project_name.strip():
            named.setdefault(package_id, set()).add(project_name.strip())
    ids: dict[str, int] = {}
    for name in sorted({name for names in named.values() for name in names}):
        project, _created = UpstreamProject.objects.get_or_create(name=name, defaults={"slug": free_project_slug(name)})
        ids[name] = project.pk
    return {package_id: sorted(ids[name] for name in names) for package_id, names in named.items()}


def _create_invoice(
    *, contract: Contract, order: PurchaseOrder | None, number: str, kind: str, issuer_id: int | None,
    issued_on: dt.date, total_ht: int, vat: int, members_circuit: bool, actor: Any, credited: Invoice | None = None,
) -> Invoice:  # fmt: skip
    status = InvoiceStatus.SUBMITTED if members_circuit and kind == InvoiceKind.INVOICE else InvoiceStatus.ISSUED
    try:
        with transaction.atomic():
            return Invoice.objects.create(
                contract=contract, order=order, number=number, kind=kind, issuer_id=issuer_id, credited=credited,
                issued_on=issued_on, due_on=issued_on + dt.timedelta(days=contract.payment_days),
                total_ht_cents=total_ht, vat_cents=vat, total_ttc_cents=total_ht + vat, status=status,
                created_by=actor,
            )  # fmt: skip
    except IntegrityError as exc:
        raise ContractRefused(_("La facture %(n)s existe déjà sur ce marché.") % {"n": number}) from exc


def _save_shares(invoice: Invoice, shares: Sequence[Share]) -> None:
    InvoiceShare.objects.bulk_create(
        InvoiceShare(
            invoice=invoice,
            kind=share.beneficiary[0],
            firm_id=share.beneficiary[1] if share.beneficiary[0] == "firm" else None,
            project_id=share.beneficiary[1] if share.beneficiary[0] == "levy" else None,
            ht_cents=share.ht_cents,
            ttc_cents=share.ttc_cents,
        )
        for share in shares
    )


def _post_invoice(invoice: Invoice, *, actor: Any) -> None:
    """Receivable against 'invoiced, to redistribute'; a credit note the other way."""
    sign = -1 if invoice.kind == InvoiceKind.CREDIT_NOTE else 1
    draft = ledger.EntryDraft(
        kind=EntryKind.CREDIT_NOTE if sign < 0 else EntryKind.INVOICE,
        key=f"invoice:{invoice.pk}",
        posted_on=invoice.issued_on,
        contract_id=invoice.contract_id,
        invoice_id=invoice.pk,
        memo=invoice.number,
    )
    draft.add(ledger.receivable(invoice.contract_id), sign * invoice.total_ttc_cents)
    draft.add(ledger.to_redistribute(invoice.contract_id), -sign * invoice.total_ttc_cents)
    ledger.post_entries([draft], actor=actor)


@transaction.atomic
def validate_invoice(*, actor: Any, invoice: Invoice) -> Invoice:
    """The mandataire accepts a member's invoice: it becomes a claim on the buyer, posted to the ledger."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.SUBMITTED:
        raise ContractRefused(_("La facture %(n)s n'attend pas de validation.") % {"n": invoice.number})
    invoice.status = InvoiceStatus.ISSUED
    invoice.validated_by = actor
    invoice.validated_at = timezone.now()
    invoice.save(update_fields=["status", "validated_by", "validated_at"])
    _post_invoice(invoice, actor=actor)
    record_event(actor=actor, action="invoice.validated", obj=invoice)
    return invoice


@transaction.atomic
def issue_credit_note(
    *, actor: Any, invoice: Invoice, number: str, issued_on: dt.date, amount_ht_cents: int, reason: str
) -> Invoice:
    """A credit note reduces what the buyer owes on `invoice`; each share loses its part from the top, so
    what stays invoiced is split exactly as a settlement of that amount would be."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.kind != InvoiceKind.INVOICE or invoice.status == InvoiceStatus.SUBMITTED:
        raise ContractRefused(_("Un avoir porte sur une facture émise."))
    if not reason.strip():
        raise ContractRefused(_("Indiquez le motif de l'avoir."))
    from ..selectors.contracts import invoice_position  # the outstanding amount, read under the lock

    position = invoice_position(invoice)
    credited_ht = position.credited_ht_cents
    if amount_ht_cents <= 0 or amount_ht_cents > invoice.total_ht_cents - credited_ht:
        raise ContractRefused(
            _("Avoir %(n)s : montant HT hors de 0 à %(max)s centimes.")
            % {"n": number, "max": invoice.total_ht_cents - credited_ht}
        )
    vat = vat_cents(amount_ht_cents, invoice.contract.vat_rate)
    ttc = amount_ht_cents + vat
    if ttc > position.outstanding_cents:
        raise ContractRefused(
            _("Avoir %(n)s : il dépasse le reste dû sur la facture (%(left)s centimes).")
            % {"n": number, "left": position.outstanding_cents}
        )
    credit = _create_invoice(
        contract=invoice.contract, order=invoice.order, number=number, kind=InvoiceKind.CREDIT_NOTE,
        issuer_id=invoice.issuer_id, issued_on=issued_on, total_ht=amount_ht_cents, vat=vat,
        members_circuit=False, actor=actor, credited=invoice,
    )  # fmt: skip
    shares = list(invoice.shares.all())
    ttc_weights = [share.ttc_cents for share in shares]
    ht_weights = [share.ht_cents for share in shares]
    left_ttc = invoice.total_ttc_cents - position.credited_ttc_cents
    left_ht = invoice.total_ht_cents - credited_ht
    ttc_parts = _from_top(ttc_weights, left_ttc, ttc)
    ht_parts = _from_top(ht_weights, left_ht, amount_ht_cents)
    InvoiceShare.objects.bulk_create(
        InvoiceShare(invoice=credit, kind=s.kind, firm_id=s.firm_id, project_id=s.project_id,
                     ht_cents=-ht, ttc_cents=-tt)
        for s, ht, tt in zip(shares, ht_parts, ttc_parts, strict=True)
    )  # fmt: skip
    _post_invoice(credit, actor=actor)
    record_event(actor=actor, action="invoice.credited", obj=credit, invoice=invoice.pk, reason=reason)
    return credit


def _from_top(weights: list[int], left: int, amount: int) -> list[int]:
    return [
        a - b for a, b in zip(cumulative_split(weights, left), cumulative_split(weights, left - amount), strict=True)
    ]


__all__ = [
    "ContractRefused", "ContractTerms", "create_contract", "create_order", "issue_credit_note", "issue_invoice",
    "projects_of_packages", "validate_invoice", "version_policy",
]  # fmt: skip
