"""Pages of two-factor login: the code step of logging in, setting up an authenticator app,
the recovery codes, turning it off, and a workspace owner's requirement."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from audit.log import record
from audit.models import Action
from workspaces import twofactor
from workspaces.models import Role
from workspaces.tenancy import role_required
from workspaces.twofactor_forms import (
    LoginCodeForm,
    PasswordAndCodeForm,
    SetupCodeForm,
    WorkspaceTwoFactorForm,
    wait_message,
)

PENDING_KEY = "two_factor_pending"
NEW_CODES_KEY = "two_factor_new_codes"
# The code step must follow the password within this long, and allows this many wrong codes
# before the password is asked again (django-otp also slows each device down: 1, 2, 4 … s).
PENDING_SECONDS = 300
PENDING_TRIES = 5


class LoginView(auth_views.LoginView):
    """Django's login; a user with an authenticator app is not logged in yet after the
    password, but sent to the code step, the user's id held in the session meanwhile."""

    def form_valid(self, form):
        user = form.get_user()
        if not twofactor.is_enabled(user):
            return super().form_valid(form)
        self.request.session[PENDING_KEY] = {
            "user": user.pk,
            "backend": user.backend,
            "next": self.get_redirect_url(),
            "since": time.time(),
            "tries": 0,
        }
        return redirect("login_code")


@login_not_required
@never_cache
@sensitive_post_parameters("code")
def login_code(request):
    pending = request.session.get(PENDING_KEY)
    user = _pending_user(pending)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        messages.info(request, "Log in with your username and password first.")
        return redirect("login")
    form = LoginCodeForm(user, request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            return _finish_login(request, user, pending, form.device)
        pending["tries"] += 1
        request.session[PENDING_KEY] = pending
        if pending["tries"] >= PENDING_TRIES:
            del request.session[PENDING_KEY]
            messages.error(request, "Too many wrong codes: log in again with your password.")
            return redirect("login")
    return render(request, "registration/login_code.html", {"form": form})


def _pending_user(pending):
    if not pending or time.time() - pending["since"] > PENDING_SECONDS:
        return None
    return get_user_model().objects.filter(pk=pending["user"], is_active=True).first()


def _finish_login(request, user, pending, device):
    del request.session[PENDING_KEY]
    backend = pending["backend"]  # as authenticate() named it, maybe before a rename
    login(request, user, backend=settings.CRIER_RENAMED_AUTH_BACKENDS.get(backend, backend))
    otp_login(request, device)
    if isinstance(device, StaticDevice):
        left = twofactor.recovery_codes_left(user)
        messages.warning(
            request,
            f"You used a recovery code; {left} left. If your phone is lost, turn two-factor "
            "login off and on again in your user menu to set up a new one.",
        )
    target = pending["next"]
    if not target or not url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        target = settings.LOGIN_REDIRECT_URL
    return redirect(target)


@never_cache
def two_factor(request):
    return _overview(request)


def _overview(request, failed: PasswordAndCodeForm | None = None):
    """The two-factor page; ``failed`` is a form sent back with its errors."""
    user = request.user
    forms = {p: PasswordAndCodeForm(user, prefix=p) for p in ("recovery", "disable")}
    if failed is not None:
        forms[failed.prefix] = failed
    context = {
        "device": twofactor.authenticator(user),
        "codes_left": twofactor.recovery_codes_left(user),
        "recovery_form": forms["recovery"],
        "disable_form": forms["disable"],
    }
    return render(request, "two_factor/overview.html", context, status=400 if failed else 200)


@never_cache
@sensitive_post_parameters("code")
def two_factor_setup(request):
    if twofactor.is_enabled(request.user):
        return redirect("two_factor")
    device = twofactor.unconfirmed_authenticator(request.user)
    form = SetupCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = twofactor.confirm(device, form.cleaned_data["code"])
        except twofactor.CodeRefused as refused:
            form.add_error(
                "code",
                wait_message(refused)
                or "That is not the code the app shows for Crier now. Check that you added this "
                "key and that the phone's clock is right, then enter the newest code.",
            )
        else:
            otp_login(request, device)
            request.session[NEW_CODES_KEY] = codes
            messages.success(request, "Two-factor login is on: the next login asks for a code.")
            return redirect("two_factor_codes")
    context = {
        "form": form,
        "qr_svg": twofactor.qr_svg(device),
        "manual_key": twofactor.manual_key(device),
    }
    return render(request, "two_factor/setup.html", context)


@never_cache
def two_factor_codes(request):
    """The recovery codes just made, shown this once."""
    codes = request.session.pop(NEW_CODES_KEY, None)
    if not codes:
        return redirect("two_factor")
    return render(request, "two_factor/codes.html", {"codes": codes})


@require_POST
@sensitive_post_parameters("password", "code")
def two_factor_recovery(request):
    return _with_password_and_code(request, "recovery", _replace_codes)


@require_POST
@sensitive_post_parameters("password", "code")
def two_factor_disable(request):
    return _with_password_and_code(request, "disable", _turn_off)


def _replace_codes(request):
    request.session[NEW_CODES_KEY] = twofactor.new_recovery_codes(request.user)
    messages.success(request, "New recovery codes made; the old ones no longer work.")
    return redirect("two_factor_codes")


def _turn_off(request):
    twofactor.disable(request.user)
    messages.success(request, "Two-factor login is off: logging in asks for your password only.")
    return redirect("two_factor")


def _with_password_and_code(request, prefix: str, action):
    form = PasswordAndCodeForm(request.user, request.POST, prefix=prefix)
    if form.is_valid():
        return action(request)
    return _overview(request, failed=form)


@require_POST
@role_required(Role.OWNER)
def workspace_two_factor(request):
    workspace = request.workspace
    before = workspace.require_two_factor
    form = WorkspaceTwoFactorForm(request.POST, instance=workspace, owner=request.user)
    if not form.is_valid():
        for error in form.errors.get("require_two_factor", []):
            messages.error(request, error)
        return redirect("workspace_settings")
    after = form.cleaned_data["require_two_factor"]
    with transaction.atomic():
        form.save()
        if after != before:
            change = {"old": before, "new": after}
            record(workspace, request.user, Action.WORKSPACE_CHANGED, f"workspace {workspace}",
                   require_two_factor=change)  # fmt: skip
    if after:
        messages.success(request, "Members now need two-factor login to use this workspace.")
    else:
        messages.success(request, "Two-factor login is no longer required in this workspace.")
    return redirect("workspace_settings")
