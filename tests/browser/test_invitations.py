"""An invitation from the Members page to a new person's first page in the workspace (#15):
the e-mail is read from Django's outbox in this process, its link opened signed out, an
account made with a password the validators refuse first."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from tests.browser.conftest import shot
from workspaces.models import Membership, Role


@pytest.fixture
def invitation_link(logged_in, demo, settings):
    """The demo owner invites nina@example.com as a viewer; returns the e-mailed link."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    page = logged_in
    page.goto(f"{demo.url}/members/")
    page.fill("#id_email", "nina@example.com")
    page.select_option("#id_role", Role.VIEWER)
    page.click("button:has-text('Send invitation')")
    page.wait_for_selector("text=Invitation sent to nina@example.com.")
    row = page.locator("[data-testid=invitations-table] tr", has_text="nina@example.com")
    assert "Viewer" in row.inner_text()
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"members-invitations-{width}")
    (message,) = mail.outbox
    return re.search(r"http://\S+/invitations/[\w-]+/", message.body).group(0)


def test_the_invited_person_signs_up_from_the_link_and_lands_in_the_workspace(
    browser, invitation_link, demo
):
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    page.goto(invitation_link)
    assert "Join Demo workspace" in page.inner_text("h1")
    shot(page, "invitation-signed-out-390")
    page.click("text=Create an account and join")
    assert page.input_value("#id_email") == "nina@example.com"
    page.fill("#id_username", "nina")
    page.fill("#id_password1", "12345678")
    page.fill("#id_password2", "12345678")
    page.click("button:has-text('Create account and join')")
    page.wait_for_selector("text=This password is too common.")
    shot(page, "invitation-sign-up-error-390")
    page.fill("#id_password1", "a long and quiet river")
    page.fill("#id_password2", "a long and quiet river")
    page.click("button:has-text('Create account and join')")
    page.wait_for_selector("text=You joined Demo workspace as Viewer.")
    assert page.url == f"{demo.url}/"
    assert "Demo workspace" in page.inner_text("[data-testid=workspace-menu]")
    assert Membership.objects.get(user__username="nina").role == Role.VIEWER

    page.goto(invitation_link)
    assert page.inner_text("[data-testid=unusable]") == "This invitation was already used"
    shot(page, "invitation-used-390")
    context.close()


def test_a_signed_in_person_accepts_at_desktop_width(browser, invitation_link, demo):
    get_user_model().objects.create_user("omar", password="omar-password-1")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(invitation_link)
    page.click("text=Log in to accept with your account")
    page.fill("#id_username", "omar")
    page.fill("#id_password", "omar-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(invitation_link)
    shot(page, "invitation-signed-in-1280")
    page.click("button:has-text('Join Demo workspace')")
    page.wait_for_selector("text=You joined Demo workspace as Viewer.")
    context.close()
