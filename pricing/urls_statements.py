from django.urls import URLPattern, path

from . import statement_views as views

app_name = "statements"
urlpatterns: list[URLPattern] = [
    path("", views.my_statement, name="mine"),
    path("statement.pdf", views.my_statement_pdf, name="mine_pdf"),
    path("statement.xlsx", views.my_statement_xlsx, name="mine_xlsx"),
    path("firms/", views.statement_firm_list, name="firm_list"),
    path("firms/<int:firm_id>/", views.firm_statement, name="firm"),
    path("firms/<int:firm_id>/statement.pdf", views.firm_statement_pdf, name="firm_pdf"),
    path("firms/<int:firm_id>/statement.xlsx", views.firm_statement_xlsx, name="firm_xlsx"),
]
