"""Contact.workspace has no database constraint (issue #17: a foreign key's check is a query
per inserted row): an import locks its workspace row instead, as that check would, so a
workspace is never deleted under a running import and its contacts never outlive it."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from contacts import importing
from contacts.models import Contact, ImportStatus, ListAction, UpsertMode
from workspaces.models import Workspace


def run_import(tenant, text: str):
    imp = importing.create(tenant.workspace, None, text=text)
    importing.confirm(imp, UpsertMode.UPDATE, ListAction.NONE)
    importing.run(imp.pk)
    imp.refresh_from_db()
    return imp


def test_an_import_into_a_workspace_that_is_gone_fails_and_adds_nothing(acme, monkeypatch):
    hold = importing._hold_workspace

    def workspace_deleted_meanwhile(workspace_id):
        return hold(10**9)  # what a deletion that locked the row first leaves

    monkeypatch.setattr(importing, "_hold_workspace", workspace_deleted_meanwhile)
    before = Contact.objects.count()

    imp = run_import(acme, "phone;name\n+77011110001;Ann\n")

    assert imp.status == ImportStatus.FAILED
    assert "workspace was deleted" in imp.error
    assert Contact.objects.count() == before


def test_deleting_a_workspace_in_the_admin_deletes_its_contacts(admin_client):
    workspace = Workspace.objects.create(name="Closing", default_country="KZ")
    Contact.objects.create(workspace=workspace, phone="+77011110009")
    pk = workspace.pk
    url = reverse("admin:dashboard_workspace_delete", args=[pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Workspace.objects.filter(pk=pk).exists()
    assert not Contact.objects.filter(workspace_id=pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_running_import_holds_its_workspace_against_deletion(acme, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    prepare = importing._prepare
    tried = []

    def try_to_delete_the_workspace(imp, stamp):
        target = prepare(imp, stamp)
        url = settings.DATABASES["default"]
        with (
            psycopg.connect(
                dbname=url["NAME"], host=url["HOST"], port=url["PORT"] or 5432, user=url["USER"]
            ) as other,
            pytest.raises(psycopg.errors.LockNotAvailable),
        ):
            other.execute(
                f"SELECT 1 FROM {Workspace._meta.db_table} WHERE id = %s FOR UPDATE NOWAIT",
                [imp.workspace_id],
            )
        tried.append(True)
        return target

    monkeypatch.setattr(importing, "_prepare", try_to_delete_the_workspace)

    imp = run_import(acme, "phone;name\n+77011110001;Ann\n")

    assert tried and imp.status == ImportStatus.DONE, imp.error
