"""Every raw status in provider-status-map.md maps into the common set; unknown ones are logged."""

from __future__ import annotations

import logging

import pytest

from providers.statuses import (
    CAMPAIGN_STATUSES,
    MESSAGE_STATUSES,
    campaign_status,
    message_status,
    sender_status,
)

MESSAGE_TABLE = [
    # BSG One-API MessageStatus
    ("bsg", "scheduled", "queued", False),
    ("bsg", "moderation", "queued", False),
    ("bsg", "accepted", "queued", False),
    ("bsg", "sending", "queued", False),
    ("bsg", "sent", "sent", False),
    ("bsg", "delivered", "delivered", True),
    ("bsg", "read", "delivered", True),
    ("bsg", "undelivered", "undelivered", True),
    ("bsg", "expired", "expired", True),
    ("bsg", "failed", "rejected", True),
    ("bsg", "not_viber_user", "undelivered", True),
    ("bsg", "not_service_user", "undelivered", True),
    ("bsg", "not_rcs_user", "undelivered", True),
    ("bsg", "unknown", "unknown", True),
    ("bsg", "Rejected", "rejected", True),
    # BSG legacy REST
    ("bsg", "undeliverable", "undelivered", True),
    # Mobizon
    ("mobizon", "NEW", "queued", False),
    ("mobizon", "ENQUEUD", "queued", False),
    ("mobizon", "SCHEDUL", "queued", False),
    ("mobizon", "ACCEPTD", "sent", False),
    ("mobizon", "PDLIVRD", "sent", False),
    ("mobizon", "DELIVRD", "delivered", True),
    ("mobizon", "UNDELIV", "undelivered", True),
    ("mobizon", "REJECTD", "rejected", True),
    ("mobizon", "EXPIRED", "expired", True),
    ("mobizon", "EXPIRD", "expired", True),
    ("mobizon", "DELETED", "undelivered", True),
    ("mobizon", "UNKNOWN", "unknown", True),
]


@pytest.mark.parametrize(("provider", "raw", "common", "final"), MESSAGE_TABLE)
def test_message_status_table(provider, raw, common, final):
    assert message_status(provider, raw) == (common, final)
    assert common in MESSAGE_STATUSES


@pytest.mark.parametrize("raw", [" delivrd ", "Delivrd", "DELIVRD\n"])
def test_matching_ignores_case_and_spaces(raw):
    assert message_status("mobizon", raw) == ("delivered", True)


@pytest.mark.parametrize(
    ("provider", "raw"),
    [("bsg", "teleported"), ("mobizon", "LOST"), ("smsdrop", "x"), ("bsg", None)],
)
def test_unknown_message_status_maps_to_unknown_and_is_logged(caplog, provider, raw):
    with caplog.at_level(logging.WARNING, logger="providers.statuses"):
        assert message_status(provider, raw) == ("unknown", False)
    assert f"Unknown {provider} message status {raw!r}" in caplog.text


def test_known_status_is_not_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="providers.statuses"):
        message_status("bsg", "delivered")
    assert caplog.text == ""


CAMPAIGN_TABLE = [
    ("bsg", "creation", "draft"),
    ("bsg", "moderation", "moderation"),
    ("bsg", "scheduled", "scheduled"),
    ("bsg", "sending", "sending"),
    ("bsg", "paused", "paused"),
    ("bsg", "done", "completed"),
    ("bsg", "stopped", "cancelled"),
    ("bsg", "spam", "rejected"),
    ("mobizon", "NEW", "draft"),
    ("mobizon", "MODERATION", "moderation"),
    ("mobizon", "DECLINED", "rejected"),
    ("mobizon", "READY_FOR_SEND", "sending"),
    ("mobizon", "AUTO_READY_FOR_SEND", "sending"),
    ("mobizon", "RUNNING", "sending"),
    ("mobizon", "SENT", "sent"),
    ("mobizon", "DONE", "completed"),
    ("smsdrop", "PENDING", "draft"),
    ("smsdrop", "SCHEDULED", "scheduled"),
    ("smsdrop", "SENDING", "sending"),
    ("smsdrop", "COMPLETED", "completed"),
    ("smsdrop", "ABORTED", "cancelled"),
]


@pytest.mark.parametrize(("provider", "raw", "common"), CAMPAIGN_TABLE)
def test_campaign_status_table(provider, raw, common):
    assert campaign_status(provider, raw) == common
    assert common in CAMPAIGN_STATUSES


def test_unknown_campaign_status_is_unknown_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="providers.statuses"):
        assert campaign_status("smsdrop", "EXPLODED") == "unknown"
    assert "EXPLODED" in caplog.text


@pytest.mark.parametrize(
    ("raw", "common"),
    [("active", "approved"), ("registering", "pending"), ("blocked", "rejected"), ("?", "pending")],
)
def test_sender_statuses(raw, common):
    assert sender_status(raw) == common
