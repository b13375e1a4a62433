"""Deterministic delivery: a message's fate and timing follow from its reference alone.

A SHA-256 of the reference picks the outcome (about 90% delivered, 5% undelivered, 3% expired,
2% rejected) and the delays, so the same reference behaves the same in every run and a demo
campaign is complete within two minutes of its start. Statuses are computed lazily from
(start, reference, now): nothing runs in the background, and moving ``clock`` moves delivery.

Stages, in order: ``scheduled`` (before the campaign's start), ``queued`` (accepted, not handed
over yet), ``sent`` (with the operator), then one final outcome. A campaign stopped before a
message was handed over leaves it ``cancelled`` for good. Provider modules translate stages
into their own vocabulary.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

FINAL = ("delivered", "undelivered", "expired", "rejected", "cancelled")
# (outcome, share out of 100, (min, max) seconds from start to the final status)
OUTCOMES = (
    ("delivered", 90, (5, 60)),
    ("undelivered", 5, (10, 60)),
    ("expired", 3, (90, 110)),  # the operator gave up waiting for the handset
    ("rejected", 2, (2, 4)),  # refused before reaching an operator
)
SENT_AFTER = (1, 4)  # seconds from start until handed over to the operator
LAST_FINAL_AFTER = max(high for _o, _s, (_low, high) in OUTCOMES)


@dataclass(frozen=True)
class Plan:
    outcome: str
    # Seconds until handed over, after which a stop no longer cuts the message off. A message
    # bound to be rejected shows "queued" until refused, never "sent", but is past a stop too.
    sent_after: float
    final_after: float


def plan(reference: str) -> Plan:
    digest = hashlib.sha256(reference.encode()).digest()
    outcome, low, high = _pick(int.from_bytes(digest[:4], "big") % 100)
    final_after = low + int.from_bytes(digest[4:8], "big") % (high - low + 1)
    sent_low, sent_high = SENT_AFTER
    sent_after = sent_low + int.from_bytes(digest[8:12], "big") % (sent_high - sent_low + 1)
    return Plan(outcome, min(sent_after, final_after), final_after)


def _pick(bucket: int) -> tuple[str, int, int]:
    for outcome, share, (low, high) in OUTCOMES:
        if bucket < share:
            return outcome, low, high
        bucket -= share
    raise AssertionError("OUTCOMES shares must add up to 100")


def stage(
    reference: str,
    start: datetime | None,
    now: datetime,
    stopped_at: datetime | None = None,
) -> str:
    """The stage of one message that starts at ``start`` (None: not sent yet) at ``now``."""
    if start is None or now < start:
        return "cancelled" if stopped_at else "scheduled"
    p = plan(reference)
    handed_over = start + timedelta(seconds=p.sent_after)
    if stopped_at and stopped_at < handed_over:
        return "cancelled"
    elapsed = (now - start).total_seconds()
    if elapsed >= p.final_after:
        return p.outcome
    return "sent" if elapsed >= p.sent_after and p.outcome != "rejected" else "queued"


def final_at(reference: str, start: datetime) -> datetime:
    return start + timedelta(seconds=plan(reference).final_after)


def tally(stages) -> Counter:
    """Counts per stage, with every stage present (zero when absent)."""
    counts = Counter({name: 0 for name in ("scheduled", "queued", "sent", *FINAL)})
    counts.update(stages)
    return counts
