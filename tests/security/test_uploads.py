"""Oversized uploads are stopped while they stream in, and the user is told why."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.urls import reverse

from campaigns.models import RecipientImport, StopListEntry
from dashboard.models import Role

LIMIT = 1024 * 1024


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.CRIER_IMPORT_MAX_BYTES = LIMIT


@pytest.fixture
def stored(monkeypatch):
    """How many bytes reached the handler that writes uploads to disk."""
    seen = []
    original = TemporaryFileUploadHandler.receive_data_chunk

    def spy(self, raw_data, start):
        seen.append(len(raw_data))
        return original(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", spy)
    return seen


def csv_of(size: int) -> SimpleUploadedFile:
    line = b"+77011234567;Ann\n"
    return SimpleUploadedFile("big.csv", line * (size // len(line) + 1), "text/csv")


def test_an_upload_over_the_limit_is_dropped_midway_and_explained(as_role, acme, stored):
    client = as_role(Role.SENDER)
    url = reverse("import_create", args=[acme.campaign.pk])
    before = RecipientImport.objects.count()
    page = reverse("campaign_detail", args=[acme.campaign.pk])
    response = client.post(url, {"file": csv_of(5 * LIMIT)}, headers={"Referer": page})
    assert response.status_code == 302
    assert response.url == page
    assert RecipientImport.objects.count() == before
    assert 0 < sum(stored) <= LIMIT  # nothing past the limit was written to disk
    text = client.get(page).text
    assert "The file is larger than 1 MB, the most Crier accepts" in text


def test_htmx_reloads_the_page_to_show_the_reason(as_role, acme):
    client = as_role(Role.SENDER)
    url = reverse("import_create", args=[acme.campaign.pk])
    response = client.post(url, {"file": csv_of(2 * LIMIT)}, headers={"HX-Request": "true"})
    assert response.headers["HX-Refresh"] == "true"
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        "The file is larger than 1 MB, the most Crier accepts, so it was not uploaded. "
        "Split it into smaller files or remove the columns you do not need."
    ]


def test_the_stop_list_upload_is_limited_too(as_role, acme, stored):
    client = as_role(Role.SENDER)
    before = StopListEntry.objects.count()
    response = client.post(reverse("stop_list_upload"), {"file": csv_of(3 * LIMIT), "note": "x"})
    assert response.status_code == 302
    assert response.url == reverse("overview")  # no Referer to go back to
    assert StopListEntry.objects.count() == before
    assert 0 < sum(stored) <= LIMIT


def test_a_file_under_the_limit_goes_through(as_role, acme):
    client = as_role(Role.SENDER)
    url = reverse("import_create", args=[acme.campaign.pk])
    upload = SimpleUploadedFile("ok.csv", b"phone;name\n+77011234567;Ann\n", "text/csv")
    response = client.post(url, {"file": upload})
    assert response.status_code == 302
    assert RecipientImport.objects.filter(filename="ok.csv").exists()


def test_a_foreign_referer_is_not_followed(as_role, acme):
    client = as_role(Role.SENDER)
    url = reverse("import_create", args=[acme.campaign.pk])
    response = client.post(
        url, {"file": csv_of(2 * LIMIT)}, headers={"Referer": "https://evil.example/"}
    )
    assert response.url == reverse("overview")
