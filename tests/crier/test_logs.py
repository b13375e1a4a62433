"""An idle worker and beat stay quiet: beat's frequent ticks are not logged at INFO unless
they did something; warnings, errors and every other task still are."""

from __future__ import annotations

import logging

import pytest
from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS

from crier.logs import QuietTicks, frequent_tasks

TICK = "campaigns.tasks.dispatch_campaigns"


def passes(msg, args, level=logging.INFO) -> bool:
    record = logging.LogRecord("celery", level, __file__, 1, msg, None, None)
    record.args = args  # as celery passes them: one dict, or a tuple
    return QuietTicks().filter(record)


def test_the_every_two_second_tasks_are_the_frequent_ones():
    assert {TICK, "campaigns.tasks.poll_campaigns"} <= frequent_tasks()
    assert "providers.tasks.refresh_balances" not in frequent_tasks()


def test_an_idle_tick_writes_nothing():
    assert not passes("Scheduler: Sending due task %s (%s)", ("dispatch-campaigns", TICK))
    assert not passes(LOG_RECEIVED, {"name": TICK, "id": "1"})
    assert not passes(LOG_SUCCESS, {"name": TICK, "id": "1", "return_value": "{'started': 0}"})


def test_a_tick_that_did_something_is_logged():
    summary = "{'started': 1, 'handed_out': 0}"
    assert passes(LOG_SUCCESS, {"name": TICK, "id": "1", "return_value": summary})


@pytest.mark.parametrize("level", [logging.WARNING, logging.ERROR])
def test_warnings_and_errors_always_pass(level):
    assert passes("Task %(name)s[%(id)s] raised", {"name": TICK, "id": "1"}, level)


def test_other_tasks_log_as_before():
    name = "campaigns.tasks.run_import"
    assert passes(LOG_RECEIVED, {"name": name, "id": "1"})
    assert passes(LOG_SUCCESS, {"name": name, "id": "1", "return_value": "{'rows': 0}"})
    assert passes("Scheduler: Sending due task %s (%s)", ("refresh-balances", "x.refresh"))


def test_the_filter_sits_on_celery_s_loggers(settings):
    for name in ("celery.beat", "celery.app.trace", "celery.worker.strategy"):
        assert settings.LOGGING["loggers"][name]["filters"] == ["quiet_ticks"]
