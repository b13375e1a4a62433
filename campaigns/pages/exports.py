"""Per-recipient results of a campaign as CSV (streamed) or XLSX (written with xlsxwriter's
constant-memory mode to a temporary file), with the same filter as the campaign page's table.

Every text cell that a spreadsheet would read as a formula (a leading = + - @, tab or carriage
return) is prefixed with an apostrophe, so opening an export never runs a recipient's "number";
a phone number in E.164 is left as it is (rejections.defuse). The row number is a number, the
time ISO 8601 with the workspace's offset, and a personalised campaign adds each recipient's
own text. An export imports again as the same recipients.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from numbers import Number

import xlsxwriter
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from campaigns.compose import templating
from campaigns.models import Campaign
from campaigns.pages.queries import RecipientFilter
from core.rejections import BOM, defuse

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
    "fields",
]
CHUNK = 5_000


def neutralise(value) -> str:
    """The cell's text, with an apostrophe before anything a spreadsheet would evaluate."""
    return defuse("" if value is None else str(value))


def personalised(campaign: Campaign) -> bool:
    return campaign.channel == "sms" and templating.has_placeholders(campaign.text)


def header(campaign: Campaign) -> list[str]:
    return [*HEADER, "text"] if personalised(campaign) else HEADER


def rows(campaign: Campaign, filter: RecipientFilter) -> Iterator[list]:
    """The header, then one row per recipient in the table's order: the row number an int (or
    ""), every other cell neutralised text."""
    yield header(campaign)
    template = templating.Template(campaign.text, campaign.placeholder_policy)
    with_text = personalised(campaign)
    local = timezone.localtime
    for values in filter.apply(campaign).values_list(*COLUMNS).iterator(chunk_size=CHUNK):
        row_number, *cells, updated, fields = values
        row = [row_number if row_number is not None else ""]
        row += [neutralise(cell) for cell in cells]
        row.append(local(updated).isoformat(timespec="seconds"))
        if with_text:
            row.append(neutralise(template.render(fields or {})))
        yield row


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
    # RFC 6266's filename* for a name in Cyrillic, say, as FileResponse does for the XLSX.
    response["Content-Disposition"] = content_disposition_header(True, filename(campaign, "csv"))
    return response


def _with_bom(lines: Iterator[str]) -> Iterator[str]:
    yield BOM  # Excel reads the file as UTF-8 only with it
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
            if isinstance(cell, Number):
                sheet.write_number(r, c, cell)
            else:
                sheet.write_string(r, c, cell, bold if r == 0 else None)
    workbook.close()
    target.seek(0)
    return FileResponse(target, as_attachment=True, filename=filename(campaign, "xlsx"))
