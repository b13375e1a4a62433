"""BSG's raw statuses in the common vocabulary (docs/provider-status-map.md).

Keys are lower case: ``providers.statuses`` matches ignoring case and surrounding spaces.
"""

# raw -> (common status, final at BSG)
MESSAGE = {
    "scheduled": ("queued", False),
    "moderation": ("queued", False),
    "accepted": ("queued", False),
    "sending": ("queued", False),
    "sent": ("sent", False),
    "delivered": ("delivered", True),
    "read": ("delivered", True),
    "undelivered": ("undelivered", True),
    "expired": ("expired", True),
    "failed": ("rejected", True),  # [INFERRED] meaning: the platform could not send
    "not_viber_user": ("undelivered", True),
    "not_service_user": ("undelivered", True),
    "not_rcs_user": ("undelivered", True),  # [CONFLICT] counter key for not_service_user
    "unknown": ("unknown", True),
    "rejected": ("rejected", True),  # stat-job vocabulary ("Rejected")
    # BSG legacy REST
    "undeliverable": ("undelivered", True),
}

# raw -> what BSG's documents say a message in it did not get (the REST status page for
# "expired" and "undeliverable").
REASON = {
    "undelivered": "Not delivered",
    "expired": "Not delivered: the recipient's phone is turned off or validity ran out",
    "failed": "The platform could not send it",
    "not_viber_user": "The recipient has no Viber",
    "not_service_user": "The recipient is not on the channel's service",
    "not_rcs_user": "The recipient is not on RCS",
    "rejected": "Rejected",
    "undeliverable": "Not delivered: incorrect recipient phone number",
}

CAMPAIGN = {
    "creation": "draft",
    "moderation": "moderation",
    "scheduled": "scheduled",
    "sending": "sending",
    "paused": "paused",
    "done": "completed",
    "stopped": "cancelled",
    "spam": "rejected",
}
