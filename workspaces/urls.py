"""Sign-in, two-factor, workspaces, members and invitations."""

from django.contrib.auth import views as auth_views
from django.urls import path

from workspaces import twofactor_views, views

urlpatterns = [
    path("login/", twofactor_views.LoginView.as_view(), name="login"),
    path("login/code/", twofactor_views.login_code, name="login_code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"
    ),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("account/two-factor/", twofactor_views.two_factor, name="two_factor"),
    path("account/two-factor/setup/", twofactor_views.two_factor_setup, name="two_factor_setup"),
    path("account/two-factor/codes/", twofactor_views.two_factor_codes, name="two_factor_codes"),
    path(
        "account/two-factor/recovery-codes/",
        twofactor_views.two_factor_recovery,
        name="two_factor_recovery",
    ),
    path("account/two-factor/off/", twofactor_views.two_factor_disable, name="two_factor_disable"),
    path(
        "workspace/two-factor/", twofactor_views.workspace_two_factor, name="workspace_two_factor"
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
]
