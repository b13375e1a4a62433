"""A file that is one enormous line is refused at once, with a reason the user can act on."""

from __future__ import annotations

import re

from tests.browser.conftest import shot


def test_a_single_line_csv_is_refused_with_its_reason(logged_in, demo, tmp_path):
    page = logged_in
    source = tmp_path / "numbers.csv"
    source.write_bytes(b"+77011234567;" * 200_000)  # 2.6 MB, no line break anywhere

    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").first.click()
    page.fill("#id_name", "One-line file")
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))

    page.set_input_files("#id_upload_file", str(source))
    page.get_by_role("button", name="Continue").click()
    reason = page.get_by_text("Row 1 is longer than 1 MB: is this really a list of phone numbers?")
    reason.wait_for()
    assert re.search(r"/campaigns/\d+/$", page.url)  # still on the campaign, nothing imported
    shot(page, "upload_single_line_refused")
    page.set_viewport_size({"width": 390, "height": 844})
    reason.scroll_into_view_if_needed()
    shot(page, "upload_single_line_refused_390")
