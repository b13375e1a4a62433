"""Review of core.compiled (r20p): what a plan keeps, and what it may freeze silently."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from datetime import timedelta

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from campaigns.models import Campaign
from core.compiled import A_TEXT, A_TIME, AN_ID, Compiled
from workspaces import tenancy
from workspaces.models import Membership

pytestmark = pytest.mark.django_db


def _in_a_thread(work) -> weakref.ref:
    """Runs ``work`` in a thread of its own, as granian's blocking threads run a request, and
    returns a weak reference to that thread's connection (closed before the thread ends)."""
    seen = []

    def run():
        try:
            work()
            seen.append(weakref.ref(connections[DEFAULT_DB_ALIAS]))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    gc.collect()
    return seen[0]


def test_a_finished_threads_connection_is_not_kept_by_the_plans(acme):
    """granian ends an idle blocking thread after 30 s (--blocking-threads-idle-timeout) and
    starts another: each new thread has a new DatabaseWrapper. The ORM lets the dead thread's
    wrapper (and, with CONN_MAX_AGE=60, its still open PostgreSQL connection) be collected; a
    plan keyed by id(wrapper) holds its compiler, which holds the wrapper, for ever."""
    workspace = acme.workspace.pk
    # The ORM alone: the thread's wrapper is gone once the thread is (the test's control).
    orm = _in_a_thread(lambda: list(Membership.objects.filter(workspace=workspace)))
    assert orm() is None

    compiled = _in_a_thread(lambda: tenancy._MEMBERSHIPS(user=acme.user("viewer").pk))

    assert compiled() is None, "a dead thread's connection is kept by Compiled._plans"


def _backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else one snapshot a transaction
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _left_open_by_a_thread(work) -> int:
    """Backends still open once a thread that ran ``work`` and kept its connection (as
    CONN_MAX_AGE keeps it after a request) has ended and been collected; the count is waited
    on for up to 5 s, as the server sees a closed socket a moment later."""
    before, kept = _backends(), []

    def run():
        work()
        kept.append(weakref.ref(connections[DEFAULT_DB_ALIAS]))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    gc.collect()
    try:
        deadline = time.monotonic() + 5
        while _backends() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        return _backends() - before
    finally:
        wrapper = kept[0]()
        if wrapper is not None and wrapper.connection is not None:
            wrapper.connection.close()  # the leaked one, or the test database cannot be dropped


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connections")
def test_a_finished_threads_postgresql_connection_is_closed(acme):
    """What the kept wrapper costs in production: each recycled granian thread leaves one open
    PostgreSQL connection (CONN_MAX_AGE=60 keeps it past the request), until max_connections."""
    workspace, user = acme.workspace.pk, acme.user("viewer").pk
    assert _left_open_by_a_thread(lambda: list(Membership.objects.filter(workspace=workspace))) == 0

    assert _left_open_by_a_thread(lambda: tenancy._MEMBERSHIPS(user=user)) == 0


def test_a_value_derived_from_a_sentinel_is_not_frozen_silently(acme):
    """``since + timedelta(days=1)`` is built from the sentinel: a parameter no slot names,
    kept as 1901-02-04 for every call. Either refused when the plan is built (as a sentinel
    not found is) or answered as the ORM answers."""

    def launched_within_a_day(workspace, since):
        return Campaign.objects.filter(
            workspace=workspace, launched_at__gte=since, launched_at__lt=since + timedelta(days=1)
        ).order_by("pk")

    now = timezone.now()
    Campaign.objects.filter(pk=acme.campaign.pk).update(launched_at=now - timedelta(hours=1))
    since = now - timedelta(hours=2)
    expected = [c.pk for c in launched_within_a_day(acme.workspace.pk, since)]
    assert expected == [acme.campaign.pk]
    read = Compiled(launched_within_a_day, workspace=AN_ID, since=A_TIME)

    try:
        found = [c.pk for c in read(workspace=acme.workspace.pk, since=since)]
    except ValueError:
        return  # refused loudly: fine
    assert found == expected


def test_a_value_the_orm_escapes_is_escaped_on_each_call(acme):
    """On SQLite ``iexact`` is a LIKE whose parameter the ORM escapes (``_`` and ``%`` become
    ``\\_``, ``\\%``). The text sentinel has nothing to escape, so it is found as it is, and each
    call's value goes in unescaped: "A_C" then matches "ABC" as a wildcard would."""

    def named(workspace, name):
        return Campaign.objects.filter(workspace=workspace, name__iexact=name).order_by("pk")

    Campaign.objects.filter(pk=acme.campaign.pk).update(name="ABC")
    read = Compiled(named, workspace=AN_ID, name=A_TEXT)

    for name in ("abc", "A_C", "A%"):
        try:
            found = [c.pk for c in read(workspace=acme.workspace.pk, name=name)]
        except ValueError:
            return  # refused loudly: fine
        assert found == [c.pk for c in named(acme.workspace.pk, name)], name
