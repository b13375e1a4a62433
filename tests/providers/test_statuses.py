"""Every raw status in provider-status-map.md maps into the common set; unknown ones are logged."""

from __future__ import annotations

import logging

import pytest

from core.statuses import REPORTABLE, REPORTED_FINAL, CampaignStatus, MessageStatus
from providers import registry
from providers.statuses import (
    campaign_status,
    message_reason,
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
    assert common in REPORTABLE


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
    assert common in CampaignStatus.values


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


# --- Every documented status, per provider ---------------------------------------------------
# Each list is transcribed from the document named beside it; the tests check that every value
# maps (no "unknown" fallback, no warning), so a status added to a document fails here first.

DOCUMENTED_MESSAGE = {
    "bsg": [
        # bsg README §2.1.6 MessageStatus (BSG One-API SDK, bsg_api/models/message_status.py)
        *("scheduled", "moderation", "accepted", "sending", "sent", "delivered", "expired"),
        *("failed", "undelivered", "unknown", "read", "not_viber_user", "not_service_user"),
        # bsg README §2.1.6 StatisticsData counter keys, read as statuses by campaign_stats
        "not_rcs_user",
        # bsg README §2.1.6 stat-job status filter
        *("Delivered", "Rejected", "Scheduled", "Moderation", "Accepted", "Sending", "Sent"),
        *("Expired", "Failed", "Undelivered", "Unknown"),
        # provider-docs/bsg-rest-sms-status.txt and bsg README §2.2: the REST SMS statuses
        # and the task's counters
        *("scheduled", "sent", "delivered", "expired", "undeliverable", "rejected", "unknown"),
    ],
    "mobizon": [
        # mobizon README §3 SMS status vocabulary (Mobizon _other/smsStatus.md), the counters'
        # UNKNOWN, and Mobizon.Net's EXPIRD and SCHEDUL
        *("NEW", "ENQUEUD", "ACCEPTD", "UNDELIV", "REJECTD", "PDLIVRD", "DELIVRD", "EXPIRED"),
        *("DELETED", "UNKNOWN", "EXPIRD", "SCHEDUL"),
        # provider-docs/mobizon-campaign-api.txt, Campaign/GetInfo counters total<S>MsgNum
        *("New", "Enqueud", "Acceptd", "Delivrd", "Rejectd", "Expired", "Undeliv", "Deleted"),
        *("Unknown", "Pdlivrd"),
    ],
    # smsdrop documents no per-message status (smsdrop README §4); Conpeek none at all
    # (provider-docs/conpeek-voice-sms-request-list.txt): the adapter's own "queued".
    "conpeek": ["queued"],
}

DOCUMENTED_CAMPAIGN = {
    # bsg README §2.1.6 CampaignStatus (BSG One-API)
    "bsg": ["creation", "scheduled", "sending", "done", "paused", "stopped", "spam", "moderation"],
    # provider-docs/mobizon-campaign-api.txt and mobizon README §3: commonStatus, moderationStatus
    # and sendStatus values, and NEW of a campaign just created
    "mobizon": [
        *("MODERATION", "DECLINED", "READY_FOR_SEND", "RUNNING", "SENT", "DONE"),
        *("AUTO_READY_FOR_SEND", "NEW"),
    ],
    # smsdrop README §4 smsdrop CampaignSchema status (smsdrop-python constants.py)
    "smsdrop": ["PENDING", "SENDING", "COMPLETED", "ABORTED", "SCHEDULED"],
}


@pytest.mark.parametrize(
    ("provider", "raw"), [(p, raw) for p, raws in DOCUMENTED_MESSAGE.items() for raw in raws]
)
def test_every_documented_message_status_maps(caplog, provider, raw):
    with caplog.at_level(logging.WARNING, logger="providers.statuses"):
        common, _final = message_status(provider, raw)
    assert caplog.text == ""
    assert common in REPORTABLE
    assert common != "unknown" or raw.lower() == "unknown"


@pytest.mark.parametrize(
    ("provider", "raw"), [(p, raw) for p, raws in DOCUMENTED_CAMPAIGN.items() for raw in raws]
)
def test_every_documented_campaign_status_maps(caplog, provider, raw):
    with caplog.at_level(logging.WARNING, logger="providers.statuses"):
        common = campaign_status(provider, raw)
    assert caplog.text == ""
    assert common in CampaignStatus.values


@pytest.mark.parametrize(
    "raw",
    # bsg README §2.1.6 SenderSchema status and SenderRequestStatus (BSG)
    [
        "active",
        "blocked",
        "registering",
        "new",
        "accepted",
        "in_progress",
        "registered",
        "rejected",
    ],
)
def test_every_documented_sender_status_maps(caplog, raw):
    with caplog.at_level(logging.WARNING, logger="providers.statuses"):
        sender_status(raw)
    assert caplog.text == ""


@pytest.mark.parametrize(
    ("provider", "raw"),
    [("bsg", "undeliverable"), ("bsg", "failed"), ("mobizon", "REJECTD"), ("mobizon", "EXPIRD")],
)
def test_a_failure_status_has_the_provider_s_reason(provider, raw):
    assert message_reason(provider, raw)


def test_a_delivery_has_no_reason():
    assert message_reason("bsg", "delivered") == message_reason("mobizon", "DELIVRD") == ""


@pytest.mark.parametrize("slug", list(registry.PROVIDERS))
def test_every_registered_providers_tables_map_into_the_common_vocabulary(slug):
    """Each provider package's tables name only statuses core.statuses defines: a message
    status a provider can report, and a campaign status."""
    tables = registry.statuses(slug)
    for common, final in tables.MESSAGE.values():
        assert common in REPORTABLE
        # Final at the provider: an outcome, or unknown for good.
        assert not final or common in (*REPORTED_FINAL, MessageStatus.UNKNOWN)
    for common in tables.CAMPAIGN.values():
        assert common in CampaignStatus.values
