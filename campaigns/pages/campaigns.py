"""The campaign list and a campaign's page: create, open, export, clone and delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from campaigns import services
from campaigns.compose.forms import (
    CampaignCreateForm,
)
from campaigns.models import (
    Campaign,
    Channel,
)
from campaigns.pages import exports, rows, windows
from campaigns.pages import queries as pages
from campaigns.pages.access import get_campaign_for_user
from campaigns.pages.compose import compose_context
from campaigns.sending import failover
from campaigns.tracking import charts, costs
from core import statuses
from core.statuses import CampaignStatus, MessageStatus
from core.web import done
from providers.models import ProviderAccount
from workspaces.models import Role
from workspaces.tenancy import role_required

RECIPIENTS_PER_PAGE = 50


@require_safe
@role_required(Role.VIEWER)
def campaign_list(request):
    """Search, filters, sorting and pages, all in the query string: a filtered list is a link
    to share. HTMX requests get the results part alone."""
    chosen = pages.CampaignFilter.from_query(request.GET)
    campaigns = chosen.apply(Campaign.objects.filter(workspace=request.workspace))
    campaigns = campaigns.values(*pages.ROW_VALUES)
    page = Paginator(campaigns, pages.CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    listed = pages.campaign_rows(page.object_list)
    context = {
        "page": page,
        "rows": listed,
        "row_html": rows.campaigns(listed),
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
def campaign_detail(request, campaign_pk: int):
    campaign = get_campaign_for_user(request, campaign_pk)
    counters = pages.counters_of(campaign)
    chosen = pages.RecipientFilter.from_query(request.GET)
    page = pages.recipient_page(campaign, counters, chosen, request.GET.get("page"))
    draft = campaign.status == CampaignStatus.DRAFT
    context = {
        "campaign": campaign,
        "page": page,
        "recipient_rows": (rows.draft_recipients if draft else rows.launched_recipients)(page.rows),
        "chosen": chosen,
        "total": counters.total,
        "status_choices": [
            (value, label, getattr(counters, value)) for value, label in MessageStatus.choices
        ],
    }
    template = "campaigns/campaign_draft.html" if draft else "campaigns/campaign_live.html"
    if request.htmx and request.htmx.target == "recipients":
        return render(request, template + "#recipients", context)
    context["imports"] = campaign.imports.all()[:10]
    context.update(compose_context(request, campaign) if draft else live_context(campaign))
    context["failover_rule"] = failover.rule(campaign)
    if not draft:  # counted once a page view, never in the polled part
        context["routes"] = pages.routes(campaign, context["bill"].through)
    return render(request, template, context)


def live_context(campaign: Campaign) -> dict:
    """Everything the live part shows, from the counters row and the snapshots: never a count
    over the campaign's messages."""
    counters = pages.counters_of(campaign)
    chart, legend = charts.campaign_chart(campaign)  # cached while no snapshot is added
    bill = costs.billing(campaign)  # one query for the cost, the retry and the routes
    figures = pages.figures(campaign, counters, bill)
    return {
        "campaign": campaign,
        # Sent back by the polling page: a change tells the recipient table to reload.
        "version": f"{campaign.status}:{counters.total}:{counters.cost}:"
        + ".".join(str(n) for n in counters.as_dict().values()),
        # A stopped campaign's batches already out keep delivering, and the tracker polls them.
        "live": campaign.status in statuses.LIVE
        or campaign.next_poll_at is not None
        or not campaign.stop_report_done,
        "figures": figures,
        "status_rows": rows.status_counts(figures.by_status),
        "bill": bill,
        "chart": chart,
        "legend": legend,
        # Neither is asked before the first batch (the billing query read them all).
        "batches": campaign.batches.order_by("-pk")[:20] if bill.made else [],
        "unlaunched": pages.unlaunched_at_provider(campaign, bill),
        # Sending is held up: the reason is a warning and the batches open.
        "held_up": campaign.status in (CampaignStatus.PAUSED, CampaignStatus.FAILED),
        "stopped": campaign.status == CampaignStatus.CANCELLED,
        "completed": campaign.status == CampaignStatus.COMPLETED,
        "starts_at": campaign.start_at if campaign.status == CampaignStatus.SCHEDULED else None,
        "can_pause": campaign.status in services.PAUSABLE,
        "can_resume": campaign.status == CampaignStatus.PAUSED,
        "can_stop": campaign.status in services.STOPPABLE,
        "can_retry": campaign.status in services.RETRYABLE and counters.failed > 0,
        "failed": counters.failed,
        "retry": services.retry_plan(campaign, counters, bill.checking)
        if counters.failed
        else None,
        "links": pages.short_links(campaign) if bill.made else [],
        "personalised": exports.personalised(campaign),
        "timing": windows.live(campaign),
    }


@require_safe
def campaign_export(request, campaign_pk: int, extension: str):
    """The per-recipient results, filtered like the table: CSV streamed, XLSX from a file."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.VIEWER)
    chosen = pages.RecipientFilter.from_query(request.GET)
    if extension == "xlsx":
        return exports.xlsx_response(campaign, chosen)
    return exports.csv_response(campaign, chosen)


@require_POST
def campaign_clone(request, campaign_pk: int):
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER)
    copy = services.clone(campaign, request.user)
    messages.success(request, f"Cloned into the draft “{copy.name}”, with its recipients.")
    return done(request, "campaign_detail", copy.pk)


@require_POST
def campaign_delete(request, campaign_pk: int):
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER)
    try:
        services.delete(campaign, request.user)
    except services.CampaignRuleError as exc:
        messages.error(request, str(exc))
        return done(request, "campaign_detail", campaign.pk)
    messages.success(request, f"Deleted the draft “{campaign.name}”.")
    return done(request, "campaign_list")
