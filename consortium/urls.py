from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("consortium.api_urls")),
    path("partners/", include("partners.urls")),
    path("statements/", include("pricing.urls_statements")),
    path("finance/", include("pricing.urls")),
    path("transparency/", include("pricing.urls_transparency")),
    path("contributions/", include("pricing.urls_contributions")),
    path("", include("bids.urls")),
]

handler500 = "consortium.errors.server_error"
