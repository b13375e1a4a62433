from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_safe

from audit.models import Action, AuditEvent
from workspaces.models import Role
from workspaces.tenancy import role_required

EVENTS_PER_PAGE = 50

# The filter's groups, by the start of an action's value; the rest is the workspace's own.
GROUPS = (
    ("Campaigns", ("campaign_",)),
    ("Contact book", ("contact_", "contacts_", "list_", "segment_", "field_")),
    ("Message templates", ("template_",)),
    ("API keys and webhooks", ("api_key_", "webhook_")),
)


def action_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every action in the filter's groups, the workspace, members and accounts first."""
    grouped = {name: [] for name, _ in GROUPS}
    rest = []
    for value, label in Action.choices:
        name = next((name for name, starts in GROUPS if value.startswith(starts)), None)
        (grouped[name] if name else rest).append((value, label))
    return [("Workspace, members and accounts", rest), *grouped.items()]


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
        "action_groups": action_groups(),
        "selected_action": action,
        "page_query": urlencode({"action": action}) if action else "",
    }
    template = "audit/audit_log.html#events" if request.htmx else "audit/audit_log.html"
    return render(request, template, context)
