"""Two-factor login in the browser: set up an app from the QR page, see the recovery codes,
log in again with a code; the reset and workspace pages around it (#15)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.browser.conftest import DEMO_PASSWORD, shot


def code(device: TOTPDevice, ahead: int = 0) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, drift=ahead):06d}"


@pytest.fixture
def problems(page):
    """Console errors (CSP violations among them) and uncaught exceptions, as they happen."""
    found: list[str] = []
    page.on("console", lambda m: m.type == "error" and found.append(m.text))
    page.on("pageerror", lambda error: found.append(str(error)))
    return found


@pytest.mark.parametrize("width", [1280, 390])
def test_set_up_an_app_and_log_in_with_its_code(logged_in, demo, problems, width):
    page = logged_in
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{demo.url}/account/two-factor/")
    shot(page, f"two-factor-off-{width}")
    page.click("text=Set up two-factor login")
    qr = page.wait_for_selector("[data-testid=qr-code] svg")
    assert qr.bounding_box()["width"] == 200
    shot(page, f"two-factor-setup-{width}")
    device = TOTPDevice.objects.get(user__username="demo")
    assert page.inner_text("[data-testid=manual-key]").replace(" ", "") in device.config_url

    page.fill("#id_code", code(device))
    page.click("button[type=submit]:has-text('Turn on')")
    codes = page.wait_for_selector("[data-testid=recovery-codes]").inner_text().split()
    assert len(codes) == 10
    shot(page, f"two-factor-codes-{width}")

    page.context.clear_cookies()
    page.goto(f"{demo.url}/login/")
    page.fill("#id_username", "demo")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo.url}/login/code/")
    shot(page, f"two-factor-login-code-{width}")
    page.fill("#id_code", code(device, ahead=1))
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo.url}/")

    page.goto(f"{demo.url}/account/two-factor/")
    page.wait_for_selector("[data-testid=two-factor-on]")
    shot(page, f"two-factor-on-{width}")
    page.goto(f"{demo.url}/workspace/settings/")
    page.check("#id_require_two_factor")
    page.click("button:has-text('Save') >> nth=1")
    page.wait_for_selector("text=Members now need two-factor login")
    shot(page, f"two-factor-workspace-{width}")
    assert problems == []


@pytest.mark.parametrize("width", [1280, 390])
def test_reset_a_forgotten_password_by_email(page, demo, problems, width):
    get_user_model().objects.filter(username="demo").update(email="demo@example.com")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{demo.url}/login/")
    shot(page, f"login-{width}")
    page.click("text=Forgot your password?")
    page.fill("#id_email", "demo@example.com")
    shot(page, f"password-reset-{width}")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=reset-sent]")
    shot(page, f"password-reset-sent-{width}")

    link = next(line for line in mail.outbox[-1].body.splitlines() if "/password/reset/" in line)
    page.goto(link.strip())
    page.fill("#id_new_password1", "a brand new passphrase 42")
    page.fill("#id_new_password2", "a brand new passphrase 42")
    shot(page, f"password-reset-new-{width}")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your password was changed")
    page.click("text=Log in")
    page.fill("#id_username", "demo")
    page.fill("#id_password", "a brand new passphrase 42")
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo.url}/")
    assert problems == []
