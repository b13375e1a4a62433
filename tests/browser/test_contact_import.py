"""Building a list from a file: upload a CSV with a column for a new field, map it, import it
into a new list, and find the list's members and the field's values."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from contacts.models import Contact, ContactField
from crier.celery import app

SHOTS = Path("/tmp/shots-c17-import")
FILE = (
    "Phone,Name,Shoe size,Tier\n"
    "+7 701 123 45 67,Ann,38,=1+2\n"
    "8 701 765 43 21,Boris,44,gold\n"
    "not a phone,Carl,40,\n"
    "+77011234567,Anna,39,silver\n"
)


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def remapped(page, act) -> None:
    """Does ``act`` and waits until HTMX has swapped the mapping in and settled: the new
    table's change trigger is bound as the swap settles, and a change made before that would
    go unheard."""
    with page.expect_response(lambda r: r.request.method == "POST"):
        act()
    expect(page.locator(".htmx-added, .htmx-settling, .htmx-swapping")).to_have_count(0)


def shots(page, name: str) -> None:
    """The page at 1280 and at 390 px wide."""
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_build_a_list_from_a_file_with_a_new_field(logged_in, demo, eager, tmp_path):
    page = logged_in
    source = tmp_path / "fair.csv"
    source.write_text(FILE, encoding="utf-8")

    page.goto(f"{demo.url}/contacts/import/")
    shots(page, "contact_import_new")
    page.set_input_files("#id_file", str(source))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r".*/contacts/import/\d+/$"))
    mapping = page.locator("[data-testid=column-mapping]")
    assert "Ann" in mapping.inner_text()

    # "Shoe size" becomes a new field; make it a number, named by the user.
    assert page.locator("#id_map_2").input_value() == "new"
    page.fill("#id_label_2", "Shoe size (EU)")
    page.select_option("#id_kind_2", "number")
    # Tier is not wanted, then wanted again: the new-field inputs follow the choice.
    remapped(page, lambda: page.select_option("#id_map_3", "ignore"))
    page.wait_for_selector("[data-testid=new-field-3]", state="detached")
    remapped(page, lambda: page.select_option("#id_map_3", "new"))
    page.wait_for_selector("[data-testid=new-field-3]")
    assert page.locator("#id_label_2").input_value() == "Shoe size (EU)"
    page.check("#id_list_action_1")  # add them to a list
    page.fill("#id_new_list_name", "Spring fair")
    shots(page, "contact_import_mapping")
    page.get_by_role("button", name="Import").click()

    summary = page.locator("[data-testid=contact-import-summary]")
    summary.wait_for(timeout=30_000)
    assert page.locator("[data-testid=created]").inner_text() == "2"
    assert page.locator("[data-testid=rejected]").inner_text() == "2"
    assert "Spring fair" in page.locator("[data-testid=import-list]").inner_text()
    assert "2 members" in page.locator("[data-testid=import-list]").inner_text()
    assert "Replaced by a later row" in page.content()
    shots(page, "contact_import_result")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export the list").click()
    with open(download_info.value.path(), encoding="utf-8-sig") as export:
        rows = list(csv.reader(export))
    assert rows[0][:2] == ["phone", "name"] and "Shoe size (EU)" in rows[0]
    by_phone = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_phone["+77011234567"]["name"] == "Anna"  # the later row won
    assert by_phone["+77011234567"]["Shoe size (EU)"] == "39"
    assert by_phone["+77017654321"]["Tier"] == "gold"
    anna = Contact.objects.get(phone="+77011234567", workspace__name__isnull=False, name="Anna")
    assert anna.fields["shoe_size_eu"] == 39
    assert ContactField.objects.get(key="shoe_size_eu").kind == "number"
