"""A message the provider did not deliver shows why, in the provider's own words: its error
code and text where it gives them, else the documented meaning of its status."""

from __future__ import annotations

import pytest

from campaigns.tracking import polling as tracking
from providers.base import MessageStatusReport
from tests.campaigns import test_tracking

queued = test_tracking.queued  # five queued messages, provider ids p0…p4


@pytest.mark.django_db
def test_the_provider_s_reason_is_stored_with_the_message(queued):
    first, second, third, *_ = queued.messages.order_by("pk")

    tracking.apply_statuses(
        queued,
        [
            MessageStatusReport(
                "rejected", "failed", True, reference=first.reference,
                error_code="32", error_reason="sender not allowed",
            ),
            MessageStatusReport(
                "undelivered", "UNDELIV", True, provider_message_id="p1",
                error_reason="Not delivered (UNDELIV)",
            ),
            MessageStatusReport("delivered", "delivered", True, reference=third.reference),
        ],
    )  # fmt: skip

    first.refresh_from_db(), second.refresh_from_db(), third.refresh_from_db()
    assert (first.error_code, first.error_reason) == ("32", "sender not allowed")
    assert (second.error_code, second.error_reason) == ("", "Not delivered (UNDELIV)")
    assert (third.error_code, third.error_reason) == ("", "")


@pytest.mark.django_db
def test_a_later_report_without_a_reason_keeps_the_one_given(queued):
    first = queued.messages.order_by("pk").first()
    given = MessageStatusReport(
        "sent", "sent", False, reference=first.reference, error_reason="slow operator"
    )
    tracking.apply_statuses(queued, [given])

    tracking.apply_statuses(
        queued, [MessageStatusReport("expired", "expired", True, reference=first.reference)]
    )

    first.refresh_from_db()
    assert (first.status, first.error_reason) == ("expired", "slow operator")


@pytest.mark.django_db
def test_the_error_column_shows_the_provider_s_reason(as_role, queued):
    first = queued.messages.order_by("pk").first()
    tracking.apply_statuses(
        queued,
        [
            MessageStatusReport(
                "rejected", "failed", True, reference=first.reference,
                error_code="32", error_reason="sender not allowed",
            )
        ],
    )  # fmt: skip

    html = as_role("viewer").get(f"/campaigns/{queued.pk}/").text

    assert '<td class="small">32 sender not allowed</td>' in html
