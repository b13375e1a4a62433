from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_safe

from audit.models import Action, AuditEvent
from workspaces.models import Role
from workspaces.tenancy import role_required

EVENTS_PER_PAGE = 50


@require_safe
@role_required(Role.ADMIN)
def audit_log(request):
    """The workspace's sensitive actions, newest first, optionally of one kind."""
    events = AuditEvent.objects.filter(workspace=request.workspace)
    action = request.GET.get("action", "")
    if action not in Action.values:
        action = ""
    if action:
        events = events.filter(action=action)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "actions": Action.choices,
        "selected_action": action,
        "page_query": urlencode({"action": action}) if action else "",
    }
    template = "audit/audit_log.html#events" if request.htmx else "audit/audit_log.html"
    return render(request, template, context)
