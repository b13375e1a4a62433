"""What the bench scripts share: a PostgreSQL database of their own, created afresh."""

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
