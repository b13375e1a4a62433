"""How an import stores its messages: integrity without a per-row foreign-key check, and the
counters' triggers kept on every database."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections

from campaigns import services
from campaigns.models import Campaign, CampaignCounters, Message
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
