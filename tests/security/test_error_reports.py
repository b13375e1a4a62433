"""Error reports never show a credential: the debug page and the mails to ADMINS run through
crier.reporting.CredentialSafeReporterFilter (#15: the debug page once showed
DATABASE_URL and CELERY_BROKER_URL with their passwords)."""

from __future__ import annotations

import sys

import pytest
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

SECRET = "".join(reversed("1899-wp-t3rc3s"))  # not a literal the page could quote


def report(request) -> str:
    def failing_view(cred_api_key, headers):
        raise RuntimeError("boom")

    try:
        failing_view(f"live_{SECRET}", headers={"Authorization": f"Bearer {SECRET}"})
    except RuntimeError:
        return ExceptionReporter(request, *sys.exc_info()).get_traceback_html()


@pytest.mark.parametrize("debug", [True, False])
def test_urls_with_passwords_are_masked_in_settings_and_the_environment(settings, debug):
    settings.DEBUG = debug
    settings.CELERY_BROKER_URL = f"redis://:{SECRET}@cache.internal:6379/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"redis://crier:{SECRET}@cache.internal:6379/1",
        }
    }
    request = RequestFactory().get(
        "/", DATABASE_URL=f"postgres://crier:{SECRET}@db.internal:5432/crier"
    )

    html = report(request)

    assert SECRET not in html
    assert "postgres://crier:********************@db.internal" in html
    assert "cache.internal:6379/0" in html  # the rest of the URL stays readable


def test_credential_fields_posted_by_the_account_form_are_hidden(settings):
    """The account form posts cred_* fields; the report shows their names, not their values."""
    settings.DEBUG = True
    request = RequestFactory().post(
        "/accounts/new/", {"name": "Main", "cred_api_key": f"live_{SECRET}", "currency": "EUR"}
    )

    html = report(request)

    assert SECRET not in html
    assert "cred_api_key" in html and "Main" in html
