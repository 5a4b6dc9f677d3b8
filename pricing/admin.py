"""Admin: to look at only. Policies change through the offer page, money through the finance pages and
services (each with an audit row); the ledger is append-only; projects and commitments through /contributions/."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import (
    Commitment,
    Contract,
    ContributionPayment,
    Entry,
    Invoice,
    OfferPolicy,
    Payment,
    PayoutBatch,
    UpstreamProject,
    WorkDelivery,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OfferPolicy)
class OfferPolicyAdmin(ReadOnlyAdmin):
    list_display = ["version", "fee_rate", "levy_rate", "vat_rate", "updated_by", "updated_at"]
    list_select_related = ["version__offer__tender", "updated_by"]
    readonly_fields = ["version", "fee_rate", "levy_rate", "vat_rate", "updated_by", "updated_at"]


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdmin):
    list_display = ["reference", "title", "kind", "signed_on", "invoicing_circuit"]
    search_fields = ["reference", "title"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "contract", "kind", "issued_on", "due_on", "total_ttc_cents", "status"]
    list_select_related = ["contract"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["contract", "invoice", "kind", "received_on", "amount_cents", "bank_reference", "reversed_at"]
    list_select_related = ["contract", "invoice"]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "key", "contract", "posted_on", "memo"]
    list_select_related = ["contract"]


@admin.register(PayoutBatch)
class PayoutBatchAdmin(ReadOnlyAdmin):
    list_display = ["key", "execution_date", "total_cents", "created_at"]


@admin.register(UpstreamProject)
class UpstreamProjectAdmin(ReadOnlyAdmin):
    list_display = ["name", "repository_url", "licence", "funding_channel"]
    search_fields = ["name"]


@admin.register(Commitment)
class CommitmentAdmin(ReadOnlyAdmin):
    list_display = ["title", "project", "contract", "firm", "kind", "starts_on", "ends_on"]
    list_select_related = ["project", "contract", "firm"]
    list_filter = ["kind"]


@admin.register(ContributionPayment)
class ContributionPaymentAdmin(ReadOnlyAdmin):
    list_display = ["commitment", "source", "amount_cents", "paid_on", "reference", "reversed_at"]
    list_select_related = ["commitment"]


@admin.register(WorkDelivery)
class WorkDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["commitment", "days", "delivered_on"]
    list_select_related = ["commitment"]
