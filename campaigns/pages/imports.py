"""Recipient imports: upload or paste, map the columns, follow the run, download the
rejected rows."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseStopPolling

from campaigns.models import (
    ImportStatus,
    RecipientImport,
)
from campaigns.pages.access import get_campaign_for_user, get_import_for_user
from campaigns.recipients import imports
from campaigns.recipients.forms import MappingForm, UploadForm
from core.columns import missing_placeholders
from core.rejections import Code
from core.tables.table import ImportRejected
from core.web import done
from workspaces.models import Role
from workspaces.tenancy import require_role


@require_POST
def import_create(request, campaign_pk: int):
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER)
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            imp = imports.create(
                campaign,
                request.user,
                upload=form.cleaned_data["file"],
                text=form.cleaned_data["text"] or "",
            )
        except (ImportRejected, imports.ImportNotAllowed) as exc:
            form.add_error(None, str(exc))
        else:
            return done(request, "import_detail", imp.pk)
    return render(
        request,
        "campaigns/campaign_draft.html#upload",
        {"campaign": campaign, "upload_form": form},
        status=200 if request.htmx else 400,
    )


def import_detail(request, import_pk: int):
    """The mapping step (preview, reader options, phone column), then the import's progress."""
    imp = get_import_for_user(request, import_pk)
    sheets = imports.sheet_names(imp)
    form = MappingForm(initial=_mapping_initial(imp), imp=imp, sheets=sheets)
    if request.method == "POST":
        require_role(request, Role.SENDER)
        form = MappingForm(request.POST, imp=imp, sheets=sheets)
        if imp.status == ImportStatus.UPLOADED and form.is_valid():
            mode = form.cleaned_data["mode"]
            try:
                imports.remap(imp, form.reader_options(), form.cleaned_data["phone_column"])
                if "confirm" in request.POST:
                    imports.confirm(imp, mode)
                    return done(request, "import_detail", imp.pk)
            except (ImportRejected, imports.ImportNotAllowed) as exc:
                form.add_error(None, str(exc))
            else:
                initial = {**_mapping_initial(imp), "mode": mode}
                form = MappingForm(initial=initial, imp=imp, sheets=sheets)
    names = imports.placeholders(imp) if imp.phone_column is not None else {}
    context = {
        "imp": imp,
        "campaign": imp.campaign,
        "form": form,
        "placeholders": list(names),
        "missing": missing_placeholders(imp.campaign.text, names),
        "reasons": _reasons(imp),
        "seconds_left": imp.seconds_left(timezone.now()),
    }
    if request.htmx and request.method == "POST":
        return render(request, "campaigns/import_detail.html#mapping", context)
    return render(request, "campaigns/import_detail.html", context)


def _mapping_initial(imp: RecipientImport) -> dict:
    options = imp.options or {}
    return {
        **{k: options.get(k, "") for k in ("encoding", "delimiter", "quotechar", "sheet")},
        "has_header": {True: "yes", False: "no"}.get(options.get("has_header"), ""),
        "phone_column": imp.phone_column,
        "mode": imp.mode,
    }


@require_safe
def import_progress(request, import_pk: int):
    imp = get_import_for_user(request, import_pk, Role.VIEWER)
    response = render(
        request,
        "campaigns/import_detail.html#progress",
        {
            "imp": imp,
            "campaign": imp.campaign,
            "reasons": _reasons(imp),
            "seconds_left": imp.seconds_left(timezone.now()),
        },
    )
    if imp.finished:
        response.status_code = HttpResponseStopPolling.status_code
    return response


def _reasons(imp: RecipientImport) -> list[tuple[str, str, int]]:
    by_reason = (imp.summary or {}).get("by_reason", {})
    return [
        (code, Code(code).label, count)
        for code, count in sorted(by_reason.items(), key=lambda item: -item[1])
        if code in Code.values
    ]


@require_POST
def import_cancel(request, import_pk: int):
    imp = get_import_for_user(request, import_pk, Role.SENDER)
    imports.cancel(imp)
    messages.info(request, "The import was asked to stop; the recipients stay as they were.")
    return done(request, "import_detail", imp.pk)


@require_safe
def import_rejections(request, import_pk: int):
    imp = get_import_for_user(request, import_pk, Role.VIEWER)
    if not imp.rejections_file:
        raise Http404("This import rejected no rows.")
    name = f"rejected-rows-{imp.campaign.name[:40]}-{imp.pk}.csv".replace(" ", "-")
    return FileResponse(
        imp.rejections_file.open("rb"), as_attachment=True, filename=name, content_type="text/csv"
    )
