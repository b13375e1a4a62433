"""Per-recipient results as CSV and XLSX: the rows the table shows, under the same filter, with
every cell that a spreadsheet would evaluate made inert."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import quote

import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from python_calamine import CalamineWorkbook

from campaigns.models import Campaign, Message
from campaigns.pages import exports
from campaigns.recipients import imports
from core.statuses import CampaignStatus
from tests.campaigns.test_campaign_page import table_phones
from tests.campaigns.test_imports import run, upload

FORMULAS = ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture
def finished(acme):
    campaign = acme.campaign
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            phone=f"+7701{n:07d}",
            country="KZ",
            row_number=n + 2,
            status="delivered" if n % 3 else "undelivered",
            raw_status="DELIVRD" if n % 3 else "UNDELIV",
            error_reason="" if n % 3 else FORMULAS[n // 3 % len(FORMULAS)],
            fields={"name": f"Дана {n}"},
        )
        for n in range(75)
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETED)
    return Campaign.objects.get(pk=campaign.pk)


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def xlsx_cells(response) -> list[list]:
    data = b"".join(response.streaming_content)
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


def xlsx_rows(response) -> list[list[str]]:
    """The cells as text, a whole number without the ".0" calamine gives every number."""
    return [
        [str(int(c)) if isinstance(c, float) and c.is_integer() else str(c) for c in row]
        for row in xlsx_cells(response)
    ]


def table_rows(client, campaign, query: str = "") -> list[str]:
    """Every phone the table shows under ``query``, page after page."""
    phones, page = [], 1
    while True:
        url = reverse("campaign_detail", args=[campaign.pk]) + f"?page={page}&{query}"
        html = client.get(url).text
        phones += table_phones(html)
        if 'data-testid="next-page"' not in html:
            return phones
        page += 1


@pytest.mark.parametrize("query", ["", "status=undelivered", "q=770100000"])
def test_the_csv_holds_the_rows_of_the_table_under_the_same_filter(as_role, finished, query):
    client = as_role("viewer")

    response = client.get(reverse("campaign_export_csv", args=[finished.pk]) + f"?{query}")

    assert isinstance(response, StreamingHttpResponse)
    rows = csv_rows(response)
    assert rows[0] == [*exports.HEADER, "text"]
    assert [row[1] for row in rows[1:]] == table_rows(client, finished, query)


def test_the_xlsx_holds_the_same_rows_as_the_csv(as_role, finished):
    client = as_role("viewer")
    url = "?status=undelivered"

    xlsx = client.get(reverse("campaign_export_xlsx", args=[finished.pk]) + url)
    plain = client.get(reverse("campaign_export_csv", args=[finished.pk]) + url)

    assert isinstance(xlsx, FileResponse)
    assert xlsx["Content-Disposition"].startswith("attachment;")
    assert xlsx_rows(xlsx) == csv_rows(plain)


def test_the_rows_carry_each_message_s_results(as_role, finished):
    rows = csv_rows(as_role("viewer").get(reverse("campaign_export_csv", args=[finished.pk])))

    first = dict(zip(exports.header(finished), rows[1], strict=True))
    message = Message.objects.filter(campaign=finished).order_by("pk").first()
    assert first["row"] == str(message.row_number)
    assert first["status"] == "undelivered" and first["provider status"] == "UNDELIV"
    assert first["text"] == "Hi Дана 0"  # the campaign is personalised: "Hi {name}"
    # ISO 8601 with the workspace's offset, so a spreadsheet or a script reads the moment exactly.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", first["updated at"])


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_a_cell_a_spreadsheet_would_evaluate_is_prefixed_with_an_apostrophe(
    as_role, finished, extension
):
    response = as_role("viewer").get(reverse(f"campaign_export_{extension}", args=[finished.pk]))

    rows = csv_rows(response) if extension == "csv" else xlsx_rows(response)
    reasons = {row[exports.HEADER.index("error reason")] for row in rows[1:]} - {""}
    assert reasons == {"'" + formula for formula in FORMULAS}


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_a_phone_number_in_e164_is_kept_intact(as_role, finished, extension):
    """A number like +77010000001 is a number, not a formula: no apostrophe in either file."""
    response = as_role("viewer").get(reverse(f"campaign_export_{extension}", args=[finished.pk]))

    rows = csv_rows(response) if extension == "csv" else xlsx_rows(response)
    assert [row[1] for row in rows[1:4]] == ["+77010000000", "+77010000001", "+77010000002"]


def test_the_xlsx_row_numbers_are_numbers_and_the_phones_text(as_role, finished):
    response = as_role("viewer").get(reverse("campaign_export_xlsx", args=[finished.pk]))

    first = xlsx_cells(response)[1]
    assert first[0] == 2 and isinstance(first[0], float)
    assert first[1] == "+77010000000"


def test_neutralise_leaves_ordinary_text_and_phone_numbers_alone():
    assert exports.neutralise("Delivered to +7701") == "Delivered to +7701"
    assert exports.neutralise(None) == ""
    assert exports.neutralise(12) == "12"
    assert exports.neutralise("+79829471240") == "+79829471240"
    for start in "=+-@\t\r":
        assert exports.neutralise(f"{start}x") == f"'{start}x"
    # Not E.164: a sum, a number with spaces, a plus and too many digits.
    for formula in ("+1+2", "+7 982 947 12 40", "+1234567890123456", "+0123456789"):
        assert exports.neutralise(formula) == "'" + formula


def test_a_campaign_without_placeholders_has_no_text_column(as_role, finished):
    Campaign.objects.filter(pk=finished.pk).update(text="Spring sale today")

    rows = csv_rows(as_role("viewer").get(reverse("campaign_export_csv", args=[finished.pk])))

    assert rows[0] == exports.HEADER and len(rows[1]) == len(exports.HEADER)


def test_the_csv_opens_as_utf8_in_excel(as_role, finished):
    response = as_role("viewer").get(reverse("campaign_export_csv", args=[finished.pk]))

    assert b"".join(response.streaming_content).startswith("\ufeff".encode())
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"-{finished.pk}-results.csv" in response["Content-Disposition"]


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_an_export_imports_again_with_the_same_counts(acme, as_role, finished, extension):
    """Export the recipients, import the file into a new draft through the import pipeline:
    every exported recipient comes back, none rejected, with the same numbers."""
    response = as_role("viewer").get(reverse(f"campaign_export_{extension}", args=[finished.pk]))
    content = b"".join(response.streaming_content)
    draft = Campaign.objects.create(workspace=acme.workspace, name="Again", account=acme.account)

    imp = run(upload(draft, content, f"results.{extension}"))

    assert imp.columns[:2] == ["row", "phone"] and imp.phone_column == 1
    assert (imp.accepted, imp.rejected) == (75, 0)
    exported = set(finished.messages.values_list("phone", flat=True))
    assert set(draft.messages.values_list("phone", flat=True)) == exported
    assert imports.placeholders(imp)["status"] == 3


def test_a_cyrillic_campaign_name_survives_in_the_file_name(as_role, finished):
    Campaign.objects.filter(pk=finished.pk).update(name="Весна")

    response = as_role("viewer").get(reverse("campaign_export_csv", args=[finished.pk]))

    name = f"Весна-{finished.pk}-results.csv"
    assert response["Content-Disposition"] == (f"attachment; filename*=utf-8''{quote(name)}")
