"""Fakesms's raw statuses (its emulator answers the sandbox's stages) in the common vocabulary."""

# raw -> (common status, final at Fakesms)
MESSAGE = {
    "scheduled": ("queued", False),
    "queued": ("queued", False),
    "sent": ("sent", False),
    "delivered": ("delivered", True),
    "undelivered": ("undelivered", True),
    "expired": ("expired", True),
    "rejected": ("rejected", True),
    "cancelled": ("unknown", True),
}

REASON = {"undelivered": "The handset never answered", "rejected": "Refused by the operator"}

CAMPAIGN: dict[str, str] = {}
