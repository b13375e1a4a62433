"""Per-recipient results as CSV and XLSX: the rows the table shows, under the same filter, with
every cell that a spreadsheet would evaluate made inert."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from python_calamine import CalamineWorkbook

from campaigns import exports
from campaigns.models import Campaign, CampaignStatus, Message
from tests.campaigns.test_campaign_page import table_phones

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
        )
        for n in range(75)
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETED)
    return Campaign.objects.get(pk=campaign.pk)


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def xlsx_rows(response) -> list[list[str]]:
    data = b"".join(response.streaming_content)
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    return [[str(cell) for cell in row] for row in sheet.to_python()]


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
    assert rows[0] == exports.HEADER
    assert [row[1] for row in rows[1:]] == ["'" + p for p in table_rows(client, finished, query)]


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

    first = dict(zip(exports.HEADER, rows[1], strict=True))
    message = Message.objects.filter(campaign=finished).order_by("pk").first()
    assert first["row"] == str(message.row_number)
    assert first["status"] == "undelivered" and first["provider status"] == "UNDELIV"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", first["updated at"])


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_a_cell_a_spreadsheet_would_evaluate_is_prefixed_with_an_apostrophe(
    as_role, finished, extension
):
    response = as_role("viewer").get(reverse(f"campaign_export_{extension}", args=[finished.pk]))

    rows = csv_rows(response) if extension == "csv" else xlsx_rows(response)
    reasons = {row[exports.HEADER.index("error reason")] for row in rows[1:]} - {""}
    assert reasons == {"'" + formula for formula in FORMULAS}
    assert all(row[1].startswith("'+7701") for row in rows[1:])


def test_neutralise_leaves_ordinary_text_alone():
    assert exports.neutralise("Delivered to +7701") == "Delivered to +7701"
    assert exports.neutralise(None) == ""
    assert exports.neutralise(12) == "12"
    for start in "=+-@\t\r":
        assert exports.neutralise(f"{start}x") == f"'{start}x"


def test_the_csv_opens_as_utf8_in_excel(as_role, finished):
    response = as_role("viewer").get(reverse("campaign_export_csv", args=[finished.pk]))

    assert b"".join(response.streaming_content).startswith("\ufeff".encode())
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"-{finished.pk}-results.csv" in response["Content-Disposition"]
