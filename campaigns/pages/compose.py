"""The compose steps of a draft: setup, message, options, the live counter, the preview
and the price."""

from __future__ import annotations

import math
import re

from django.conf import settings
from django.db.models import Count
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from campaigns import audiences, services
from campaigns.compose import message_templates, pricing
from campaigns.compose.forms import AudienceForm, MessageForm, OptionsForm, SetupForm
from campaigns.compose.templating import Template
from campaigns.models import (
    Campaign,
    Channel,
    Estimate,
    ImportMode,
    ImportStatus,
    VoiceKind,
)
from campaigns.pages.access import get_campaign_for_user
from campaigns.recipients import imports
from campaigns.recipients.forms import UploadForm
from campaigns.sending import failover
from contacts.models import ContactField
from core import sms_parts
from core.columns import missing_placeholders, placeholders_in
from core.crypto import CredentialsUnreadable
from core.statuses import MessageStatus
from providers.errors import ProviderError
from workspaces.models import Role


def compose_context(request, campaign: Campaign) -> dict:
    return {
        "upload_form": UploadForm(),
        "audience_form": AudienceForm(instance=campaign, workspace=request.workspace),
        "audience_lazy": True,  # counting a big audience takes a moment: the card loads it
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
        **message_context(campaign),
    }


def _step(request, campaign_pk: int, form_class, part: str, **form_kwargs):
    """One compose step: GET shows its form, POST validates and saves the draft."""
    campaign = (
        get_campaign_for_user(request, campaign_pk, Role.SENDER, draft=True)
        if request.method == "POST"
        else get_campaign_for_user(request, campaign_pk)
    )
    form = form_class(request.POST or None, instance=campaign, **form_kwargs)
    saved = request.method == "POST" and form.is_valid()
    if saved:
        form.save()
    context = {"campaign": campaign, f"{part}_form": form, "saved": saved}
    context.update(message_context(campaign))
    response = render(request, f"campaigns/campaign_draft.html#{part}", context)
    if saved:
        trigger_client_event(response, "draft-changed")  # the preview and the price reload
        if {"account", "channel"} & set(form.changed_data):
            # Steps 2 and 4 take another shape. A new sender or name leaves them as they are,
            # and reloading them would drop what is being typed in step 2.
            trigger_client_event(response, "setup-reshaped")
    return response


@require_http_methods(["GET", "POST"])
def campaign_setup(request, campaign_pk: int):
    if "refresh" in request.POST:
        # Another account was picked: show its sender names, save nothing yet.
        campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER, draft=True)
        initial = {k: request.POST.get(k) for k in ("name", "channel", "account", "sender")}
        form = SetupForm(initial=initial, instance=campaign, workspace=request.workspace)
        return render(
            request,
            "campaigns/campaign_draft.html#setup",
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
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER)
    text = request.POST.get("text", "")
    return render(
        request,
        "campaigns/campaign_draft.html#counter",
        {"campaign": campaign, **_count_context(campaign, text)},
    )


@require_POST
def campaign_replace(request, campaign_pk: int):
    """One click: every character with a GSM stand-in replaced, the draft saved."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER, draft=True)
    campaign.text = sms_parts.replace_suggestions(request.POST.get("text", campaign.text))
    campaign.save(update_fields=["text", "updated_at"])
    form = MessageForm(instance=campaign)
    context = {"campaign": campaign, "message_form": form, "saved": True}
    context.update(message_context(campaign))
    response = render(request, "campaigns/campaign_draft.html#message", context)
    return trigger_client_event(response, "draft-changed")


def _count_context(campaign: Campaign, text: str) -> dict:
    info = sms_parts.count(text)
    return {"count": info, "text_placeholders": placeholders_in(text)}


def message_context(campaign: Campaign) -> dict:
    columns = set()
    # The recipients' columns: every import since (and including) the last one that replaced.
    done = campaign.imports.filter(status=ImportStatus.DONE).order_by("-finished_at", "-pk")
    for imp in done:
        columns.update(imports.placeholders(imp))
        if imp.mode == ImportMode.REPLACE:
            break
    drawing = audiences.has_audience(campaign)
    if drawing:  # the contacts' values: name, language and every custom field
        columns.update(audiences.BUILT_IN_PLACEHOLDERS)
        columns.update(
            ContactField.objects.filter(workspace_id=campaign.workspace_id).values_list(
                "key", flat=True
            )
        )
    if not columns and not done.exists():
        # A clone's recipients came with their values but without an import: read the
        # columns off the first of them.
        for fields in campaign.messages.order_by("pk").values_list("fields", flat=True)[:100]:
            columns.update(fields or ())
    return {
        "available_placeholders": sorted(columns),
        "missing_placeholders": missing_placeholders(campaign.text, columns)
        if drawing or campaign.messages.exists()
        else [],
        **_count_context(campaign, campaign.text),
        "template_choices": message_templates.choices(campaign),
    }


@require_http_methods(["GET", "POST"])
def campaign_audience(request, campaign_pk: int):
    """Step 3 from the contact book: the lists and segments to draw on, the lists to leave out,
    and how many contacts that reaches now. Saved on every change, so the count is live."""
    campaign = (
        get_campaign_for_user(request, campaign_pk, Role.SENDER, draft=True)
        if request.method == "POST"
        else get_campaign_for_user(request, campaign_pk)
    )
    form = AudienceForm(request.POST or None, instance=campaign, workspace=request.workspace)
    saved = request.method == "POST" and form.is_valid()
    if saved:
        form.save()
    context = {"campaign": campaign, "audience_form": form, "saved": saved}
    context.update(audience_context(campaign))
    response = render(request, "campaigns/campaign_draft.html#audience", context)
    if saved:
        trigger_client_event(response, "draft-changed")  # the preview and the price reload
    return response


def audience_context(campaign: Campaign) -> dict:
    """The live audience: who it reaches and who it leaves out, or why it cannot be read."""
    problem = audiences.problem(campaign)
    if problem or not audiences.has_audience(campaign):
        return {"audience_problem": problem}
    counted = audiences.count(campaign)
    uploaded = campaign.messages.filter(status=MessageStatus.PENDING).count()
    return {"audience": counted, "uploaded": uploaded, "together": uploaded + counted.reached}


PREVIEW_SAMPLE = 5


@require_safe
def campaign_preview(request, campaign_pk: int):
    """Step 5: the texts of a few real recipients, the price per destination, the balance. A
    campaign too big to price now is priced by a worker, and the price part polls for it."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.VIEWER)
    template = Template(_what_is_said(campaign), campaign.placeholder_policy)
    sample = [
        (m.phone, template.render(m.fields))
        for m in campaign.messages.filter(status=MessageStatus.PENDING).order_by("pk")[
            :PREVIEW_SAMPLE
        ]
    ]
    if len(sample) < PREVIEW_SAMPLE and not audiences.problem(campaign):
        # Then the contacts the audience reaches, with the values launch gives their messages.
        contacts = audiences.contacts(campaign).order_by("pk")[: PREVIEW_SAMPLE - len(sample)]
        sample += [(c.phone, template.render(audiences.values_of(c))) for c in contacts]
    context = {
        "campaign": campaign,
        "sample": [(phone, text, _measure(campaign, text)) for phone, text in sample],
        # What the launch would refuse, found the launch's way (services.content_problems).
        "problems": services.content_problems(campaign),
        "failover_rule": failover.rule(campaign),
    }
    if sample and campaign.account:
        context.update(_estimate_context(campaign, pricing.estimate_or_job(campaign)))
        if "estimate" in context:  # the split is known: the rule names what it keeps apart
            context["failover_rule"] = failover.rule(campaign, context.get("routes", []))
    return render(request, "campaigns/campaign_draft.html#preview", context)


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
        return sms_parts.count(text)
    if campaign.voice_kind == VoiceKind.ANNOUNCEMENT:
        return {"seconds": None}
    words = len(re.sub(r"<[^>]+>", " ", text).split())
    return {"seconds": max(1, math.ceil(words / WORDS_PER_SECOND))}


@require_safe
def campaign_estimate(request, campaign_pk: int):
    """Polled while a worker prices the campaign: its progress, then the price."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.VIEWER)
    context = {"campaign": campaign}
    if campaign.account:
        result = pricing.job_to_report(campaign) or pricing.estimate_or_job(campaign)
        context.update(_estimate_context(campaign, result))
    response = render(request, "campaigns/campaign_draft.html#estimate", context)
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
        and campaign.channel == Channel.SMS
        and result.messages <= settings.CRIER_QUOTE_LIMIT,
    }
    context.update(pricing.route_summary(campaign, result))  # the cheapest route's split
    if result.messages:
        # The campaign's own account's share; the launch page checks the other routes'.
        context["balance"] = pricing.check_balance(result.share(None), account_funds(campaign))
    return context


def account_funds(campaign: Campaign):
    try:
        return pricing.current_funds(campaign)
    except (ProviderError, CredentialsUnreadable):
        return None  # check_balance then says Crier cannot tell


@require_POST
def campaign_quote(request, campaign_pk: int):
    """The provider's own price for the pending recipients, beside Crier's estimate."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER)
    estimate = pricing.estimate(campaign)
    context = {"campaign": campaign, "estimate": estimate}
    try:
        context["quote"] = pricing.provider_quote(campaign)
    except (ProviderError, CredentialsUnreadable, pricing.QuoteTooLarge) as exc:
        context["quote_error"] = str(exc)
    if context.get("quote"):
        context["quote_differs"] = pricing.quote_differs(estimate, context["quote"])
    return render(request, "campaigns/campaign_draft.html#quote", context)
