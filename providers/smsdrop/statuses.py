"""smsdrop's raw statuses in the common vocabulary (docs/provider-status-map.md).

Keys are lower case: ``providers.statuses`` matches ignoring case and surrounding spaces.
"""

# smsdrop has no per-message status; the adapter derives counters from the campaign.
MESSAGE: dict[str, tuple[str, bool]] = {}

# smsdrop names no reason for a message.
REASON: dict[str, str] = {}

CAMPAIGN = {
    "pending": "draft",
    "scheduled": "scheduled",
    "sending": "sending",
    "completed": "completed",
    "aborted": "cancelled",
}
