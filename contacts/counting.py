"""A segment's count on a page: exact where PostgreSQL can count it cheaply, otherwise
estimated from a sample of the book and shown as such ("about 83,000"), with a way to ask for
the exact figure.

Counting a segment exactly reads the row of every candidate: a custom field's condition comes
from a GIN index, which cannot answer a count by itself, so a common city in a million-contact
book reads the whole table (150 MB, ~500 ms on a loaded 2-core machine). The page asks the
planner first; when the exact count would cost more than ``EXACT_COST`` (planner units, about a
page read each; reading the million-contact table is ~20,000), the same conditions are counted
on a block sample of the table (``TABLESAMPLE SYSTEM ... REPEATABLE``, ~``SAMPLE_PAGES`` pages)
and scaled to the table's size: ~2 % of the rows, within a few per cent for a segment of tens of
thousands, the same figure each time for the same book. A sample that finds fewer than
``MIN_HITS`` members would be too rough, so such a segment is counted exactly.

What a campaign sends to is never estimated: its audience is counted and fixed exactly
(campaigns.audiences), and the API counts exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from contacts.models import Contact
from contacts.search import capped_count

EXACT_COST = 5_000
SAMPLE_PAGES = 400
MIN_HITS = 100


@dataclass(frozen=True)
class Tally:
    """How many contacts match: ``more`` says an exact count stopped at its cap; an
    ``estimated`` value is give or take ``margin`` (95 %), both rounded to two significant
    figures."""

    value: int
    more: bool = False
    estimated: bool = False
    margin: int = 0


def tally(contacts: QuerySet, cap: int, *, exact: bool = False) -> Tally:
    """``contacts`` counted up to ``cap``, or, unless ``exact``, estimated where counting
    them would read much of the book."""
    if not exact and connection.vendor == "postgresql":
        cost, rows = _plan(contacts, cap)
        guess = sampled(contacts, expected=rows) if cost > EXACT_COST else None
        if guess is not None:
            value, margin = guess
            return Tally(rounded(value), estimated=True, margin=rounded(margin))
    count, more = capped_count(contacts, cap)
    return Tally(count, more)


def _plan(contacts: QuerySet, cap: int) -> tuple[float, float]:
    """The planner's cost of counting ``contacts`` up to ``cap`` (as capped_count does) and
    how many rows it expects to count; (0, 0) for a filter that matches nothing by
    construction."""
    try:
        sql, params = contacts.order_by()[: cap + 1].query.sql_with_params()
    except EmptyResultSet:
        return 0, 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT count(*) FROM ({sql}) counted", params)
        plan = cursor.fetchone()[0]
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    return float(plan["Total Cost"]), float(plan["Plans"][0]["Plan Rows"])


def sampled(contacts: QuerySet, expected: float | None = None) -> tuple[int, int] | None:
    """(how many, give or take) ``contacts`` (a filter of Contact) the table holds, estimated
    from a block sample of it: the share of the sampled rows that match, times the table's
    rows as the planner reckons them (its statistics scaled to the table's size now); the
    margin is two standard errors, from how the share varies between the sampled pages (a
    list imported in one go sits in neighbouring pages, so its members come in clumps). None
    when there are no statistics yet, the query is not a plain filter of the table, or the
    sample finds fewer than MIN_HITS, or would by the planner's ``expected`` rows (a small
    segment is not worth sampling: its exact count follows)."""
    table = Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int"
            " FROM pg_class WHERE oid = %s::regclass",
            [table],
        )
        rows, pages, pages_now = cursor.fetchone()
        if rows <= 0 or pages <= 0 or pages_now <= 0:
            return None  # never analysed: nothing to scale by
        percent = min(100.0, SAMPLE_PAGES * 100 / pages_now)
        if expected is not None and expected * percent / 100 < MIN_HITS / 2:
            return None
        query = contacts.query
        if {alias for alias, refs in query.alias_refcount.items() if refs} != {table}:
            return None  # a join: its rows are not the sampled table's
        compiler = query.get_compiler(using=contacts.db)
        where, params = compiler.compile(query.where)
        sample = f'"{table}" TABLESAMPLE SYSTEM ({percent:.6f}) REPEATABLE (0)'
        page = "(ctid::text::point)[0]"  # the row's page: PostgreSQL 15 casts a tid no other way
        cursor.execute(
            f"SELECT {page}, count(*), 0 FROM {sample} GROUP BY 1 UNION ALL "
            f"SELECT {page}, 0, count(*) FROM {sample} WHERE {where} GROUP BY 1",
            params,
        )
        per_page: dict[float, list[int]] = {}
        for number, seen, hits in cursor.fetchall():
            counts = per_page.setdefault(number, [0, 0])
            counts[0] += seen
            counts[1] += hits
    per_page = list(per_page.values())
    seen, hits = sum(n for n, _ in per_page), sum(h for _, h in per_page)
    if hits < MIN_HITS or len(per_page) < 2:
        return None
    share = hits / seen
    spread = sum((h - share * n) ** 2 for n, h in per_page) / (len(per_page) - 1)
    error = (spread / len(per_page)) ** 0.5 / (seen / len(per_page))  # of the share
    total = rows / pages * pages_now
    return round(share * total), round(2 * error * total)


def rounded(value: int) -> int:
    """``value`` to two significant figures: 83,053 -> 83,000; 5,472 -> 5,500."""
    if value < 100:
        return value
    step = 10 ** (len(str(value)) - 2)
    return round(value / step) * step
