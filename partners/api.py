"""The REST API for firms and skills, scoped exactly as the pages: firms only through `firms_for`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.api_parsers import BoundedJSONParser
from consortium.regions import Region, region_code
from consortium.roles import user_role

from .models import CapacityMonth, FirmSkill, PartnerFirm, Skill, SkillKind, SkillLevel
from .selectors import (
    FIRM_READERS,
    FIRM_WRITERS,
    PLANNING_MONTHS,
    DirectoryFilters,
    firm_directory,
    firms_for,
    month_starts,
    skill_by_name,
    skill_catalogue,
)
from .services.api_writes import update_firm_contact_details

LEVEL_KEYS: dict[int, str] = {int(level): level.name.lower() for level in SkillLevel}
LEVEL_BY_KEY: dict[str, int] = {key: value for value, key in LEVEL_KEYS.items()}
MAX_ID_DIGITS = 18  # beyond, no row can match and some databases refuse the number
MAX_BODY_BYTES = 64 * 1024  # a firm's contact details fit many times over


class FirmJSONParser(BoundedJSONParser):
    max_bytes = MAX_BODY_BYTES


# --- Permissions ---------------------------------------------------------------------------------------------


class HoldsRole(BasePermission):
    """Any user with a role of the guichet (staff or partner); anonymous users and users without a role get 403."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_role(request.user) in FIRM_READERS


class FirmAccess(BasePermission):
    """Reading needs a role; writing needs a role that may edit a firm. Which firms: `firms_for`, in the view."""

    def has_permission(self, request: Request, view: Any) -> bool:
        roles = FIRM_READERS if request.method in SAFE_METHODS else FIRM_WRITERS
        return user_role(request.user) in roles


# --- Serializers ---------------------------------------------------------------------------------------------


class RegionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class FirmSkillSerializer(serializers.ModelSerializer):
    skill = serializers.IntegerField(source="skill_id")
    name = serializers.CharField(source="skill.name")
    level = serializers.SerializerMethodField()
    level_label = serializers.SerializerMethodField()

    class Meta:
        model = FirmSkill
        fields = ["skill", "name", "level", "level_label", "years", "evidence_url"]

    @extend_schema_field(serializers.ChoiceField(choices=list(LEVEL_BY_KEY)))
    def get_level(self, item: FirmSkill) -> str:
        return LEVEL_KEYS[item.level]

    def get_level_label(self, item: FirmSkill) -> str:
        return str(SkillLevel(item.level).label)


class CapacitySerializer(serializers.Serializer):
    month = serializers.DateField(help_text="Premier jour du mois.")
    days = serializers.DecimalField(max_digits=6, decimal_places=1)


class FirmSerializer(serializers.ModelSerializer):
    """A firm as its own users and the guichet's staff see it (a partner never gets another firm)."""

    region = serializers.SerializerMethodField()
    free_days = serializers.DecimalField(
        max_digits=9, decimal_places=1, read_only=True, help_text="Jours offerts sur les 3 prochains mois."
    )
    attestation_state = serializers.ChoiceField(choices=["valid", "incomplete", "expired"], read_only=True)
    skills = FirmSkillSerializer(source="skill_list", many=True, read_only=True)
    capacity = serializers.SerializerMethodField()

    class Meta:
        model = PartnerFirm
        fields = [
            "id",
            "name",
            "siren",
            "siret",
            "vat_number",
            "address",
            "postcode",
            "city",
            "region",
            "departments",
            "is_sme",
            "website",
            "description",
            "daily_rate",
            "currency",
            "free_days",
            "attestation_state",
            "skills",
            "capacity",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(RegionSerializer(allow_null=True))
    def get_region(self, firm: PartnerFirm) -> dict[str, str] | None:
        return {"code": firm.region, "name": Region(firm.region).label} if firm.region else None

    @extend_schema_field(CapacitySerializer(many=True))
    def get_capacity(self, firm: PartnerFirm) -> list[dict[str, Any]]:
        """Days offered for each of the coming months, 0 for a month the firm said nothing about."""
        offered = {row.month: row.days for row in getattr(firm, "capacity_ahead", [])}
        months: list[dt.date] = self.context["months"]
        rows = [{"month": month, "days": offered.get(month, Decimal(0))} for month in months]
        return CapacitySerializer(rows, many=True).data


class FirmContactSerializer(serializers.Serializer):
    """What the API may change on a firm: its contact details, area served and default rate."""

    address = serializers.CharField(max_length=300, allow_blank=True)
    postcode = serializers.CharField(max_length=10, allow_blank=True)
    city = serializers.CharField(max_length=120, allow_blank=True)
    website = serializers.URLField(max_length=300, allow_blank=True)
    description = serializers.CharField(max_length=10_000, allow_blank=True)
    is_sme = serializers.BooleanField()
    departments = serializers.ListField(
        child=serializers.CharField(max_length=3), max_length=120, help_text="Codes : 01 à 95, 2A, 2B, 971 à 976."
    )
    daily_rate = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal(0), allow_null=True)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fixed = sorted(name for name in data if name not in self.fields)
            if fixed:
                raise serializers.ValidationError(
                    {name: [_("Ce champ ne peut pas être modifié par l'API.")] for name in fixed}
                )
        return super().to_internal_value(data)


class FirmFilterSerializer(serializers.Serializer):
    """The directory's filters, as query parameters; a value we cannot apply is a 400, never a silent no-op."""

    q = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text="Nom ou ville.")
    region = serializers.CharField(
        required=False, allow_blank=True, max_length=60, help_text="Code INSEE (11) ou nom de la région."
    )
    skill = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Identifiant ou nom de la compétence."
    )
    min_level = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text="Niveau minimum sur la compétence : 1 à 6 ou " + ", ".join(LEVEL_BY_KEY) + ".",
    )

    def validate_region(self, value: str) -> str:
        if not value:
            return ""
        code = region_code(value)
        if code is None:
            raise serializers.ValidationError(_("Région inconnue : « %(region)s ».") % {"region": value})
        return code

    def validate_skill(self, value: str) -> Skill | None:
        if not value:
            return None
        if value.isdecimal():
            skill = Skill.objects.filter(pk=int(value)).first() if len(value) <= MAX_ID_DIGITS else None
        else:
            skill = skill_by_name(value)
        if skill is None:
            raise serializers.ValidationError(_("Compétence « %(name)s » absente du catalogue.") % {"name": value})
        return skill

    def validate_min_level(self, value: str) -> int | None:
        if not value:
            return None
        level = int(value) if value.isdecimal() and len(value) <= 2 else LEVEL_BY_KEY.get(value.lower())
        if level not in LEVEL_KEYS:
            raise serializers.ValidationError(
                _("Niveau inconnu : « %(level)s » (attendu : 1 à 6 ou %(keys)s).")
                % {"level": value, "keys": ", ".join(LEVEL_BY_KEY)}
            )
        return level

    def filters(self) -> DirectoryFilters:
        data = self.validated_data
        return DirectoryFilters(
            skill=data.get("skill"),
            min_level=data.get("min_level"),
            region=data.get("region", ""),
            search=data.get("q", ""),
        )


class SkillSerializer(serializers.ModelSerializer):
    aliases = serializers.ListField(child=serializers.CharField(), read_only=True)
    keywords = serializers.ListField(child=serializers.CharField(), read_only=True)
    cpv_codes = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Skill
        fields = [
            "id",
            "name",
            "slug",
            "kind",
            "function",
            "aliases",
            "keywords",
            "upstream_project",
            "repository_url",
            "licence",
            "wikidata_id",
            "parent",
            "sector",
            "component",
            "cpv_codes",
            "sill_id",
        ]
        read_only_fields = fields


class SkillFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Nom, alias, fonction ou projet amont."
    )
    kind = serializers.ChoiceField(choices=SkillKind.choices, required=False)


# --- Views ---------------------------------------------------------------------------------------------------


class FirmViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Partner firms: staff see all of them, a partner user only its own; a firm out of reach is a 404."""

    permission_classes = [FirmAccess]
    parser_classes = [FirmJSONParser]
    serializer_class = FirmSerializer
    queryset = PartnerFirm.objects.none()  # replaced per request by get_queryset(); here for the schema

    @cached_property
    def today(self) -> dt.date:
        return timezone.localdate()

    def _months(self) -> list[dt.date]:
        return month_starts(self.today, PLANNING_MONTHS)

    def _firms(self, filters: DirectoryFilters) -> QuerySet[PartnerFirm]:
        coming = CapacityMonth.objects.filter(month__in=self._months())
        return firm_directory(self.request.user, filters, today=self.today).prefetch_related(
            Prefetch("capacity", queryset=coming, to_attr="capacity_ahead")
        )

    def get_queryset(self) -> QuerySet[PartnerFirm]:
        if getattr(self, "swagger_fake_view", False):
            return PartnerFirm.objects.none()
        return self._firms(DirectoryFilters())

    def get_serializer_class(self) -> type[serializers.Serializer]:
        # The browsable API's PATCH form shows what may be changed, not the whole firm.
        return FirmContactSerializer if self.request.method == "PATCH" else FirmSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "months": self._months()}

    @extend_schema(parameters=[FirmFilterSerializer], responses=FirmSerializer(many=True))
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = FirmFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = self.paginate_queryset(self._firms(params.filters()))
        return self.get_paginated_response(FirmSerializer(page, many=True, context=self.get_serializer_context()).data)

    @extend_schema(responses=FirmSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(FirmSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(request=FirmContactSerializer, responses=FirmSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change the firm's contact details; only the fields sent change. The firm's own users and bid managers."""
        firm = self.get_object()  # 404 when the caller may not even see the firm
        if not firms_for(request.user, action="change").filter(pk=firm.pk).exists():
            raise PermissionDenied
        contact = FirmContactSerializer(data=request.data, partial=True)
        contact.is_valid(raise_exception=True)
        try:
            update_firm_contact_details(actor=request.user, firm=firm, **contact.validated_data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(serializers.as_serializer_error(error)) from error
        return Response(FirmSerializer(self.get_object(), context=self.get_serializer_context()).data)


class SkillViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The skills catalogue, read-only, for every user with a role."""

    permission_classes = [HoldsRole]
    serializer_class = SkillSerializer
    queryset = Skill.objects.order_by("name", "pk")

    @extend_schema(parameters=[SkillFilterSerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = SkillFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        skills = skill_catalogue(search=params.validated_data.get("q", ""))
        if params.validated_data.get("kind"):
            skills = skills.filter(kind=params.validated_data["kind"])
        page = self.paginate_queryset(skills.order_by("name", "pk"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
