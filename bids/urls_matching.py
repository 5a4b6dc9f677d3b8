from django.urls import URLPattern

# Matching: candidates, assignment, exclusions.
urlpatterns: list[URLPattern] = []
