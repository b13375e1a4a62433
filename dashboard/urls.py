from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"
    ),
    path("workspace/switch/", views.switch_workspace, name="switch_workspace"),
    path("workspace/new/", views.workspace_create, name="workspace_create"),
    path("workspace/settings/", views.workspace_settings, name="workspace_settings"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.member_invite, name="member_invite"),
    path(
        "members/invitations/<int:invitation_pk>/revoke/",
        views.member_invitation_revoke,
        name="member_invitation_revoke",
    ),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("invitations/<str:token>/sign-up/", views.invitation_sign_up, name="invitation_sign_up"),
    path("members/<int:member_pk>/role/", views.member_role, name="member_role"),
    path("members/<int:member_pk>/remove/", views.member_remove, name="member_remove"),
    path("", include("providers.urls")),
    path("", include("campaigns.urls")),
    path("", include("audit.urls")),
    path("admin/", admin.site.urls),
]

if settings.SANDBOX:
    urlpatterns.append(path("sandbox/", include("providers.sandbox.urls")))
