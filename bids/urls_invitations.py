from django.urls import path

from . import invitation_views as views

urlpatterns = [
    path("invitations/", views.invitation_list, name="invitation_list"),
    path("invitations/<int:pk>/", views.invitation_detail, name="invitation_detail"),
    path("invitations/<int:pk>/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitations/<int:pk>/decline/", views.invitation_decline, name="invitation_decline"),
    path("invitations/<int:pk>/prices.xlsx", views.invitation_sheet, name="invitation_sheet"),
    path("invitations/<int:pk>/upload/", views.invitation_upload, name="invitation_upload"),
    path("invitations/<int:pk>/withdraw/", views.invitation_withdraw, name="invitation_withdraw"),
    path("tenders/<int:pk>/invitations/", views.invitation_dashboard, name="invitation_dashboard"),
    path("tenders/<int:pk>/invitations/send/", views.invitation_send, name="invitation_send"),
    path(
        "tenders/<int:pk>/packages/<int:package_pk>/invite/",
        views.invitation_invite_firm,
        name="invitation_invite_firm",
    ),
]
