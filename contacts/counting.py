"""A segment's count on a page: exact where PostgreSQL can count it cheaply, otherwise
estimated from a sample of the book and shown as such ("about 83,000"), with a way to ask for
the exact figure.

Counting a segment exactly reads the row of every candidate: a custom field's condition comes
from a GIN index, which cannot answer a count by itself, so a common city in a million-contact
book reads the whole table (150 MB, ~500 ms on a loaded 2-core machine). The page asks the
planner first; when the exact count would cost more than ``EXACT_COST`` (planner units, about a
page read each; reading the million-contact table is ~20,000), the same conditions are counted
on a block sample of the table (``TABLESAMPLE SYSTEM ... REPEATABLE``, ~``SAMPLE_PAGES`` pages)
and scaled by the share of the pages read (not by the planner's row count, which is stale after
a mass delete until the next ANALYZE): ~2 % of the rows, the same figure each time for the same
book, with a margin that also counts how many pages the sample happened to read. A sample that
finds fewer than ``MIN_HITS`` members would be too rough, so such a segment is counted exactly.

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
    from a block sample of it: the members the sample found divided by the share of the
    table's pages it read (each page is read with that probability), so the figure rests on
    what the sample saw now, never on the planner's row statistics, which go stale after a
    mass delete or update until the next ANALYZE. The margin is two standard errors of that
    estimate, which counts both how the members clump in pages (a list imported in one go sits
    in neighbouring pages) and how many pages the sample happened to read. None when the sample
    would read every page (the exact count reads no more), the query is not a plain filter of
    the table, or the sample finds fewer than MIN_HITS, or would find fewer than a quarter of
    them by the planner's ``expected`` rows (a small segment is not worth sampling: its exact
    count follows)."""
    table = Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int", [table]
        )
        pages = cursor.fetchone()[0]
        share = SAMPLE_PAGES / pages if pages > 0 else 1.0  # of the pages, each read by chance
        if share >= 1:
            return None
        # A quarter: the planner's guess of several rules is often half the truth or less (a
        # jsonb comparison is a third of the book whatever the values); skipping a sample
        # that would have found enough costs an exact count (bench: 300 ms against 50).
        if expected is not None and expected * share < MIN_HITS / 4:
            return None
        query = contacts.query
        if {alias for alias, refs in query.alias_refcount.items() if refs} != {table}:
            return None  # a join: its rows are not the sampled table's
        compiler = query.get_compiler(using=contacts.db)
        where, params = compiler.compile(query.where)
        cursor.execute(
            f'SELECT count(*) FROM "{table}" TABLESAMPLE SYSTEM ({share * 100:.6f})'
            f" REPEATABLE (0) WHERE {where} GROUP BY (ctid::text::point)[0]",  # per page
            params,
        )
        per_page = [hits for (hits,) in cursor.fetchall()]
    hits = sum(per_page)
    if hits < MIN_HITS:
        return None
    # Each page is in the sample with probability ``share``, independently: hits / share is
    # unbiased, and (1 - share) / share**2 times the sum of each sampled page's hits squared
    # estimates its variance.
    variance = (1 - share) / share**2 * sum(h * h for h in per_page)
    return round(hits / share), round(2 * variance**0.5)


def rounded(value: int) -> int:
    """``value`` to two significant figures: 83,053 -> 83,000; 5,472 -> 5,500."""
    if value < 100:
        return value
    step = 10 ** (len(str(value)) - 2)
    return round(value / step) * step
