"""An abandoned import whose event cannot be written is left for the next run, alone: the
others, in every workspace, are failed and told (core.imports.fail_abandoned)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from campaigns.models import RecipientImport
from campaigns.recipients import imports
from tests.webhooks.test_events import listen

pytestmark = pytest.mark.usefixtures("no_sample_webhook")


def test_one_bad_abandoned_import_does_not_keep_another_running(
    acme, globex, settings, monkeypatch
):
    from webhooks import events as recorded

    listen(acme)
    long_ago = timezone.now() - timedelta(seconds=settings.CRIER_IMPORT_STALE_SECONDS + 60)
    made = []
    for tenant in (acme, globex):
        upload = SimpleUploadedFile("people.csv", b"phone\n+77011112233\n")
        imp = imports.create(tenant.campaign, None, upload=upload)
        RecipientImport.objects.filter(pk=imp.pk).update(
            status="running", started_at=long_ago, heartbeat_at=long_ago
        )
        made.append(imp)
    real = recorded.import_finished

    def failing_for_acme(workspace_id, kind, imp):
        if workspace_id == acme.workspace.pk:
            raise RuntimeError("this workspace's event cannot be written")
        return real(workspace_id, kind, imp)

    monkeypatch.setattr(recorded, "import_finished", failing_for_acme)
    assert imports.fail_abandoned() == 1  # globex's; acme's raised and was logged
    assert RecipientImport.objects.get(pk=made[1].pk).status == "failed"
    assert RecipientImport.objects.get(pk=made[0].pk).status == "running"  # for the next run
    monkeypatch.setattr(recorded, "import_finished", real)
    assert imports.fail_abandoned() == 1
    assert RecipientImport.objects.get(pk=made[0].pk).status == "failed"
