"""The contribution commitments' pages, mounted at /contributions/."""

from django.urls import URLPattern, path

from . import commitment_views, project_views

app_name = "contributions"
urlpatterns: list[URLPattern] = [
    path("", commitment_views.commitment_list, name="commitment_list"),
    path("new/", commitment_views.commitment_new, name="commitment_new"),
    path("<int:pk>/", commitment_views.commitment_detail, name="commitment_detail"),
    path("<int:pk>/work/", commitment_views.work_new, name="work_new"),
    path("<int:pk>/payments/", commitment_views.payment_new, name="payment_new"),
    path("<int:pk>/payments/reverse/", commitment_views.payment_reverse, name="payment_reverse"),
]
# Upstream projects and their community score ("new" and the import come before a project's slug).
urlpatterns += [
    path("projects/", project_views.project_list, name="project_list"),
    path("projects/new/", project_views.project_new, name="project_new"),
    path("projects/signals/import/", project_views.project_signals_import, name="project_signals_import"),
    path("projects/<slug:slug>/", project_views.project_detail, name="project_detail"),
    path("projects/<slug:slug>/edit/", project_views.project_edit, name="project_edit"),
    path("projects/<slug:slug>/signals/", project_views.project_signals, name="project_signals"),
]
