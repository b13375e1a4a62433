"""The custom fields page: define, change (sender and above) and delete (admin and above) the
fields every contact of the workspace may hold."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_POST, require_safe

from contacts import changes
from contacts import fields as custom
from contacts.forms import FieldForm
from contacts.models import ContactField
from core.web import done
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required


@require_safe
@role_required(Role.VIEWER)
def field_list(request):
    context = {
        "fields": ContactField.objects.filter(workspace=request.workspace),
        "can_send": request.membership.can(Role.SENDER),
        "limit": custom.MAX_FIELDS,
    }
    return render(request, "contacts/field_list.html", context)


@role_required(Role.SENDER)
def field_create(request):
    form = FieldForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        field = changes.save(form, request.user, "page")
        messages.success(request, f"Created the field {field.label}, {{{field.key}}}.")
        return done(request, "field_list")
    template = "contacts/field_form.html" + ("#form" if request.htmx else "")
    return render(request, template, {"form": form})


def field_edit(request, field_pk: int):
    field = get_for_workspace(request, ContactField, pk=field_pk)
    require_role(request, Role.SENDER)
    form = FieldForm(request.POST or None, instance=field, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        changes.save(form, request.user, "page")
        messages.success(request, f"Saved the field {field.label}.")
        return done(request, "field_list")
    template = "contacts/field_form.html" + ("#form" if request.htmx else "")
    return render(request, template, {"form": form, "field": field})


@require_POST
def field_delete(request, field_pk: int):
    field = get_for_workspace(request, ContactField, pk=field_pk)
    require_role(request, Role.ADMIN)
    with transaction.atomic():
        held = custom.forget_values(field)
        changes.delete(field, request.user, "page", values_dropped=held)
    messages.success(
        request,
        f"Deleted the field {field.label} and the {held:,} value{pluralize(held)} contacts "
        "held for it.",
    )
    return done(request, "field_list")
