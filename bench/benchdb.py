"""What the bench scripts share: a PostgreSQL database of their own, created afresh, and
Django set up on a database for a script's run."""

from __future__ import annotations

import os
from pathlib import Path


def fresh_postgres(url: str) -> None:
    """Drops and creates the database ``url`` names (its server must allow it)."""
    import psycopg

    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def load_messages(campaign_pk: int, spool) -> None:
    """Inserts the spooled messages (campaigns.recipients.bulk's lines) into the campaign and,
    on PostgreSQL, analyses the table as autovacuum would within a minute of a bulk load (it
    may be off on a test server): without statistics the planner walks a million index
    entries where it should not."""
    from django.db import connection, transaction

    from campaigns.recipients import bulk

    with transaction.atomic():
        bulk.insert_messages(campaign_pk, spool)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE campaigns_message")


def django_on(database_url: str, var: str, *, fresh: bool = False, **environ: str) -> None:
    """Sets Django up for a bench run on ``database_url`` (dropped and created afresh first
    when ``fresh``, PostgreSQL only), its files under ``var``, quiet and without DEBUG
    (``environ`` adds or overrides variables), and migrates it."""
    if fresh:
        fresh_postgres(database_url)
    os.environ.update(
        DATABASE_URL=database_url,
        CRIER_VAR_DIR=var,
        DJANGO_SETTINGS_MODULE="crier.settings",
        LOG_LEVEL="WARNING",
        DEBUG="false",
        **environ,
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def backend_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (a local server): the
    database's own work, less inflated than wall time on a shared, loaded machine (nan where
    the backend's /proc entry cannot be read)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
