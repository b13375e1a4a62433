"""What the pages show of a campaign's sending window, local time, deadline and spread: the
draft's sending plan (step 5) and, while it sends, what it waits for."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from campaigns import audiences, windows
from campaigns.models import Campaign, Message
from campaigns.pages.access import get_campaign_for_user
from core import windows as core_windows
from core.statuses import CampaignStatus, MessageStatus
from workspaces.models import Role


def has_timing(campaign: Campaign) -> bool:
    """Whether anything restricts when the campaign's messages may go."""
    return bool(
        campaign.send_window
        or campaign.workspace.send_window
        or campaign.send_at_local
        or campaign.deadline
        or campaign.spread_hours
    )


@require_safe
def campaign_plan(request, campaign_pk: int):
    """Step 5's sending plan: recipients per hour of their own day, and when the last goes."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.VIEWER)
    context = {"campaign": campaign, "timing": has_timing(campaign)}
    if context["timing"]:
        counts = draft_zone_counts(campaign)
        total = sum(counts.values())
        rules = windows.rules_for(campaign)
        context |= {
            "rules": rules,
            "window": core_windows.describe(rules.window),
            "plan": windows.plan(rules, counts, per_hour(campaign, total)),
            "per_hour": per_hour(campaign, total),
            "total": total,
        }
    return render(request, "windows/plan.html", context)


def draft_zone_counts(campaign: Campaign) -> dict[str, int]:
    """Recipients per zone key as the launch would fix them: the campaign's own numbers, and
    the contacts its audience reaches (with their stored zones)."""
    fallback = campaign.workspace.time_zone
    pending = Message.objects.filter(campaign=campaign, status=MessageStatus.PENDING)
    counts, _prefixes = windows.zone_counts(pending, fallback)
    if campaign.status == CampaignStatus.DRAFT and not audiences.problem(campaign):
        contacts = audiences.contacts(campaign, in_file=False)
        reached, _prefixes = windows.zone_counts(contacts, fallback)
        counts.update(reached)
    return dict(counts)


def per_hour(campaign: Campaign, total: int) -> int | None:
    """Messages an hour the campaign is paced at (spread or rate limit); None: unpaced."""
    if campaign.spread_hours:
        return windows.spread_rate(total, campaign.spread_hours)
    if campaign.rate_limit and campaign.rate_period:
        return max(1, round(campaign.rate_limit * 3600 / campaign.rate_period))
    return None


def live(campaign: Campaign) -> dict | None:
    """For the campaign page: its window (its own, or the workspace's it follows), the window it
    is waiting for, and what the deadline expired."""
    if not has_timing(campaign):
        return None
    now = timezone.now()
    found = {"deadline": campaign.deadline, "waiting": None, "expired": 0}
    if text := campaign.send_window or campaign.workspace.send_window:
        window = core_windows.parse(text, campaign.workspace.holidays)
        found["window"] = core_windows.describe(window)
        found["own_window"] = bool(campaign.send_window)
        found["running"] = campaign.status in windows.RUNNING
    if campaign.status == CampaignStatus.SENDING and (keys := windows.zone_keys(campaign)):
        rules = windows.rules_for(campaign)
        some_open = any(rules.is_open(key, now) for key in keys)
        if opening := windows.next_opening(campaign, now):
            when, key = opening
            zone = key.split()[0]
            local = when.astimezone(core_windows.tz(zone))
            fmt = "%H:%M" if when - now < timedelta(hours=20) else "%a %d %b %H:%M"
            found["waiting"] = {"at": f"{local:{fmt}}", "zone": key, "some_open": some_open}
    if campaign.deadline and now >= campaign.deadline:
        expired = campaign.messages.filter(
            status=MessageStatus.CANCELLED, error_code=windows.DEADLINE
        )
        found["expired"] = expired.count()
    return found
