"""A contact who received messages in two campaigns: their page shows both, with statuses and
prices; an admin erases them after the confirm step, and the campaigns' recipient tables then
show the one-way stand-in instead of the number. Screenshots at desktop and phone width."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from campaigns import contact_history
from campaigns.models import Message
from contacts.models import Contact, ContactField, ContactList, ListMember
from core.statuses import CampaignStatus, MessageStatus
from providers.models import ProviderAccount
from tests.browser.conftest import snap
from tests.sendkit import campaign_for
from workspaces.models import Workspace

SHOTS = Path(os.environ.get("CRIER_SHOTS", Path(__file__).parent / "screenshots"))
PHONE = "+77010000003"  # among each campaign's recipients (tests.sendkit.campaign_for)


@pytest.fixture
def contact(demo):
    workspace = Workspace.objects.get(name="Demo workspace")
    account = ProviderAccount.objects.get(workspace=workspace, provider="bsg")
    spring = campaign_for(workspace, account, 6, name="Spring sale", text="Hi {name}",
                          status=CampaignStatus.COMPLETED)  # fmt: skip
    autumn = campaign_for(workspace, account, 6, name="Autumn news",
                          status=CampaignStatus.COMPLETED)  # fmt: skip
    Message.objects.filter(campaign=spring).update(
        status=MessageStatus.DELIVERED, fields={"name": "Dana"}
    )
    Message.objects.filter(campaign=autumn).update(status=MessageStatus.DELIVERED)
    Message.objects.filter(campaign=autumn, phone=PHONE).update(
        status=MessageStatus.UNDELIVERED, error_reason="Absent subscriber"
    )
    ContactField.objects.get_or_create(workspace=workspace, key="city", defaults={"label": "City"})
    person = Contact.objects.create(
        workspace=workspace, phone=PHONE, name="Dana", country="KZ", fields={"city": "Almaty"}
    )
    customers, _ = ContactList.objects.get_or_create(workspace=workspace, name="Customers")
    ListMember.objects.create(contact_list=customers, contact=person)
    return person, spring, autumn


def test_a_contacts_history_and_their_erasure(logged_in, demo, contact):
    person, spring, autumn = contact
    page = logged_in
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{demo.url}/contacts/{person.pk}/")

    rows = page.locator("[data-testid=history-table] tbody tr")
    assert rows.count() == 2
    newest = rows.nth(0).inner_text()
    assert "Autumn news" in newest and "Absent subscriber" in newest
    assert "Spring sale" in rows.nth(1).inner_text()
    assert "Almaty" in page.locator("[data-testid=details]").inner_text()
    page.screenshot(path=SHOTS / "contact-page-desktop.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.screenshot(path=SHOTS / "contact-page-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click("[data-testid=erase]")
    confirm = page.locator("[data-testid=erase-confirm]")
    assert "2 past messages" in confirm.inner_text()
    page.screenshot(path=SHOTS / "contact-erase-confirm-desktop.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=SHOTS / "contact-erase-confirm-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("[data-testid=erase-confirm-button]")
    page.wait_for_selector(".alert-success")
    stand_in = contact_history.erased_phone(PHONE)
    assert stand_in in page.locator(".alert-success").inner_text()

    page.goto(f"{demo.url}/campaigns/{spring.pk}/")
    table = page.locator("[data-testid=recipients-table]")
    assert stand_in in table.inner_text() and PHONE not in table.inner_text()
    page.screenshot(path=SHOTS / "contact-erased-campaign-desktop.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{demo.url}/campaigns/{autumn.pk}/")
    assert stand_in in page.locator("[data-testid=recipients-table]").inner_text()
    page.screenshot(path=SHOTS / "contact-erased-campaign-390.png", full_page=True)
    assert not Contact.objects.filter(pk=person.pk).exists()


def test_erasing_an_opted_out_contact_keeps_the_number_on_the_stop_list(logged_in, demo, contact):
    person, _, _ = contact
    Contact.objects.filter(pk=person.pk).update(opted_out_at=person.created_at)
    page = logged_in
    page.goto(f"{demo.url}/contacts/{person.pk}/erase/")

    kept = page.locator("[data-testid=stop-list-kept]")
    assert "never sent to again" in kept.inner_text()
    snap(page, "contact-erase-opted-out")
    page.click("[data-testid=erase-confirm-button]")
    page.wait_for_selector(".alert-success")
    assert "stays on the stop list" in page.locator(".alert-success").inner_text()

    page.goto(f"{demo.url}/stop-list/")
    assert PHONE in page.locator("main").inner_text()
    kept = Contact.objects.get(pk=person.pk)
    assert (kept.name, kept.fields, kept.opted_out) == ("", {}, True)
