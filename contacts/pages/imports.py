"""Contact imports: upload or paste, map the columns (making new fields), choose the list,
follow the run, download the rejected rows."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseStopPolling

from contacts import importing, mapping
from contacts.models import ContactImport, ImportStatus, ListAction
from contacts.pages.import_forms import MappingForm, UploadForm
from core.rejections import Code
from core.tables.table import ImportRejected
from core.web import done
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required

RECENT = 10


def get_import_for_user(request, pk: int, role: str = Role.VIEWER) -> ContactImport:
    """The current workspace's contact import ``pk`` for a member with at least ``role``
    (Http404 for another workspace's, PermissionDenied for a lower role)."""
    imp = get_for_workspace(
        request, ContactImport.objects.select_related("workspace", "contact_list"), pk=pk
    )
    require_role(request, role)
    return imp


@role_required(Role.VIEWER)
def contact_import_new(request):
    """The upload form, and the workspace's recent imports."""
    form = UploadForm()
    if request.method == "POST":
        require_role(request, Role.SENDER)
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                imp = importing.create(
                    request.workspace,
                    request.user,
                    upload=form.cleaned_data["file"],
                    text=form.cleaned_data["text"] or "",
                )
            except ImportRejected as exc:
                form.add_error(None, str(exc))
            else:
                return done(request, "contact_import_detail", imp.pk)
    context = {
        "form": form,
        "recent": ContactImport.objects.filter(workspace=request.workspace).select_related(
            "contact_list"
        )[:RECENT],
    }
    if request.htmx and request.method == "POST":
        return render(request, "contacts/import_new.html#upload", context, status=200)
    status = 400 if request.method == "POST" else 200
    return render(request, "contacts/import_new.html", context, status=status)


def contact_import_detail(request, contact_import_pk: int):
    """The mapping step (preview, reader options, a target per column, the list), then the
    import's progress and result."""
    imp = get_import_for_user(request, contact_import_pk)
    sheets = importing.sheet_names(imp)
    form = MappingForm(initial=MappingForm.initial_for(imp), imp=imp, sheets=sheets)
    if request.method == "POST":
        require_role(request, Role.SENDER)
        form = MappingForm(request.POST, imp=imp, sheets=sheets)
        if imp.status == ImportStatus.UPLOADED and form.is_valid():
            if _apply(request, imp, form):
                return done(request, "contact_import_detail", imp.pk)
            if not form.errors:
                form = MappingForm(
                    initial={**MappingForm.initial_for(imp), **_choices(form)},
                    imp=imp,
                    sheets=sheets,
                )
    context = _context(imp) | {"form": form}
    if imp.status == ImportStatus.UPLOADED:
        context["problems"] = mapping.problems(imp)
    if request.htmx and request.method == "POST":
        return render(request, "contacts/import_detail.html#mapping", context)
    return render(request, "contacts/import_detail.html", context)


def _apply(request, imp: ContactImport, form: MappingForm) -> bool:
    """Applies the form to the import; True when it was confirmed and queued."""
    mapping, new_fields = form.mapping()
    data = form.cleaned_data
    try:
        importing.remap(imp, form.reader_options(), mapping, new_fields)
        if "confirm" in request.POST:
            importing.confirm(
                imp,
                data["upsert"],
                data["list_action"],
                data["contact_list"],
                data["new_list_name"],
            )
            return True
    except (ImportRejected, importing.ImportNotAllowed) as exc:
        form.add_error(None, str(exc))
    return False


def _choices(form: MappingForm) -> dict:
    """What the user chose below the mapping, kept when the form is drawn afresh."""
    data = form.cleaned_data
    return {
        "upsert": data["upsert"],
        "list_action": data["list_action"],
        "contact_list": data["contact_list"],
        "new_list_name": data["new_list_name"],
    }


def _context(imp: ContactImport) -> dict:
    return {
        "imp": imp,
        "reasons": _reasons(imp),
        "seconds_left": imp.seconds_left(timezone.now()),
        "list_actions": ListAction,
    }


@require_safe
def contact_import_progress(request, contact_import_pk: int):
    imp = get_import_for_user(request, contact_import_pk)
    response = render(request, "contacts/import_detail.html#progress", _context(imp))
    if imp.finished:
        response.status_code = HttpResponseStopPolling.status_code
    return response


def _reasons(imp: ContactImport) -> list[tuple[str, str, int]]:
    by_reason = (imp.summary or {}).get("by_reason", {})
    return [
        (code, Code(code).label, count)
        for code, count in sorted(by_reason.items(), key=lambda item: -item[1])
        if code in Code.values
    ]


@require_POST
def contact_import_cancel(request, contact_import_pk: int):
    imp = get_import_for_user(request, contact_import_pk, Role.SENDER)
    importing.cancel(imp)
    messages.info(request, "The import was asked to stop; the contact book stays as it was.")
    return done(request, "contact_import_detail", imp.pk)


@require_safe
def contact_import_rejections(request, contact_import_pk: int):
    imp = get_import_for_user(request, contact_import_pk)
    if not imp.rejections_file:
        raise Http404("This import rejected no rows.")
    return FileResponse(
        imp.rejections_file.open("rb"),
        as_attachment=True,
        filename=f"rejected-contacts-{imp.pk}.csv",
        content_type="text/csv",
    )
