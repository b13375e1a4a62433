"""A user sends a campaign to a segment minus an exclusion list, in the browser: the contacts,
list and segment are in the database; the user chooses them in step 3, sees the live count and
the price, launches, and the sandbox sends to exactly the contacts the count promised."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from contacts.models import Contact, ContactField, ContactList, ListMember, Segment
from core.statuses import MessageStatus
from providers.models import ProviderAccount
from providers.sandbox.models import Charge, SandboxAccount
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_compose import eager  # noqa: F401 - fixture
from tests.browser.test_sending import pump, small_batches  # noqa: F401 - fixture
from tests.sendkit import SENDER, ledger
from workspaces.models import Workspace

SHOTS = Path(os.environ.get("CRIER_SHOTS", SCREENSHOTS))


@pytest.fixture
def book():
    """30 Kazakh contacts in Aktau (the demo's own live elsewhere); 8 of them in "Aktau
    office", 2 others opted out."""
    workspace = Workspace.objects.get(name="Demo workspace")
    ContactField.objects.get_or_create(workspace=workspace, key="city", defaults={"label": "City"})
    people = [
        Contact.objects.create(
            workspace=workspace,
            phone=f"+7701333{n:04d}",
            country="KZ",
            name=f"Person {n}",
            fields={"city": "Aktau"},
        )
        for n in range(30)
    ]
    staff = ContactList.objects.create(workspace=workspace, name="Aktau office")
    ListMember.objects.bulk_create(ListMember(contact_list=staff, contact=p) for p in people[:8])
    Contact.objects.filter(pk__in=[people[8].pk, people[9].pk]).update(opted_out_at=timezone.now())
    Segment.objects.create(
        workspace=workspace,
        name="Aktau customers",
        conditions={"rules": [{"field": "field:city", "op": "is", "value": "Aktau"}]},
    )
    return workspace, people


def fieldset(page, legend: str):
    return page.locator(f"#audience fieldset:has(legend:text-is('{legend}'))")


def reached(page, n: int) -> None:
    page.wait_for_selector(f"[data-testid=audience-reached]:text-is('{n}')")


def test_send_to_a_segment_minus_an_exclusion_list(logged_in, demo, eager, small_batches, book):  # noqa: F811
    page = logged_in
    SHOTS.mkdir(parents=True, exist_ok=True)
    workspace, people = book
    account = ProviderAccount.objects.get(workspace=workspace, provider="bsg")
    remote = SandboxAccount.objects.get(provider="bsg", name=account.name)
    campaign = Campaign.objects.create(
        workspace=workspace,
        account=account,
        name="Almaty news",
        sender=SENDER,
        text="Hi {name}, news from {city}!",
    )

    # Step 3: the segment, minus the office list; the count follows each choice.
    page.goto(f"{demo.url}/campaigns/{campaign.pk}/")
    page.wait_for_selector("[data-testid=audience-form]")
    fieldset(page, "Segments").get_by_label("Aktau customers", exact=True).check()
    reached(page, 28)
    assert "2 left out: opted out" in page.locator("[data-testid=audience-left-out]").inner_text()
    fieldset(page, "Leave out the members of").get_by_label("Aktau office", exact=True).check()
    reached(page, 20)
    left_out = page.locator("[data-testid=audience-left-out]").inner_text()
    assert "8 left out: in an exclusion list" in left_out

    # Step 5: the preview renders a contact's own values and prices the live audience.
    page.wait_for_selector("[data-testid=samples]:has-text('Hi Person 10, news from Aktau!')")
    assert "Person 0," not in page.locator("[data-testid=samples]").inner_text()
    page.wait_for_selector("[data-testid=total]:has-text('0.70 EUR')")  # 20 x 0.035
    page.locator("#audience").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "audience-compose-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#audience").screenshot(path=SHOTS / "audience-card-390.png")
    page.screenshot(path=SHOTS / "audience-compose-390.png", full_page=True)

    # Launch: the confirmation shows the same count and price.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("[data-testid=launch-link]")
    page.wait_for_selector("[data-testid=launch]")
    assert page.locator("[data-testid=launch-recipients]").inner_text().startswith("20")
    assert "0.70 EUR" in page.locator("[data-testid=launch-price]").inner_text()
    said = page.locator("[data-testid=launch-audience]").inner_text()
    assert "20 from your contacts: Aktau customers, minus the members of Aktau office." in said
    page.screenshot(path=SHOTS / "audience-launch-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=SHOTS / "audience-launch-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("[data-testid=launch-confirm]")
    page.wait_for_url(re.compile(rf".*/campaigns/{campaign.pk}/$"))

    # The recipients were fixed at launch: a contact added to the segment now is not sent to.
    Contact.objects.create(
        workspace=workspace, phone="+77013339999", country="KZ", fields={"city": "Aktau"}
    )
    for _ in range(6):
        pump(campaign)
    page.wait_for_selector("[data-testid=handed-over]:has-text('20 of 20')")
    page.screenshot(path=SHOTS / "audience-sent-1280.png", full_page=True)

    assert ledger(remote) == {"charges": 20, "phones_charged_twice": 0}
    billed = set(Charge.objects.filter(account=remote).values_list("phone", flat=True))
    assert billed == {p.phone.lstrip("+") for p in people[10:]}  # BSG bills digits
    assert campaign.messages.filter(status=MessageStatus.PENDING).count() == 0
