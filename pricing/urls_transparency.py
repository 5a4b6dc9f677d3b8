from django.urls import URLPattern, path

from . import transparency_views as views

app_name = "transparency"
urlpatterns: list[URLPattern] = [
    path("", views.index, name="index"),
    path("data.json", views.data_json, name="data_json"),
    path("projects.csv", views.projects_csv, name="projects_csv"),
    path("contracts.csv", views.contracts_csv, name="contracts_csv"),
    path("schema.json", views.schema_json, name="schema_json"),
    path("open-data.md", views.schema_doc, name="schema_doc"),
]
