"""Mobizon's raw statuses in the common vocabulary (docs/provider-status-map.md).

Keys are lower case: ``providers.statuses`` matches ignoring case and surrounding spaces.
"""

# raw -> (common status, final at Mobizon)
MESSAGE = {
    "new": ("queued", False),
    "enqueud": ("queued", False),
    "schedul": ("queued", False),
    "acceptd": ("sent", False),
    "pdlivrd": ("sent", False),
    "delivrd": ("delivered", True),
    "undeliv": ("undelivered", True),
    "rejectd": ("rejected", True),
    "expired": ("expired", True),
    "expird": ("expired", True),  # [CONFLICT] Mobizon.Net spelling
    # Removed by operator restrictions: the recipient never got it, like UNDELIV.
    "deleted": ("undelivered", True),
    "unknown": ("unknown", True),
}

# raw -> what Mobizon's documents say a message in it did not get.
REASON = {
    "undeliv": "Not delivered",
    "rejectd": "Rejected by the operator",
    "expired": "The waiting period ran out (up to 1 day)",
    "expird": "The waiting period ran out (up to 1 day)",
    "deleted": "Removed by operator restrictions",
}

CAMPAIGN = {
    "new": "draft",
    "moderation": "moderation",
    "declined": "rejected",
    # READY_FOR_SEND with a future deferredToTs is "scheduled"; the adapter decides.
    "ready_for_send": "sending",
    "auto_ready_for_send": "sending",
    "running": "sending",
    "sent": "sent",
    "done": "completed",
}
