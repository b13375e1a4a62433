"""How an import stores its messages: integrity without a per-row foreign-key check, and the
counters' triggers kept on every database."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections

from campaigns import services
from campaigns.models import Campaign, CampaignCounters, ImportStatus, Message
from campaigns.recipients import bulk, imports

PHONES = "phone\n" + "".join(f"+7701{n:07d}\n" for n in range(1, 2_501))


def _upload(campaign, content: str):
    return imports.create(campaign, None, upload=SimpleUploadedFile("p.csv", content.encode()))


def test_an_import_moves_the_campaign_counters(acme):
    imp = _upload(acme.campaign, PHONES)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    counters = CampaignCounters.objects.get(campaign=acme.campaign)
    assert (counters.total, counters.pending) == (2_500, 2_500)


def test_deleting_a_campaign_deletes_its_messages(acme):
    imp = _upload(acme.campaign, PHONES)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    campaign_id = acme.campaign.pk
    services.delete(acme.campaign)
    assert not Message.objects.filter(campaign_id=campaign_id).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks of PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_delete_during_an_import_waits_for_it_and_leaves_no_orphan(acme, monkeypatch):
    """Deleted while the import holds its messages uncommitted, the campaign goes with all of
    them once the import commits; neither side fails."""
    campaign = acme.campaign
    imp = _upload(campaign, PHONES)
    imports.confirm(imp, "add")
    stored, go_on = threading.Event(), threading.Event()
    finish = bulk.CopyWriter.finish

    def pause_before_commit(writer):
        finish(writer)  # every message is in and the campaign row locked, nothing committed
        stored.set()
        assert go_on.wait(10)

    monkeypatch.setattr(bulk.CopyWriter, "finish", pause_before_commit)
    results = {}
    importer = threading.Thread(target=_in_thread, args=(results, "import", imports.run, imp.pk))
    importer.start()
    assert stored.wait(10)
    deleter = threading.Thread(
        target=_in_thread, args=(results, "delete", services.delete, campaign)
    )
    deleter.start()
    _wait_until_blocked()
    go_on.set()
    importer.join(10)
    deleter.join(10)

    assert results["import"]["status"] == "done"
    assert results["delete"] is None
    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    assert not Message.objects.filter(campaign_id=campaign.pk).exists()


def _in_thread(results: dict, name: str, function, *args):
    try:
        results[name] = function(*args)
    except Exception as error:
        results[name] = error
    finally:
        connections.close_all()


def _wait_until_blocked(seconds: float = 10) -> None:
    """Until some other backend waits for a lock (the deleter, on the campaign row)."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the delete did not wait for the import")


# --- SQLite: the batches wait in a temporary table, staged by a thread -----------------------

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's writer")


def temporary_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_temp_master WHERE type = 'table'")
        return [name for (name,) in cursor.fetchall()]


@sqlite_only
def test_sqlite_stages_every_batch_and_leaves_no_table_behind(acme):
    phones = "phone,note\n" + "".join(f"+7701{n:07d},n{n}\n" for n in range(1, 25_001))
    imp = _upload(acme.campaign, phones)  # three batches
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    imp.refresh_from_db()
    assert (imp.status, imp.accepted) == (ImportStatus.DONE, 25_000)
    stored = acme.campaign.messages.order_by("id")
    assert list(stored.values_list("row_number", flat=True)) == list(range(2, 25_002))
    assert stored.last().fields == {"note": "n25000"}
    assert temporary_tables() == []


@sqlite_only
def test_sqlite_a_failure_while_staging_fails_the_import_and_changes_nothing(acme, monkeypatch):
    imp = _upload(acme.campaign, PHONES)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    before = list(acme.campaign.messages.values_list("reference", flat=True))

    def disk_full(raw, table, lines, per_statement):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(bulk, "_stage_lines", disk_full)
    imp = _upload(acme.campaign, "phone\n" + "".join(f"+7702{n:07d}\n" for n in range(25_000)))
    imports.confirm(imp, "replace")
    imports.run(imp.pk)
    imp.refresh_from_db()
    assert imp.status == ImportStatus.FAILED
    assert "nothing was changed" in imp.error
    assert list(acme.campaign.messages.values_list("reference", flat=True)) == before
    assert temporary_tables() == []


@sqlite_only
def test_sqlite_stages_by_statements_of_three_sizes_whatever_the_batches(acme, monkeypatch):
    """sqlite3 keeps every statement it prepared with the values last bound to it: one
    statement of each batch's odd size took ~3 MB a batch (+340 MiB at a million rows)."""
    sizes = set()
    stage = bulk._stage_lines

    def noted(raw, table, lines, per_statement):
        assert len(lines) % per_statement == 0
        if lines:
            sizes.add(per_statement)
        stage(raw, table, lines, per_statement)

    monkeypatch.setattr(bulk, "_stage_lines", noted)
    # Odd accepted counts a batch: every seventh row is a repeat.
    rows = "".join(f"+7701{n - n % 7 if n % 7 == 3 else n:07d}\n" for n in range(1, 23_457))
    imp = _upload(acme.campaign, "phone\n" + rows)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    imp.refresh_from_db()
    assert imp.accepted == acme.campaign.messages.count() > 0
    assert sizes <= {bulk.StagingWriter._ROWS, 100, 1}


@pytest.mark.parametrize(
    "names", [{}, {"note": 1}, {"name": 1, "city": 3}, {"a%s": 2, 'q"uote': 0, "b": 4}]
)
def test_fields_are_the_json_of_the_row_values_escaped_for_copy(names):
    cells = ["+77011234567", 'back\\slash "q"\ttab', "Ünï 😀", "%s %d"]  # a short row
    text = bulk.FieldsEncoder(names)(cells)
    padded = cells + [""] * 5
    expected = {name: padded[index] for name, index in names.items()}
    assert json.loads(text.replace("\\\\", "\\")) == expected
    assert "\t" not in text and "\n" not in text
