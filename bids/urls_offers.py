from django.urls import path

from . import offer_views as views

urlpatterns = [
    path("tenders/<int:pk>/offer/", views.offer_detail, name="offer_detail"),
    path("tenders/<int:pk>/offer/start/", views.offer_start, name="offer_start"),
    path("offers/", views.partner_offers, name="partner_offers"),
    path("offers/<int:pk>/composition/", views.offer_composition, name="offer_composition"),
    path("offers/<int:pk>/policy/", views.offer_policy, name="offer_policy"),
    path("offers/<int:pk>/freeze/", views.offer_freeze, name="offer_freeze"),
    path("offers/<int:pk>/status.json", views.offer_status, name="offer_status"),
    path("offers/<int:pk>/retry/", views.offer_retry, name="offer_retry"),
    path("offers/<int:pk>/submit/", views.offer_submit, name="offer_submit"),
    path("offers/<int:pk>/result/", views.offer_result, name="offer_result"),
    path("offers/<int:pk>/new-version/", views.offer_new_version, name="offer_new_version"),
    path("offers/<int:pk>/documents/<int:doc_pk>/", views.offer_document, name="offer_document"),
    path("offers/<int:pk>/zip/", views.offer_zip, name="offer_zip"),
]
