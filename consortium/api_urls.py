"""The REST API (Django REST framework) and its OpenAPI schema, mounted under /api/.

The schema is served as YAML, or JSON with ?format=json; no documentation page needing outside assets.
"""

from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from bids.api import TenderAssignment, TenderWorkPackageList, WorkPackageDetail, WorkPackageMatch
from bids.invitation_api import InvitationViewSet
from partners.api import FirmViewSet, HoldsRole, SkillViewSet
from pricing.api import ContractDetail, ContractInvoiceList, ContractList, PaymentList, StatementDetail
from pricing.contribution_api import CommitmentDeliveries, CommitmentDetail, CommitmentList, ProjectList


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([HoldsRole])
def api_root(request: Request) -> Response:
    """Where to start in the browsable API."""
    return Response(
        {
            name: reverse(f"api-{name}", request=request)
            for name in ("firm-list", "skill-list", "invitation-list", "schema")
        }
    )


urlpatterns: list[URLPattern | URLResolver] = [
    path("", api_root, name="api-root"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[HoldsRole]), name="api-schema"),
    path("firms/", FirmViewSet.as_view({"get": "list"}), name="api-firm-list"),
    path(
        "firms/<int:pk>/",
        FirmViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api-firm-detail",
    ),
    path("skills/", SkillViewSet.as_view({"get": "list"}), name="api-skill-list"),
    path("skills/<int:pk>/", SkillViewSet.as_view({"get": "retrieve"}), name="api-skill-detail"),
    path(
        "tenders/<int:tender_id>/work-packages/",
        TenderWorkPackageList.as_view(),
        name="api-tender-work-packages",
    ),
    path("tenders/<int:tender_id>/assignment/", TenderAssignment.as_view(), name="api-tender-assignment"),
    path("work-packages/<int:pk>/", WorkPackageDetail.as_view(), name="api-work-package-detail"),
    path("work-packages/<int:pk>/match/", WorkPackageMatch.as_view(), name="api-work-package-match"),
    path("invitations/", InvitationViewSet.as_view({"get": "list"}), name="api-invitation-list"),
    path("invitations/<int:pk>/", InvitationViewSet.as_view({"get": "retrieve"}), name="api-invitation-detail"),
    path(
        "invitations/<int:pk>/accept/",
        InvitationViewSet.as_view({"post": "accept"}),
        name="api-invitation-accept",
    ),
    path(
        "invitations/<int:pk>/decline/",
        InvitationViewSet.as_view({"post": "decline"}),
        name="api-invitation-decline",
    ),
    path("contracts/", ContractList.as_view(), name="api-contract-list"),
    path("contracts/<int:pk>/", ContractDetail.as_view(), name="api-contract-detail"),
    path("contracts/<int:pk>/invoices/", ContractInvoiceList.as_view(), name="api-contract-invoices"),
    path("payments/", PaymentList.as_view(), name="api-payment-list"),
    path("statements/<int:firm_id>/", StatementDetail.as_view(), name="api-statement-detail"),
    path("commitments/", CommitmentList.as_view(), name="api-commitment-list"),
    path("commitments/<int:pk>/", CommitmentDetail.as_view(), name="api-commitment-detail"),
    path("commitments/<int:pk>/deliveries/", CommitmentDeliveries.as_view(), name="api-commitment-deliveries"),
    path("projects/", ProjectList.as_view(), name="api-project-list"),
]
