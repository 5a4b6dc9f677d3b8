from django.urls import URLPattern, path

from . import views

app_name = "partners"
urlpatterns: list[URLPattern] = [
    path("", views.firm_list, name="firm_list"),
    path("export.xlsx", views.firm_export, name="firm_export"),
    path("me/", views.my_firm, name="my_firm"),
    path("skills/", views.skill_list, name="skill_list"),
    path("<int:pk>/", views.firm_detail, name="firm_detail"),
    path("<int:pk>/edit/", views.firm_edit, name="firm_edit"),
    path("<int:pk>/skills/", views.firm_skills, name="firm_skills"),
    path("<int:pk>/capacity/", views.firm_capacity, name="firm_capacity"),
    path("<int:pk>/attestations/", views.firm_attestations, name="firm_attestations"),
    path("<int:pk>/references/", views.firm_references, name="firm_references"),
    path("<int:pk>/contacts/", views.firm_contacts, name="firm_contacts"),
]
