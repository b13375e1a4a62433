"""Logging filters. ``QuietTicks`` keeps an idle worker and beat quiet.

Beat hands out the housekeeping tasks every few seconds (dispatch_campaigns, poll_campaigns
...); at INFO each tick wrote three lines (beat's "Sending due task", the worker's "received"
and "succeeded"), some 180 a minute with nothing happening. This filter drops those lines for
every periodic task scheduled more often than once a minute, unless the task's summary says it
did something (a non-zero count). Warnings and errors always pass, and other tasks log as
before.
"""

from __future__ import annotations

import ast
import logging
import re

from django.conf import settings

from providers.http import SECRET_QUERY_KEYS

FREQUENT_SECONDS = 60


def frequent_tasks() -> frozenset[str]:
    """The task names beat sends more often than once a minute (read lazily)."""
    return frozenset(
        entry["task"]
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if isinstance(entry["schedule"], int | float) and entry["schedule"] < FREQUENT_SECONDS
    )


def _did_nothing(return_value: str) -> bool:
    """True for a summary such as "{'started': 0, 'handed_out': 0}"."""
    try:
        summary = ast.literal_eval(return_value)
    except (ValueError, SyntaxError, TypeError):
        return False
    return isinstance(summary, dict) and not any(summary.values())


class QuietTicks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        args = record.args
        if isinstance(args, dict):  # the worker: "Task ... received" / "... succeeded"
            if args.get("name") not in frequent_tasks():
                return True
            return "return_value" in args and not _did_nothing(str(args["return_value"]))
        if isinstance(args, tuple) and len(args) == 2:  # beat: "Sending due task %s (%s)"
            return args[1] not in frequent_tasks()
        return True


_SECRET_QUERY = re.compile(
    rf"([?&](?:{'|'.join(map(re.escape, SECRET_QUERY_KEYS))})=)[^&\s]*", re.IGNORECASE
)


class RedactSecrets(logging.Filter):
    """Access logs write each request line with its query string, and Mobizon's API key
    travels there (``apiKey=…``, also to the built-in sandbox): its value is masked, like
    every credential-looking query value (providers.http.SECRET_QUERY_KEYS)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = _SECRET_QUERY.sub(r"\1***", record.msg)
        return True
