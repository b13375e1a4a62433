"""Oversized uploads are stopped while they stream in, and the user is told why."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.urls import reverse

from campaigns.models import Message, RecipientImport
from contacts.models import Contact
from core.tables.reader import open_table, read_pasted
from core.tables.table import ImportRejected, ReadOptions
from core.uploads import process_slots, upload_slot
from workspaces.models import Role

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
    before = Contact.objects.filter(opted_out_at__isnull=False).count()
    response = client.post(reverse("stop_list_upload"), {"file": csv_of(3 * LIMIT), "note": "x"})
    assert response.status_code == 302
    assert response.url == reverse("overview")  # no Referer to go back to
    assert Contact.objects.filter(opted_out_at__isnull=False).count() == before
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


# --- memory: a file is never read whole into the web process ----------------------------------


def single_line_csv(size: int) -> SimpleUploadedFile:
    """The worst case for a CSV reader: many small cells on one line without a line end."""
    return SimpleUploadedFile("one-line.csv", b"1;" * (size // 2), "text/csv")


def test_a_single_line_csv_is_refused_and_the_recipients_stay(as_role, acme, settings):
    settings.CRIER_IMPORT_MAX_BYTES = 50 * LIMIT
    client = as_role(Role.SENDER)
    campaign = acme.campaign
    Message.objects.create(campaign=campaign, phone="+77010000001", country="KZ")
    imports_before = RecipientImport.objects.count()
    url = reverse("import_create", args=[campaign.pk])
    response = client.post(url, {"file": single_line_csv(10 * LIMIT)})
    assert response.status_code == 400
    assert (
        "Row 1 is longer than 1 MB: is this really a list of phone numbers?"
        in response.content.decode()
    )
    assert RecipientImport.objects.count() == imports_before
    assert list(campaign.messages.values_list("phone", flat=True)) == ["+77010000001"]


# --- how many uploads are read at once -------------------------------------------------------

BUSY = "Another upload is still being read; try again in a moment."


def _post_upload(client, acme, **headers):
    url = reverse("import_create", args=[acme.campaign.pk])
    upload = SimpleUploadedFile("ok.csv", b"phone;name\n+77011234567;Ann\n", "text/csv")
    page = reverse("campaign_detail", args=[acme.campaign.pk])
    return client.post(url, {"file": upload}, headers={"Referer": page, **headers})


def test_an_upload_past_the_workspace_cap_is_asked_to_wait(as_role, acme, settings):
    settings.CRIER_UPLOADS_PER_WORKSPACE = 1
    client = as_role(Role.SENDER)
    before = RecipientImport.objects.count()
    with upload_slot(acme.workspace.pk):  # another member's upload, still being read
        response = _post_upload(client, acme)
    assert response.status_code == 302
    assert [str(m) for m in response.wsgi_request._messages] == [BUSY]
    assert RecipientImport.objects.count() == before
    # Once that upload is read, the slot is free again.
    response = _post_upload(client, acme)
    assert response.url == reverse("import_detail", args=[RecipientImport.objects.latest("pk").pk])


def test_another_workspace_is_not_held_up(as_role, acme, globex, settings):
    settings.CRIER_UPLOADS_PER_WORKSPACE = 1
    client = as_role(Role.SENDER)
    with upload_slot(globex.workspace.pk):
        response = _post_upload(client, acme)
    assert response.url == reverse("import_detail", args=[RecipientImport.objects.latest("pk").pk])


def test_an_upload_past_the_process_cap_is_asked_to_wait(as_role, acme, globex, settings):
    settings.CRIER_UPLOADS_PER_PROCESS = 2
    client = as_role(Role.SENDER)
    with upload_slot(globex.workspace.pk), upload_slot(None):
        response = _post_upload(client, acme, **{"HX-Request": "true"})
    assert response.headers["HX-Refresh"] == "true"
    assert [str(m) for m in response.wsgi_request._messages] == [BUSY]
    assert process_slots.taken == 0  # every slot was given back


def test_pages_without_a_file_are_not_held_up(as_role, acme, settings):
    settings.CRIER_UPLOADS_PER_PROCESS = 1
    client = as_role(Role.SENDER)
    with upload_slot(None):
        response = client.get(reverse("campaign_detail", args=[acme.campaign.pk]))
    assert response.status_code == 200


def _read_all(data: bytes, **options) -> list:
    with open_table(io.BytesIO(data), filename="c.csv", options=ReadOptions(**options)) as table:
        return list(table)


def test_a_long_row_further_down_is_refused_by_its_number():
    data = b"phone;name\n" + b"+77011234567;Ann\n" * 3 + b"+77011234567;" + b"x" * 2000 + b"\n"
    with pytest.raises(ImportRejected) as caught:
        _read_all(data, max_row_chars=1000)
    assert caught.value.code == "row_too_long"
    assert caught.value.message.startswith("Row 5 is longer than")


def test_a_row_of_many_quoted_lines_counts_as_one_row():
    data = b"phone;note\n+77011234567;" + b'"\n";' * 400 + b"x\n"
    with pytest.raises(ImportRejected) as caught:
        _read_all(data, max_row_chars=1000)
    assert caught.value.message.startswith("Row 2 is longer than")


def test_rows_up_to_the_limit_are_read_whole():
    row = b"+77011234567;" + b"x" * 980 + b"\n"
    rows = _read_all(b"phone;note\n" + row * 3, max_row_chars=1000)
    assert [r.cells[1] for r in rows] == ["x" * 980] * 3


def test_pasted_numbers_on_one_long_line_are_still_read():
    # Pasted text is in memory already (within DATA_UPLOAD_MAX_MEMORY_SIZE), and numbers
    # separated by commas on one line are one of the forms the form invites.
    numbers = [f"+7701{n:07d}" for n in range(100_000)]
    with read_pasted(",".join(numbers)) as table:
        assert [row.cells[0] for row in table] == numbers
