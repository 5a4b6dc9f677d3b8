"""The REST API for contracts, invoices, payments received and partner statements: read-only, scoped as the pages.

- contracts: finance, bid managers and admins see every contract with its terms, parties and progress
  (ordered, invoiced, settled, withheld, outstanding; by lot on the detail); a partner user sees the
  contracts its firm is a party to, reference, title and dates only, no amounts. One out of reach: 404.
- a contract's invoices: staff all of them; a partner user only those its own firm issued.
- payments received: finance and admins only.
- statements: finance and admins any firm's; a partner user its own firm's (another firm's id: 404, as on
  the pages). Bid managers follow contracts, not payouts: 403.

Amounts are strings with two decimals ("1234.50") next to a "currency" field; never a float.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consortium.money import from_cents
from consortium.roles import Role, user_role
from partners.selectors import firm_of

from .models import Contract, ContractParty, Invoice, InvoiceKind, InvoiceStatus, Payment, PaymentKind, PurchaseOrder
from .selectors.contracts import InvoicePosition, contracts_for, invoice_positions
from .selectors.statements import Statement, partner_statement, statement_firm
from .statement_documents import CURRENCY

CONTRACT_STAFF = frozenset({Role.FINANCE, Role.BID_MANAGER, Role.ADMIN})
FINANCE_ROLES = frozenset({Role.FINANCE, Role.ADMIN})
MAX_ID = 2**63 - 1


# --- Permissions ---------------------------------------------------------------------------------------------


class ContractReader(BasePermission):
    """Staff and partner users; which contracts and invoices: in the view."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_role(request.user) in CONTRACT_STAFF | {Role.PARTNER}


class FinanceReader(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return user_role(request.user) in FINANCE_ROLES


class StatementReader(BasePermission):
    """Finance, admins and partner users (their own firm, checked in the view); bid managers get 403."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_role(request.user) in FINANCE_ROLES | {Role.PARTNER}


# --- Reads: progress of contracts, lots and invoices, a fixed number of grouped queries for a page ------------


@dataclass(frozen=True)
class Progress:
    ordered_ht_cents: int
    invoiced_ttc_cents: int  # issued invoices net of credit notes
    settled_cents: int  # cash, direct payments, advance recovered and guarantee released
    withheld_cents: int  # the guarantee the buyer still keeps
    outstanding_cents: int  # what the buyer still has to pay, the withheld guarantee apart
    advance_cents: int  # advances received (a contract's, never a lot's)


@dataclass(frozen=True)
class LotProgress:
    lot_id: int
    source_id: str
    title: str
    progress: Progress


def _int(value: Any) -> int:
    return int(value or 0)


Key = tuple[Any, ...]


def _sums(
    invoices: QuerySet[Invoice], invoice_keys: Key, payments: QuerySet[Payment], payment_keys: Key
) -> dict[Key, Counter[str]]:
    """Per key (a contract, a lot of a contract, an invoice): invoiced and credited, and each kind of payment."""
    sums: dict[Key, Counter[str]] = defaultdict(Counter)
    issued = invoices.exclude(status=InvoiceStatus.SUBMITTED).values(*invoice_keys)
    for row in issued.annotate(
        invoiced=Sum("total_ttc_cents", filter=Q(kind=InvoiceKind.INVOICE)),
        credited=Sum("total_ttc_cents", filter=Q(kind=InvoiceKind.CREDIT_NOTE)),
        credited_ht=Sum("total_ht_cents", filter=Q(kind=InvoiceKind.CREDIT_NOTE)),
    ):
        sums[tuple(row[key] for key in invoice_keys)].update(
            {name: _int(row[name]) for name in ("invoiced", "credited", "credited_ht")}
        )
    for row in (
        payments.filter(reversed_at__isnull=True)
        .values(*payment_keys)
        .annotate(
            paid=Sum("amount_cents", filter=Q(kind__in=[PaymentKind.CASH, PaymentKind.DIRECT])),
            released=Sum("amount_cents", filter=Q(kind=PaymentKind.RELEASE)),
            advance=Sum("amount_cents", filter=Q(kind=PaymentKind.ADVANCE)),
            withheld=Sum("withheld_cents"),
            recovered=Sum("advance_recovered_cents"),
        )
    ):
        sums[tuple(row[key] for key in payment_keys)].update(
            {name: _int(row[name]) for name in ("paid", "released", "advance", "withheld", "recovered")}
        )
    return sums


def _progress(row: Counter[str], *, ordered: int = 0, invoiced: int | None = None) -> Progress:
    """The formulas of `selectors.contracts.invoice_position`, over any group of invoices and payments."""
    net = row["invoiced"] - row["credited"] if invoiced is None else invoiced - row["credited"]
    return Progress(
        ordered_ht_cents=ordered,
        invoiced_ttc_cents=net,
        settled_cents=row["paid"] + row["recovered"] + row["released"],
        withheld_cents=row["withheld"] - row["released"],
        outstanding_cents=net - row["paid"] - row["recovered"] - row["withheld"],
        advance_cents=row["advance"],
    )


def contract_progress(contract_ids: list[int]) -> dict[int, Progress]:
    ordered = dict(
        PurchaseOrder.objects.filter(contract_id__in=contract_ids)
        .values("contract_id")
        .annotate(total=Sum("total_ht_cents"))
        .values_list("contract_id", "total")
    )
    sums = _sums(
        Invoice.objects.filter(contract_id__in=contract_ids),
        ("contract_id",),
        Payment.objects.filter(contract_id__in=contract_ids),
        ("contract_id",),
    )
    return {pk: _progress(sums[(pk,)], ordered=_int(ordered.get(pk))) for pk in contract_ids}


def lot_progress(contract_ids: list[int]) -> dict[int, list[LotProgress]]:
    """Each lot ordered on each contract: its orders, its invoices and what was paid on them."""
    orders = (
        PurchaseOrder.objects.filter(contract_id__in=contract_ids)
        .values("contract_id", "lot_id", "lot__source_id", "lot__title", "lot__position")
        .annotate(total=Sum("total_ht_cents"))
        .order_by("contract_id", "lot__position", "lot_id")
    )
    sums = _sums(
        Invoice.objects.filter(contract_id__in=contract_ids),
        ("contract_id", "order__lot_id"),
        Payment.objects.filter(contract_id__in=contract_ids, invoice__isnull=False),
        ("contract_id", "invoice__order__lot_id"),
    )
    lots: dict[int, list[LotProgress]] = {pk: [] for pk in contract_ids}
    for row in orders:
        progress = _progress(sums[(row["contract_id"], row["lot_id"])], ordered=_int(row["total"]))
        lots[row["contract_id"]].append(LotProgress(row["lot_id"], row["lot__source_id"], row["lot__title"], progress))
    return lots


# --- Serializers ---------------------------------------------------------------------------------------------


def cents_text(cents: int) -> str:
    return format(from_cents(int(cents)), "f")


class CentsField(serializers.DecimalField):
    """Integer cents shown as a decimal string with two places: 123450 -> "1234.50"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=20, decimal_places=2, coerce_to_string=True, read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return cents_text(value)


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ContractRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()


class InvoiceRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


class ContractSummarySerializer(serializers.ModelSerializer):
    """A contract as a partner user sees it: what it is and when, no amounts."""

    class Meta:
        model = Contract
        fields = ["id", "reference", "title", "signed_on", "starts_on", "ends_on"]
        read_only_fields = fields


class ProgressSerializer(serializers.Serializer):
    ordered_ht = CentsField(source="ordered_ht_cents", help_text="Commandé HT.")
    invoiced_ttc = CentsField(source="invoiced_ttc_cents", help_text="Facturé TTC, avoirs déduits.")
    settled = CentsField(source="settled_cents", help_text="Réglé : virements, paiements directs, avance, retenue.")
    withheld = CentsField(source="withheld_cents", help_text="Retenue de garantie non encore libérée.")
    outstanding = CentsField(source="outstanding_cents", help_text="Reste dû par l'acheteur, retenue à part.")
    advance = CentsField(source="advance_cents", help_text="Avances reçues.")


class LotProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="lot_id")
    source_id = serializers.CharField()
    title = serializers.CharField()
    progress = ProgressSerializer()


class PartySerializer(serializers.ModelSerializer):
    firm = RefSerializer()

    class Meta:
        model = ContractParty
        fields = ["firm", "role", "payment_route"]
        read_only_fields = fields


class ContractSerializer(ContractSummarySerializer):
    """A contract as finance and bid managers see it: its terms, parties and progress, overall and by lot."""

    minimum_ht = CentsField(source="minimum_cents", allow_null=True)
    maximum_ht = CentsField(source="maximum_cents", allow_null=True)
    parties = PartySerializer(many=True, read_only=True)
    progress = serializers.SerializerMethodField()
    lots = serializers.SerializerMethodField()

    class Meta(ContractSummarySerializer.Meta):
        fields = [
            *ContractSummarySerializer.Meta.fields,
            "kind",
            "currency",
            "minimum_ht",
            "maximum_ht",
            "vat_rate",
            "advance_rate",
            "guarantee_rate",
            "guarantee_release_on",
            "invoicing_circuit",
            "payment_days",
            "parties",
            "progress",
            "lots",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, contract: Contract) -> Any:
        return ProgressSerializer(self.context["progress"][contract.pk]).data

    @extend_schema_field(LotProgressSerializer(many=True))
    def get_lots(self, contract: Contract) -> Any:
        return LotProgressSerializer(self.context["lots"][contract.pk], many=True).data


class InvoiceSerializer(serializers.ModelSerializer):
    """An invoice or credit note with where it stands; `issuer` null: the mandataire's invoice."""

    contract = ContractRefSerializer()
    order = serializers.CharField(source="order.number", allow_null=True, default=None)
    issuer = RefSerializer(allow_null=True)
    credited = InvoiceRefSerializer(allow_null=True)
    currency = serializers.CharField(source="contract.currency")
    total_ht = CentsField(source="total_ht_cents")
    vat = CentsField(source="vat_cents")
    total_ttc = CentsField(source="total_ttc_cents")
    credited_ttc = serializers.SerializerMethodField()
    settled = serializers.SerializerMethodField()
    withheld = serializers.SerializerMethodField()
    outstanding = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id", "number", "kind", "status", "contract", "order", "issuer", "credited", "issued_on", "due_on",
            "currency", "total_ht", "vat", "total_ttc", "credited_ttc", "settled", "withheld", "outstanding",
        ]  # fmt: skip
        read_only_fields = fields

    def _position(self, invoice: Invoice) -> InvoicePosition:
        position: InvoicePosition = self.context["positions"][invoice.pk]
        return position

    @extend_schema_field(CentsField(help_text="TTC des avoirs sur cette facture."))
    def get_credited_ttc(self, invoice: Invoice) -> str:
        return cents_text(self._position(invoice).credited_ttc_cents)

    @extend_schema_field(CentsField())
    def get_settled(self, invoice: Invoice) -> str:
        return cents_text(self._position(invoice).settled_cents)

    @extend_schema_field(CentsField())
    def get_withheld(self, invoice: Invoice) -> str:
        return cents_text(self._position(invoice).withheld_cents)

    @extend_schema_field(CentsField(help_text="Reste dû, retenue de garantie à part."))
    def get_outstanding(self, invoice: Invoice) -> str:
        return cents_text(self._position(invoice).outstanding_cents)


class PaymentSerializer(serializers.ModelSerializer):
    contract = ContractRefSerializer()
    invoice = InvoiceRefSerializer(allow_null=True)
    firm = RefSerializer(allow_null=True, help_text="Paiement direct : le membre payé.")
    currency = serializers.CharField(source="contract.currency")
    amount = CentsField(source="amount_cents")
    withheld = CentsField(source="withheld_cents", help_text="Retenue de garantie gardée par l'acheteur.")
    advance_recovered = CentsField(source="advance_recovered_cents")

    class Meta:
        model = Payment
        fields = [
            "id", "contract", "invoice", "kind", "firm", "received_on", "currency", "amount", "withheld",
            "advance_recovered", "bank_reference", "reversed_at",
        ]  # fmt: skip
        read_only_fields = fields


class PaymentFilterSerializer(serializers.Serializer):
    contract = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Identifiant du marché."
    )


class StatementInvoiceSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(source="invoice_id")
    contract = serializers.CharField(help_text="Référence du marché.")
    number = serializers.CharField()
    issued_on = serializers.DateField()
    due_on = serializers.DateField()
    invoiced = CentsField(source="invoiced_cents")
    received = CentsField(source="received_cents")
    withheld = CentsField(source="withheld_cents")
    pending = CentsField(source="pending_cents")


class StatementMoveSerializer(serializers.Serializer):
    on = serializers.DateField()
    reference = serializers.CharField(source="label", help_text="Lot de virements, ou facture payée directement.")
    amount = CentsField(source="amount_cents")


class StatementSerializer(serializers.Serializer):
    """A partner firm's statement: the figures, then its invoices, the guichet's payouts and direct collections."""

    firm = RefSerializer()
    on = serializers.SerializerMethodField()
    currency = serializers.SerializerMethodField()
    invoiced = CentsField(source="invoiced_cents", help_text="Facturé pour les prestations de l'entreprise (TTC).")
    received = CentsField(source="received_cents", help_text="Sa part de ce que l'acheteur a réglé.")
    withheld = CentsField(source="withheld_cents", help_text="Sa part de la retenue de garantie.")
    pending = CentsField(source="pending_cents", help_text="Facturé, ni réglé ni retenu.")
    paid_out = CentsField(source="paid_out_cents", help_text="Versé par le guichet.")
    collected_directly = CentsField(source="collected_cents", help_text="Encaissé directement de l'acheteur.")
    contributed = CentsField(source="contributed_cents", help_text="Versé pour l'entreprise à des projets amont.")
    balance = CentsField(source="balance_cents", help_text="Dû par le guichet (négatif : dû au guichet).")
    invoices = StatementInvoiceSerializer(many=True)
    payouts = StatementMoveSerializer(many=True)
    collected = StatementMoveSerializer(many=True)
    contributions = StatementMoveSerializer(many=True)

    @extend_schema_field(OpenApiTypes.DATE)
    def get_on(self, statement: Statement) -> str:
        return timezone.localdate().isoformat()

    @extend_schema_field(serializers.ChoiceField(choices=[CURRENCY]))
    def get_currency(self, statement: Statement) -> str:
        return CURRENCY


CONTRACT_FOR_CALLER = PolymorphicProxySerializer(
    component_name="ContractForCaller",
    serializers=[ContractSerializer, ContractSummarySerializer],
    resource_type_field_name=None,
)


# --- Views ---------------------------------------------------------------------------------------------------


def _is_contract_staff(user: Any) -> bool:
    return user_role(user) in CONTRACT_STAFF


def _contracts(user: Any) -> QuerySet[Contract]:
    parties = ContractParty.objects.select_related("firm").order_by("firm__name", "pk")
    contracts = contracts_for(user).distinct().order_by("-signed_on", "-pk")
    return contracts.prefetch_related(Prefetch("parties", queryset=parties)) if _is_contract_staff(user) else contracts


def _contract_data(user: Any, contracts: list[Contract], *, many: bool) -> Any:
    """Staff get the terms and progress (grouped queries for all `contracts`); a partner user the summary."""
    if not _is_contract_staff(user):
        return ContractSummarySerializer(contracts if many else contracts[0], many=many).data
    ids = [contract.pk for contract in contracts]
    context = {"progress": contract_progress(ids), "lots": lot_progress(ids)}
    return ContractSerializer(contracts if many else contracts[0], many=many, context=context).data


class ContractList(generics.ListAPIView):
    """Contracts: staff see all of them with their progress; a partner user those its firm is a party to, no amounts."""

    permission_classes = [ContractReader]
    serializer_class = ContractSerializer
    queryset = Contract.objects.none()  # replaced per request by get_queryset(); here for the schema

    def get_queryset(self) -> QuerySet[Contract]:
        if getattr(self, "swagger_fake_view", False):
            return Contract.objects.none()
        return _contracts(self.request.user)

    @extend_schema(responses=CONTRACT_FOR_CALLER)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        contracts = list(page) if page is not None else []
        return self.get_paginated_response(_contract_data(request.user, contracts, many=True))


class ContractDetail(APIView):
    permission_classes = [ContractReader]

    @extend_schema(responses=CONTRACT_FOR_CALLER)
    def get(self, request: Request, pk: int) -> Response:
        contract = get_object_or_404(_contracts(request.user), pk=pk)
        return Response(_contract_data(request.user, [contract], many=False))


class ContractInvoiceList(generics.ListAPIView):
    """A contract's invoices and credit notes with where each stands; a partner user only its own firm's."""

    permission_classes = [ContractReader]
    serializer_class = InvoiceSerializer
    queryset = Invoice.objects.none()

    def get_queryset(self) -> QuerySet[Invoice]:
        if getattr(self, "swagger_fake_view", False):
            return Invoice.objects.none()
        contract = get_object_or_404(_contracts(self.request.user), pk=self.kwargs["pk"])
        invoices = Invoice.objects.filter(contract=contract)
        if not _is_contract_staff(self.request.user):
            firm = firm_of(self.request.user)
            invoices = invoices.filter(issuer=firm) if firm is not None else invoices.none()
        return invoices.select_related("contract", "order", "issuer", "credited").order_by("issued_on", "pk")

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        invoices = list(page) if page is not None else []
        context = {"positions": invoice_positions(invoices)}
        return self.get_paginated_response(InvoiceSerializer(invoices, many=True, context=context).data)


class PaymentList(generics.ListAPIView):
    """Payments received (cash, direct, advances, guarantee releases), reversed ones included: finance only."""

    permission_classes = [FinanceReader]
    serializer_class = PaymentSerializer
    queryset = Payment.objects.none()

    def get_queryset(self) -> QuerySet[Payment]:
        if getattr(self, "swagger_fake_view", False):
            return Payment.objects.none()
        params = PaymentFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        payments = Payment.objects.select_related("contract", "invoice", "firm").order_by("received_on", "pk")
        if params.validated_data.get("contract"):
            payments = payments.filter(contract_id=params.validated_data["contract"])
        return payments

    @extend_schema(parameters=[PaymentFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class StatementDetail(APIView):
    """A partner firm's statement: finance any firm's, a partner user only its own (another firm's: 404)."""

    permission_classes = [StatementReader]

    @extend_schema(responses=StatementSerializer)
    def get(self, request: Request, firm_id: int) -> Response:
        firm = statement_firm(request.user, firm_id)
        if firm is None:
            raise NotFound
        return Response(StatementSerializer(partner_statement(firm)).data)
