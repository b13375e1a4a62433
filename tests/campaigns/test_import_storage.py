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


def counts_trigger() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s",
            [bulk._COUNTS_TRIGGER],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def grouped_counts(campaign) -> dict[str, int]:
    counts = {"total": campaign.messages.count()}
    for status in ("pending", "queued", "delivered"):
        counts[status] = campaign.messages.filter(status=status).count()
    return counts


def stored_counts(campaign) -> dict[str, int]:
    counters = CampaignCounters.objects.get(campaign=campaign)
    return {name: getattr(counters, name) for name in ("total", "pending", "queued", "delivered")}


@sqlite_only
def test_sqlite_counts_an_import_once_as_the_trigger_would_and_keeps_the_trigger(acme):
    trigger = counts_trigger()
    assert trigger is not None
    campaign = acme.campaign
    imp = _upload(campaign, PHONES)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    ids = list(campaign.messages.order_by("id").values_list("pk", flat=True))
    Message.objects.filter(pk__in=ids[:40]).update(status="queued")
    Message.objects.filter(pk__in=ids[:7]).update(status="delivered")
    CampaignCounters.objects.filter(campaign=campaign).update(cost=1)  # left alone

    more = "phone\n" + "".join(f"+7705{n:07d}\n" for n in range(1, 6_001))
    imp = _upload(campaign, more)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    assert stored_counts(campaign) == grouped_counts(campaign)
    assert stored_counts(campaign)["total"] == 8_500
    assert CampaignCounters.objects.get(campaign=campaign).cost == 1

    imp = _upload(campaign, more)
    imports.confirm(imp, "replace")
    imports.run(imp.pk)
    assert (
        stored_counts(campaign)
        == grouped_counts(campaign)
        == {
            "total": 6_000,
            "pending": 6_000,
            "queued": 0,
            "delivered": 0,
        }
    )
    assert counts_trigger() == trigger
    add_one = Message(campaign=campaign, reference="r" * 32, phone="+77049999999")
    add_one.save()  # the trigger counts again after an import
    assert stored_counts(campaign)["total"] == 6_001


@sqlite_only
def test_sqlite_an_import_that_fails_while_inserting_changes_neither_rows_nor_counters(acme):
    campaign = acme.campaign
    imp = _upload(campaign, PHONES)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    before = sorted(campaign.messages.values_list("reference", flat=True))
    trigger = counts_trigger()
    with connection.cursor() as cursor:  # a failure half-way through the INSERT ... SELECT
        cursor.execute(
            "CREATE TRIGGER test_fails BEFORE INSERT ON campaigns_message "
            "WHEN NEW.phone = '+77020004000' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    imp = _upload(campaign, "phone\n" + "".join(f"+7702{n:07d}\n" for n in range(12_000)))
    imports.confirm(imp, "replace")
    imports.run(imp.pk)
    imp.refresh_from_db()
    assert imp.status == ImportStatus.FAILED
    assert sorted(campaign.messages.values_list("reference", flat=True)) == before
    assert stored_counts(campaign) == grouped_counts(campaign)
    assert stored_counts(campaign)["total"] == 2_500
    assert counts_trigger() == trigger


@sqlite_only
def test_sqlite_another_connection_sees_the_counters_trigger_while_an_import_inserts(acme):
    """The trigger is dropped and made again inside the import's transaction: nobody else
    ever sees the table without it."""
    seen = []

    def look():
        other = sqlite3.connect(connection.settings_dict["NAME"])
        try:
            found = other.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                [bulk._COUNTS_TRIGGER],
            ).fetchone()[0]
        finally:
            other.close()
        seen.append((found, counts_trigger() is not None))
        return 0

    connection.ensure_connection()
    connection.connection.create_function("test_look", 0, look)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER test_look BEFORE INSERT ON campaigns_message "
            "WHEN NEW.row_number = 2 BEGIN SELECT test_look(); END"
        )
    imp = _upload(acme.campaign, PHONES)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    assert seen == [(1, False)]  # there for the other connection, off for the import's
    assert stored_counts(acme.campaign)["total"] == 2_500


@sqlite_only
def test_sqlite_stores_awkward_values_exactly_in_statements_of_every_size(acme):
    awkward = ["a\\", "\\\\", '\\"', "\\n", "tab\there", 'say "hi"', "Ü 😀", "%s"]
    rows = [(f"+7701{n:07d}", awkward[n % len(awkward)] + str(n)) for n in range(1, 5_108)]
    content = "phone,note\n" + "".join(
        f'{phone},"{note.replace(chr(34), chr(34) * 2)}"\n' for phone, note in rows
    )
    imp = _upload(acme.campaign, content)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    stored = acme.campaign.messages.order_by("id").values_list("phone", "fields")
    assert [(phone, fields["note"]) for phone, fields in stored] == rows


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
