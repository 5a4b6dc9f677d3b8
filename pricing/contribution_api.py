"""The REST API for contribution commitments and upstream projects, scoped as the pages.

- commitments: `commitments_for` decides (staff all, a partner user its own firm's, anyone else none); one
  out of reach is a 404. Each carries where it stands (`commitments_progress`): promised, accrued,
  delivered, outstanding and left to deliver, as money strings ("1234.50") next to a currency, or as days
  ("2.50", currency null), with the status and the next due date. The detail adds the due dates, the
  payments to the project and the work delivered with its links.
- recording work: staff, or the users of the committed firm (`can_record_work`), as on the pages. A bad
  body is a 400 naming each field, nothing saved; never a 500.
- upstream projects: their public description only (name, repository, licence, how they receive money),
  for staff and partner users.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bids.invitation_api import InvitationErrorSerializer
from bids.invitation_api import _messages as field_messages  # the one flattener of serializer errors
from consortium.api_parsers import BoundedJSONParser
from consortium.roles import STAFF_ROLES, Role, user_role

from .api import CentsField, ContractRefSerializer, RefSerializer, cents_text
from .commitment_rules import CommitmentStatus
from .contribution_models import DAYS
from .evidence_links import MAX_LINKS, LinkRefused, check_links
from .models import Commitment, ContributionPayment, UpstreamProject, WorkDelivery
from .selectors.commitments import CommitmentProgress, can_record_work, commitments_for, commitments_progress
from .services.commitments import CommitmentRefused, record_work
from .statement_documents import CURRENCY

READERS = STAFF_ROLES | {Role.PARTNER}
CENT = Decimal("0.01")
TEXT = extend_schema_field(OpenApiTypes.STR)


class CommitmentReader(BasePermission):
    """Staff and partner users, to read and to record work; which commitments: `commitments_for`, in the view."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_role(request.user) in READERS


class ContributionJSONParser(BoundedJSONParser):
    max_bytes = 64 * 1024  # a description and twenty links


# --- Serializers: what is read -------------------------------------------------------------------------------


def quantity_text(value: int | Decimal, in_days: bool) -> str:
    """Cents as "1234.50", days as "2.50"."""
    return format(Decimal(value).quantize(CENT), "f") if in_days else cents_text(int(value))


class ProjectRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()


class ProgressFieldsMixin(serializers.Serializer):
    """A commitment's figures, read from `context["progress"]` (one grouped computation for the page)."""

    currency = serializers.SerializerMethodField(help_text="EUR pour un engagement en argent, null en jours.")
    promised = serializers.SerializerMethodField(help_text="Promis (contribution amont : facturée ou collectée).")
    accrued = serializers.SerializerMethodField(
        help_text="Contribution amont : collectée dans le fonds du projet ; montant ou jours : dû à ce jour."
    )
    delivered = serializers.SerializerMethodField(help_text="Versé au projet, ou jours livrés.")
    outstanding = serializers.SerializerMethodField(help_text="Dû et pas encore livré.")
    left_to_deliver = serializers.SerializerMethodField(help_text="Promis et pas encore livré.")
    status = serializers.SerializerMethodField()
    status_label = serializers.SerializerMethodField()
    next_due = serializers.SerializerMethodField(help_text="La prochaine échéance encore découverte.")

    def _progress(self, commitment: Commitment) -> CommitmentProgress:
        progress: CommitmentProgress = self.context["progress"][commitment.pk]
        return progress

    def _text(self, commitment: Commitment, field: str) -> str:
        progress = self._progress(commitment)
        return quantity_text(getattr(progress, field), progress.in_days)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_currency(self, commitment: Commitment) -> str | None:
        return None if self._progress(commitment).in_days else CURRENCY

    @TEXT
    def get_promised(self, commitment: Commitment) -> str:
        return self._text(commitment, "promised")

    @TEXT
    def get_accrued(self, commitment: Commitment) -> str:
        return self._text(commitment, "accrued")

    @TEXT
    def get_delivered(self, commitment: Commitment) -> str:
        return self._text(commitment, "delivered")

    @TEXT
    def get_outstanding(self, commitment: Commitment) -> str:
        return self._text(commitment, "outstanding")

    @TEXT
    def get_left_to_deliver(self, commitment: Commitment) -> str:
        return self._text(commitment, "left_to_deliver")

    @extend_schema_field(serializers.ChoiceField(choices=CommitmentStatus.choices))
    def get_status(self, commitment: Commitment) -> str:
        return str(self._progress(commitment).status)

    @TEXT
    def get_status_label(self, commitment: Commitment) -> str:
        return str(CommitmentStatus(self._progress(commitment).status).label)

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_next_due(self, commitment: Commitment) -> str | None:
        next_due = self._progress(commitment).next_due
        return next_due.isoformat() if next_due else None


class CommitmentSerializer(ProgressFieldsMixin, serializers.ModelSerializer):
    """A commitment: who promised what to which project, over which period, and where it stands.
    `contract` null: the whole network; `firm` null: the guichet itself."""

    project = ProjectRefSerializer()
    contract = ContractRefSerializer(allow_null=True)
    firm = RefSerializer(allow_null=True)

    class Meta:
        model = Commitment
        fields = [
            "id", "title", "kind", "project", "contract", "firm", "starts_on", "ends_on", "currency", "promised",
            "accrued", "delivered", "outstanding", "left_to_deliver", "status", "status_label", "next_due",
        ]  # fmt: skip
        read_only_fields = fields


class DueSerializer(serializers.Serializer):
    due_on = serializers.DateField()
    expected = serializers.CharField(help_text="Dû en tout à cette date (cumulé), en euros ou en jours.")
    met = serializers.BooleanField(help_text="Ce qui a été livré couvre cette échéance.")


class ContributionPaymentSerializer(serializers.ModelSerializer):
    amount = CentsField(source="amount_cents")
    currency = serializers.SerializerMethodField()

    class Meta:
        model = ContributionPayment
        fields = ["id", "paid_on", "currency", "amount", "source", "reference", "evidence_url", "reversed_at"]
        read_only_fields = fields

    @TEXT
    def get_currency(self, payment: ContributionPayment) -> str:
        return CURRENCY


class LinkSerializer(serializers.Serializer):
    url = serializers.CharField()
    kind = serializers.CharField(help_text="change (modification fusionnée), release (version) ou issue (ticket).")


class WorkDeliverySerializer(serializers.ModelSerializer):
    days = serializers.DecimalField(**DAYS)
    links = LinkSerializer(many=True)

    class Meta:
        model = WorkDelivery
        fields = ["id", "delivered_on", "days", "description", "links"]
        read_only_fields = fields


class CommitmentDetailSerializer(CommitmentSerializer):
    dues = serializers.SerializerMethodField()
    payments = ContributionPaymentSerializer(many=True, read_only=True)
    deliveries = WorkDeliverySerializer(many=True, read_only=True)

    class Meta(CommitmentSerializer.Meta):
        fields = [*CommitmentSerializer.Meta.fields, "dues", "payments", "deliveries"]
        read_only_fields = fields

    @extend_schema_field(DueSerializer(many=True))
    def get_dues(self, commitment: Commitment) -> Any:
        progress = self._progress(commitment)
        rows = [
            {
                "due_on": due.due_on,
                "expected": quantity_text(due.expected, progress.in_days),
                "met": progress.delivered >= due.expected,
            }
            for due in progress.dues
        ]
        return DueSerializer(rows, many=True).data


class CommitmentFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CommitmentStatus.choices, required=False, allow_blank=True)
    project = serializers.SlugField(required=False, allow_blank=True, max_length=200, help_text="Slug du projet.")


class ProjectSerializer(serializers.ModelSerializer):
    """What anyone may know of an upstream project: no amount, no firm."""

    class Meta:
        model = UpstreamProject
        fields = [
            "id", "name", "slug", "description", "repository_url", "licence", "funding_manifest_url",
            "funding_channel", "fiscal_host", "funding_url",
        ]  # fmt: skip
        read_only_fields = fields


# --- Serializers: what is sent -------------------------------------------------------------------------------


class WorkInputSerializer(serializers.Serializer):
    days = serializers.DecimalField(min_value=CENT, max_value=Decimal(1000), help_text="Jours livrés.", **DAYS)
    delivered_on = serializers.DateField(help_text="Date de livraison (AAAA-MM-JJ), pas dans le futur.")
    description = serializers.CharField(max_length=10_000, help_text="Le travail réalisé.")
    links = serializers.ListField(
        child=serializers.CharField(max_length=2_000, allow_blank=True),
        max_length=5 * MAX_LINKS,
        help_text=f"De 1 à {MAX_LINKS} liens https : modification fusionnée, version publiée ou ticket.",
    )

    def validate_delivered_on(self, value: Any) -> Any:
        if value > timezone.localdate():
            raise serializers.ValidationError(_("La date de livraison est dans le futur."))
        commitment: Commitment = self.context["commitment"]
        if value < commitment.starts_on:
            raise serializers.ValidationError(_("Ce travail a été livré avant le début de l'engagement."))
        return value

    def validate_links(self, value: list[str]) -> list[str]:
        try:
            check_links(value)  # the service checks again; here the refusal is named after its field
        except LinkRefused as refusal:
            raise serializers.ValidationError(str(refusal)) from refusal
        return value


# --- Views ---------------------------------------------------------------------------------------------------


def _commitments(user: Any) -> QuerySet[Commitment]:
    return commitments_for(user).order_by("ends_on", "pk")


class CommitmentList(generics.ListAPIView):
    """Contribution commitments in the caller's scope, with where each stands; `status` and `project` filter."""

    permission_classes = [CommitmentReader]
    serializer_class = CommitmentSerializer
    queryset = Commitment.objects.none()  # replaced per request; here for the schema

    def get_queryset(self) -> QuerySet[Commitment]:
        if getattr(self, "swagger_fake_view", False):
            return Commitment.objects.none()
        return _commitments(self.request.user)

    @extend_schema(parameters=[CommitmentFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = CommitmentFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        commitments = self.get_queryset()
        if params.validated_data.get("project"):
            commitments = commitments.filter(project__slug=params.validated_data["project"])
        wanted = params.validated_data.get("status")
        if wanted:
            # the status is computed, not stored: work it out for the whole scope, then page
            in_scope = list(commitments)
            progress = commitments_progress(in_scope)
            page = self.paginate_queryset([c for c in in_scope if progress[c.pk].status == wanted])
        else:
            page = self.paginate_queryset(commitments)
            progress = commitments_progress(page or [])
        rows = list(page or [])
        return self.get_paginated_response(CommitmentSerializer(rows, many=True, context={"progress": progress}).data)


class CommitmentDetail(APIView):
    """One commitment with its due dates, payments and work delivered; out of the caller's scope: 404."""

    permission_classes = [CommitmentReader]

    @extend_schema(responses=CommitmentDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        commitment = get_object_or_404(_commitments(request.user).prefetch_related("payments", "deliveries"), pk=pk)
        context = {"progress": commitments_progress([commitment])}
        return Response(CommitmentDetailSerializer(commitment, context=context).data)


class CommitmentDeliveries(APIView):
    """Record work delivered on a days commitment: staff, or the committed firm's users."""

    permission_classes = [CommitmentReader]
    parser_classes = [ContributionJSONParser]

    @extend_schema(
        request=WorkInputSerializer,
        responses={
            201: CommitmentDetailSerializer,
            400: OpenApiResponse(InvitationErrorSerializer, description="Corps invalide : rien n'est enregistré."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        commitment = get_object_or_404(_commitments(request.user), pk=pk)
        if not can_record_work(request.user, commitment):
            self.permission_denied(request, message=_("Vous ne pouvez pas enregistrer de travail sur cet engagement."))
        body = WorkInputSerializer(data=request.data, context={"commitment": commitment})
        if not body.is_valid():
            return _refused(field_messages(body.errors))
        data = body.validated_data
        try:
            record_work(
                actor=request.user,
                commitment=commitment,
                days=data["days"],
                delivered_on=data["delivered_on"],
                description=data["description"],
                links=data["links"],
            )
        except CommitmentRefused as refusal:
            return _refused([str(refusal)])
        commitment = Commitment.objects.prefetch_related("payments", "deliveries").get(pk=commitment.pk)
        context = {"progress": commitments_progress([commitment])}
        return Response(CommitmentDetailSerializer(commitment, context=context).data, status=status.HTTP_201_CREATED)


def _refused(errors: list[str]) -> Response:
    return Response(
        {"detail": _("Requête invalide : rien n'a été enregistré."), "errors": errors},
        status=status.HTTP_400_BAD_REQUEST,
    )


class ProjectList(generics.ListAPIView):
    """Upstream projects and how each receives money: staff and partner users."""

    permission_classes = [CommitmentReader]
    serializer_class = ProjectSerializer
    queryset = UpstreamProject.objects.order_by("name", "pk")

    def get_queryset(self) -> QuerySet[UpstreamProject]:
        return UpstreamProject.objects.order_by("name", "pk")
