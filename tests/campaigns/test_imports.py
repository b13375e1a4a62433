"""The import pipeline end to end: upload -> mapping -> background run -> messages + report."""

from __future__ import annotations

import csv
import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.models import (
    ImportStatus,
    Message,
    PlaceholderPolicy,
    RecipientImport,
)
from campaigns.recipients import checking, imports
from contacts import book
from core.statuses import CampaignStatus
from core.tables.table import ImportRejected
from crier.celery import app
from workspaces.models import Role

CSV = (
    "phone;name;city\r\n"
    "+7 701 123 45 67;Ann;Almaty\r\n"  # row 2: accepted
    "8 (701) 765-43-21;Boris;Astana\r\n"  # row 3: national KZ, accepted
    "+77011234567;Ann again;Almaty\r\n"  # row 4: duplicate of row 2
    "hello;Carl;Shymkent\r\n"  # row 5: not a number
    ";Dana;Almaty\r\n"  # row 6: empty
    "+7 701 000 00 00;Eve;Almaty\r\n"  # row 7: stop-listed
    "+55 11 91234-5678;Fabio;\r\n"  # row 8: Brazil, accepted, empty city
    "+1 202 555 01;Gus;DC\r\n"  # row 9: too short: invalid for the US
)


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def upload(campaign, content: str | bytes = CSV, name: str = "people.csv", user=None):
    data = content.encode() if isinstance(content, str) else content
    return imports.create(campaign, user, upload=SimpleUploadedFile(name, data))


def run(imp, mode="add"):
    imports.confirm(imp, mode)
    imports.run(imp.pk)
    imp.refresh_from_db()
    return imp


@pytest.fixture
def campaign(acme):
    book.opt_out(acme.workspace, ["+77010000000"], actor=None, where="page")
    return acme.campaign


def test_upload_reads_a_preview_and_finds_the_phone_column(campaign):
    imp = upload(campaign)
    assert imp.status == ImportStatus.UPLOADED
    assert imp.columns == ["phone", "name", "city"]
    assert imp.phone_column == 0
    assert imp.preview[0] == {"number": 2, "cells": ["+7 701 123 45 67", "Ann", "Almaty"]}
    assert imp.options == {"detected": {"has_header": True, "encoding": "UTF-8", "delimiter": ";"}}
    assert imports.placeholders(imp) == {"name": 1, "city": 2}


def test_every_row_is_accepted_or_rejected_with_its_reason(campaign):
    imp = run(upload(campaign))

    assert imp.status == ImportStatus.DONE
    assert (imp.rows_done, imp.accepted, imp.rejected) == (8, 3, 5)
    assert imp.summary["by_reason"] == {
        "duplicate_in_file": 1,
        "not_a_number": 1,
        "empty": 1,
        "stop_listed": 1,
        "invalid_for_country": 1,
    }
    assert imp.summary["by_country"] == {"KZ": 2, "BR": 1}
    messages = list(campaign.messages.order_by("row_number").values_list("phone", "row_number"))
    assert messages == [("+77011234567", 2), ("+77017654321", 3), ("+5511912345678", 8)]
    ann = campaign.messages.get(row_number=2)
    assert ann.fields == {"name": "Ann", "city": "Almaty"}
    assert (ann.country, ann.status, len(ann.reference)) == ("KZ", "pending", 32)


def test_the_rejected_rows_report_names_row_and_reason(campaign):
    imp = run(upload(campaign))
    with imp.rejections_file.open("rb") as f:
        rows = list(csv.reader(io.StringIO(f.read().decode("utf-8-sig"))))
    assert rows[0][:4] == ["row", "phone", "code", "reason"]
    by_row = {int(r[0]): r for r in rows[1:]}
    assert sorted(by_row) == [4, 5, 6, 7, 9]
    assert by_row[4][2] == "duplicate_in_file"
    assert "row 2" in by_row[4][3]
    assert by_row[7][2] == "stop_listed"
    assert by_row[7][1] == "'+7 701 000 00 00"  # defused against formula injection
    assert by_row[9][2] == "invalid_for_country"


def test_adding_again_rejects_numbers_already_in_the_campaign(campaign):
    run(upload(campaign))
    second = run(upload(campaign, "phone\n+77011234567\n+77012223344\n"))
    assert (second.accepted, second.rejected) == (1, 1)
    assert second.summary["by_reason"] == {"duplicate_in_campaign": 1}
    assert campaign.messages.count() == 4


def test_replace_swaps_the_recipients(campaign):
    run(upload(campaign))
    run(upload(campaign, "phone\n+77012223344\n"), mode="replace")
    assert list(campaign.messages.values_list("phone", flat=True)) == ["+77012223344"]


def test_missing_placeholder_rejects_the_row_when_the_campaign_says_so(campaign):
    campaign.text = "Hello {name} from {city}"
    campaign.placeholder_policy = PlaceholderPolicy.REJECT
    campaign.save()
    imp = run(upload(campaign))
    assert imp.summary["by_reason"]["missing_placeholder"] == 1  # Fabio has no city
    assert not campaign.messages.filter(phone="+5511912345678").exists()


def test_allowed_countries_of_the_account_are_enforced(campaign):
    campaign.account.allowed_countries = "KZ"
    campaign.account.save()
    imp = run(upload(campaign))
    assert imp.summary["by_reason"]["country_not_allowed"] == 1
    assert imp.summary["by_country"] == {"KZ": 2}


def test_a_file_that_cannot_be_read_is_refused_and_nothing_is_kept(campaign):
    with pytest.raises(ImportRejected, match="empty"):
        upload(campaign, b"")
    with pytest.raises(ImportRejected):
        upload(campaign, b"PK\x03\x04 not really a zip", name="book.xlsx")
    assert not RecipientImport.objects.filter(campaign=campaign, filename__endswith="x").exists()


def test_a_cancelled_import_changes_nothing(campaign, monkeypatch):
    run(upload(campaign))
    before = list(campaign.messages.values_list("reference", flat=True))
    imp = upload(campaign, "phone\n" + "".join(f"+7701{n:07d}\n" for n in range(25_000)))
    imports.confirm(imp, "replace")
    report_progress = imports._Progress.__call__

    def cancel_midway(progress, tally):
        if tally.done >= imports.BATCH:  # the user presses Cancel after the first batch
            imports.cancel(progress.imp)
        report_progress(progress, tally)

    monkeypatch.setattr(imports._Progress, "__call__", cancel_midway)
    imports.run(imp.pk)
    imp.refresh_from_db()
    assert imp.status == ImportStatus.CANCELLED
    assert list(campaign.messages.values_list("reference", flat=True)) == before


def test_a_failure_while_storing_changes_nothing(campaign, monkeypatch):
    run(upload(campaign))
    before = list(campaign.messages.values_list("reference", flat=True))
    # Two new messages with one reference: the database refuses the second, after the old
    # recipients were already removed for the replacement.
    monkeypatch.setattr(checking, "references", lambda count: ["f" * 32] * count)
    imp = run(upload(campaign, "phone\n+77012223344\n+77015556677\n"), mode="replace")
    assert imp.status == ImportStatus.FAILED
    assert "nothing was changed" in imp.error
    assert list(campaign.messages.values_list("reference", flat=True)) == before


def test_only_a_draft_takes_recipients(campaign):
    campaign.status = CampaignStatus.SENDING
    campaign.save()
    with pytest.raises(imports.ImportNotAllowed, match="only while the campaign is a draft"):
        upload(campaign)


def test_confirming_twice_starts_once(campaign):
    imp = upload(campaign)
    assert imports.confirm(imp, "add") is True
    assert imports.confirm(imp, "add") is False
    imports.run(imp.pk)
    assert imports.run(imp.pk) == {"import": imp.pk, "skipped": "not queued"}
    assert campaign.messages.count() == 3


def test_pasted_numbers(campaign):
    imp = imports.create(campaign, None, text="+77011234567, +77012223344; 87013334455")
    imp = run(imp)
    assert imp.accepted == 3


def test_the_whole_flow_through_the_pages(
    as_role, campaign, eager, django_capture_on_commit_callbacks
):
    client = as_role(Role.SENDER)
    response = client.post(
        reverse("import_create", args=[campaign.pk]),
        {"file": SimpleUploadedFile("people.csv", CSV.encode())},
    )
    imp = RecipientImport.objects.get(campaign=campaign, filename="people.csv")
    assert response.url == reverse("import_detail", args=[imp.pk])
    page = client.get(response.url)
    assert "Ann" in page.text and 'data-testid="preview-table"' in page.text

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("import_detail", args=[imp.pk]),
            {
                "phone_column": 0,
                "delimiter": ";",
                "has_header": "yes",
                "mode": "add",
                "confirm": "1",
            },
        )
    progress = client.get(reverse("import_progress", args=[imp.pk]))
    assert progress.status_code == 286  # HTMX stops polling: the import is finished
    assert 'data-testid="accepted">3<' in progress.text
    report = client.get(reverse("import_rejections", args=[imp.pk]))
    assert report["Content-Disposition"].startswith("attachment")
    assert b"not_a_number" in b"".join(report.streaming_content)
    assert Message.objects.filter(campaign=campaign).count() == 3


def test_a_viewer_cannot_import(as_role, campaign):
    response = as_role(Role.VIEWER).post(
        reverse("import_create", args=[campaign.pk]),
        {"file": SimpleUploadedFile("people.csv", CSV.encode())},
    )
    assert response.status_code == 403
    assert not RecipientImport.objects.filter(filename="people.csv").exists()


def test_placeholder_values_survive_storage_exactly(campaign):
    awkward = 'back\\slash "quoted"\ttab Ünïcödé 😀'
    content = f'phone,note\n+77011234567,"{awkward.replace(chr(34), chr(34) * 2)}"\n'
    run(upload(campaign, content))
    assert campaign.messages.get().fields == {"note": awkward}


def test_references_are_unique_hex_and_grow_with_time():
    from campaigns.models import references

    first = references(50_000)
    time.sleep(0.002)
    later = references(1)[0]
    assert len(set(first)) == 50_000
    assert all(len(r) == 32 and int(r, 16) >= 0 for r in first[:100])
    assert later[:12] > first[-1][:12]  # the millisecond prefix orders the unique index


def test_time_left_follows_the_pace_so_far(campaign):
    from datetime import timedelta

    from django.utils import timezone

    imp = upload(campaign)
    now = timezone.now()
    imp.started_at, imp.rows_done, imp.rows_total = now - timedelta(seconds=10), 250, 1000
    assert imp.seconds_left(now) == 30
    imp.rows_done = 0
    assert imp.seconds_left(now) is None


def test_an_encoding_chosen_on_the_mapping_page_is_how_the_file_is_read(as_role, campaign):
    content = "телефон;имя\n+77011234567;Жанна\n".encode("koi8_r")
    imp = upload(campaign, content, name="koi.csv")
    response = as_role(Role.SENDER).post(
        reverse("import_detail", args=[imp.pk]),
        {"encoding": "KOI8-R", "delimiter": ";", "phone_column": 0, "mode": "add"},
        headers={"HX-Request": "true"},
    )
    imp.refresh_from_db()
    assert imp.options["encoding"] == "KOI8-R"
    assert imp.preview[0]["cells"] == ["+77011234567", "Жанна"]
    assert "Жанна" in response.text
    assert '<option value="KOI8-R" selected>' in response.text


def test_references_grow_with_the_rows_so_the_unique_index_grows_at_its_end(campaign):
    imp = run(upload(campaign, "phone\n" + "".join(f"+7701{n:07d}\n" for n in range(1, 3_001))))
    assert imp.accepted == 3_000
    references = list(campaign.messages.order_by("row_number").values_list("reference", flat=True))
    assert references == sorted(references)


def test_a_workbook_imports_like_the_same_rows_in_a_csv(campaign):
    from tests.campaigns import corpus

    from_csv = run(upload(campaign, corpus.csv_bytes("utf-8"), "contacts.csv"))
    from_xlsx = run(upload(campaign, corpus.xlsx_bytes(), "contacts.xlsx"), mode="replace")
    assert (from_xlsx.accepted, from_xlsx.rejected) == (from_csv.accepted, from_csv.rejected)
    assert from_xlsx.summary == from_csv.summary
    assert campaign.messages.count() == 90
