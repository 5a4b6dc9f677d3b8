from django.urls import URLPattern, URLResolver

# The REST API (Django REST framework) and its OpenAPI schema.
urlpatterns: list[URLPattern | URLResolver] = []
