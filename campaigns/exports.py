"""Per-recipient results of a campaign as CSV (streamed) or XLSX (written with xlsxwriter's
constant-memory mode to a temporary file), with the same filter as the campaign page's table.

Every text cell that a spreadsheet would read as a formula (a leading = + - @, tab or carriage
return) is prefixed with an apostrophe, so opening an export never runs a recipient's "number".
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator

import xlsxwriter
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.pages import RecipientFilter

HEADER = [
    "row",
    "phone",
    "country",
    "status",
    "provider status",
    "error code",
    "error reason",
    "provider message id",
    "updated at",
]
COLUMNS = [
    "row_number",
    "phone",
    "country",
    "status",
    "raw_status",
    "error_code",
    "error_reason",
    "provider_message_id",
    "updated_at",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 5_000


def neutralise(value) -> str:
    """The cell's text, with an apostrophe before anything a spreadsheet would evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def rows(campaign: Campaign, filter: RecipientFilter) -> Iterator[list[str]]:
    """The header, then one row per recipient in the table's order, every cell neutralised."""
    yield HEADER
    local = timezone.localtime
    for values in filter.apply(campaign).values_list(*COLUMNS).iterator(chunk_size=CHUNK):
        *cells, updated = values
        yield [neutralise(cell) for cell in cells] + [f"{local(updated):%Y-%m-%d %H:%M:%S}"]


def filename(campaign: Campaign, extension: str) -> str:
    stem = "".join(c if c.isalnum() else "-" for c in campaign.name[:40]).strip("-")
    return f"{stem or 'campaign'}-{campaign.pk}-results.{extension}"


class _Line:
    """A file-like object that hands back what csv.writer writes to it."""

    def write(self, value: str) -> str:
        return value


def csv_response(campaign: Campaign, filter: RecipientFilter) -> StreamingHttpResponse:
    writer = csv.writer(_Line())
    lines = (writer.writerow(row) for row in rows(campaign, filter))
    response = StreamingHttpResponse(_with_bom(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename(campaign, "csv")}"'
    return response


def _with_bom(lines: Iterator[str]) -> Iterator[str]:
    yield "\ufeff"  # Excel reads the file as UTF-8 only with it
    yield from lines


def xlsx_response(campaign: Campaign, filter: RecipientFilter) -> FileResponse:
    """Written to a temporary file first: XLSX is a zip whose directory comes last."""
    target = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115 — closed by FileResponse
    workbook = xlsxwriter.Workbook(
        target.name, {"constant_memory": True, "strings_to_formulas": False}
    )
    sheet = workbook.add_worksheet("Results")
    sheet.freeze_panes(1, 0)
    bold = workbook.add_format({"bold": True})
    for r, row in enumerate(rows(campaign, filter)):
        for c, cell in enumerate(row):
            sheet.write_string(r, c, cell, bold if r == 0 else None)
    workbook.close()
    target.seek(0)
    return FileResponse(target, as_attachment=True, filename=filename(campaign, "xlsx"))
