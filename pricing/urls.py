"""The finance pages, mounted at /finance/: contracts and their actions, the dashboard, payouts, bank accounts."""

from django.urls import URLPattern, path

from . import contract_views, dashboard_views, views

app_name = "pricing"
urlpatterns: list[URLPattern] = [
    path("", dashboard_views.dashboard, name="dashboard"),
    path("contracts/", contract_views.contract_list, name="contract_list"),
    path("contracts/new/<int:version_id>/", contract_views.contract_new, name="contract_new"),
    path("contracts/<int:pk>/", contract_views.contract_detail, name="contract_detail"),
    path("contracts/<int:pk>/orders/new/", contract_views.order_new, name="order_new"),
    path("contracts/<int:pk>/orders/<int:order_id>/invoice/", contract_views.invoice_new, name="invoice_new"),
    path("contracts/<int:pk>/invoices/validate/", contract_views.invoice_validate, name="invoice_validate"),
    path("contracts/<int:pk>/credit-notes/new/", contract_views.credit_note_new, name="credit_note_new"),
    path("contracts/<int:pk>/payments/new/", contract_views.payment_new, name="payment_new"),
    path("contracts/<int:pk>/payments/reverse/", contract_views.payment_reverse, name="payment_reverse"),
    path("contracts/<int:pk>/advance/", contract_views.advance_new, name="advance_new"),
    path("contracts/<int:pk>/guarantee/release/", contract_views.guarantee_release, name="guarantee_release"),
    path("contracts/<int:pk>/import/", contract_views.finance_import, name="finance_import"),
    path("payouts/", views.payout_list, name="payout_list"),
    path("payouts/new/", views.payout_new, name="payout_new"),
    path("payouts/<int:pk>/", views.payout_detail, name="payout_detail"),
    path("payouts/<int:pk>/pain001.xml", views.payout_download, name="payout_file"),
    path("firms/<int:firm_id>/bank-account/", views.bank_account, name="bank_account"),
]
