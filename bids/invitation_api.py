"""The REST API for invitations: list, detail, accept with prices, decline; scoped by `invitations_for`.

Reads never mark an invitation as viewed: a GET changes nothing (the portal page does that, through
`mark_viewed`). Request bodies are JSON only, numbers read as Decimal (never a float), so
`{"unit_price": 1250.10}` and `{"unit_price": "1250.10"}` mean the same exact amount.

A refusal answers `{"detail": ..., "errors": [...]}`: 400 for a malformed body or bad prices (each error
names `prices[i]`), 409 when the invitation's state forbids the move (already attributed, stale version,
closed, past its deadline, offer frozen). Nothing is saved in either case.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.api_parsers import BoundedJSONParser
from consortium.roles import user_role

from .api import FirmRefSerializer, LotRefSerializer, PackageSkillSerializer
from .models import QUANTITY, Invitation, InvitationStatus, PackageSkill
from .prices import PriceEntry
from .selectors.invitations import (
    INVITATION_ANSWERERS,
    INVITATION_READERS,
    can_answer,
    invitation_lines,
    invitations_for,
    with_context,
)
from .services.invitations import InvitationRefused, accept_invitation, decline_invitation

MAX_BODY_BYTES = 2 * 1024 * 1024  # a package of several thousand priced lines, with room to spare
MAX_PRICES = 20_000
MAX_PRICE_CHARS = 40
MAX_ID = 2**63 - 1
MAX_TEXT = 10_000


class InvitationJSONParser(BoundedJSONParser):
    max_bytes = MAX_BODY_BYTES


# --- Permissions ---------------------------------------------------------------------------------------------


class InvitationAccess(BasePermission):
    """Reading: staff and partner users. Answering: roles that may edit a firm. Which invitations: in the view."""

    def has_permission(self, request: Request, view: Any) -> bool:
        roles = INVITATION_READERS if request.method in SAFE_METHODS else INVITATION_ANSWERERS
        return user_role(request.user) in roles


# --- Serializers: what is read -------------------------------------------------------------------------------


class InvitationTenderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class InvitationPackageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class InvitationPackageDetailSerializer(InvitationPackageSerializer):
    required_skills = PackageSkillSerializer(many=True)


class InvitationSerializer(serializers.ModelSerializer):
    """An invitation as its firm's users and the guichet's staff see it; never another firm's."""

    tender = InvitationTenderSerializer()
    lot = LotRefSerializer(source="package.lot")
    package = InvitationPackageSerializer()
    firm = FirmRefSerializer()
    total = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text="Montant HT de la réponse de l'entreprise."
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "tender",
            "lot",
            "package",
            "firm",
            "status",
            "source",
            "deadline",
            "sent_at",
            "viewed_at",
            "answered_at",
            "version",
            "currency",
            "total",
        ]
        read_only_fields = fields


class InvitationLineSerializer(serializers.Serializer):
    """A line of the package with the firm's own unit price (null until it answers) and the line amount."""

    line = serializers.IntegerField(source="line.pk")
    number = serializers.IntegerField(help_text="Rang de la ligne dans le lot de travaux, à partir de 1.")
    code = serializers.CharField(source="line.code")
    designation = serializers.CharField(source="line.designation")
    unit = serializers.CharField(source="line.unit")
    quantity = serializers.DecimalField(source="line.quantity", allow_null=True, **QUANTITY)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    amount = serializers.DecimalField(max_digits=32, decimal_places=2, allow_null=True)


class InvitationDetailSerializer(InvitationSerializer):
    package = InvitationPackageDetailSerializer()
    lines = serializers.SerializerMethodField()

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "note", "team", "decline_reason", "lines"]
        read_only_fields = fields

    @extend_schema_field(InvitationLineSerializer(many=True))
    def get_lines(self, invitation: Invitation) -> Any:
        return InvitationLineSerializer(invitation_lines(invitation), many=True).data


class InvitationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=InvitationStatus.choices, required=False, allow_blank=True)
    tender = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Identifiant de l'appel d'offres."
    )


# --- Serializers: what is sent -------------------------------------------------------------------------------


@extend_schema_field(
    {"oneOf": [{"type": "string", "example": "1250.50"}, {"type": "number"}], "description": "Prix unitaire HT."}
)
class UnitPriceField(serializers.Field):
    """The raw price, left to `bids.prices.check_prices` (the one check); only its JSON type is checked here."""

    default_error_messages = {
        "invalid": gettext_lazy("Un prix s'écrit comme un nombre ou une chaîne (« 1250.50 »)."),
        "too_long": gettext_lazy("Prix trop long ({max} caractères au plus)."),
    }

    def to_internal_value(self, data: Any) -> Any:
        # Floats never come out of the JSON parser; refusing them keeps a rounded binary value out.
        if isinstance(data, bool) or not isinstance(data, (str, int, Decimal)):
            self.fail("invalid")
        if len(str(data)) > MAX_PRICE_CHARS:
            self.fail("too_long", max=MAX_PRICE_CHARS)
        return data

    def to_representation(self, value: Any) -> Any:
        return str(value)


class InvitationPriceInputSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Identifiant de la ligne.")
    unit_price = UnitPriceField(allow_null=True)


class InvitationAcceptSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="La version lue : une réponse sur une version périmée est refusée."
    )
    prices = InvitationPriceInputSerializer(many=True, max_length=MAX_PRICES, help_text="Un prix par ligne du lot.")
    note = serializers.CharField(allow_blank=True, max_length=MAX_TEXT, default="")
    team = serializers.CharField(allow_blank=True, max_length=MAX_TEXT, default="")


class InvitationDeclineSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    reason = serializers.CharField(max_length=2000, help_text="Motif du refus.")


class InvitationErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField(), help_text="Chaque erreur nomme son champ.")


REFUSALS = {
    400: OpenApiResponse(InvitationErrorSerializer, description="Corps invalide ou prix refusés : rien n'est changé."),
    409: OpenApiResponse(InvitationErrorSerializer, description="L'état de l'invitation interdit cette réponse."),
}


def _messages(errors: Any, path: str = "") -> list[str]:
    """Serializer errors as flat messages naming their field: 'prices[2].unit_price : ...'."""
    if isinstance(errors, Mapping):
        found = []
        for key, value in errors.items():
            if key == "non_field_errors":
                child = path
            elif str(key).isdecimal():  # the index of an item in a list of objects
                child = f"{path}[{key}]"
            else:
                child = f"{path}.{key}" if path else str(key)
            found += _messages(value, child)
        return found
    if isinstance(errors, list) and any(isinstance(item, (Mapping, list)) for item in errors):
        return [message for i, item in enumerate(errors) for message in _messages(item, f"{path}[{i}]")]
    items = errors if isinstance(errors, list) else [errors]
    return [f"{path} : {item}" if path else str(item) for item in items]


def _refused(detail: str, errors: list[str], code: int) -> Response:
    return Response({"detail": detail, "errors": errors}, status=code)


# --- Views ---------------------------------------------------------------------------------------------------


class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Invitations: staff see all of them, a partner user only its firm's; one out of reach is a 404."""

    permission_classes = [InvitationAccess]
    parser_classes = [InvitationJSONParser]
    serializer_class = InvitationSerializer
    queryset = Invitation.objects.none()  # replaced per request by get_queryset(); here for the schema

    def get_queryset(self) -> QuerySet[Invitation]:
        if getattr(self, "swagger_fake_view", False):
            return Invitation.objects.none()
        invitations = with_context(invitations_for(self.request.user))
        if self.action != "list":
            skills = PackageSkill.objects.select_related("skill").order_by("-weight", "skill__name")
            invitations = invitations.prefetch_related(Prefetch("package__required_skills", queryset=skills))
        return invitations.order_by("tender_id", "package__lot__position", "package__position", "-sent_at", "-id")

    def _answerable(self) -> Invitation:
        """The invitation if the caller sees it (else 404) and may answer for its firm (else 403)."""
        invitation = self.get_object()
        if not can_answer(self.request.user, invitation):
            raise PermissionDenied(_("Vous ne pouvez pas répondre pour cette entreprise."))
        return invitation

    def _answered(self) -> Response:
        return Response(InvitationDetailSerializer(self.get_object()).data)

    @extend_schema(parameters=[InvitationFilterSerializer], responses=InvitationSerializer(many=True))
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = InvitationFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        invitations = self.get_queryset()
        if params.validated_data.get("status"):
            invitations = invitations.filter(status=params.validated_data["status"])
        if params.validated_data.get("tender"):
            invitations = invitations.filter(tender_id=params.validated_data["tender"])
        page = self.paginate_queryset(invitations)
        return self.get_paginated_response(InvitationSerializer(page, many=True).data)

    @extend_schema(responses=InvitationDetailSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One invitation with its lines and the firm's own prices. Reading does not mark it viewed."""
        return Response(InvitationDetailSerializer(self.get_object()).data)

    @extend_schema(request=InvitationAcceptSerializer, responses={200: InvitationDetailSerializer, **REFUSALS})
    def accept(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Accept with a unit price for every line of the package, or revise an accepted answer before the deadline."""
        invitation = self._answerable()
        body = InvitationAcceptSerializer(data=request.data)
        if not body.is_valid():
            return _refused(_("Requête invalide : rien n'a été enregistré."), _messages(body.errors), 400)
        data = body.validated_data
        entries = [
            PriceEntry(line_id=item["line"], raw=item["unit_price"], where=f"prices[{i}]")
            for i, item in enumerate(data["prices"])
        ]
        try:
            accept_invitation(
                actor=request.user,
                invitation_id=invitation.pk,
                entries=entries,
                version=data["version"],
                note=data["note"],
                team=data["team"],
            )
        except InvitationRefused as refusal:
            # The service lists errors only for prices it refuses; any other refusal is about the state.
            code = status.HTTP_400_BAD_REQUEST if refusal.errors else status.HTTP_409_CONFLICT
            return _refused(str(refusal), refusal.errors, code)
        return self._answered()

    @extend_schema(request=InvitationDeclineSerializer, responses={200: InvitationDetailSerializer, **REFUSALS})
    def decline(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Decline with a reason; the backup firm, then the next ranked candidate, is invited."""
        invitation = self._answerable()
        body = InvitationDeclineSerializer(data=request.data)
        if not body.is_valid():
            return _refused(_("Requête invalide : rien n'a été enregistré."), _messages(body.errors), 400)
        try:
            decline_invitation(
                actor=request.user,
                invitation_id=invitation.pk,
                reason=body.validated_data["reason"],
                version=body.validated_data["version"],
            )
        except InvitationRefused as refusal:
            code = status.HTTP_400_BAD_REQUEST if refusal.errors else status.HTTP_409_CONFLICT
            return _refused(str(refusal), refusal.errors, code)
        return self._answered()
