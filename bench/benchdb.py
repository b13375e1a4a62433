"""What the bench scripts share: a PostgreSQL database of their own, created afresh."""

from __future__ import annotations


def fresh_postgres(url: str) -> None:
    """Drops and creates the database ``url`` names (its server must allow it)."""
    import psycopg

    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
