"""Charts drawn on the server as SVG: no script runs in the browser (the CSP allows none inline),
and the colours come from crier.css classes (``chart-<status>``), not inline styles.

``Series`` lists the message statuses in the order they are stacked, from the bottom: the good
outcome first, what is still under way next, the failures on top.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from campaigns.models import Campaign, CounterSnapshot
from core.statuses import CHART_ORDER, MessageStatus

# A chart has no use for more points than it has pixels across.
MAX_POINTS = 120
WIDTH, HEIGHT = 720, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 8, 8, 24
# How long campaign_chart keeps a chart whose campaign gets no new snapshot.
CHART_CACHE_SECONDS = 3600


@dataclass(frozen=True)
class Point:
    at: datetime
    counts: dict[str, int]


def snapshot_points(campaign: Campaign) -> list[Point]:
    """The campaign's counter snapshots in time order; a long history thinned to about
    MAX_POINTS evenly spaced ones, always keeping the first and the last.

    One query, the thinning done by the database, and the JSON read as text (only the points
    kept: the cast is in the outer query) and decoded here: a Django JSONField decodes several
    times slower, and the live partial has 10 ms.
    """
    table = CounterSnapshot._meta.db_table
    sql = f"""
        SELECT taken_at, CAST(counts AS TEXT) FROM (
            SELECT taken_at, counts,
                   ROW_NUMBER() OVER (ORDER BY taken_at, id) AS n, COUNT(*) OVER () AS total
            FROM {table} WHERE campaign_id = %s
        ) s
        WHERE (n - 1) %% (CASE WHEN total > %s THEN (total + %s - 1) / %s ELSE 1 END) = 0
           OR n = total
        ORDER BY n
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, MAX_POINTS, MAX_POINTS, MAX_POINTS])
        rows = cursor.fetchall()
    return [Point(_aware(at), json.loads(counts)) for at, counts in rows]


def campaign_chart(campaign: Campaign) -> tuple[SafeString, list[tuple[str, str]]]:
    """The campaign's counters_chart in the active time zone, and its legend.

    Kept in the cache under the campaign's last snapshot: snapshots are only ever added, each
    at the time it is written (tracking.polling.snapshot_if_changed), so while the last one is
    the same the chart is too. Finding the last one is an index lookup; the chart costs a
    read of up to MAX_POINTS snapshots, their JSON and the SVG, on every poll of the live part.
    """
    table = CounterSnapshot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, taken_at FROM {table} WHERE campaign_id = %s "
            "ORDER BY taken_at DESC, id DESC LIMIT 1",
            [campaign.pk],
        )
        last = cursor.fetchone()
    if last is None:
        return mark_safe(""), []
    zone = timezone.get_current_timezone_name()
    key = f"crier:counters-chart:{campaign.pk}:{last[0]}:{_aware(last[1]).timestamp()}:{zone}"
    found = cache.get(key)
    if found is None:
        points = snapshot_points(campaign)
        shown = {k for p in points for k, v in p.counts.items() if v}
        found = (counters_chart(points, timezone.localtime), legend(shown))
        cache.set(key, found, CHART_CACHE_SECONDS)
    return found


def _aware(value) -> datetime:
    """A raw query's datetime: PostgreSQL gives it aware, SQLite as naive UTC text."""
    at = value if isinstance(value, datetime) else parse_datetime(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _statuses(points: Sequence[Point]) -> list[MessageStatus]:
    """The statuses that hold a message at some point, in stacking order."""
    return [s for s in CHART_ORDER if any(p.counts.get(s.value) for p in points)]


def _y_scale(top: int):
    plot = HEIGHT - PAD_TOP - PAD_BOTTOM
    return lambda value: PAD_TOP + plot - (value / top * plot if top else 0)


def _axes(top: int, first: str, last: str) -> SafeString:
    y = _y_scale(top)
    return format_html(
        '<g class="chart-axis"><line x1="{l}" y1="{b}" x2="{r}" y2="{b}"/>'
        '<text x="{tl}" y="{ty}" text-anchor="end">{top}</text>'
        '<text x="{tl}" y="{b}" text-anchor="end">0</text>'
        '<text x="{l}" y="{tx}">{first}</text>'
        '<text x="{r}" y="{tx}" text-anchor="end">{last}</text></g>',
        l=PAD_LEFT,
        r=WIDTH - PAD_RIGHT,
        b=f"{y(0):.1f}",
        tl=PAD_LEFT - 6,
        ty=f"{y(top) + 10:.1f}",
        tx=HEIGHT - 6,
        top=f"{top:,}",
        first=first,
        last=last,
    )


def _svg(body: SafeString, label: str, testid: str) -> SafeString:
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{label}" '
        'data-testid="{testid}" preserveAspectRatio="none">{body}</svg>',
        w=WIDTH,
        h=HEIGHT,
        label=label,
        testid=testid,
        body=body,
    )


def counters_chart(points: Sequence[Point], local) -> SafeString:
    """A stacked area of the messages in each status over time. ``local`` turns an aware
    datetime into the viewer's (django.utils.timezone.localtime)."""
    if len(points) < 2:
        return mark_safe("")
    statuses = _statuses(points)
    totals = [sum(p.counts.get(s.value, 0) for s in statuses) for p in points]
    top = max(totals) or 1
    start, end = points[0].at, points[-1].at
    span = (end - start).total_seconds() or 1
    plot_width = WIDTH - PAD_LEFT - PAD_RIGHT
    # Each coordinate formatted once: an area's lower edge is the one below's upper edge.
    xs = [f"{PAD_LEFT + (p.at - start).total_seconds() / span * plot_width:.1f}" for p in points]
    y = _y_scale(top)
    below = [0] * len(points)
    below_ys = [f"{y(0):.1f}"] * len(points)
    areas = []
    for status in statuses:
        key = status.value
        above = [b + p.counts.get(key, 0) for b, p in zip(below, points, strict=True)]
        above_ys = [f"{y(v):.1f}" for v in above]
        upper = " ".join(f"{x},{v}" for x, v in zip(xs, above_ys, strict=True))
        lower = " ".join(f"{x},{v}" for x, v in zip(xs[::-1], below_ys[::-1], strict=True))
        areas.append((key, f"{upper} {lower}", status.label, f"{above[-1] - below[-1]:,}"))
        below, below_ys = above, above_ys
    body = format_html_join(
        "",
        '<polygon class="chart-{}" points="{}"><title>{}: {} now</title></polygon>',
        areas,
    )
    fmt = "%H:%M" if (end - start).days < 1 else "%m-%d %H:%M"
    axes = _axes(top, local(start).strftime(fmt), local(end).strftime(fmt))
    return _svg(body + axes, "Messages by status over time", "counters-chart")


def daily_chart(days: Sequence[tuple[date, dict[str, int]]]) -> SafeString:
    """Stacked bars: one per day, of the messages in each status. Kept in the cache under a
    digest of the figures themselves, so it is drawn again only when one of them moved (the
    SVG cost the overview more CPU than any of its queries)."""
    digest = hashlib.blake2b(repr(list(days)).encode(), digest_size=16).hexdigest()
    key = f"crier:daily-chart:{digest}"
    found = cache.get(key)
    if found is None:
        found = _daily_chart(days)
        cache.set(key, found, CHART_CACHE_SECONDS)
    return found


def _daily_chart(days: Sequence[tuple[date, dict[str, int]]]) -> SafeString:
    points = [Point(datetime.combine(day, datetime.min.time()), counts) for day, counts in days]
    statuses = _statuses(points)
    totals = [sum(p.counts.get(s.value, 0) for s in statuses) for p in points]
    if not any(totals):
        return mark_safe("")
    top = max(totals)
    y = _y_scale(top)
    slot = (WIDTH - PAD_LEFT - PAD_RIGHT) / len(points)
    width = f"{slot * 0.7:.1f}"
    # A bar's words escaped once for all its days, the numbers need none: format_html for each
    # of ~150 bars was most of the overview's time.
    words = {s.value: (escape(s.value), escape(s.label)) for s in statuses}
    bars = []
    for i, (day, counts) in enumerate(days):
        x = f"{PAD_LEFT + i * slot + slot * 0.15:.1f}"
        when = escape(f"{day:%b %d}")
        below = 0
        for status in statuses:
            n = counts.get(status.value, 0)
            if n:
                value, label = words[status.value]
                bars.append(
                    f'<rect class="chart-{value}" x="{x}" y="{y(below + n):.1f}" width="{width}" '
                    f'height="{y(below) - y(below + n):.1f}"><title>{when}: {label} {n:,}</title>'
                    "</rect>"
                )
                below += n
    body = mark_safe("".join(bars))  # every word above is escaped
    axes = _axes(top, f"{days[0][0]:%b %d}", f"{days[-1][0]:%b %d}")
    return _svg(body + axes, "Messages by status per day", "daily-chart")


def legend(statuses: Sequence[str]) -> list[tuple[str, str]]:
    """(status, label) for the statuses shown, in stacking order."""
    return [(s.value, s.label) for s in CHART_ORDER if s.value in statuses]
