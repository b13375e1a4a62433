"""Launch, watch, pause, resume, stop and retry a campaign: the pages around the sending
engine (campaigns.sending.engine)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from campaigns import services
from campaigns.compose import pricing
from campaigns.pages.access import get_campaign_for_user
from campaigns.pages.campaigns import live_context
from campaigns.pages.compose import account_funds, audience_context
from campaigns.pages.windows import has_timing
from campaigns.sending import failover
from core.statuses import CampaignStatus
from core.timezones import labelled
from core.web import done
from workspaces.models import Role


@require_http_methods(["GET", "POST"])
def campaign_launch(request, campaign_pk: int):
    """The confirmation step: what will be sent, to how many, for how much; then the launch."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER)
    if campaign.status != CampaignStatus.DRAFT:
        messages.info(request, "This campaign was launched already.")
        return done(request, "campaign_detail", campaign.pk)
    funds = account_funds(campaign) if campaign.account else None
    error = ""
    if request.method == "POST":
        try:
            services.launch(
                campaign,
                request.user,
                confirm_unpriced=request.POST.get("confirm_unpriced") == "on",
                funds=funds,
            )
        except services.CampaignRuleError as exc:
            campaign.refresh_from_db()
            if campaign.status != CampaignStatus.DRAFT:  # another click or tab got there first
                messages.info(request, "This campaign was launched already.")
                return done(request, "campaign_detail", campaign.pk)
            error = str(exc)
        else:
            when = (
                f"It starts at {labelled(campaign.start_at)}."
                if campaign.start_at
                else "Sending starts within a few seconds."
            )
            messages.success(request, f"Launched “{campaign.name}”. {when}")
            return done(request, "campaign_detail", campaign.pk)
    check = services.readiness(campaign, funds=funds)
    shown_apart = check.balance.message if check.balance else None
    # The cheapest route's split, as the preview showed it.
    routes = pricing.route_summary(campaign, check.estimate) if check.estimate else {}
    context = {
        "campaign": campaign,
        "check": check,
        "problems": [problem for problem in check.problems if problem != shown_apart],
        "error": error,
        **routes,
        "failover_rule": failover.rule(campaign, routes.get("routes") if check.estimate else None),
        "timing": has_timing(campaign),
        **audience_context(campaign),
        "audience_lists": campaign.audience_lists.all(),
        "audience_segments": campaign.audience_segments.all(),
        "exclusion_lists": campaign.exclusion_lists.all(),
    }
    return render(request, "campaigns/campaign_launch.html", context)


@require_safe
def campaign_progress(request, campaign_pk: int):
    """The campaign page's live part: status, progress, counters, cost, the chart, the batches
    and the actions. Polled every 5 s while the campaign's figures can still move; once they
    cannot, the answer tells htmx to stop (status 286)."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.VIEWER)
    context = live_context(campaign)
    response = render(request, "campaigns/campaign_live.html#live", context)
    if request.htmx and not context["live"]:
        response = HttpResponseStopPolling(response.content)
    if request.htmx and request.GET.get("seen") != context["version"]:
        trigger_client_event(response, "counters-changed")  # the recipient table reloads
    return response


def _act(request, campaign_pk: int, act, success: str):
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER)
    try:
        result = act(campaign, request.user)
    except services.CampaignRuleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success.format(result=result))
    return done(request, "campaign_detail", campaign.pk)


@require_POST
def campaign_pause(request, campaign_pk: int):
    return _act(
        request,
        campaign_pk,
        services.pause,
        "Paused. Batches already with the provider go on; nothing else is sent until you resume.",
    )


@require_POST
def campaign_resume(request, campaign_pk: int):
    return _act(request, campaign_pk, services.resume, "Resumed.")


@require_POST
def campaign_stop(request, campaign_pk: int):
    return _act(
        request,
        campaign_pk,
        services.stop,
        "Stopped. {result} messages that had not gone out were cancelled; Crier is asking the "
        "provider to stop what it holds.",
    )


@require_POST
def campaign_retry(request, campaign_pk: int):
    return _act(
        request,
        campaign_pk,
        services.retry_failed,
        "{result} failed messages will be sent again as a new attempt.",
    )
