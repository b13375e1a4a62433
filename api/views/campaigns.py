"""Campaigns: list, create, read, change a draft, delete a draft, clone, their recipients,
price, launch / pause / resume / stop / retry, counters and their history, and messages.

A campaign's fields are checked by the compose steps' own forms (step 1 setup, 2 message,
3 audience, 4 options), in one transaction: the API refuses what the pages refuse, with the
same words, and a refused change leaves the draft as it was.
"""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api import serializers as s
from api.keys import actor
from api.models import Scope
from api.problems import Problem
from api.views.base import ApiView, ById, ByNewest, changed_since
from campaigns import services
from campaigns.compose import message_templates, pricing
from campaigns.compose.forms import AudienceForm, MessageForm, OptionsForm, SetupForm
from campaigns.models import Campaign, Channel, Estimate, EstimateStatus, Message, VoiceKind
from core.statuses import CampaignStatus, MessageStatus

# (form, the fields of the API it takes, whether it needs the workspace)
STEPS = (
    (SetupForm, ("name", "channel", "account", "sender"), True),
    (MessageForm, tuple(MessageForm.Meta.fields), False),
    (AudienceForm, tuple(AudienceForm.Meta.fields), True),
    (OptionsForm, ("send_at", *OptionsForm.Meta.fields), True),
)


def campaigns_of(request):
    return Campaign.objects.filter(workspace=request.workspace).select_related("counters")


def campaign_of(request, pk: int) -> Campaign:
    return get_object_or_404(
        Campaign.objects.select_related("account", "counters", "workspace"),
        workspace=request.workspace,
        pk=pk,
    )


def _draft(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.DRAFT:
        raise Problem(
            "wrong-state",
            f"The campaign is {campaign.get_status_display().lower()}, not a draft: only a "
            "draft can be changed or deleted. Clone it to send a changed copy.",
            campaign_status=campaign.status,
        )


def form_values(form) -> dict:
    """What the unbound form shows, as data a bound one would take."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, list | tuple):
            value = [getattr(v, "pk", v) for v in value]
        data[name] = "" if value is None else value
    return data


def _as_form_value(name: str, value, workspace):
    if value is None:
        return ""
    if name in ("send_at", "deadline"):
        return value.astimezone(workspace.zone).replace(tzinfo=None).isoformat()
    return value


def apply(campaign: Campaign, given: dict, workspace) -> None:
    """Runs each compose step the request has fields for through its form and saves it;
    raises ValidationError naming every refused field. Call inside a transaction. A
    ``template`` gives the message step its text, checked by that step's form like a text."""
    creating = campaign.pk is None
    template, given = _with_template(campaign, given, workspace)
    for form_class, names, needs_workspace in STEPS:
        if not (creating and form_class is SetupForm) and not set(names) & given.keys():
            continue
        kwargs = {"workspace": workspace} if needs_workspace else {}
        data = form_values(form_class(instance=campaign, **kwargs))
        data.update({n: _as_form_value(n, given[n], workspace) for n in names if n in given})
        form = form_class(data, instance=campaign, **kwargs)
        if not form.is_valid():
            errors = {}
            for field, messages in form.errors.items():
                errors.setdefault("non_field_errors" if field == "__all__" else field, []).extend(
                    messages
                )
            raise ValidationError(errors)
        form.save()
    if template is not None:
        message_templates.record_use(campaign, template)


def _with_template(campaign: Campaign, given: dict, workspace):
    """(the template ``given`` names or None, ``given`` with the template's text)."""
    if "template" not in given:
        return None, given
    if "text" in given:
        raise ValidationError({"template": [message_templates.EITHER]})
    channel = given.get("channel") or campaign.channel
    try:
        template = message_templates.of(workspace, given["template"], channel)
    except ValueError as error:
        raise ValidationError({"template": [str(error)]}) from None
    given = {**given, "text": template.text}
    if channel == Channel.VOICE:
        given.setdefault("voice_kind", VoiceKind.TTS)  # as choosing it on the page does
    return template, given


def _list_params():
    return [
        OpenApiParameter("status", str, enum=CampaignStatus.values, description="Only these."),
        OpenApiParameter("channel", str, enum=["sms", "voice"]),
        OpenApiParameter("search", str, description="Part of the campaign's name."),
        OpenApiParameter("created_after", OpenApiTypes.DATETIME),
        OpenApiParameter("created_before", OpenApiTypes.DATETIME),
    ]


class CampaignList(ApiView):
    @extend_schema(
        parameters=_list_params(),
        responses=s.paged(s.CampaignSerializer),
        operation_id="campaigns_list",
    )
    def get(self, request):
        """The workspace's campaigns, newest first."""
        query = s.CampaignFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        f = query.validated_data
        campaigns = campaigns_of(request)
        if "status" in f:
            campaigns = campaigns.filter(status=f["status"])
        if "channel" in f:
            campaigns = campaigns.filter(channel=f["channel"])
        if "search" in f:
            campaigns = campaigns.filter(name__icontains=f["search"])
        if "created_after" in f:
            campaigns = campaigns.filter(created_at__gte=f["created_after"])
        if "created_before" in f:
            campaigns = campaigns.filter(created_at__lt=f["created_before"])
        pages = ByNewest()
        page = pages.paginate_queryset(campaigns, request, view=self)
        return pages.get_paginated_response(s.CampaignSerializer(page, many=True).data)

    @extend_schema(request=s.CampaignInputSerializer, responses={201: s.CampaignSerializer})
    def post(self, request):
        """A new draft. ``name`` and ``account`` are needed; the rest can follow by PATCH."""
        given = s.CampaignInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with transaction.atomic():
            campaign = Campaign(workspace=request.workspace, created_by=actor(request))
            apply(campaign, given.validated_data, request.workspace)
        return Response(
            s.CampaignSerializer(campaign_of(request, campaign.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class CampaignDetail(ApiView):
    scopes = {"DELETE": Scope.MANAGE}

    @extend_schema(responses=s.CampaignSerializer)
    def get(self, request, campaign_pk: int):
        return Response(s.CampaignSerializer(campaign_of(request, campaign_pk)).data)

    @extend_schema(request=s.CampaignInputSerializer, responses=s.CampaignSerializer)
    def patch(self, request, campaign_pk: int):
        """Changes a draft: only the fields given; a refused change changes nothing."""
        given = s.CampaignInputSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        with transaction.atomic():
            campaign = campaign_of(request, campaign_pk)
            Campaign.objects.select_for_update().filter(pk=campaign.pk).exists()
            campaign.refresh_from_db()
            _draft(campaign)
            apply(campaign, given.validated_data, request.workspace)
        return Response(s.CampaignSerializer(campaign_of(request, campaign_pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, campaign_pk: int):
        """Deletes a draft with its recipients (a launched campaign stays as the record)."""
        campaign = campaign_of(request, campaign_pk)
        _draft(campaign)
        try:
            services.delete(campaign, actor(request))
        except services.CampaignRuleError as error:
            raise Problem("wrong-state", str(error)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignClone(ApiView):
    @extend_schema(request=s.CloneSerializer, responses={201: s.CampaignSerializer})
    def post(self, request, campaign_pk: int):
        """A new draft with the same content, options, audience and recipients."""
        given = s.CloneSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        copy = services.clone(
            campaign_of(request, campaign_pk), actor(request), given.validated_data.get("name", "")
        )
        return Response(
            s.CampaignSerializer(campaign_of(request, copy.pk)).data, status=status.HTTP_201_CREATED
        )


class CampaignPrice(ApiView):
    @extend_schema(responses={200: s.PriceSerializer, 202: s.PriceSerializer})
    def get(self, request, campaign_pk: int):
        """Crier's price for the recipients as they are now (202 while a big campaign is
        being priced in the background: ask again)."""
        campaign = campaign_of(request, campaign_pk)
        problems = services.content_problems(campaign)
        if campaign.account is None:
            return Response(_price_body("done", 100, None, problems))
        result = pricing.estimate_or_job(campaign)
        if isinstance(result, Estimate):
            failed = result.status == EstimateStatus.FAILED
            body = _price_body("failed" if failed else "computing", result.percent, None, problems)
            if failed:
                body["problems"] = [*problems, result.error]
            return Response(body, status=status.HTTP_200_OK if failed else status.HTTP_202_ACCEPTED)
        return Response(_price_body("done", 100, result, problems))


def _price_body(state: str, percent: int, estimate, problems) -> dict:
    lines = [
        {
            "country": x.country,
            "rate": x.rate,
            "messages": x.messages,
            "segments": x.segments,
            "price": x.price,
            "subtotal": x.subtotal,
            "account": x.account,
        }
        for x in (estimate.lines if estimate else ())
    ]
    unpriced = [
        {"country": x.country, "messages": x.messages, "segments": x.segments}
        for x in (estimate.unpriced if estimate else ())
    ]
    return s.PriceSerializer(
        {
            "status": state,
            "percent": percent,
            "currency": estimate.currency if estimate else "",
            "total": estimate.total if estimate else None,
            "messages": estimate.messages if estimate else None,
            "segments": estimate.segments if estimate else None,
            "unpriced_messages": estimate.unpriced_messages if estimate else None,
            "lines": lines,
            "unpriced": unpriced,
            "single_total": estimate.single_total if estimate else None,
            "problems": problems,
        }
    ).data


class CampaignCounters(ApiView):
    @extend_schema(responses=s.CountersSerializer)
    def get(self, request, campaign_pk: int):
        """How many messages are in each status now, and what the provider billed."""
        campaign = campaign_of(request, campaign_pk)
        return Response(s.CampaignSerializer(campaign).data["counters"])


class CampaignCounterHistory(ApiView):
    @extend_schema(
        parameters=[OpenApiParameter("since", OpenApiTypes.DATETIME)],
        responses=s.paged(s.SnapshotSerializer),
    )
    def get(self, request, campaign_pk: int):
        """The counters each time they changed (what the campaign page charts)."""
        campaign = campaign_of(request, campaign_pk)
        since = (
            serializers.DateTimeField(required=False).run_validation(
                request.query_params.get("since") or serializers.empty
            )
            if request.query_params.get("since")
            else None
        )
        snapshots = campaign.snapshots.order_by("taken_at")
        if since:
            snapshots = snapshots.filter(taken_at__gt=since)
        return page_of(self, request, snapshots, s.SnapshotSerializer)


class MessageFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=MessageStatus.choices, required=False)
    updated_since = serializers.DateTimeField(required=False)


def _messages_params():
    return [
        OpenApiParameter("status", str, enum=MessageStatus.values),
        OpenApiParameter(
            "updated_since", OpenApiTypes.DATETIME, description="Changed at or after this time."
        ),
    ]


def page_of(view, request, queryset, serializer_class):
    """One page of ``queryset`` in id order, with the link to the next."""
    pages = ById()
    page = pages.paginate_queryset(queryset.order_by("id"), request, view=view)
    return pages.get_paginated_response(serializer_class(page, many=True).data)


def message_page(view, request, messages, campaign=None):
    """A page of ``messages``; of ``campaign``'s, none read for a status its counters lack."""
    query = MessageFilter(data=request.query_params)
    query.is_valid(raise_exception=True)
    f = query.validated_data
    if "status" in f:
        messages = messages.filter(status=f["status"])
        if campaign and not getattr(getattr(campaign, "counters", None), f["status"], 1):
            messages = messages.none()  # as in campaigns.pages.queries: no index to find none
    if "updated_since" in f:
        messages = changed_since(messages, f["updated_since"], campaign)
    return page_of(view, request, messages, s.MessageSerializer)


class CampaignMessages(ApiView):
    @extend_schema(parameters=_messages_params(), responses=s.paged(s.MessageSerializer))
    def get(self, request, campaign_pk: int):
        """The campaign's messages in id order, a page at a time (follow ``next``)."""
        campaign = campaign_of(request, campaign_pk)
        return message_page(self, request, Message.objects.filter(campaign=campaign), campaign)
