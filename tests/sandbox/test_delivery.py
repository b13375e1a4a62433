"""Delivery follows from the reference alone and completes within two minutes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from providers.sandbox import delivery

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
REFERENCES = [f"ref{i:05d}" for i in range(5000)]


def test_same_reference_same_plan():
    assert delivery.plan("abc123") == delivery.plan("abc123")
    assert len({delivery.plan(r) for r in REFERENCES[:50]}) > 1


def test_outcomes_come_in_realistic_proportions():
    shares = Counter(delivery.plan(r).outcome for r in REFERENCES)
    assert 0.87 < shares["delivered"] / len(REFERENCES) < 0.93
    assert 0.03 < shares["undelivered"] / len(REFERENCES) < 0.07
    assert 0.015 < shares["expired"] / len(REFERENCES) < 0.045
    assert 0.01 < shares["rejected"] / len(REFERENCES) < 0.03


def test_most_messages_are_delivered_within_a_minute_and_all_final_within_two():
    at_60s = Counter(delivery.stage(r, START, START + timedelta(seconds=60)) for r in REFERENCES)
    assert at_60s["delivered"] / len(REFERENCES) > 0.85
    at_2min = Counter(delivery.stage(r, START, START + timedelta(minutes=2)) for r in REFERENCES)
    assert set(at_2min) <= set(delivery.FINAL)


def test_stages_move_forward_only():
    order = ["scheduled", "queued", "sent", "final"]
    for reference in REFERENCES[:300]:
        seen = []
        for second in range(-2, 125, 1):
            stage = delivery.stage(reference, START, START + timedelta(seconds=second))
            seen.append(order.index("final" if stage in delivery.FINAL else stage))
        assert seen == sorted(seen), reference
        assert delivery.stage(reference, START, START + timedelta(minutes=5)) == (
            delivery.plan(reference).outcome
        )


def test_rejected_messages_are_never_sent():
    rejected = [r for r in REFERENCES if delivery.plan(r).outcome == "rejected"]
    for reference in rejected:
        stages = {delivery.stage(reference, START, START + timedelta(seconds=s)) for s in range(9)}
        assert "sent" not in stages


def test_not_started_message_is_scheduled():
    assert delivery.stage("abc", None, START) == "scheduled"
    assert delivery.stage("abc", START, START - timedelta(seconds=1)) == "scheduled"


def test_stop_before_hand_over_cancels_for_good():
    reference = next(r for r in REFERENCES if delivery.plan(r).outcome == "delivered")
    stopped = START + timedelta(seconds=0.5)
    assert delivery.stage(reference, START, START + timedelta(hours=1), stopped) == "cancelled"


def test_stop_after_hand_over_lets_the_message_finish():
    reference = next(r for r in REFERENCES if delivery.plan(r).outcome == "delivered")
    stopped = START + timedelta(seconds=delivery.plan(reference).sent_after + 0.1)
    assert delivery.stage(reference, START, START + timedelta(hours=1), stopped) == "delivered"
