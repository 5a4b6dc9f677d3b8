from django.urls import URLPattern

app_name = "partners"
urlpatterns: list[URLPattern] = []
