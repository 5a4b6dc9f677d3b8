from django.urls import URLPattern

# Work packages: the split of each lot (filled by the splitting pages).
urlpatterns: list[URLPattern] = []
