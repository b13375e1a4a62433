"""Sending windows through the API: the same fields and checks as the compose page."""

from __future__ import annotations

from datetime import time

from campaigns.models import Campaign


def test_a_draft_takes_a_window_local_time_deadline_and_spread(api, acme):
    response = api.patch(
        f"/api/v1/campaigns/{acme.campaign.pk}",
        {
            "send_window": "Mon-Fri 09:00-20:00",
            "send_at_local": "10:00",
            "deadline": "2099-01-01T12:00:00+05:00",
            "spread_hours": 3,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["send_window"] == "Mon-Fri 09:00-20:00" and body["spread_hours"] == 3
    assert body["send_at_local"] == "10:00:00"  # no offset: it is each recipient's time
    campaign = Campaign.objects.get(pk=acme.campaign.pk)
    assert campaign.send_at_local == time(10, 0)
    assert campaign.deadline.isoformat() == "2099-01-01T07:00:00+00:00"


def test_a_bad_window_is_refused_naming_the_field_and_nothing_changes(api, acme):
    response = api.patch(
        f"/api/v1/campaigns/{acme.campaign.pk}",
        {"send_window": "weekdays", "spread_hours": 3},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert "send_window" in str(errors) and "is not a rule like" in str(errors)
    campaign = Campaign.objects.get(pk=acme.campaign.pk)
    assert (campaign.send_window, campaign.spread_hours) == ("", None)
