"""Raw provider statuses -> the common vocabulary (docs/provider-status-map.md).

Each provider's tables are its package's ``statuses`` module (``MESSAGE``, ``REASON``,
``CAMPAIGN``, keyed by the raw status in lower case); sender name statuses are shared. Matching
ignores case and surrounding spaces. A raw status not in the tables maps to "unknown" (not
final, so tracking keeps polling) and is logged as a warning.
"""

from __future__ import annotations

import logging

from core.statuses import REPORTABLE
from providers import registry

logger = logging.getLogger(__name__)


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
    found = registry.statuses(provider).MESSAGE.get(_key(raw))
    if found is None:
        logger.warning("Unknown %s message status %r mapped to 'unknown'", provider, raw)
        return "unknown", False
    return found


def message_reason(provider: str, raw: object) -> str:
    """Why a message in ``raw`` was not delivered, in the provider's words; "" for a status
    that is not a failure."""
    return registry.statuses(provider).REASON.get(_key(raw), "")


def campaign_status(provider: str, raw: object) -> str:
    """The common campaign status; "unknown" (logged) means: keep ours unchanged."""
    found = registry.statuses(provider).CAMPAIGN.get(_key(raw))
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
    return dict.fromkeys(REPORTABLE, 0)
