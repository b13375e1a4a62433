"""Fast bulk inserts of messages: COPY on PostgreSQL, executemany elsewhere.

Django's bulk_create costs ~50 µs a row; COPY ~4 µs and sqlite3's executemany ~3 µs, which is
the difference between a million-row import in seconds or in minutes.

Recipients are spooled as lines of PostgreSQL's COPY text format (tab-separated, backslash
escaped), ``reference, phone, country, number_type, row_number, fields``, so PostgreSQL takes
the spool almost as it is.
"""

from __future__ import annotations

from itertools import islice
from json.encoder import encode_basestring
from typing import TextIO

from django.db import connection
from django.utils import timezone

from campaigns.models import Message, MessageStatus

_COLUMNS = (
    "reference",
    "phone",
    "country",
    "number_type",
    "row_number",
    "fields",
    "campaign_id",
    "status",
    "provider_message_id",
    "error_code",
    "error_reason",
    "created_at",
    "updated_at",
)
_CHUNK = 5_000


class FieldsEncoder:
    """Encodes a row's placeholder values as the JSON object ``{name: value}``, escaped for a
    spool line, several times faster than json.dumps on a dict: the keys are encoded once."""

    def __init__(self, names: dict[str, int]):
        self.items = [(encode_basestring(name) + ":", index) for name, index in names.items()]

    def __call__(self, cells: list[str]) -> str:
        if not self.items:
            return "{}"
        width = len(cells)
        data = ",".join(
            key + encode_basestring(cells[index] if index < width else "")
            for key, index in self.items
        )
        # JSON escapes tabs and newlines itself; only backslashes need COPY's escaping.
        return "{" + data.replace("\\", "\\\\") + "}"


def spool_line(reference: str, phone: str, country: str, number_type: str, row: int, data: str):
    """One spool line; ``data`` comes from a FieldsEncoder."""
    return f"{reference}\t{phone}\t{country}\t{number_type}\t{row}\t{data}\n"


def insert_messages(campaign_id: int, spool: TextIO) -> int:
    """Inserts a pending message for every spool line; returns how many. Runs inside the
    caller's transaction, so a failure leaves no row behind."""
    now = timezone.now()
    spool.seek(0)
    if connection.vendor == "postgresql":
        return _copy(campaign_id, spool, now)
    return _executemany(campaign_id, spool, now)


def _copy(campaign_id: int, spool: TextIO, now) -> int:
    suffix = f"\t{campaign_id}\t{MessageStatus.PENDING.value}\t\t\t\t{now.isoformat()}\t"
    suffix += f"{now.isoformat()}\n"
    sql = f"COPY {Message._meta.db_table} ({', '.join(_COLUMNS)}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        while lines := list(islice(spool, _CHUNK)):
            copy.write("".join(line[:-1] + suffix for line in lines))
            count += len(lines)
    return count


def _executemany(campaign_id: int, spool: TextIO, now) -> int:
    stamp = connection.ops.adapt_datetimefield_value(now)
    constant = (campaign_id, MessageStatus.PENDING.value, "", "", "", stamp, stamp)
    placeholders = ", ".join(["%s"] * len(_COLUMNS))
    sql = f"INSERT INTO {Message._meta.db_table} ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
    count = 0
    with connection.cursor() as cursor:
        while lines := list(islice(spool, _CHUNK)):
            rows = []
            for line in lines:
                ref, phone, country, kind, row, data = line[:-1].split("\t")
                rows.append((ref, phone, country, kind, int(row), data.replace("\\\\", "\\")))
            cursor.executemany(sql, [row + constant for row in rows])
            count += len(rows)
    return count
