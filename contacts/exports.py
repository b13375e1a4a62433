"""A list's or a segment's contacts as CSV (streamed) or XLSX (xlsxwriter's constant-memory
mode, into a temporary file): phone, name, country, language, time zone, opted out, then
each of the workspace's custom fields.

Every text cell a spreadsheet would read as a formula (a leading = + - @, tab or carriage
return) gets an apostrophe first (rejections.defuse), so opening an export never runs a
contact's "name"; an E.164 number stays as it is. Numbers stay numbers in XLSX. An export
imports again as the same contacts (the opted-out column says yes or no).
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from numbers import Number

import xlsxwriter
from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from contacts.models import ContactField
from core.rejections import BOM, defuse

HEADER = ["phone", "name", "country", "language", "time zone", "opted out"]
COLUMNS = ["phone", "name", "country", "language", "time_zone", "opted_out_at", "fields"]
CHUNK = 5_000


def rows(workspace, contacts: QuerySet) -> Iterator[list]:
    """The header, then one row per contact by number: text defused, numbers as numbers."""
    fields = list(ContactField.objects.filter(workspace=workspace).order_by("label", "key"))
    yield [*HEADER, *(defuse(f.label) for f in fields)]
    keys = [f.key for f in fields]
    for *cells, opted_out_at, values in (
        contacts.order_by("phone").values_list(*COLUMNS).iterator(chunk_size=CHUNK)
    ):
        row = [defuse(cell) for cell in cells]
        row.append("yes" if opted_out_at else "no")
        values = values or {}
        for key in keys:
            value = values.get(key, "")
            row.append(value if isinstance(value, Number) else defuse(str(value)))
        yield row


def filename(name: str, extension: str) -> str:
    stem = "".join(c if c.isalnum() else "-" for c in name[:40]).strip("-")
    return f"{stem or 'contacts'}.{extension}"


class _Line:
    def write(self, value: str) -> str:
        return value


def csv_response(workspace, contacts: QuerySet, name: str) -> StreamingHttpResponse:
    writer = csv.writer(_Line())
    lines = (writer.writerow(row) for row in rows(workspace, contacts))
    response = StreamingHttpResponse(_with_bom(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename(name, "csv"))
    return response


def _with_bom(lines: Iterator[str]) -> Iterator[str]:
    yield BOM  # Excel reads the file as UTF-8 only with it
    yield from lines


def xlsx_response(workspace, contacts: QuerySet, name: str) -> FileResponse:
    """Written to a temporary file first: XLSX is a zip whose directory comes last."""
    target = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115 — closed by FileResponse
    workbook = xlsxwriter.Workbook(
        target.name, {"constant_memory": True, "strings_to_formulas": False}
    )
    sheet = workbook.add_worksheet("Contacts")
    sheet.freeze_panes(1, 0)
    bold = workbook.add_format({"bold": True})
    for r, row in enumerate(rows(workspace, contacts)):
        for c, cell in enumerate(row):
            if isinstance(cell, Number):
                sheet.write_number(r, c, cell)
            else:
                sheet.write_string(r, c, cell, bold if r == 0 else None)
    workbook.close()
    target.seek(0)
    return FileResponse(target, as_attachment=True, filename=filename(name, "xlsx"))
