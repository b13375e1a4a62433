"""Nothing derived from user input is marked safe: a stored value cannot break a page (#15)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from workspaces.models import Role

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_no_template_marks_anything_safe():
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in TEMPLATES.rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\|\s*safe\b|{%\s*autoescape\s+off", line)
    ]
    assert offenders == []


@pytest.mark.django_db
def test_a_stored_key_that_opens_an_html_comment_does_not_hide_the_form(as_role, acme):
    """The account form shows the stored key's last 4 characters: a key ending in "<!--" once
    hid the rest of the form, Save included."""
    account = acme.account
    account.credentials = {**account.credentials, "api_key": "live_key_<!--"}
    account.save()

    page = as_role(Role.ADMIN).get(reverse("account_edit", args=[account.pk])).content.decode()

    assert "&lt;!--" in page and "<!--" not in page.split("<body", 1)[1]
    assert 'type="submit"' in page
