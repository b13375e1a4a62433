"""The current workspace of a request, and the helpers every view uses to stay inside it.

The workspace a user works in is kept in the session. Every object lookup goes through
``get_for_workspace`` so a foreign id is a 404, never a 403: nobody learns that it exists.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone

from core import params
from core.compiled import AN_ID, Compiled
from workspaces.models import Membership

SESSION_KEY = "workspace_id"


class WorkspaceMiddleware:
    """Sets ``request.membership`` and ``request.workspace`` (None when the user has none), and
    activates the workspace's time zone: every time shown or typed is in it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.memberships = _memberships(request)
        request.membership = _current_membership(request, request.memberships)
        request.workspace = request.membership.workspace if request.membership else None
        # Activated, not overridden for the call: a streamed export's rows are written after
        # the middleware returns. Each request sets the zone afresh, so none inherits another's.
        if request.workspace:
            timezone.activate(request.workspace.zone)
        else:
            timezone.deactivate()
        return self.get_response(request)


def _of_user(user, *related):
    return Membership.objects.filter(user=user).select_related(*related).order_by("workspace__name")


# Read on every signed-in request: their SQL is built once (core.compiled).
_MEMBERSHIPS = Compiled(lambda user: _of_user(user, "workspace"), user=AN_ID)
_USER_AND_MEMBERSHIPS = Compiled(lambda user: _of_user(user, "user", "workspace"), user=AN_ID)


class MemberBackend(ModelBackend):
    """Django's ModelBackend, but the user a session names is read with their memberships and
    their workspaces in one statement, since every signed-in request needs both (kept on the
    user as ``read_memberships`` for WorkspaceMiddleware). A user who is a member nowhere is read
    alone, as ModelBackend reads one; an inactive one is refused as there."""

    def get_user(self, user_id):
        memberships = _USER_AND_MEMBERSHIPS(user=user_id)
        if not memberships:
            user = super().get_user(user_id)
        else:
            user = memberships[0].user
            for membership in memberships:
                membership.user = user
            user = user if self.user_can_authenticate(user) else None
        if user is not None:
            user.read_memberships = memberships
        return user


def _memberships(request) -> list[Membership]:
    """The user's memberships with their workspaces, by workspace name: a handful, read once a
    request for both the current one and the menu that lists them all (with the user itself,
    by MemberBackend, when the session named them)."""
    if not request.user.is_authenticated:
        return []
    read = getattr(request.user, "read_memberships", None)
    return read if read is not None else _MEMBERSHIPS(user=request.user.pk)


def _current_membership(request, memberships: list[Membership]) -> Membership | None:
    """The one the session names, else the user's first (their oldest membership)."""
    wanted = request.session.get(SESSION_KEY) if memberships else None
    membership = next((m for m in memberships if m.workspace_id == wanted), None) or min(
        memberships, key=lambda m: (m.created_at, m.pk), default=None
    )
    if membership and wanted != membership.workspace_id:
        request.session[SESSION_KEY] = membership.workspace_id
    return membership


def switch(request, workspace_id) -> Membership:
    if params.whole_number(workspace_id) is None:
        raise Http404
    membership = get_object_or_404(Membership, user=request.user, workspace_id=workspace_id)
    request.session[SESSION_KEY] = membership.workspace_id
    return membership


def require_role(request, role: str) -> None:
    """Raises PermissionDenied unless the current member holds ``role`` or above.

    Views with an object id look the object up first (a foreign id is a 404 for every role)
    and call this after.
    """
    if request.membership is None or not request.membership.can(role):
        raise PermissionDenied(f"This needs the {role} role or above.")


def role_required(role: str):
    """Lets the view run only for members of the current workspace holding ``role`` or above.

    A user without any workspace is sent to create one; a member below ``role`` gets a 403.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.membership is None:
                return redirect("workspace_create")
            require_role(request, role)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def get_for_workspace(
    request, model_or_queryset: type[Model] | QuerySet, lookup: str = "workspace", **kwargs
):
    """The object matching ``kwargs`` inside the request's workspace, or Http404.

    ``lookup`` is the path from the model to its workspace, e.g. "account__workspace".
    """
    if request.workspace is None:
        raise Http404
    found = get_object_or_404(model_or_queryset, **{lookup: request.workspace}, **kwargs)
    if lookup == "workspace":
        found.workspace = request.workspace  # the same row: not read again
    return found


def workspace_context(request) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    memberships = getattr(request, "memberships", None)
    return {
        "workspace": getattr(request, "workspace", None),
        "membership": membership,
        # For showing or hiding buttons only; every view checks the role again in Python.
        "can_admin": bool(membership and membership.can("admin")),
        "my_memberships": _memberships(request) if memberships is None else memberships,
    }
