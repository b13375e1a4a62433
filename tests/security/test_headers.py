"""Response headers: a strict Content Security Policy, no sniffing, no framing, no referrer
leaks, and HSTS in production; templates that a strict policy does not break."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.test_setup import PRODUCTION, manage
from workspaces.models import Role

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def policy(response) -> dict[str, list[str]]:
    directives = (d.split() for d in response["Content-Security-Policy"].split(";") if d.strip())
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("url_name", ["login", "overview", "account_list", "audit_log"])
def test_every_page_carries_the_headers(as_role, url_name):
    response = as_role(Role.OWNER).get(reverse(url_name))
    assert response.status_code == 200
    csp = policy(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_no_unsafe_source_anywhere_in_the_policy(client):
    header = client.get(reverse("login"))["Content-Security-Policy"]
    for unsafe in ["'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "http:", "data:"]:
        if unsafe == "data:":
            # Images only (Bootstrap's inline SVG icons in its stylesheet). django-csp orders
            # the directives by a set, so img-src may come first, without a leading space.
            assert [d.strip() for d in header.split(";") if unsafe in d] == ["img-src 'self' data:"]
        else:
            assert unsafe not in header


def test_htmx_may_not_eval_run_scripts_or_leave_the_origin(client):
    page = client.get(reverse("login")).text
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", page)[1])
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    assert config["selfRequestsOnly"] is True
    # htmx would otherwise inject a <style> element the policy refuses.
    assert config["includeIndicatorStyles"] is False


def test_templates_hold_nothing_a_strict_policy_refuses():
    """No inline script, style attribute or event handler: the browser would refuse them."""
    refused = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
    )
    offenders = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in TEMPLATES.rglob("*.html")
        for match in refused.finditer(path.read_text())
    ]
    assert offenders == []


def test_production_adds_hsts_and_secure_cookies(tmp_path):
    """Production settings in a fresh process, asked over HTTPS for the front page."""
    script = (
        "import json; from django.test import Client; "
        "r = Client().get('/', secure=True, headers={'host': 'crier.example.com'}); "
        "print(json.dumps({'status': r.status_code, **dict(r.headers)})); "
        "r = Client().get('/', headers={'host': 'crier.example.com'}); "
        "print(json.dumps({'status': r.status_code, 'location': r.get('Location')}))"
    )
    result = manage(tmp_path, "shell", "-c", script, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    secure, plain = (json.loads(line) for line in result.stdout.strip().splitlines()[-2:])
    assert secure["status"] == 302  # to the login page
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in secure["Content-Security-Policy"]
    assert secure["X-Frame-Options"] == "DENY"
    assert secure["X-Content-Type-Options"] == "nosniff"
    assert secure["Referrer-Policy"] == "same-origin"
    assert plain == {"status": 301, "location": "https://crier.example.com/"}


def test_production_cookies_are_secure_and_http_only(tmp_path):
    script = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY)"
    )
    result = manage(tmp_path, "shell", "-c", script, **PRODUCTION)
    assert result.stdout.strip().splitlines()[-1] == "True True True", result.stderr
