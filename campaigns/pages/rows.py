"""The rows of the campaign pages' long tables, rendered here rather than by a ``{% for %}`` over
them: the recipient table (50 rows), the campaign list (25), the overview's campaigns running
now (10) and the live part's messages per status (polled every 5 s). Each cell is escaped by
format_html as the template would; the markup is the one the templates held. Rendered by the
template engine, a 50-row table cost more than every query of its page together (#20).

Each function takes the rows ``queries`` formats (recipient_page, campaign_rows, running,
Figures.by_status) and returns the ``<tr>`` elements for the template to place in its
``<tbody>``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeData, SafeString, mark_safe


def _rows(row: str, cells: Iterable[tuple]) -> SafeString:
    """format_html_join("", row, cells): each cell escaped unless it is safe markup already.
    With html.escape itself, which django.utils.html.escape wraps for lazy strings: a table's
    cells are plain ones, and the wrapper cost more than the formatting."""
    escape = html.escape
    return mark_safe(
        "".join(
            row.format(*(c if isinstance(c, SafeData) else escape(str(c)) for c in values))
            for values in cells
        )
    )


_LAUNCHED_RECIPIENT = (
    "<tr>"
    '<td class="text-body-secondary small">{}</td>'
    '<td class="font-monospace-sm">{}</td>'
    "<td>{}</td>"
    '<td><span class="badge text-bg-{}">{}</span>{}</td>'
    '<td class="small">{}</td>'
    '<td class="small text-body-secondary text-nowrap">{}</td>'
    "</tr>\n"
)


def launched_recipients(rows: list[dict]) -> SafeString:
    """A launched campaign's recipients: row, phone, country, status (and the provider's own
    word for it), error, last update."""
    return _rows(
        _LAUNCHED_RECIPIENT,
        (
            (
                m["row"], m["phone"], m["country"], m["badge"], m["label"],
                format_html(' <span class="small text-body-secondary">{}</span>', m["raw"])
                if m["raw"]
                else "",
                m["error"], m["updated"],
            )
            for m in rows
        ),
    )  # fmt: skip


_DRAFT_RECIPIENT = (
    "<tr>"
    '<td class="text-body-secondary small">{}</td>'
    '<td class="font-monospace-sm">{}</td>'
    "<td>{}</td>"
    '<td class="small text-body-secondary">{}</td>'
    '<td><span class="badge text-bg-{}">{}</span></td>'
    "</tr>\n"
)


def draft_recipients(rows: list[dict]) -> SafeString:
    """A draft's recipients: row, phone, country, their fields and status."""
    return _rows(
        _DRAFT_RECIPIENT,
        ((m["row"], m["phone"], m["country"], m["fields"], m["badge"], m["label"]) for m in rows),
    )


_CAMPAIGN = (
    '<tr data-testid="campaign-row">'
    '<td><a class="fw-medium" href="{}">{}</a>{}</td>'
    '<td><span class="badge text-bg-{}">{}</span></td>'
    "<td>{}</td>"
    "<td>{}</td>"
    '<td class="text-end text-nowrap" data-testid="recipients">{}</td>'
    '<td class="text-end text-nowrap" data-testid="rate">{}</td>'
    '<td class="text-end text-nowrap font-monospace-sm" data-testid="cost">{}</td>'
    '<td class="small text-body-secondary text-nowrap">{}</td>'
    '<td class="small text-body-secondary text-nowrap">{}</td>'
    "</tr>\n"
)


def campaigns(rows: list[dict]) -> SafeString:
    """The campaign list's rows: name (and sender), status, channel, account, recipients,
    delivery rate, cost, when it is scheduled and when it was created."""
    if not rows:
        return mark_safe("")
    # One reverse() for the page, its id swapped in: reverse() costs as much as a row.
    link = reverse("campaign_detail", args=[0]).replace("/0/", "/{}/")
    return _rows(
        _CAMPAIGN,
        (
            (
                link.format(c["pk"]), c["name"],
                format_html('<div class="small text-body-secondary">{}</div>', c["sender"])
                if c["sender"]
                else "",
                c["badge"], c["status_label"], c["channel"], c["account"], c["recipients"],
                c["rate"], c["cost"], c["scheduled"], c["created"],
            )
            for c in rows
        ),
    )  # fmt: skip


_RUNNING = (
    '<tr><td><a href="{}">{}</a></td>'
    '<td><span class="badge text-bg-{}">{}</span></td>'
    "<td>{}</td>"
    '<td><progress class="crier-progress crier-progress-thin" value="{}" max="{}" '
    'aria-label="Final messages"></progress>'
    '<div class="small text-body-secondary">{}</div></td></tr>\n'
)


def running(rows: list[dict]) -> SafeString:
    """The overview's campaigns being sent: name, status, account and how many messages are
    final."""
    if not rows:
        return mark_safe("")
    link = reverse("campaign_detail", args=[0]).replace("/0/", "/{}/")
    return _rows(
        _RUNNING,
        (
            (
                link.format(c["pk"]), c["name"], c["badge"], c["status_label"], c["account"],
                c["done"], c["total"], c["progress"],
            )
            for c in rows
        ),
    )  # fmt: skip


_STATUS_COUNT = (
    '<tr data-status="{}"><td><span class="legend-swatch chart-{}"></span>{}</td>'
    '<td class="text-end" data-count="{}">{}</td><td class="text-end">{}</td></tr>'
)


def status_counts(by_status: list[tuple[str, str, int, str]]) -> SafeString:
    """The live part's messages per status (queries.Figures.by_status): status, how many and
    their share; polled every 5 s."""
    if not by_status:
        return mark_safe('<tr><td colspan="3" class="text-body-secondary">No messages.</td></tr>')
    return _rows(
        _STATUS_COUNT,
        ((value, value, label, n, f"{n:,}", share) for value, label, n, share in by_status),
    )
