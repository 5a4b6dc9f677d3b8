from django.urls import path

from . import views
from .urls_invitations import urlpatterns as invitation_urls
from .urls_matching import urlpatterns as matching_urls
from .urls_offers import urlpatterns as offer_urls
from .urls_packages import urlpatterns as package_urls

app_name = "bids"
urlpatterns = [
    path("tenders/", views.tender_list, name="tender_list"),
    path("tenders/<int:pk>/", views.tender_detail, name="tender_detail"),
    path("imports/", views.import_list, name="import_list"),
    path("imports/new/", views.import_new, name="import_new"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/status.json", views.import_status, name="import_status"),
    path("imports/<int:pk>/retry/", views.import_retry, name="import_retry"),
    *package_urls,
    *matching_urls,
    *invitation_urls,
    *offer_urls,
]
