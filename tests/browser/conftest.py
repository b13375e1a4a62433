"""Playwright driving Debian's chromium against pytest-django's live server.

Browsers cannot be downloaded here, so Playwright launches /usr/bin/chromium (CHROMIUM_PATH
overrides it), with the flags that keep it from reaching for the network.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the tests
# themselves are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
# CRIER_SHOTS moves them, e.g. to look at one run's screenshots apart from the others.
SCREENSHOTS = Path(os.environ.get("CRIER_SHOTS", Path(__file__).parent / "screenshots"))
DEMO_PASSWORD = "crier-demo"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # launch() gives chromium a fresh temporary profile of its own each session.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def demo(live_server, transactional_db):
    call_command("seed_demo", password=DEMO_PASSWORD, origin=live_server.url, stdout=io.StringIO())
    return live_server


@pytest.fixture
def logged_in(page, demo):
    page.goto(f"{demo.url}/login/")
    page.fill("#id_username", "demo")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo.url}/")
    return page


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def launch_from_draft(page, campaign) -> None:
    """On the draft's page: through the confirmation page (accepting unpriced destinations)
    to the launched campaign's page."""
    page.click("[data-testid=launch-link]")
    page.wait_for_selector("[data-testid=launch]")
    if page.locator("#confirm_unpriced").count():
        page.check("#confirm_unpriced")
    page.click("[data-testid=launch-confirm]")
    page.wait_for_url(re.compile(rf".*/campaigns/{campaign.pk}/$"))


def open_navigation(page) -> None:
    """Below Bootstrap's xl the navigation folds behind the toggler: unfold it and wait until
    its transition is over (a click on a menu while it still moves can miss, or open the menu
    just as the moving bar closes it)."""
    page.click(".navbar-toggler")
    page.wait_for_selector("#nav.collapse.show")


def snap(page, name: str) -> None:
    """The page at 1280 px and at 390 px (name_1280.png, name_390.png), nothing wider than a
    phone's screen at 390; the viewport is back at 1280 px afterwards."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=SCREENSHOTS / f"{name}_1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=SCREENSHOTS / f"{name}_390.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})
