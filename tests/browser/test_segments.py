"""A sender builds a segment from conditions in the browser: two rules, the live count
following each, save, then its members on the contacts page. And every contact-book page,
at a desktop's and a phone's width, fits the screen."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from contacts.models import Contact, ContactField, ContactList, ListMember, Segment
from tests.browser.conftest import shot
from workspaces.models import Workspace

SHOTS = Path(os.environ.get("CRIER_SHOTS", "/tmp/shots-c17-book"))


@pytest.fixture
def book(demo):
    """The demo workspace's book: 30 contacts in Almaty or Astana, the first 10 in "VIP"."""
    workspace = Workspace.objects.get(memberships__user__username="demo")
    # The demo's own book is set aside: the counts below are of this one.
    for built in (workspace.segments, workspace.contact_lists, workspace.contact_fields):
        built.all().delete()
    workspace.contacts.filter(opted_out_at__isnull=True).delete()
    ContactField.objects.create(workspace=workspace, key="city", label="City")
    vip = ContactList.objects.create(workspace=workspace, name="VIP")
    contacts = Contact.objects.bulk_create(
        Contact(
            workspace=workspace,
            phone=f"+7701555{n:04d}",
            country="KZ",
            name=f"Person {n}",
            fields={"city": "Almaty" if n % 2 else "Astana"},
        )
        for n in range(30)
    )
    ListMember.objects.bulk_create(ListMember(contact_list=vip, contact=c) for c in contacts[:10])
    return workspace, vip


def redrawn(page, act) -> None:
    """Does ``act`` and waits until HTMX has swapped the editor in and bound its new rows'
    triggers: that happens as the swap settles (20 ms on), and a change made before it would
    go unheard."""
    with page.expect_response(lambda r: r.request.method == "POST"):
        act()
    expect(page.locator(".htmx-added, .htmx-settling")).to_have_count(0)


def add_rule(page) -> None:
    redrawn(page, page.get_by_test_id("add-rule").click)


def test_build_a_segment_from_two_rules_and_open_its_members(logged_in, demo, book):
    page = logged_in
    page.get_by_role("link", name="Contacts", exact=True).first.click()
    page.locator("[data-testid=contacts-nav]").get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="New segment").click()
    page.fill("#id_name", "Almaty VIPs")

    add_rule(page)
    redrawn(page, lambda: page.get_by_label("Rule 1: field").select_option("field:city"))
    page.get_by_label("Rule 1: value").fill("Almaty")
    expect(page.get_by_test_id("count-value")).to_have_text("15")

    add_rule(page)
    redrawn(page, lambda: page.get_by_label("Rule 2: field").select_option("list"))
    page.get_by_label("Rule 2: value").select_option(label="VIP")
    expect(page.get_by_test_id("count-value")).to_have_text("5")
    assert page.get_by_label("Rule 1: value").input_value() == "Almaty"  # the rows survived
    shot(page, "segment_editor")

    page.get_by_test_id("save").click()
    page.wait_for_url(re.compile(r".*/contacts/segments/\d+/edit/$"))
    assert "Saved the segment Almaty VIPs." in page.inner_text("#messages")
    saved = Segment.objects.get(name="Almaty VIPs")
    assert [r["field"] for r in saved.conditions["rules"]] == ["field:city", "list"]

    page.get_by_test_id("members-link").click()
    page.wait_for_url(re.compile(rf".*/contacts/\?segment={saved.pk}$"))
    rows = page.locator("[data-testid=contact-row]")
    expected = Segment.objects.get(pk=saved.pk)
    assert rows.count() == 5
    # The odd-numbered people (Almaty) among the first ten (VIP).
    assert sorted(t.split()[0] for t in rows.all_inner_texts()) == [
        f"+7701555{n:04d}" for n in (1, 3, 5, 7, 9)
    ]
    assert expected.name == "Almaty VIPs"
    assert "1–5 of 5" in page.inner_text("[data-testid=count]")  # noqa: RUF001


def test_every_contact_book_page_fits_a_phone_and_a_desktop(logged_in, demo, book):
    page = logged_in
    workspace, vip = book
    segment = Segment.objects.create(
        workspace=workspace,
        name="Astana",
        conditions={"rules": [{"field": "field:city", "op": "is", "value": "Astana"}]},
    )
    contact = Contact.objects.filter(workspace=workspace, name="Person 1").get()
    pages = {
        "contacts": "/contacts/",
        "contacts_filtered": f"/contacts/?list={vip.pk}&q=Person",
        "contact_new": "/contacts/new/",
        "contact_edit": f"/contacts/{contact.pk}/edit/",
        "lists": "/contacts/lists/",
        "list_rename": f"/contacts/lists/{vip.pk}/rename/",
        "fields": "/contacts/fields/",
        "field_new": "/contacts/fields/new/",
        "segments": "/contacts/segments/",
        "segment_edit": f"/contacts/segments/{segment.pk}/edit/",
    }
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            response = page.goto(demo.url + path)
            assert response.status == 200, path
            page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow} px too wide at {width} px"
