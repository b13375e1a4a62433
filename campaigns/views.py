from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseStopPolling

from campaigns import imports, stoplist
from campaigns.forms import (
    CampaignCreateForm,
    MappingForm,
    StopListAddForm,
    StopListUploadForm,
    UploadForm,
)
from campaigns.models import Campaign, ImportStatus, RecipientImport, StopListEntry
from campaigns.recipients import ImportRejected, ReadOptions, missing_placeholders, open_table
from campaigns.rejections import Code
from dashboard.models import Role
from dashboard.tenancy import get_for_workspace, require_role, role_required
from dashboard.views import done

RECIPIENTS_PER_PAGE = 50


def _campaign(request, pk: int) -> Campaign:
    return get_for_workspace(request, Campaign.objects.select_related("account"), pk=pk)


def _import(request, pk: int) -> RecipientImport:
    return get_for_workspace(
        request,
        RecipientImport.objects.select_related("campaign__workspace"),
        "campaign__workspace",
        pk=pk,
    )


@require_safe
@role_required(Role.VIEWER)
def campaign_list(request):
    campaigns = (
        Campaign.objects.filter(workspace=request.workspace)
        .select_related("account")
        .annotate(recipients=Count("messages"))
        .order_by("-created_at", "-pk")
    )
    page = Paginator(campaigns, 25).get_page(request.GET.get("page"))
    return render(request, "campaigns/campaign_list.html", {"page": page})


@role_required(Role.SENDER)
def campaign_create(request):
    form = CampaignCreateForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        form.instance.created_by = request.user
        campaign = form.save()
        return done(request, "campaign_detail", campaign.pk)
    template = "campaigns/campaign_form.html" + ("#form" if request.htmx else "")
    return render(request, template, {"form": form})


@require_safe
@role_required(Role.VIEWER)
def campaign_detail(request, campaign_pk: int):
    campaign = _campaign(request, campaign_pk)
    recipients = campaign.messages.order_by("pk")
    search = request.GET.get("q", "").strip()
    if search:
        recipients = recipients.filter(phone__contains=search.replace(" ", ""))
    page = Paginator(recipients, RECIPIENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "campaign": campaign,
        "page": page,
        "search": search,
        "total": campaign.messages.count(),
        "by_country": campaign.messages.values("country")
        .annotate(n=Count("pk"))
        .order_by("-n")[:10],
        "imports": campaign.imports.all()[:10],
        "upload_form": UploadForm(),
    }
    if request.htmx and request.htmx.target == "recipients":
        return render(request, "campaigns/campaign_detail.html#recipients", context)
    return render(request, "campaigns/campaign_detail.html", context)


@require_POST
def import_create(request, campaign_pk: int):
    campaign = _campaign(request, campaign_pk)
    require_role(request, Role.SENDER)
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
        "campaigns/campaign_detail.html#upload",
        {"campaign": campaign, "upload_form": form},
        status=200 if request.htmx else 400,
    )


def import_detail(request, import_pk: int):
    """The mapping step (preview, reader options, phone column), then the import's progress."""
    imp = _import(request, import_pk)
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
    imp = _import(request, import_pk)
    require_role(request, Role.VIEWER)
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
    imp = _import(request, import_pk)
    require_role(request, Role.SENDER)
    imports.cancel(imp)
    messages.info(request, "The import was asked to stop; the recipients stay as they were.")
    return done(request, "import_detail", imp.pk)


@require_safe
def import_rejections(request, import_pk: int):
    imp = _import(request, import_pk)
    require_role(request, Role.VIEWER)
    if not imp.rejections_file:
        raise Http404("This import rejected no rows.")
    name = f"rejected-rows-{imp.campaign.name[:40]}-{imp.pk}.csv".replace(" ", "-")
    return FileResponse(
        imp.rejections_file.open("rb"), as_attachment=True, filename=name, content_type="text/csv"
    )


@role_required(Role.VIEWER)
def stop_list(request):
    entries = StopListEntry.objects.filter(workspace=request.workspace)
    search = request.GET.get("q", "").strip()
    if search:
        entries = entries.filter(phone__contains=search.replace(" ", ""))
    form = StopListAddForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST":
        require_role(request, Role.SENDER)
        if form.is_valid():
            data = form.cleaned_data
            added = stoplist.add_numbers(request.workspace, data["numbers"], data["note"])
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
            result = stoplist.add_from_table(request.workspace, table, form.cleaned_data["note"])
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
    entry = get_for_workspace(request, StopListEntry, pk=entry_pk)
    require_role(request, Role.ADMIN)
    entry.delete()
    messages.success(request, f"{entry.phone} may receive messages again.")
    return done(request, "stop_list")
