"""A campaign's moves: launch, pause, resume, stop and retry, each a POST running one service
call (409 when the campaign cannot make the move, 422 when a draft is not ready to launch)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from api import serializers as s
from api.keys import actor
from api.problems import Problem
from api.views.base import ApiView
from api.views.campaigns import campaign_of
from campaigns import services
from campaigns.compose import pricing
from core.statuses import CampaignStatus


def _action(name: str, summary: str, run, request_serializer=None, count_name="", reads=None):
    """A POST that moves the campaign through one service call (409 when it cannot);
    ``reads(campaign)``: what it needs from the providers, passed to ``run`` as keywords."""

    response_fields = {"campaign": s.CampaignSerializer()}
    if count_name:
        response_fields[count_name] = serializers.IntegerField()

    class Action(ApiView):
        def prepare(self, request, campaign_pk: int):
            return reads(campaign_of(request, campaign_pk)) if reads else {}

        @extend_schema(
            summary=summary,
            request=request_serializer,
            responses=inline_serializer(f"{name.title()}Result", response_fields),
        )
        def post(self, request, campaign_pk: int):
            campaign = campaign_of(request, campaign_pk)
            options = {}
            if request_serializer is not None:
                given = request_serializer(data=request.data)
                given.is_valid(raise_exception=True)
                options = given.validated_data
            try:
                count = run(campaign, actor(request), **options, **self.prepared)
            except services.CampaignRuleError as error:
                refused = campaign.status == CampaignStatus.DRAFT and name == "launch"
                raise Problem(
                    "not-ready" if refused else "wrong-state",
                    str(error),
                    campaign_status=campaign.status,
                ) from None
            body = {"campaign": s.CampaignSerializer(campaign_of(request, campaign_pk)).data}
            if count_name:
                body[count_name] = count
            return Response(body)

    Action.__name__ = f"Campaign{name.title()}"
    Action.__qualname__ = Action.__name__
    return Action


def _launch(campaign, user, confirm_unpriced=False, funds=None):
    if campaign.status != CampaignStatus.DRAFT:
        raise Problem(
            "wrong-state",
            f"The campaign is {campaign.get_status_display().lower()}: it was launched already.",
            campaign_status=campaign.status,
        )
    services.launch(campaign, user, confirm_unpriced=confirm_unpriced, funds=funds)


def _funds(campaign):
    if campaign.status != CampaignStatus.DRAFT:
        return {}  # refused before any provider is asked
    return {"funds": pricing.Funds.read_for(campaign)}


LAUNCH = "Launch a draft (fixes its recipients and price)"
CampaignLaunch = _action("launch", LAUNCH, _launch, s.LaunchSerializer, reads=_funds)
CampaignPause = _action("pause", "Pause sending", lambda c, u: services.pause(c, u))
CampaignResume = _action("resume", "Resume a paused campaign", lambda c, u: services.resume(c, u))
CampaignStop = _action("stop", "Stop for good", services.stop, count_name="cancelled")
CampaignRetry = _action(
    "retry", "Send failed messages again", services.retry_failed, count_name="retried"
)
