"""ORM queries turned into SQL once a process, then run with each call's values.

Building a queryset's SQL (Django's SQLCompiler.as_sql) costs more CPU than PostgreSQL takes
to answer the small queries a polled partial or the overview asks, and they ask them on every
view. ``Compiled`` builds a query once from sentinel values, notes where each sentinel landed
among the SQL's parameters, and on each call runs the same SQL with the call's values in those
places, its rows converted and built as the ORM builds them: models (with their select_related
ones and annotations) or values() dicts, values_list() tuples.

Only for queries whose SQL does not depend on the values: no ``__in`` over a list of varying
length, no value that may be None (``filter(x=None)`` is IS NULL). A value the SQL embeds,
like TruncDate's time zone, is a ``shape``: a plan is built for each shape value met.

What a plan cannot carry fails loudly when it is built, never silently on a call: a sentinel
not found among the parameters as it is (a value the lookup changes, such as a LIKE pattern
the ORM escapes or wraps in %: the text sentinel holds ``_`` and ``%`` so that such a lookup
always changes it), and a parameter derived from a sentinel (``since + timedelta(days=1)``,
the start of its day): the query is built twice, from two sets of sentinels that differ in
every part (year to microsecond, parity, first and last characters), and everything but the
sentinels' own places must come out the same. A derivation that gives the same from both (the
sign of an id) cannot be seen that way: work derived values out before the call, as every
caller does, and pass them as values of their own.

Plans live on the connection they were built for (its compiler hands that connection to
converters), so a thread's plans go with its connection, as the ORM's own state does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    QuerySet,
    ValuesIterable,
    ValuesListIterable,
    get_related_populators,
)
from django.db.models.sql.compiler import SQLCompiler

# Sentinels no parameter holds otherwise: no row has a negative id nor a time in 1901, and
# no query compares with this text.
AN_ID = -7301
ANOTHER_ID = -7302
A_TIME = datetime(1901, 2, 3, 4, 5, 6, tzinfo=UTC)
A_TEXT = "core.compiled: a text_%"
# The second set of sentinels each plan is built from (see the module's docstring): each value
# differs from the first in every part a derivation might keep. A time moves to 1903-07-19
# 17:43:29.123457 (another year, month, day, hour, minute, second and weekday), an id by 1,001
# (another parity and last digits), a text is reversed behind another start.
_TIME_SHIFT = timedelta(days=897, hours=13, minutes=38, seconds=23, microseconds=123457)
_SHIFT = {int: lambda v: v - 1001, str: lambda v: "%_ other " + v[::-1]}


@dataclass
class _Plan:
    sql: str
    params: list
    slots: list[tuple[int, str, Callable]]  # (position, value's name, its adapter)
    compiler: SQLCompiler
    converters: dict  # by column, as SQLCompiler.results_iter finds them on each query
    build: Callable[[_Plan, list], list]  # the rows as the queryset's iterable builds them
    names: list[str] = field(default_factory=list)  # values()
    model: type | None = None  # a model queryset: its columns, related ones, annotations
    columns: tuple[int, int] = (0, 0)
    init_list: list[str] = field(default_factory=list)
    populators: list = field(default_factory=list)
    annotations: dict = field(default_factory=dict)


class Compiled:
    """``build(**values)`` returns the QuerySet; ``Compiled(build, name=sentinel, ...)``.

    A sentinel must be a value the query's parameters cannot otherwise hold (an id of -7301,
    a datetime in 1901); calling returns the rows as a list.
    """

    def __init__(self, build: Callable[..., QuerySet], shape: tuple[str, ...] = (), **sentinels):
        self._build = build
        self._shape = shape
        self._sentinels = sentinels

    def __call__(self, **values) -> list:
        # A plan a connection (a thread), kept on it: it goes when the connection does.
        plans = connections[DEFAULT_DB_ALIAS].__dict__.setdefault("_compiled_plans", {})
        key = (self, *(values[name] for name in self._shape))
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = self._plan(values)
        params = list(plan.params)
        for position, name, adapt in plan.slots:
            params[position] = adapt(values[name])
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, params)
            rows = cursor.fetchall()
        return plan.build(plan, rows)

    def _plan(self, values: dict) -> _Plan:
        shaped = {name: values[name] for name in self._shape}
        queryset, compiler, sql, params, slots = self._located(self._sentinels, shaped)
        # Again from other sentinels: a parameter that moved with them but is no slot was
        # derived from one, and would be kept as built.
        others = {name: _other(sentinel) for name, sentinel in self._sentinels.items()}
        _, _, sql2, params2, slots2 = self._located(others, shaped)
        places = {position for position, _, _ in slots}
        if (
            sql2 != sql
            or len(params2) != len(params)
            or {(p, n) for p, n, _ in slots2} != {(p, n) for p, n, _ in slots}
            or any(
                a != b
                for i, (a, b) in enumerate(zip(params, params2, strict=True))
                if i not in places
            )
        ):
            raise ValueError(
                "the query's SQL or parameters depend on a sentinel other than by its own "
                "places (a value derived from one, or one the SQL embeds: make it a shape)"
            )
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        if compiler.has_composite_fields(fields):
            raise ValueError("composite fields are not supported")
        plan = _Plan(sql, params, slots, compiler, compiler.get_converters(fields), _models)
        kind = queryset._iterable_class
        if kind is ModelIterable:
            select, klass_info = compiler.select, compiler.klass_info
            plan.model = klass_info["model"]
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            plan.columns = (start, end)
            plan.init_list = [column[0].target.attname for column in select[start:end]]
            plan.populators = get_related_populators(klass_info, select, connection.alias)
            plan.annotations = compiler.annotation_col_map or {}
        elif kind is ValuesIterable:
            query = queryset.query
            plan.names = list(query.selected or [])
            if not plan.names:
                plan.names = [*query.extra_select, *query.values_select, *query.annotation_select]
            plan.build = _dicts
        elif kind is ValuesListIterable:
            plan.build = _tuples
        elif kind is FlatValuesListIterable:
            plan.build = _flat
        else:
            raise ValueError(f"{kind.__name__} is not supported")
        return plan

    def _located(self, sentinels: dict, shaped: dict):
        """(queryset, compiler, sql, params, slots) of the query built from ``sentinels``."""
        queryset = self._build(**sentinels, **shaped)
        compiler = queryset.query.get_compiler(connection.alias)
        sql, params = compiler.as_sql()
        params = list(params)
        slots = []
        for name, sentinel in sentinels.items():
            found = []
            for i, param in enumerate(params):
                adapt = next((a for a in _adapters(sentinel) if _same(param, a(sentinel))), None)
                if adapt is not None:
                    found.append((i, name, adapt))
            if not found:
                raise ValueError(f"{name}'s sentinel {sentinel!r} is not among the parameters")
            slots += found
        if len({position for position, _, _ in slots}) != len(slots):
            raise ValueError("two sentinels share a parameter: choose distinct ones")
        return queryset, compiler, sql, params, slots


def _other(sentinel):
    """The sentinel of the plan's second build: of the same kind, another value."""
    if isinstance(sentinel, datetime):
        return sentinel + _TIME_SHIFT
    if isinstance(sentinel, date):
        return sentinel + timedelta(days=897)
    return _SHIFT[type(sentinel)](sentinel)


def _adapters(sentinel) -> list[Callable]:
    """How a value of the sentinel's kind may reach the parameters: as it is, or as the
    database takes a datetime or a date (text on SQLite)."""
    ops = connection.ops
    if isinstance(sentinel, datetime):
        return [lambda v: v, ops.adapt_datetimefield_value]
    if isinstance(sentinel, date):
        return [lambda v: v, ops.adapt_datefield_value]
    return [lambda v: v]


def _same(param, expected) -> bool:
    return type(param) is type(expected) and param == expected


def _converted(plan: _Plan, rows: list):
    if not plan.converters:
        return rows
    return plan.compiler.apply_converters(rows, plan.converters)


def _dicts(plan: _Plan, rows: list) -> list[dict]:
    names = plan.names
    return [dict(zip(names, row, strict=False)) for row in _converted(plan, rows)]


def _tuples(plan: _Plan, rows: list) -> list[tuple]:
    return [tuple(row) for row in _converted(plan, rows)]


def _flat(plan: _Plan, rows: list) -> list:
    return [row[0] for row in _converted(plan, rows)]


def _models(plan: _Plan, rows: list) -> list:
    """As django.db.models.query.ModelIterable builds them."""
    db, (start, end) = connection.alias, plan.columns
    found = []
    for row in _converted(plan, rows):
        obj = plan.model.from_db(db, plan.init_list, row[start:end])
        for populator in plan.populators:
            populator.populate(row, obj)
        for name, position in plan.annotations.items():
            setattr(obj, name, row[position])
        found.append(obj)
    return found
