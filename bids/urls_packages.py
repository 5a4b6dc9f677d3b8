from django.urls import URLPattern, path

from . import package_views as views

# Work packages: the split of each lot (filled by the splitting pages).
PACKAGE = "tenders/<int:pk>/packages/<int:package_pk>/"
urlpatterns: list[URLPattern] = [
    path("tenders/<int:pk>/packages/", views.package_list, name="package_list"),
    path("tenders/<int:pk>/packages/split/", views.package_split, name="package_split"),
    path("tenders/<int:pk>/packages/merge/", views.package_merge, name="package_merge"),
    path(PACKAGE, views.package_detail, name="package_detail"),
    path(f"{PACKAGE}move/", views.package_move, name="package_move"),
    path(f"{PACKAGE}divide/", views.package_divide, name="package_divide"),
    path(f"{PACKAGE}rename/", views.package_rename, name="package_rename"),
    path(f"{PACKAGE}requirements/", views.package_requirements, name="package_requirements"),
    path(f"{PACKAGE}rule/", views.split_rule_new, name="split_rule_new"),
]
