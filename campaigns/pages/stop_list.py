"""The workspace stop list page: add, upload and remove numbers that never receive a message."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_POST

from campaigns.recipients import stoplist
from campaigns.recipients.forms import StopListAddForm, StopListUploadForm
from contacts import book
from contacts.models import Contact
from core import params
from core.tables.reader import open_table
from core.tables.table import ImportRejected, ReadOptions
from core.web import done
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required


@role_required(Role.VIEWER)
def stop_list(request):
    entries = Contact.objects.filter(workspace=request.workspace, opted_out_at__isnull=False)
    search = params.text(request.GET.get("q", ""))
    if search:
        entries = entries.filter(phone__contains=search.replace(" ", ""))
    form = StopListAddForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST":
        require_role(request, Role.SENDER)
        if form.is_valid():
            data = form.cleaned_data
            added = stoplist.add_numbers(
                request.workspace, data["numbers"], data["note"], actor=request.user
            )
            messages.success(request, f"Added {added} number{pluralize(added)}.")
            return done(request, "stop_list")
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    template = "campaigns/stop_list.html" + ("#form" if request.htmx and request.POST else "")
    return render(
        request,
        template,
        {
            "form": form,
            "upload_form": StopListUploadForm(),
            "page": page,
            "search": search,
            "total": entries.count(),
        },
    )


@require_POST
def stop_list_upload(request):
    require_role(request, Role.SENDER)
    form = StopListUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a CSV, TXT, XLSX or XLS file with the numbers.")
        return done(request, "stop_list")
    upload = form.cleaned_data["file"]
    try:
        with open_table(upload, filename=upload.name, options=_stop_list_options()) as table:
            result = stoplist.add_from_table(
                request.workspace, table, form.cleaned_data["note"], actor=request.user
            )
    except ImportRejected as exc:
        messages.error(request, f"Nothing was added: {exc}")
        return done(request, "stop_list")
    text = f"Added {result.added} number{pluralize(result.added)} from {upload.name}"
    if result.already:
        text += f"; {result.already} {pluralize(result.already, 'was,were')} listed already"
    if result.invalid:
        rows = ", ".join(str(n) for n in result.invalid[:10])
        more = f" and {len(result.invalid) - 10} more" if len(result.invalid) > 10 else ""
        text += f". Rows {rows}{more} hold no valid number and were skipped"
    messages.success(request, text + ".")
    return done(request, "stop_list")


def _stop_list_options() -> ReadOptions:
    return ReadOptions(
        max_rows=settings.CRIER_IMPORT_MAX_ROWS,
        max_columns=settings.CRIER_IMPORT_MAX_COLUMNS,
        max_bytes=settings.CRIER_IMPORT_MAX_BYTES,
    )


@require_POST
def stop_list_remove(request, entry_pk: int):
    entry = get_for_workspace(request, Contact, pk=entry_pk, opted_out_at__isnull=False)
    require_role(request, Role.ADMIN)
    book.opt_in(entry, actor=request.user, where="stop list")
    messages.success(request, f"{entry.phone} may receive messages again.")
    return done(request, "stop_list")
