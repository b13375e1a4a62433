"""A saved JSON object's top-level keys set by the database, as ``dict.update`` sets them.

A note kept call by call (providers.base.BatchState.advanced) then costs what the note weighs:
rewritten whole from Python, an object that grows by a note a call is encoded, sent and
written once per note it holds by the time it is complete.
"""

from __future__ import annotations

import json

from django.db import NotSupportedError
from django.db.models import F, Func, JSONField


class SetKeys(Func):
    """``field`` with the keys of ``notes`` set to their values (the other keys kept), for an
    UPDATE: ``Batch.objects.filter(...).update(progress=SetKeys("progress", {"k": [1]}))``.

    PostgreSQL merges with ``||``, SQLite with ``json_set``; both replace a key's value whole.
    """

    output_field = JSONField()

    def __init__(self, field: str, notes: dict):
        if not notes or not all(str(key).isidentifier() for key in notes):
            raise ValueError(f"SetKeys sets keys named like identifiers, not {list(notes)}.")
        super().__init__(F(field))
        self.notes = notes

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError(f"SetKeys knows PostgreSQL and SQLite, not {connection.vendor}.")

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} || %s::jsonb)", (*params, json.dumps(self.notes))

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        pairs = []
        for key, value in self.notes.items():
            pairs += [f"$.{key}", json.dumps(value)]
        places = ", ".join(["%s, json(%s)"] * len(self.notes))
        return f"json_set({column}, {places})", (*params, *pairs)
