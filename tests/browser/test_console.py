"""Every page reachable from the navigation, and the main detail pages, load in chromium with
no console error, no uncaught exception and no Content Security Policy violation, at desktop
width and on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from audit.log import record
from audit.models import Action
from campaigns.models import Campaign, RecipientImport
from core.statuses import CampaignStatus
from providers import services
from providers.models import ProviderAccount
from providers.sandbox.models import SandboxAccount
from tests.browser.conftest import open_navigation
from workspaces.models import Workspace

SHOTS = Path("/tmp/shots-house")


def pages_to_visit() -> list[tuple[str, str]]:
    """(name, path) of the navigation's pages and the main detail pages of the demo."""
    workspace = Workspace.objects.get(name="Demo workspace")
    account = ProviderAccount.objects.get(workspace=workspace, provider="bsg")
    finished = Campaign.objects.filter(workspace=workspace).order_by("pk").first()
    draft = Campaign.objects.create(
        workspace=workspace, name="Console draft", account=account, sender="Crier",
        text="Hello {name}",
    )  # fmt: skip
    live = Campaign.objects.create(
        workspace=workspace, name="Console live", account=account, sender="Crier",
        text="Hello", status=CampaignStatus.SENDING,
    )  # fmt: skip
    recipient_import = RecipientImport.objects.create(
        campaign=draft, pasted_text="phone;name\n+77011234567;Ann", columns=["phone", "name"],
        preview=[{"number": 2, "cells": ["+77011234567", "Ann"]}], phone_column=0,
    )  # fmt: skip
    sandbox = SandboxAccount.objects.filter(provider="bsg").first()
    demo = draft.created_by or workspace.memberships.get().user
    record(workspace, demo, Action.WORKSPACE_CHANGED, f"workspace {workspace}",
           time_zone={"old": "UTC", "new": "Asia/Almaty"})  # fmt: skip
    record(workspace, demo, Action.RATE_CARD_CHANGED, f"account {account.name}",
           destination="KZ", price={"old": "0.035", "new": "0.04"})  # fmt: skip
    record(workspace, demo, Action.CAMPAIGN_LAUNCHED, f"campaign {live}", campaign_id=live.pk,
           recipients=1200, estimate="42.00", currency="EUR", start_at=live.created_at)  # fmt: skip
    for each in ProviderAccount.objects.filter(workspace=workspace):
        if each.adapter_class.capabilities.account_info:
            services.check_connection(each)  # balances and credits to show
    return [
        ("overview", reverse("overview")),
        ("login", reverse("login")),
        ("campaigns", reverse("campaign_list")),
        ("campaign-new", reverse("campaign_create")),
        ("campaign-draft", reverse("campaign_detail", args=[draft.pk])),
        ("import", reverse("import_detail", args=[recipient_import.pk])),
        ("campaign-live", reverse("campaign_detail", args=[live.pk])),
        ("campaign-finished", reverse("campaign_detail", args=[finished.pk])),
        ("accounts", reverse("account_list")),
        ("account", reverse("account_detail", args=[account.pk])),
        ("account-edit", reverse("account_edit", args=[account.pk])),
        ("rate-card", reverse("rate_list", args=[account.pk])),
        ("senders", reverse("sender_list")),
        ("sender-new", reverse("sender_add")),
        ("stop-list", reverse("stop_list")),
        ("templates", reverse("template_list")),
        ("template-new", reverse("template_create")),
        ("template-edit", reverse("template_edit", args=[workspace.message_templates.first().pk])),
        ("members", reverse("members")),
        ("audit-log", reverse("audit_log")),
        ("workspace-settings", reverse("workspace_settings")),
        ("workspace-new", reverse("workspace_create")),
        ("password", reverse("password_change")),
        ("not-found", "/no/such/page/"),
        ("admin", reverse("admin:index")),
        ("admin-sandbox", reverse("admin:sandbox_sandboxaccount_change", args=[sandbox.pk])),
    ]


@pytest.fixture
def problems(logged_in):
    """Console errors, uncaught exceptions and CSP violations of the page, as they happen."""
    found: list[str] = []

    def console(message):
        # The 404 page's own status is logged too: that is the page working as meant.
        url = message.location.get("url")
        if message.type == "error" and not (url == logged_in.url and "/no/such/" in url):
            found.append(f"console: {message.text} ({url})")

    logged_in.on("console", console)
    logged_in.on("pageerror", lambda error: found.append(f"exception: {error}"))
    return found


@pytest.mark.parametrize("width", [1280, 390])
def test_no_page_has_a_console_error_or_a_csp_violation(logged_in, problems, demo, width):
    page = logged_in
    page.set_viewport_size({"width": width, "height": 900})
    SHOTS.mkdir(exist_ok=True)
    report = {}
    for name, path in pages_to_visit():
        problems.clear()
        page.goto(demo.url + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SHOTS / f"console-{name}-{width}.png", full_page=True)
        if problems:
            report[name] = list(problems)
    # The menus run Bootstrap's script (Popper positions them): open both.
    problems.clear()
    page.goto(demo.url + reverse("overview"))
    if width < 1200:  # the navigation folds below Bootstrap's xl
        open_navigation(page)
    page.click("[data-testid=workspace-menu]")
    page.wait_for_selector(".dropdown-menu.show")
    page.screenshot(path=SHOTS / f"console-menu-{width}.png")
    if problems:
        report["menu"] = list(problems)
    assert report == {}
