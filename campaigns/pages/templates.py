"""The message templates page (list per channel, create, edit, delete) and the two compose
actions that use templates: choose one for a draft's text, save a draft's text as one.

Any member reads the templates; senders and above create, edit and delete them. Deleting a
template changes no campaign: a campaign keeps the copy of the text it chose.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from campaigns.compose import message_templates
from campaigns.compose.forms import MessageForm
from campaigns.compose.message_templates import TemplateForm
from campaigns.models import Channel, MessageTemplate
from campaigns.pages.access import get_campaign_for_user
from campaigns.pages.compose import message_context
from contacts import changes
from core import params, sms_parts
from core.web import done
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required

TEMPLATES_PER_PAGE = 50


@require_safe
@role_required(Role.VIEWER)
def template_list(request):
    channel = request.GET.get("channel")
    channel = channel if channel in Channel.values else Channel.SMS
    search = params.text(request.GET.get("q", ""))
    templates = MessageTemplate.objects.filter(workspace=request.workspace)
    counts = dict(templates.order_by().values_list("channel").annotate(n=Count("pk")))
    shown = templates.filter(channel=channel)
    if search:
        shown = shown.filter(Q(name__icontains=search) | Q(text__icontains=search))
    page = Paginator(shown, TEMPLATES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "channel": channel,
        "channels": [(value, label, counts.get(value, 0)) for value, label in Channel.choices],
        "search": search,
        "page": page,
        "page_query": f"channel={channel}",
        "rows": [(t, message_templates.highlighted(t.text)) for t in page],
    }
    template = "campaigns/template_list.html" + ("#table" if request.htmx else "")
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@role_required(Role.SENDER)
def template_create(request):
    channel = request.GET.get("channel")
    template = MessageTemplate(
        created_by=request.user, channel=channel if channel in Channel.values else Channel.SMS
    )
    return _template_form(request, template)


@require_http_methods(["GET", "POST"])
def template_edit(request, template_pk: int):
    template = get_for_workspace(request, MessageTemplate, pk=template_pk)
    require_role(request, Role.SENDER)
    return _template_form(request, template)


def _template_form(request, template: MessageTemplate):
    form = TemplateForm(request.POST or None, instance=template, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        saved = form.save_or_explain(request.user, "page")
        if saved is not None:
            messages.success(request, f"Saved the template “{saved.name}”.")
            return _to_list(request, saved.channel)
    text = form["text"].value() or ""
    channel = form["channel"].value() or template.channel
    context = {
        "form": form,
        "template": template,
        "field_keys": message_templates.contact_field_keys(request.workspace),
        **_checks(request, text, channel),
    }
    page = "campaigns/template_form.html" + ("#form" if request.htmx else "")
    return render(request, page, context)


@require_POST
def template_check(request):
    """The live checks of the text being typed: SMS parts and encoding, placeholders. With
    ``replace``, the counter's one click: the text with its GSM stand-ins, not saved yet."""
    require_role(request, Role.SENDER)
    text = request.POST.get("text", "")
    replaced = "replace" in request.POST
    if replaced:
        text = sms_parts.replace_suggestions(text)
    context = {"text": text, "replaced": replaced}
    context.update(_checks(request, text, request.POST.get("channel", "")))
    return render(request, "campaigns/template_form.html#checks", context)


def _checks(request, text: str, channel: str) -> dict:
    return {
        "channel": channel if channel in Channel.values else Channel.SMS,
        "count": sms_parts.count(text),
        "text_placeholders": message_templates.placeholder_uses(request.workspace, text),
        "not_placeholders": message_templates.not_placeholders(text),
    }


@require_POST
def template_delete(request, template_pk: int):
    template = get_for_workspace(request, MessageTemplate, pk=template_pk)
    require_role(request, Role.SENDER)
    changes.delete(template, request.user, "page")
    messages.success(request, f"Deleted the template “{template.name}”.")
    return _to_list(request, template.channel)


def _to_list(request, channel: str):
    url = f"{reverse('template_list')}?channel={channel}"
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_safe
def campaign_template_choices(request, campaign_pk: int):
    """The chooser's list for what is typed in its search box."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER, draft=True)
    search = params.text(request.GET.get("q", ""))
    context = {
        "campaign": campaign,
        "template_choices": message_templates.choices(campaign, search),
        "search": search,
    }
    return render(request, "campaigns/campaign_draft.html#template_choices", context)


@require_POST
def campaign_template_use(request, campaign_pk: int):
    """Step 2's "Use a template": the template's text replaces the draft's, counted as one use."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER, draft=True)
    offered = message_templates.offered(campaign) or MessageTemplate.objects.none()
    template = get_for_workspace(
        request, offered, pk=params.whole_number(request.POST.get("template"))
    )
    message_templates.choose(campaign, template)
    if not request.htmx:
        messages.success(request, f"The text of “{template.name}” is the campaign's text now.")
        return done(request, "campaign_detail", campaign.pk)
    context = {
        "campaign": campaign,
        "message_form": MessageForm(instance=campaign),
        "chosen_template": template,
        **message_context(campaign),
    }
    response = render(request, "campaigns/campaign_draft.html#message", context)
    return trigger_client_event(response, "draft-changed")


@require_POST
def campaign_template_save(request, campaign_pk: int):
    """Step 2's "Save as template": the text being edited, under a new name, for the
    campaign's channel. The campaign itself is not changed."""
    campaign = get_campaign_for_user(request, campaign_pk, Role.SENDER)
    data = {
        "name": request.POST.get("name", ""),
        "channel": campaign.channel,
        "text": request.POST.get("text", campaign.text),
    }
    form = TemplateForm(
        data, instance=MessageTemplate(created_by=request.user), workspace=request.workspace
    )
    saved = form.save_or_explain(request.user, "compose") if form.is_valid() else None
    if not request.htmx:
        if saved:
            messages.success(request, f"Saved the text as the template “{saved.name}”.")
        else:
            errors = "; ".join(e for field in form.errors.values() for e in field)
            messages.error(request, f"The template was not saved: {errors}")
        return done(request, "campaign_detail", campaign.pk)
    context = {"campaign": campaign, "template_form": form, "saved_template": saved}
    return render(request, "campaigns/campaign_draft.html#save_template", context)
