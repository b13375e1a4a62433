from __future__ import annotations

import math
import re

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from campaigns import services
from campaigns.compose import pricing, segments
from campaigns.compose.forms import (
    CampaignCreateForm,
    MappingForm,
    MessageForm,
    OptionsForm,
    SetupForm,
    StopListAddForm,
    StopListUploadForm,
    UploadForm,
)
from campaigns.compose.templating import Template, missing_placeholders, placeholders_in
from campaigns.models import (
    Campaign,
    Channel,
    Estimate,
    ImportMode,
    ImportStatus,
    RecipientImport,
    StopListEntry,
    VoiceKind,
)
from campaigns.pages import exports
from campaigns.pages import queries as pages
from campaigns.recipients import imports, stoplist
from campaigns.recipients.rejections import Code
from campaigns.tracking import charts
from core import params, statuses
from core.statuses import CampaignStatus, MessageStatus
from core.tables.reader import open_table
from core.tables.table import ImportRejected, ReadOptions
from providers.crypto import CredentialsUnreadable
from providers.errors import ProviderError
from providers.models import ProviderAccount
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required
from workspaces.views import done

RECIPIENTS_PER_PAGE = 50


def _campaign(request, pk: int) -> Campaign:
    return get_for_workspace(
        request, Campaign.objects.select_related("account", "counters", "launched_by"), pk=pk
    )


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
    """Search, filters, sorting and pages, all in the query string: a filtered list is a link
    to share. HTMX requests get the results part alone."""
    chosen = pages.CampaignFilter.from_query(request.GET)
    campaigns = chosen.apply(
        Campaign.objects.filter(workspace=request.workspace).select_related("account", "counters")
    )
    page = Paginator(campaigns, pages.CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "rows": pages.campaign_rows(page.object_list),
        "chosen": chosen,
        "page_query": query.urlencode(),
        "sort_columns": _sort_columns(request, chosen),
        "statuses": CampaignStatus.choices,
        "channels": Channel.choices,
        "accounts": ProviderAccount.objects.filter(workspace=request.workspace).values_list(
            "pk", "name"
        ),
        "filtered": any(
            request.GET.get(k) for k in ("q", "status", "channel", "account", "since", "until")
        ),
    }
    template = "campaigns/campaign_list.html" + ("#results" if request.htmx else "")
    return render(request, template, context)


SORT_COLUMNS = [
    ("recipients", "Recipients", "text-end"),
    ("rate", "Delivery rate", "text-end"),
    ("cost", "Cost", "text-end"),
    ("scheduled", "Scheduled", ""),
    ("created", "Created", ""),
]


def _sort_columns(request, chosen: pages.CampaignFilter) -> list[dict]:
    """The sortable headers: each links to its sort (descending first, then flipped)."""
    columns = []
    for key, label, align in SORT_COLUMNS:
        query = request.GET.copy()
        query.pop("page", None)
        query["sort"] = chosen.sort_link(key)
        arrow = {f"-{key}": "bi-arrow-down", key: "bi-arrow-up"}.get(chosen.sort, "")
        columns.append(
            {
                "key": key,
                "label": label,
                "align": align,
                "url": f"?{query.urlencode()}",
                "arrow": arrow,
            }
        )
    return columns


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
    counters = pages.counters_of(campaign)
    chosen = pages.RecipientFilter.from_query(request.GET)
    context = {
        "campaign": campaign,
        "page": pages.recipient_page(campaign, counters, chosen, request.GET.get("page")),
        "chosen": chosen,
        "total": counters.total,
        "status_choices": [
            (value, label, getattr(counters, value)) for value, label in MessageStatus.choices
        ],
    }
    if request.htmx and request.htmx.target == "recipients":
        return render(request, "campaigns/campaign_detail.html#recipients", context)
    context["imports"] = campaign.imports.all()[:10]
    if campaign.status == CampaignStatus.DRAFT:
        context.update(_compose_context(request, campaign))
    else:
        context.update(live_context(campaign))
    return render(request, "campaigns/campaign_detail.html", context)


def _compose_context(request, campaign: Campaign) -> dict:
    return {
        "upload_form": UploadForm(),
        "setup_form": SetupForm(instance=campaign, workspace=request.workspace),
        "message_form": MessageForm(instance=campaign),
        "options_form": OptionsForm(instance=campaign, workspace=request.workspace)
        if campaign.account
        else None,
        # A draft's recipients by country, to check an import at a glance; a launched campaign
        # never counts its messages on the page.
        "by_country": campaign.messages.values("country")
        .annotate(n=Count("pk"))
        .order_by("-n")[:10],
        **_message_context(campaign),
    }


def live_context(campaign: Campaign) -> dict:
    """Everything the live part shows, from the counters row and the snapshots: never a count
    over the campaign's messages."""
    counters = pages.counters_of(campaign)
    points = charts.snapshot_points(campaign)
    return {
        "campaign": campaign,
        # Sent back by the polling page: a change tells the recipient table to reload.
        "version": f"{campaign.status}:{counters.total}:{counters.cost}:"
        + ".".join(str(n) for n in counters.as_dict().values()),
        # A stopped campaign's batches already out keep delivering, and the tracker polls them.
        "live": campaign.status in statuses.LIVE
        or campaign.next_poll_at is not None
        or not campaign.stop_report_done,
        "figures": pages.figures(campaign, counters),
        "chart": charts.counters_chart(points, timezone.localtime),
        "legend": charts.legend({k for p in points for k, v in p.counts.items() if v}),
        "batches": campaign.dispatches.order_by("-pk")[:20],
        "can_pause": campaign.status in services.PAUSABLE,
        "can_resume": campaign.status == CampaignStatus.PAUSED,
        "can_stop": campaign.status in services.STOPPABLE,
        "can_retry": campaign.status in services.RETRYABLE and counters.failed > 0,
        "failed": counters.failed,
        "retry": services.retry_plan(campaign, counters) if counters.failed else None,
        "links": pages.short_links(campaign),
        "personalised": exports.personalised(campaign),
    }


@require_safe
def campaign_export(request, campaign_pk: int, extension: str):
    """The per-recipient results, filtered like the table: CSV streamed, XLSX from a file."""
    campaign = _campaign(request, campaign_pk)
    require_role(request, Role.VIEWER)
    chosen = pages.RecipientFilter.from_query(request.GET)
    if extension == "xlsx":
        return exports.xlsx_response(campaign, chosen)
    return exports.csv_response(campaign, chosen)


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
    search = params.text(request.GET.get("q", ""))
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


def _draft(request, campaign_pk: int) -> Campaign:
    """A campaign of this workspace that a sender may still edit."""
    campaign = _campaign(request, campaign_pk)
    require_role(request, Role.SENDER)
    if campaign.status != CampaignStatus.DRAFT:
        raise PermissionDenied("Only a draft can be edited; clone the campaign to change it.")
    return campaign


def _step(request, campaign_pk: int, form_class, part: str, **form_kwargs):
    """One compose step: GET shows its form, POST validates and saves the draft."""
    campaign = (
        _draft(request, campaign_pk)
        if request.method == "POST"
        else _campaign(request, campaign_pk)
    )
    form = form_class(request.POST or None, instance=campaign, **form_kwargs)
    saved = request.method == "POST" and form.is_valid()
    if saved:
        form.save()
    context = {"campaign": campaign, f"{part}_form": form, "saved": saved}
    context.update(_message_context(campaign))
    response = render(request, f"campaigns/campaign_detail.html#{part}", context)
    if saved:  # the preview and the price reload; a new account or channel reshapes steps 2, 4
        trigger_client_event(response, "draft-changed")
        trigger_client_event(response, f"{part}-saved")
    return response


@require_http_methods(["GET", "POST"])
def campaign_setup(request, campaign_pk: int):
    if "refresh" in request.POST:
        # Another account was picked: show its sender names, save nothing yet.
        campaign = _draft(request, campaign_pk)
        initial = {k: request.POST.get(k) for k in ("name", "channel", "account", "sender")}
        form = SetupForm(initial=initial, instance=campaign, workspace=request.workspace)
        return render(
            request,
            "campaigns/campaign_detail.html#setup",
            {"campaign": campaign, "setup_form": form},
        )
    return _step(request, campaign_pk, SetupForm, "setup", workspace=request.workspace)


@require_http_methods(["GET", "POST"])
def campaign_message(request, campaign_pk: int):
    return _step(request, campaign_pk, MessageForm, "message")


@require_http_methods(["GET", "POST"])
def campaign_options(request, campaign_pk: int):
    return _step(request, campaign_pk, OptionsForm, "options", workspace=request.workspace)


@require_POST
def campaign_count(request, campaign_pk: int):
    """The live counter: parts, encoding and UCS-2 culprits of the text being typed."""
    campaign = _campaign(request, campaign_pk)
    require_role(request, Role.SENDER)
    text = request.POST.get("text", "")
    return render(
        request,
        "campaigns/campaign_detail.html#counter",
        {"campaign": campaign, **_count_context(campaign, text)},
    )


@require_POST
def campaign_replace(request, campaign_pk: int):
    """One click: every character with a GSM stand-in replaced, the draft saved."""
    campaign = _draft(request, campaign_pk)
    campaign.text = segments.replace_suggestions(request.POST.get("text", campaign.text))
    campaign.save(update_fields=["text", "updated_at"])
    form = MessageForm(instance=campaign)
    context = {"campaign": campaign, "message_form": form, "saved": True}
    context.update(_message_context(campaign))
    response = render(request, "campaigns/campaign_detail.html#message", context)
    return trigger_client_event(response, "draft-changed")


def _count_context(campaign: Campaign, text: str) -> dict:
    info = segments.count(text)
    return {"count": info, "text_placeholders": placeholders_in(text)}


def _message_context(campaign: Campaign) -> dict:
    columns = set()
    # The recipients' columns: every import since (and including) the last one that replaced.
    done = campaign.imports.filter(status=ImportStatus.DONE).order_by("-finished_at", "-pk")
    for imp in done:
        columns.update(imports.placeholders(imp))
        if imp.mode == ImportMode.REPLACE:
            break
    if not columns and not done.exists():
        # A clone's recipients came with their values but without an import: read the
        # columns off the first of them.
        for fields in campaign.messages.order_by("pk").values_list("fields", flat=True)[:100]:
            columns.update(fields or ())
    return {
        "available_placeholders": sorted(columns),
        "missing_placeholders": missing_placeholders(campaign.text, columns)
        if campaign.messages.exists()
        else [],
        **_count_context(campaign, campaign.text),
    }


PREVIEW_SAMPLE = 5


@require_safe
def campaign_preview(request, campaign_pk: int):
    """Step 5: the texts of a few real recipients, the price per destination, the balance. A
    campaign too big to price now is priced by a worker, and the price part polls for it."""
    campaign = _campaign(request, campaign_pk)
    require_role(request, Role.VIEWER)
    template = Template(_what_is_said(campaign), campaign.placeholder_policy)
    sample = [
        (m.phone, template.render(m.fields))
        for m in campaign.messages.filter(status=MessageStatus.PENDING).order_by("pk")[
            :PREVIEW_SAMPLE
        ]
    ]
    context = {
        "campaign": campaign,
        "sample": [(phone, text, _measure(campaign, text)) for phone, text in sample],
        # What the launch would refuse, found the launch's way (services.content_problems).
        "problems": services.content_problems(campaign),
    }
    if sample and campaign.account:
        context.update(_estimate_context(campaign, pricing.estimate_or_job(campaign)))
    return render(request, "campaigns/campaign_detail.html#preview", context)


def _what_is_said(campaign: Campaign) -> str:
    """The SMS text, or what a voice call plays (outgoing.spec_for sends the chosen kind)."""
    if campaign.channel == Channel.SMS:
        return campaign.text
    kind = campaign.voice_kind or VoiceKind.TTS
    if kind == VoiceKind.ANNOUNCEMENT:
        return f"The recorded announcement {campaign.announcement_id}"
    return campaign.ssml if kind == VoiceKind.SSML else campaign.text


WORDS_PER_SECOND = 2.5  # text to speech at about 150 words a minute


def _measure(campaign: Campaign, text: str):
    """SMS: encoding and parts. Voice: how long the text takes to say, when it is spoken."""
    if campaign.channel == Channel.SMS:
        return segments.count(text)
    if campaign.voice_kind == VoiceKind.ANNOUNCEMENT:
        return {"seconds": None}
    words = len(re.sub(r"<[^>]+>", " ", text).split())
    return {"seconds": max(1, math.ceil(words / WORDS_PER_SECOND))}


@require_safe
def campaign_estimate(request, campaign_pk: int):
    """Polled while a worker prices the campaign: its progress, then the price."""
    campaign = _campaign(request, campaign_pk)
    require_role(request, Role.VIEWER)
    context = {"campaign": campaign}
    if campaign.account:
        result = pricing.job_to_report(campaign) or pricing.estimate_or_job(campaign)
        context.update(_estimate_context(campaign, result))
    response = render(request, "campaigns/campaign_detail.html#estimate", context)
    if request.htmx and not (context.get("job") and context["job"].busy):
        response.status_code = HttpResponseStopPolling.status_code
    return response


def _estimate_context(campaign: Campaign, result: pricing.PriceEstimate | Estimate) -> dict:
    if isinstance(result, Estimate):
        return {"job": result}
    context = {
        "estimate": result,
        # No provider we support quotes a voice campaign (BSG prices SMS only).
        "can_quote": campaign.account.adapter_class.capabilities.quote
        and campaign.channel == Channel.SMS,
    }
    if result.messages:
        context["balance"] = pricing.check_balance(result, _funds(campaign))
    return context


def _funds(campaign: Campaign):
    try:
        return pricing.current_funds(campaign)
    except (ProviderError, CredentialsUnreadable):
        return None  # check_balance then says Crier cannot tell


@require_POST
def campaign_quote(request, campaign_pk: int):
    """The provider's own price for the pending recipients, beside Crier's estimate."""
    campaign = _campaign(request, campaign_pk)
    require_role(request, Role.SENDER)
    estimate = pricing.estimate(campaign)
    context = {"campaign": campaign, "estimate": estimate}
    try:
        context["quote"] = pricing.provider_quote(campaign)
    except (ProviderError, CredentialsUnreadable) as exc:
        context["quote_error"] = str(exc)
    if context.get("quote"):
        context["quote_differs"] = pricing.quote_differs(estimate, context["quote"])
    return render(request, "campaigns/campaign_detail.html#quote", context)


@require_POST
def campaign_clone(request, campaign_pk: int):
    campaign = _campaign(request, campaign_pk)
    require_role(request, Role.SENDER)
    copy = services.clone(campaign, request.user)
    messages.success(request, f"Cloned into the draft “{copy.name}”, with its recipients.")
    return done(request, "campaign_detail", copy.pk)


@require_POST
def campaign_delete(request, campaign_pk: int):
    campaign = _campaign(request, campaign_pk)
    require_role(request, Role.SENDER)
    try:
        services.delete(campaign, request.user)
    except services.CampaignRuleError as exc:
        messages.error(request, str(exc))
        return done(request, "campaign_detail", campaign.pk)
    messages.success(request, f"Deleted the draft “{campaign.name}”.")
    return done(request, "campaign_list")
