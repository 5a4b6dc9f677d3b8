"""The REST API for work packages and match results: the guichet's staff only, partners never see them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema_field
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.roles import STAFF_ROLES, user_role

from .models import Assignment, JobStatus, MatchCandidate, MatchRun, PackageSkill, Tender, WorkPackage

# --- Permissions and reads -----------------------------------------------------------------------------------


class StaffReader(BasePermission):
    """Bid managers, finance and admins; partner users and everyone else get 403."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_role(request.user) in STAFF_ROLES


def work_packages() -> QuerySet[WorkPackage]:
    """Packages with their lot, tender and required skills, lot by lot: a fixed number of queries for any page."""
    skills = PackageSkill.objects.select_related("skill").order_by("-weight", "skill__name")
    return (
        WorkPackage.objects.select_related("lot", "tender")
        .prefetch_related(Prefetch("required_skills", queryset=skills))
        .order_by("tender_id", "lot__position", "lot_id", "position", "id")
    )


def assignment_of(package: WorkPackage) -> Assignment | None:
    try:
        return package.assignment
    except ObjectDoesNotExist:
        return None


def latest_finished_run(tender_id: int) -> MatchRun | None:
    """The newest run of the tender that succeeded: a run still going or failed has no trustworthy ranking."""
    return (
        MatchRun.objects.filter(tender_id=tender_id, status=JobStatus.SUCCEEDED).order_by("-created_at", "-id").first()
    )


@dataclass(frozen=True)
class PackageMatch:
    package: WorkPackage
    run: MatchRun | None
    candidates: list[MatchCandidate]
    assignment: Assignment | None


def package_match(package: WorkPackage) -> PackageMatch:
    """The package's ranked candidates from the latest finished run, and its assignment: four queries."""
    run = latest_finished_run(package.tender_id)
    candidates = (
        list(MatchCandidate.objects.filter(run=run, package=package).select_related("firm").order_by("rank", "id"))
        if run is not None
        else []
    )
    assignment = Assignment.objects.filter(package=package).select_related("lead", "backup").first()
    return PackageMatch(package, run, candidates, assignment)


# --- Serializers ---------------------------------------------------------------------------------------------


class FirmRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class LotRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source_id = serializers.CharField()
    title = serializers.CharField()


class PackageSkillSerializer(serializers.ModelSerializer):
    skill = serializers.IntegerField(source="skill_id")
    name = serializers.CharField(source="skill.name")

    class Meta:
        model = PackageSkill
        fields = ["skill", "name", "weight", "inferred"]


class WorkPackageSerializer(serializers.ModelSerializer):
    tender = serializers.IntegerField(source="tender_id")
    lot = LotRefSerializer()
    currency = serializers.SerializerMethodField(help_text="Devise de la valeur estimée (celle du lot ou du marché).")
    skills = PackageSkillSerializer(source="required_skills", many=True)

    class Meta:
        model = WorkPackage
        fields = [
            "id",
            "tender",
            "lot",
            "position",
            "name",
            "basis",
            "flagged",
            "cpv_codes",
            "line_count",
            "estimated_value",
            "currency",
            "estimated_days",
            "skills",
        ]
        read_only_fields = fields

    def get_currency(self, package: WorkPackage) -> str:
        return package.lot.currency or package.tender.currency


class PackageRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    lot = LotRefSerializer()


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = MatchRun
        fields = ["id", "status", "created_at", "finished_at"]
        read_only_fields = fields


class ComponentSerializer(serializers.Serializer):
    """One line of a score's explanation."""

    key = serializers.CharField()
    weight = serializers.JSONField()
    value = serializers.JSONField()
    points = serializers.JSONField()
    detail = serializers.CharField()


class CandidateSerializer(serializers.ModelSerializer):
    firm = FirmRefSerializer()
    components = serializers.SerializerMethodField()

    class Meta:
        model = MatchCandidate
        fields = ["rank", "firm", "score", "days_needed", "components"]
        read_only_fields = fields

    @extend_schema_field(ComponentSerializer(many=True))
    def get_components(self, candidate: MatchCandidate) -> Any:
        return candidate.components


class AssignmentSerializer(serializers.ModelSerializer):
    lead = FirmRefSerializer(allow_null=True)
    backup = FirmRefSerializer(allow_null=True)

    class Meta:
        model = Assignment
        fields = ["run", "lead", "backup", "lead_days", "status", "unassigned_reason", "updated_at"]
        read_only_fields = fields


class PackageMatchSerializer(serializers.Serializer):
    package = PackageRefSerializer()
    run = RunSerializer(allow_null=True, help_text="La dernière mise en relation terminée du marché.")
    candidates = CandidateSerializer(many=True)
    assignment = AssignmentSerializer(allow_null=True)


class PackageAssignmentSerializer(serializers.Serializer):
    """One row per work package of the tender; `assignment` is null until a run or a person assigns it."""

    package = PackageRefSerializer(source="*")
    assignment = serializers.SerializerMethodField()

    @extend_schema_field(AssignmentSerializer(allow_null=True))
    def get_assignment(self, package: WorkPackage) -> dict[str, Any] | None:
        assignment = assignment_of(package)
        return AssignmentSerializer(assignment).data if assignment is not None else None


# --- Views ---------------------------------------------------------------------------------------------------


class TenderWorkPackageList(generics.ListAPIView):
    """The work packages of a tender, lot by lot."""

    permission_classes = [StaffReader]
    serializer_class = WorkPackageSerializer

    def get_queryset(self) -> QuerySet[WorkPackage]:
        if getattr(self, "swagger_fake_view", False):
            return WorkPackage.objects.none()
        tender = get_object_or_404(Tender, pk=self.kwargs["tender_id"])
        return work_packages().filter(tender=tender)


class WorkPackageDetail(generics.RetrieveAPIView):
    permission_classes = [StaffReader]
    serializer_class = WorkPackageSerializer
    queryset = work_packages()


class WorkPackageMatch(generics.GenericAPIView):
    """The package's ranked candidates from the latest finished match run, with their reasons, and its assignment."""

    permission_classes = [StaffReader]
    serializer_class = PackageMatchSerializer
    queryset = WorkPackage.objects.select_related("lot")

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(PackageMatchSerializer(package_match(self.get_object())).data)


class TenderAssignment(generics.ListAPIView):
    """Every work package of the tender with its lead and backup firms, lot by lot."""

    permission_classes = [StaffReader]
    serializer_class = PackageAssignmentSerializer

    def get_queryset(self) -> QuerySet[WorkPackage]:
        if getattr(self, "swagger_fake_view", False):
            return WorkPackage.objects.none()
        tender = get_object_or_404(Tender, pk=self.kwargs["tender_id"])
        return (
            WorkPackage.objects.filter(tender=tender)
            .select_related("lot", "assignment__lead", "assignment__backup")
            .order_by("lot__position", "lot_id", "position", "id")
        )
