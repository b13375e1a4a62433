"""The Webhooks pages, for a workspace's owners and admins only: endpoints, their secret, a
test event, and each endpoint's delivery log with replay."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit.log import record
from audit.models import Action
from core import params
from core.web import done
from webhooks import delivery, events
from webhooks.forms import EndpointForm
from webhooks.models import Delivery, Endpoint, EventType
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required

LOG_PAGE = 50


@role_required(Role.ADMIN)
def endpoint_list(request):
    last = Delivery.objects.filter(endpoint=OuterRef("pk")).order_by("-pk")
    endpoints = Endpoint.objects.filter(workspace=request.workspace).annotate(
        last_status=Subquery(last.values("status")[:1]),
        last_code=Subquery(last.values("status_code")[:1]),
        last_at=Subquery(last.values("attempted_at")[:1]),
    )
    return render(request, "webhooks/endpoint_list.html", {"endpoints": endpoints})


@role_required(Role.ADMIN)
def endpoint_add(request):
    return _endpoint_form(request, Endpoint(workspace=request.workspace))


def endpoint_edit(request, endpoint_pk: int):
    endpoint = get_for_workspace(request, Endpoint, pk=endpoint_pk)
    require_role(request, Role.ADMIN)
    return _endpoint_form(request, endpoint)


def _endpoint_form(request, endpoint: Endpoint):
    before = {name: getattr(endpoint, name) for name in EndpointForm.Meta.fields}
    form = EndpointForm(request.POST or None, instance=endpoint)
    if request.method == "POST" and form.is_valid():
        creating = endpoint.pk is None
        with transaction.atomic():
            endpoint = form.save()
            details = {
                name: {"old": before[name], "new": getattr(endpoint, name)}
                for name in form.changed_data
            }
            action = Action.WEBHOOK_CREATED if creating else Action.WEBHOOK_CHANGED
            if creating or details:
                record(
                    request.workspace,
                    request.user,
                    action,
                    f"webhook {endpoint.url}",
                    endpoint_id=endpoint.pk,
                    **({} if creating else details),
                )
        messages.success(request, f"Saved the endpoint {endpoint.url}.")
        return done(request, "endpoint_detail", endpoint.pk)
    template = "webhooks/endpoint_form.html" + ("#form" if request.htmx else "")
    return render(request, template, {"form": form, "endpoint": endpoint})


def endpoint_detail(request, endpoint_pk: int):
    """The endpoint, its secret, and its delivery log, filtered by status and event type."""
    endpoint = get_for_workspace(request, Endpoint, pk=endpoint_pk)
    require_role(request, Role.ADMIN)
    log = endpoint.deliveries.select_related("event").order_by("-pk")
    status = request.GET.get("status", "")
    event_type = request.GET.get("type", "")
    if status in Delivery.Status.values:
        log = log.filter(status=status)
    if event_type in EventType.values:
        log = log.filter(event__type=event_type)
    before = params.whole_number(request.GET.get("before"))
    if before:
        log = log.filter(pk__lt=before)
    page = list(log[: LOG_PAGE + 1])
    context = {
        "endpoint": endpoint,
        "deliveries": page[:LOG_PAGE],
        "more": page[LOG_PAGE].pk + 1 if len(page) > LOG_PAGE else None,
        "statuses": Delivery.Status.choices,
        "types": EventType.choices,
        "selected_status": status,
        "selected_type": event_type,
        "now": timezone.now(),
    }
    template = "webhooks/endpoint_detail.html" + ("#log" if request.htmx else "")
    return render(request, template, context)


@require_POST
def endpoint_rotate(request, endpoint_pk: int):
    endpoint = get_for_workspace(request, Endpoint, pk=endpoint_pk)
    require_role(request, Role.ADMIN)
    delivery.rotate_secret(endpoint, request.user)
    messages.success(
        request, "A new secret signs every event now; the old one signs them too for 24 hours."
    )
    return done(request, "endpoint_detail", endpoint.pk)


@require_POST
def endpoint_test(request, endpoint_pk: int):
    endpoint = get_for_workspace(request, Endpoint, pk=endpoint_pk)
    require_role(request, Role.ADMIN)
    with transaction.atomic():
        event = events.test(endpoint, request.user)
        record(
            request.workspace,
            request.user,
            Action.WEBHOOK_TESTED,
            f"webhook {endpoint.url}",
            endpoint_id=endpoint.pk,
            event=event.webhook_id,
        )
    messages.success(request, f"A test event ({event.webhook_id}) is on its way.")
    return done(request, "endpoint_detail", endpoint.pk)


@require_POST
def endpoint_delete(request, endpoint_pk: int):
    endpoint = get_for_workspace(request, Endpoint, pk=endpoint_pk)
    require_role(request, Role.ADMIN)
    with transaction.atomic():
        record(
            request.workspace,
            request.user,
            Action.WEBHOOK_DELETED,
            f"webhook {endpoint.url}",
            endpoint_id=endpoint.pk,
        )
        endpoint.delete()
    messages.success(request, f"Deleted the endpoint {endpoint.url}.")
    return done(request, "endpoint_list")


@require_POST
def delivery_replay(request, delivery_pk: int):
    original = get_for_workspace(
        request, Delivery.objects.select_related("endpoint", "event"), "endpoint__workspace",
        pk=delivery_pk,
    )  # fmt: skip
    require_role(request, Role.ADMIN)
    again = delivery.replay(original, request.user)
    messages.success(request, f"Replaying {original.event.webhook_id} as delivery {again.pk}.")
    return done(request, "endpoint_detail", original.endpoint_id)
