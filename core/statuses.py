"""The status vocabulary, in one place: what a message, a campaign and a batch can be, which
statuses belong together, how far along each is, and how the pages colour and stack them.

Providers map their raw statuses onto these (each provider's table lives in its package, see
docs/provider-status-map.md); the engine, tracking, the pages, the charts and the overview all
read the groups below, so "final" or "handed over" means the same thing everywhere.
"""

from __future__ import annotations

from django.db import models


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # ours: not submitted yet
    SUBMITTING = "submitting", "Submitting"  # ours: claimed by a worker, outcome not recorded
    QUEUED = "queued", "Queued"  # accepted by the provider, not yet handed to an operator
    SENT = "sent", "Sent"  # handed to the operator; no delivery report yet
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    EXPIRED = "expired", "Expired"  # validity ran out before delivery
    REJECTED = "rejected", "Rejected"  # refused by the provider or the operator
    FAILED = "failed", "Failed"  # ours: could not be submitted
    CANCELLED = "cancelled", "Cancelled"  # ours: stopped before it was submitted
    UNKNOWN = "unknown", "Unknown"  # no report, or an outcome that could not be reconciled


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # being composed; nothing was sent
    SCHEDULED = "scheduled", "Scheduled"  # launched; waits for its start time
    MODERATION = "moderation", "Moderation"  # the provider reviews it before sending
    SENDING = "sending", "Sending"  # messages are being submitted
    PAUSED = "paused", "Paused"  # submission held by a user or by an error; resumable
    SENT = "sent", "Sent"  # everything submitted; waiting for delivery reports
    COMPLETED = "completed", "Completed"  # every message is final
    CANCELLED = "cancelled", "Cancelled"  # stopped by a user; pending messages were cancelled
    REJECTED = "rejected", "Rejected"  # the provider declined it (moderation, spam)
    FAILED = "failed", "Failed"  # could not be sent; the reason says why


class BatchStatus(models.TextChoices):
    CLAIMED = "claimed", "Claimed"  # messages set aside for this batch; nothing was sent yet
    SUBMITTING = "submitting", "Submitting"  # a worker is calling the provider until lease_until
    UNKNOWN = "unknown", "Outcome unknown"  # the provider may have acted: reconcile, never resend
    HELD = "held", "Held by the provider"  # created but not started (smsdrop: no credits)
    SUBMITTED = "submitted", "Submitted"  # the provider took the batch; results are recorded
    FAILED = "failed", "Failed"  # refused, or unknown for good; its messages say why
    CANCELLED = "cancelled", "Cancelled"  # the campaign was stopped before this batch went out


M, C = MessageStatus, CampaignStatus

# --- Message groups ----------------------------------------------------------------------------
# Ours alone: the provider has not (knowingly) been handed these messages yet.
PENDING = (M.PENDING, M.SUBMITTING)
# The provider took these (whatever became of them since). Also every status a provider may
# report: each adapter's raw-status table maps into this group and nothing else.
HANDED_OVER = (M.QUEUED, M.SENT, M.DELIVERED, M.UNDELIVERED, M.EXPIRED, M.REJECTED, M.UNKNOWN)
REPORTABLE = HANDED_OVER
# Outcomes a provider reported; the first one reported stays.
REPORTED_FINAL = (M.DELIVERED, M.UNDELIVERED, M.EXPIRED, M.REJECTED)
# The fate is known, whoever decided it: a delivery rate is taken over these (delivered first).
OUTCOMES = (*REPORTED_FINAL, M.FAILED)
# Will not change any more: a reported outcome, or ours (could not be sent, or stopped first).
FINAL = (*REPORTED_FINAL, M.FAILED, M.CANCELLED)
# Did not reach the phone, for whatever reason.
FAILED = (M.UNDELIVERED, M.EXPIRED, M.REJECTED, M.FAILED)
# A report may still move these.
OPEN = (M.QUEUED, M.SENT)
TRACKED = (*OPEN, M.UNKNOWN)
# How far along a message is: a report moves a message only to a higher rank, and final
# outcomes share the top rank. Our own statuses are not ranked: no report ever touches them.
RANK = {M.QUEUED: 1, M.SENT: 2, M.UNKNOWN: 3} | dict.fromkeys(REPORTED_FINAL, 4)
# Bottom to top in the stacked charts: the good news first, then what is on its way, then
# what went wrong.
CHART_ORDER = (
    M.DELIVERED,
    M.SENT,
    M.QUEUED,
    M.SUBMITTING,
    M.PENDING,
    M.UNKNOWN,
    M.EXPIRED,
    M.UNDELIVERED,
    M.REJECTED,
    M.FAILED,
    M.CANCELLED,
)

# --- Campaign groups ---------------------------------------------------------------------------
# The campaign's figures still move: its page keeps polling.
LIVE = (C.SCHEDULED, C.MODERATION, C.SENDING, C.PAUSED, C.SENT)
# The provider is done with it.
FINISHED = (C.COMPLETED, C.CANCELLED, C.REJECTED, C.FAILED)

# --- Badges ------------------------------------------------------------------------------------
# Bootstrap colour of each status's badge, whichever vocabulary it comes from.
BADGE = {
    # campaigns
    C.DRAFT: "secondary",
    C.SCHEDULED: "info",
    C.MODERATION: "info",
    C.SENDING: "primary",
    C.PAUSED: "warning",
    C.SENT: "primary",
    C.COMPLETED: "success",
    C.CANCELLED: "dark",
    C.FAILED: "danger",
    C.REJECTED: "danger",
    # messages
    M.PENDING: "warning",
    M.SUBMITTING: "primary",
    M.QUEUED: "info",
    M.DELIVERED: "success",
    M.UNDELIVERED: "danger",
    M.EXPIRED: "warning",
    M.UNKNOWN: "warning",
    # batches
    BatchStatus.CLAIMED: "secondary",
    BatchStatus.SUBMITTED: "success",
    BatchStatus.HELD: "warning",
}


def badge(status: str) -> str:
    """The badge colour for a status value of any of the vocabularies above."""
    return BADGE.get(status, "secondary")
