"""Raw provider statuses -> the common vocabulary (docs/provider-status-map.md).

Matching ignores case and surrounding spaces. A raw status not in these tables maps to
"unknown" (not final, so tracking keeps polling) and is logged as a warning.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

MESSAGE_STATUSES = ("queued", "sent", "delivered", "undelivered", "expired", "rejected", "unknown")
CAMPAIGN_STATUSES = (
    *("draft", "scheduled", "moderation", "sending", "sent", "completed"),
    *("cancelled", "rejected", "failed", "paused"),
)

# provider -> raw (lower case) -> (common status, final at the provider)
_MESSAGE: dict[str, dict[str, tuple[str, bool]]] = {
    "bsg": {
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
    },
    "mobizon": {
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
    },
    # smsdrop has no per-message status; the adapter derives counters from the campaign.
    "smsdrop": {},
    # Conpeek documents none: an accepted request is queued and stays so.
    "conpeek": {"queued": ("queued", False)},
}

# provider -> raw (lower case) -> what the provider says a message in it did not get, in its
# documents' words (provider-status-map.md; BSG's REST status page for "expired" and
# "undeliverable"). The reason shown for an undelivered, expired or rejected message when the
# provider sends no error text of its own.
_REASON: dict[str, dict[str, str]] = {
    "bsg": {
        "undelivered": "Not delivered",
        "expired": "Not delivered: the recipient's phone is turned off or validity ran out",
        "failed": "The platform could not send it",
        "not_viber_user": "The recipient has no Viber",
        "not_service_user": "The recipient is not on the channel's service",
        "not_rcs_user": "The recipient is not on RCS",
        "rejected": "Rejected",
        "undeliverable": "Not delivered: incorrect recipient phone number",
    },
    "mobizon": {
        "undeliv": "Not delivered",
        "rejectd": "Rejected by the operator",
        "expired": "The waiting period ran out (up to 1 day)",
        "expird": "The waiting period ran out (up to 1 day)",
        "deleted": "Removed by operator restrictions",
    },
}

_CAMPAIGN: dict[str, dict[str, str]] = {
    "bsg": {
        "creation": "draft",
        "moderation": "moderation",
        "scheduled": "scheduled",
        "sending": "sending",
        "paused": "paused",
        "done": "completed",
        "stopped": "cancelled",
        "spam": "rejected",
    },
    "mobizon": {
        "new": "draft",
        "moderation": "moderation",
        "declined": "rejected",
        # READY_FOR_SEND with a future deferredToTs is "scheduled"; the adapter decides.
        "ready_for_send": "sending",
        "auto_ready_for_send": "sending",
        "running": "sending",
        "sent": "sent",
        "done": "completed",
    },
    "smsdrop": {
        "pending": "draft",
        "scheduled": "scheduled",
        "sending": "sending",
        "completed": "completed",
        "aborted": "cancelled",
    },
    "conpeek": {},
}

# Sender names: approved (usable), pending (not decided), rejected (refused or blocked).
_SENDER = {
    "approved": "approved",
    "active": "approved",
    "registered": "approved",
    "accepted": "approved",
    "new": "pending",
    "registering": "pending",
    "moderation": "pending",
    "in_progress": "pending",
    "pending": "pending",
    "rejected": "rejected",
    "declined": "rejected",
    "blocked": "rejected",
}


def _key(raw: object) -> str:
    return str(raw if raw is not None else "").strip().lower()


def message_status(provider: str, raw: object) -> tuple[str, bool]:
    """(common status, final) for a provider's raw message status."""
    found = _MESSAGE.get(provider, {}).get(_key(raw))
    if found is None:
        logger.warning("Unknown %s message status %r mapped to 'unknown'", provider, raw)
        return "unknown", False
    return found


def message_reason(provider: str, raw: object) -> str:
    """Why a message in ``raw`` was not delivered, in the provider's words; "" for a status
    that is not a failure."""
    return _REASON.get(provider, {}).get(_key(raw), "")


def campaign_status(provider: str, raw: object) -> str:
    """The common campaign status; "unknown" (logged) means: keep ours unchanged."""
    found = _CAMPAIGN.get(provider, {}).get(_key(raw))
    if found is None:
        logger.warning("Unknown %s campaign status %r mapped to 'unknown'", provider, raw)
        return "unknown"
    return found


def sender_status(raw: object) -> str:
    """approved, pending or rejected; an unknown value is logged and counts as pending.
    [INFERRED] Mobizon's alphaname statuses are undocumented; BSG's are active / blocked /
    registering."""
    found = _SENDER.get(_key(raw))
    if found is None:
        logger.warning("Unknown sender name status %r counted as 'pending'", raw)
        return "pending"
    return found


def empty_counters() -> dict[str, int]:
    return dict.fromkeys(MESSAGE_STATUSES, 0)
