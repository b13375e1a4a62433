"""Exporting a list or a segment: ``?list=<pk>`` or ``?segment=<pk>``, ``&format=csv|xlsx``."""

from __future__ import annotations

from django.http import Http404
from django.views.decorators.http import require_safe

from contacts import exports, segments
from contacts.models import Contact, ContactList, Segment
from core import params
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, role_required


@require_safe
@role_required(Role.VIEWER)
def contact_export(request):
    export_format = request.GET.get("format", "csv")
    if export_format not in ("csv", "xlsx"):
        raise Http404("Export as csv or xlsx.")
    list_pk = params.whole_number(request.GET.get("list"))
    segment_pk = params.whole_number(request.GET.get("segment"))
    if list_pk:
        chosen = get_for_workspace(request, ContactList, pk=list_pk)
        contacts = Contact.objects.filter(
            workspace=request.workspace, memberships__contact_list=chosen
        )
    elif segment_pk:
        chosen = get_for_workspace(request, Segment, pk=segment_pk)
        try:
            contacts = segments.members(request.workspace, chosen.conditions)
        except segments.InvalidConditions as exc:
            raise Http404(f"The segment's conditions cannot be used: {exc}") from exc
    else:
        raise Http404("Choose a list or a segment to export.")
    if export_format == "xlsx":
        return exports.xlsx_response(request.workspace, contacts, chosen.name)
    return exports.csv_response(request.workspace, contacts, chosen.name)
