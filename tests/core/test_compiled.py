"""Compiled: a query built into SQL once answers each call as the ORM would with the call's
values (on SQLite and PostgreSQL alike), and refuses what it cannot do safely."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Campaign, CampaignCounters
from core.compiled import A_TIME, AN_ID, ANOTHER_ID, Compiled
from workspaces.models import Membership

pytestmark = pytest.mark.django_db


def campaigns_with_related(workspace, pk):
    return Campaign.objects.select_related("account", "counters", "template").filter(
        workspace=workspace, pk=pk
    )


def launched_since(workspace, since):
    return Campaign.objects.filter(workspace=workspace, launched_at__gte=since).order_by("pk")


def test_models_with_their_related_ones_are_the_orms(acme, globex):
    read = Compiled(campaigns_with_related, workspace=AN_ID, pk=ANOTHER_ID)
    for tenant in (acme, globex):
        [found] = read(workspace=tenant.workspace.pk, pk=tenant.campaign.pk)
        [expected] = campaigns_with_related(tenant.workspace.pk, tenant.campaign.pk)
        assert found.__dict__.keys() == expected.__dict__.keys()
        assert {k: v for k, v in found.__dict__.items() if k != "_state"} == {
            k: v for k, v in expected.__dict__.items() if k != "_state"
        }
        with CaptureQueriesContext(connection) as queries:
            assert found.account.name == expected.account.name  # read with it
        assert not queries


def test_another_workspaces_id_finds_nothing(acme, globex):
    read = Compiled(campaigns_with_related, workspace=AN_ID, pk=ANOTHER_ID)

    assert read(workspace=acme.workspace.pk, pk=globex.campaign.pk) == []


def test_a_missing_related_row_is_none_as_with_the_orm(acme):
    CampaignCounters.objects.filter(campaign=acme.campaign).delete()
    read = Compiled(campaigns_with_related, workspace=AN_ID, pk=ANOTHER_ID)

    [found] = read(workspace=acme.workspace.pk, pk=acme.campaign.pk)

    with pytest.raises(CampaignCounters.DoesNotExist):
        found.counters  # noqa: B018


def test_times_are_compared_as_the_orm_compares_them(acme):
    now = timezone.now()
    Campaign.objects.filter(pk=acme.campaign.pk).update(launched_at=now - timedelta(hours=2))
    read = Compiled(launched_since, workspace=AN_ID, since=A_TIME)

    for since in (now - timedelta(hours=3), now - timedelta(hours=1), now - timedelta(days=40)):
        found = [c.pk for c in read(workspace=acme.workspace.pk, since=since)]
        assert found == [c.pk for c in launched_since(acme.workspace.pk, since)]
    assert [c.pk for c in read(workspace=acme.workspace.pk, since=now - timedelta(hours=3))]


def test_values_values_list_and_flat_are_the_orms(acme):
    Campaign.objects.filter(pk=acme.campaign.pk).update(launched_at=timezone.now())
    queries = {
        "values": lambda workspace, zone: (
            CampaignCounters.objects.filter(campaign__workspace=workspace)
            .annotate(day=TruncDate("campaign__launched_at", tzinfo=zone))
            .values("day")
            .annotate(total=Sum("total"), n=Count("pk"))
            .order_by("day")
        ),
        "values_list": lambda workspace, zone: (
            Membership.objects.filter(workspace=workspace)
            .values_list("role")
            .annotate(Count("pk"))
            .order_by("role")
        ),
        "flat": lambda workspace, zone: Membership.objects.filter(workspace=workspace).values_list(
            "pk", flat=True
        ),
    }
    zone = acme.workspace.zone
    for build in queries.values():
        read = Compiled(build, shape=("zone",), workspace=AN_ID)
        assert read(workspace=acme.workspace.pk, zone=zone) == list(build(acme.workspace, zone))


def test_each_call_builds_no_sql(acme, monkeypatch):
    read = Compiled(campaigns_with_related, workspace=AN_ID, pk=ANOTHER_ID)
    read(workspace=acme.workspace.pk, pk=acme.campaign.pk)

    def no_building(*args, **kwargs):
        raise AssertionError("the SQL was built again")

    monkeypatch.setattr("django.db.models.sql.compiler.SQLCompiler.as_sql", no_building)
    assert read(workspace=acme.workspace.pk, pk=acme.campaign.pk)


def test_a_sentinel_the_sql_does_not_hold_fails_loudly(acme):
    read = Compiled(lambda workspace: Campaign.objects.all(), workspace=AN_ID)

    with pytest.raises(ValueError, match="not among the parameters"):
        read(workspace=acme.workspace.pk)
