"""The sixth workspace a person creates is refused with what to do (#15)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.browser.conftest import shot
from workspaces.models import Membership, Role, Workspace


@pytest.mark.parametrize("width", [1280, 390])
def test_the_workspace_limit_is_said_in_the_form(page, demo, settings, width):
    settings.CRIER_MAX_WORKSPACES_PER_USER = 1
    user = get_user_model().objects.create_user("olga", password="olga-password-1")
    mine = Workspace.objects.create(name="Olga's", default_country="KZ")
    Membership.objects.create(user=user, workspace=mine, role=Role.OWNER)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{demo.url}/login/")
    page.fill("#id_username", "olga")
    page.fill("#id_password", "olga-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo.url}/")

    page.goto(f"{demo.url}/workspace/new/")
    page.fill("#id_name", "Another")
    page.click("button[type=submit]:has-text('Create workspace')")

    error = page.wait_for_selector("[data-testid=form-error]")
    assert "the most one person may create here (1)" in error.inner_text()
    shot(page, f"workspace-limit-{width}")
    assert not Workspace.objects.filter(name="Another").exists()
