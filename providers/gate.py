"""One request at a time to a provider account, across every process.

A 429's Retry-After binds every caller of the account (``ProviderAccount.quiet_until``), but
a check of the quiet followed by a request is not atomic: a status poll in one process could
pass the check just before a send in another was refused, and reach the provider inside the
Retry-After it had just given. Holding this gate from the check until the answer has been read
(and any new quiet written) closes that gap.

On PostgreSQL the gate is an advisory lock, so it spans machines; elsewhere (the SQLite
laptop default, one machine) it is an exclusive ``flock`` on a file under var/locks/. Both are
released by the operating system or the database when a process dies, so a killed worker never
leaves an account locked.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

from providers.errors import TemporaryError

# The first half of PostgreSQL's two-key advisory lock: the account id is the second.
_NAMESPACE = 0x0C21E8


@contextmanager
def one_at_a_time(account_id: int, wait: float) -> Iterator[None]:
    """Hold the account's gate, waiting up to ``wait`` seconds for it (TemporaryError, nothing
    sent, when another request keeps it longer)."""
    deadline = time.monotonic() + wait
    if connection.vendor == "postgresql":
        with _advisory(account_id, deadline):
            yield
    else:
        with _file_lock(account_id, deadline):
            yield


def _busy() -> TemporaryError:
    return TemporaryError(
        "Another request to this provider account took too long; nothing was sent. "
        "Crier will try again."
    )


@contextmanager
def _advisory(account_id: int, deadline: float) -> Iterator[None]:
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_NAMESPACE, account_id])
            if cursor.fetchone()[0]:
                break
            if time.monotonic() >= deadline:
                raise _busy()
            time.sleep(0.01)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_NAMESPACE, account_id])


@contextmanager
def _file_lock(account_id: int, deadline: float) -> Iterator[None]:
    folder = settings.VAR_DIR / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    # A descriptor of its own per holder: flock excludes other threads of this process too.
    fd = os.open(folder / f"provider-account-{account_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy() from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
