from django.urls import URLPattern, path

from . import match_views as views

# Matching: candidates, assignment, exclusions.
urlpatterns: list[URLPattern] = [
    path("tenders/<int:pk>/match/", views.match_overview, name="match_overview"),
    path("tenders/<int:pk>/match/run/", views.match_run, name="match_run"),
    path("tenders/<int:pk>/match/status.json", views.match_status, name="match_status"),
    path("tenders/<int:pk>/packages/<int:package_pk>/candidates/", views.package_candidates, name="package_candidates"),
    path("tenders/<int:pk>/packages/<int:package_pk>/assignment/", views.assignment_adjust, name="assignment_adjust"),
    path("tenders/<int:pk>/exclusions/", views.exclusion_add, name="exclusion_add"),
    path("tenders/<int:pk>/exclusions/<int:firm_pk>/remove/", views.exclusion_remove, name="exclusion_remove"),
]
