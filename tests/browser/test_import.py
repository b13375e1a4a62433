"""A user uploads a file, maps its columns, reads the report and downloads the rejected rows."""

from __future__ import annotations

import csv
import re

import pytest

from campaigns.models import Campaign
from crier.celery import app
from tests.browser.conftest import shot

# The phone is in the second column under a header auto-detection cannot know ("contact").
FILE = (
    "name;contact;city\n"
    "Ann;+7 701 123 45 67;Almaty\n"
    "Boris;8 701 765 43 21;Astana\n"
    "Carl;not a phone;Shymkent\n"
    "Dana;+7 701 123 45 67;Almaty\n"
    "Eve;=1+2;X\n"
)


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_upload_map_import_and_download_the_rejected_rows(logged_in, demo, eager, tmp_path):
    page = logged_in
    source = tmp_path / "customers.csv"
    source.write_text(FILE, encoding="utf-8")

    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").first.click()
    page.fill("#id_name", "Browser import")
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))

    page.set_input_files("#id_upload_file", str(source))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r".*/imports/\d+/$"))
    preview = page.locator("[data-testid=preview-table]")
    assert "Ann" in preview.inner_text()

    # "contact" is not a known phone header, but its values are numbers: it is found anyway.
    # Map it explicitly as a user would, and watch the preview highlight follow.
    page.select_option("#id_phone_column", "0")
    page.wait_for_selector("th.table-primary:has-text('name')")
    page.select_option("#id_phone_column", "1")
    page.wait_for_selector("th.table-primary:has-text('contact')")
    shot(page, "import_mapping")
    page.get_by_role("button", name="Import").click()

    summary = page.locator("[data-testid=import-summary]")
    summary.wait_for(timeout=20_000)
    assert page.locator("[data-testid=accepted]").inner_text() == "2"
    assert page.locator("[data-testid=rejected]").inner_text() == "3"
    assert "Duplicate in the file" in page.content()
    shot(page, "import_report")

    with page.expect_download() as download_info:
        page.click("[data-testid=download-rejections]")
    path = download_info.value.path()
    with open(path, encoding="utf-8-sig") as report:
        rows = list(csv.reader(report))
    assert [r[0] for r in rows[1:]] == ["4", "5", "6"]
    assert rows[3][1] == "'=1+2"  # a formula is defused, not run
    assert Campaign.objects.get(name="Browser import").messages.count() == 2
