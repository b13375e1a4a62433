"""The API keys page: admins create keys (the full key is shown once), see their scopes,
prefix and last use, and revoke them."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from api import keys
from api.forms import KeyForm
from api.models import ApiKey
from core.web import done
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required


@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def key_list(request):
    form = KeyForm(request.POST or None, workspace=request.workspace)
    shown = None
    if request.method == "POST" and form.is_valid():
        _, shown = keys.issue(
            request.workspace, request.user, form.cleaned_data["name"], form.cleaned_data["scopes"]
        )
        form = KeyForm(workspace=request.workspace)
    status = 400 if request.method == "POST" and shown is None else 200
    return render(
        request,
        "api/key_list.html",
        {
            "form": form,
            "shown": shown,
            "api_keys": ApiKey.objects.filter(workspace=request.workspace).select_related(
                "created_by", "revoked_by"
            ),
        },
        status=status,
    )


@require_POST
def key_revoke(request, key_pk: int):
    key = get_for_workspace(request, ApiKey, pk=key_pk)
    require_role(request, Role.ADMIN)
    if keys.revoke(key, request.user):
        messages.success(request, f"The key “{key.name}” no longer works.")
    else:
        messages.info(request, f"The key “{key.name}” was revoked already.")
    return done(request, "api_keys")
