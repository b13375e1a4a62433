"""The audit log reads the contact book's events: an opt-out, a bulk list change, a renamed
list, an edited contact and an import, each in words, with no phone number on the page."""

from __future__ import annotations

from playwright.sync_api import expect

from contacts import book, changes
from contacts.forms import ContactForm, ListForm
from contacts.models import Contact, ContactList
from tests.browser.conftest import snap
from workspaces.models import Membership, Role


def test_the_audit_log_shows_contact_book_events(logged_in, demo):
    page = logged_in
    membership = Membership.objects.filter(user__username="demo", role=Role.OWNER).first()
    workspace, demo_user = membership.workspace, membership.user
    contacts = list(Contact.objects.filter(workspace=workspace, opted_out_at__isnull=True)[:3])
    assert len(contacts) == 3
    book.opt_out(workspace, [contacts[0].phone], actor=demo_user, where="page")
    book.opt_out(workspace, [c.phone for c in contacts[1:]], actor=demo_user, where="API")
    listed = ContactList.objects.filter(workspace=workspace).first()
    name = listed.name
    changes.members_changed(listed, demo_user, 12_345, "contacts page", added=True)
    form = ListForm({"name": f"{name} (2024)"}, instance=listed, workspace=workspace)
    assert form.is_valid()
    changes.save(form, demo_user, "page")
    contact = Contact.objects.get(pk=contacts[0].pk)  # as the opt-out left it
    data = {"name": "Someone Else", "language": contact.language, "time_zone": contact.time_zone}
    data.update({f"f_{key}": value for key, value in contact.fields.items()})
    form = ContactForm(data, instance=contact, workspace=workspace)
    assert form.is_valid(), form.errors
    changes.save(form, demo_user, "page")
    book.opt_in(contact, actor=demo_user, where="stop list")

    page.goto(f"{demo.url}/audit/")
    table = page.get_by_test_id("audit-table")
    expect(table).to_contain_text("Numbers opted out")
    expect(table).to_contain_text("2 numbers")
    expect(table).to_contain_text(f"contact {contact.pk}")
    expect(table).to_contain_text("Contacts added to a list")
    expect(table).to_contain_text("12,345")
    expect(table).to_contain_text(f"{name} → {name} (2024)")
    expect(table).to_contain_text("Number opted back in")
    expect(table).to_contain_text("changed: name")
    expect(table).not_to_contain_text("changed: name,")  # its other fields were kept
    text = table.inner_text()
    assert all(c.phone not in text and c.phone[1:] not in text for c in contacts)
    assert "Someone Else" not in text
    snap(page, "audit_book_events")
