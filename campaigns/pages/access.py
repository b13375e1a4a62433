"""The one way a campaign page finds its campaign (or import) and checks who may act on it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from campaigns.models import Campaign, RecipientImport
from core.compiled import AN_ID, ANOTHER_ID, Compiled
from core.statuses import CampaignStatus
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role

BIGGEST_ID = 2**63 - 1  # a bigint's
# Every campaign page and the live part polled every 5 s read it: its SQL is built once
# (core.compiled), which cost more CPU than the database took to answer.
_CAMPAIGN = Compiled(
    lambda workspace, pk: Campaign.objects.select_related(
        "account", "counters", "launched_by", "template"
    ).filter(workspace=workspace, pk=pk),
    workspace=AN_ID,
    pk=ANOTHER_ID,
)


def get_campaign_for_user(
    request, pk: int, role: str = Role.VIEWER, *, draft: bool = False
) -> Campaign:
    """The current workspace's campaign ``pk`` for a member with at least ``role``.

    Raises Http404 for a campaign of another workspace (or none), so an id says nothing about
    other workspaces; PermissionDenied for a lower role, and with ``draft`` for a campaign that
    was launched already (it can only be cloned and changed then).
    """
    if request.workspace is None or not 0 < pk <= BIGGEST_ID:
        raise Http404  # as the ORM answers an id past the column's range: no such row
    found = _CAMPAIGN(workspace=request.workspace.pk, pk=pk)
    if not found:
        raise Http404
    campaign = found[0]
    campaign.workspace = request.workspace  # the same row: not read again
    require_role(request, role)
    if draft and campaign.status != CampaignStatus.DRAFT:
        raise PermissionDenied("Only a draft can be edited; clone the campaign to change it.")
    return campaign


def get_import_for_user(request, pk: int, role: str = Role.VIEWER) -> RecipientImport:
    """The current workspace's recipient import ``pk`` for a member with at least ``role``
    (Http404 for another workspace's, PermissionDenied for a lower role)."""
    imp = get_for_workspace(
        request,
        RecipientImport.objects.select_related("campaign__workspace"),
        "campaign__workspace",
        pk=pk,
    )
    require_role(request, role)
    return imp
