"""Review of core.compiled's double build (r20f): a value derived from a sentinel that the
second set of sentinels leaves unchanged is kept as built, for every call."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from core.compiled import A_TEXT, A_TIME, AN_ID, Compiled

pytestmark = pytest.mark.django_db


def _day_of(workspace, since):
    """Launched from ``since`` to the end of its day (UTC): the bound is derived from since,
    and 04:05:06 + 7:11:13 (the second build's shift) is still on 1901-02-03."""
    end = datetime.combine(since.date() + timedelta(days=1), time.min, tzinfo=since.tzinfo)
    return Campaign.objects.filter(
        workspace=workspace, launched_at__gte=since, launched_at__lt=end
    ).order_by("pk")


def _month_of(workspace, since):
    """Launched from the start of ``since``'s month: replace(day=1, hour=0, ...) gives the same
    1901-02-01 00:00 from both sets of sentinels."""
    start = since.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return Campaign.objects.filter(
        workspace=workspace, launched_at__gte=start, launched_at__lt=since
    ).order_by("pk")


@pytest.mark.parametrize("build", [_day_of, _month_of], ids=["day", "month"])
def test_a_value_derived_from_a_time_the_shift_keeps_is_refused_or_answered(acme, build):
    now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    if build is _day_of:  # launched within since's day, and a campaign of the next day
        launched, since, others = now + timedelta(hours=1), now, [acme.campaign.pk]
    else:  # launched last month: not since the start of this one
        launched, since, others = now.replace(day=1) - timedelta(days=2), now, []
    Campaign.objects.filter(pk=acme.campaign.pk).update(launched_at=launched)
    expected = [c.pk for c in build(acme.workspace.pk, since)]
    assert expected == others
    read = Compiled(build, workspace=AN_ID, since=A_TIME)

    try:
        found = [c.pk for c in read(workspace=acme.workspace.pk, since=since)]
    except ValueError:
        return  # refused loudly: fine
    assert found == expected, "a bound derived from since was kept as 1901's"


def test_a_prefix_of_a_text_sentinel_is_refused_or_answered(acme):
    """The second text sentinel is the first with " again" appended: any prefix of it (a
    truncated code, the part before a separator) comes out the same from both builds."""

    def named(workspace, name):
        return Campaign.objects.filter(
            workspace=workspace, name=name, account__name=name.split(":")[0]
        ).order_by("pk")

    acme.campaign.account.__class__.objects.filter(pk=acme.campaign.account_id).update(name="x")
    Campaign.objects.filter(pk=acme.campaign.pk).update(name="x:1")
    expected = [c.pk for c in named(acme.workspace.pk, "x:1")]
    assert expected == [acme.campaign.pk]
    read = Compiled(named, workspace=AN_ID, name=A_TEXT)

    try:
        found = [c.pk for c in read(workspace=acme.workspace.pk, name="x:1")]
    except ValueError:
        return
    assert found == expected, "a prefix of the name was kept as the sentinel's"
