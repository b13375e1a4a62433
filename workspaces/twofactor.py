"""Two-factor login: an authenticator app (TOTP) and ten single-use recovery codes, through
django-otp.

A user has at most one authenticator app and one set of recovery codes. The app is created
unconfirmed when setup starts and confirmed by the first code it shows; only a confirmed app
makes the login ask for a code. django-otp throttles wrong codes on each device (1, 2, 4 … s).
"""

from __future__ import annotations

import re
from base64 import b32encode
from datetime import datetime
from xml.etree import ElementTree

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import logout
from django.db import transaction
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.safestring import SafeString, mark_safe
from django_htmx.http import HttpResponseClientRedirect
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10
APP_NAME = "Authenticator app"


def authenticator(user) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if two-factor login is on."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def is_enabled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def unconfirmed_authenticator(user) -> TOTPDevice:
    """The app being set up: the same key until it is confirmed, so a reload keeps the QR code
    the user may already have scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=APP_NAME, confirmed=False)


def manual_key(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for typing into an app that cannot scan."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def qr_svg(device: TOTPDevice) -> SafeString:
    """The app's otpauth:// address as an inline SVG QR code, with no style attribute (the
    Content Security Policy forbids inline styles)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg = image.get_image()
    svg.attrib.update({"width": "200", "height": "200", "role": "img", "aria-label": "QR code"})
    # Safe: only paths drawn by qrcode; the address (with the username) is in the pattern.
    return mark_safe(ElementTree.tostring(svg, encoding="unicode"))


class CodeRefused(Exception):
    """A code was not accepted; ``wait_until`` is set when the device is throttled."""

    def __init__(self, wait_until: datetime | None = None):
        super().__init__()
        self.wait_until = wait_until


def confirm(device: TOTPDevice, code: str) -> list[str]:
    """Confirms the app being set up if ``code`` is one it shows now and returns the new
    recovery codes; raises CodeRefused otherwise (with the end of the wait when throttled)."""
    allowed, details = device.verify_is_allowed()
    if not (allowed and device.verify_token(normalise(code))):
        raise CodeRefused((details or {}).get("locked_until"))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return new_recovery_codes(device.user)


def new_recovery_codes(user) -> list[str]:
    """Replaces the user's recovery codes with RECOVERY_CODES new ones, each usable once."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def disable(user) -> None:
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


def normalise(code: str) -> str:
    """Codes as people type them: spaces and dashes dropped, letters in lower case."""
    return re.sub(r"[\s-]", "", code or "").lower()


def verify(user, code: str):
    """The device that accepts ``code`` — the app for six digits, else the recovery codes (a
    recovery code is used up). Raises CodeRefused, with the end of the wait when throttled."""
    code = normalise(code)
    model = TOTPDevice if re.fullmatch(r"\d{6}", code) else StaticDevice
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=user, confirmed=True).first()
        allowed, details = device.verify_is_allowed() if device else (False, None)
        # Raised outside the transaction: inside, it would roll back the failure count kept.
        accepted = allowed and device.verify_token(code)
    if not accepted:
        raise CodeRefused((details or {}).get("locked_until"))
    return device


# Pages a member of a workspace that requires two-factor login may still open without it.
EXEMPT = {
    "two_factor",
    "two_factor_setup",
    "two_factor_codes",
    "logout",
    "switch_workspace",
    "workspace_create",
    "favicon",
}


class RequireTwoFactorMiddleware:
    """In a workspace that requires two-factor login, a member without an authenticator app is
    sent to set one up; one whose session was opened without a code (before the app was set
    up, elsewhere) is logged out to log in again with it. Runs after WorkspaceMiddleware and
    django-otp's OTPMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        workspace = getattr(request, "workspace", None)
        if (
            workspace is None
            or not workspace.require_two_factor
            or request.user.is_verified()
            or _url_name(request) in EXEMPT
        ):
            return self.get_response(request)
        if is_enabled(request.user):
            logout(request)
            messages.info(request, f"{workspace} requires two-factor login: log in with a code.")
            return _go(request, "login")
        messages.info(
            request, f"{workspace} requires two-factor login: set up an authenticator app first."
        )
        return _go(request, "two_factor_setup")


def _url_name(request) -> str | None:
    try:
        return resolve(request.path_info).url_name
    except Resolver404:
        return None


def _go(request, url_name: str):
    if request.htmx:
        return HttpResponseClientRedirect(reverse(url_name))
    return redirect(url_name)
