"""The contact import pages: upload, mapping with new fields, progress, result, rejected rows;
who may do what."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts import importing
from contacts.models import Contact, ContactField, ContactImport, ContactList, ImportStatus
from workspaces.models import Role


def upload(client, text: str, name: str = "people.csv"):
    return client.post(
        reverse("contact_import_new"), {"file": SimpleUploadedFile(name, text.encode())}
    )


def mapping_post(imp, **changes) -> dict:
    """The mapping form as the page submits it, with ``changes``."""
    data = {"upsert": imp.upsert, "list_action": "none", "contact_list": "", "new_list_name": ""}
    for index, target in enumerate(imp.mapping):
        kind, _, key = target.partition(":")
        data[f"map_{index}"] = "new" if kind == "new" else target
        data[f"label_{index}"] = imp.new_fields.get(key, {}).get("label", imp.columns[index])
        data[f"kind_{index}"] = imp.new_fields.get(key, {}).get("kind", "text")
    return {**data, **changes}


def test_a_sender_uploads_maps_a_new_number_field_and_imports_into_a_new_list(as_role, acme):
    client = as_role(Role.SENDER)
    response = upload(client, "Phone,Name,Age\n+77011110001,Ann,31\n+77011110002,Bob,x\n")
    imp = ContactImport.objects.get(workspace=acme.workspace, filename="people.csv")
    assert response.status_code == 302
    assert response.url == reverse("contact_import_detail", args=[imp.pk])
    page = client.get(response.url).content.decode()
    assert 'data-testid="contact-mapping-form"' in page and "Ann" in page
    post = mapping_post(
        imp, kind_2="number", list_action="add", new_list_name="Spring fair", confirm="1"
    )
    response = client.post(reverse("contact_import_detail", args=[imp.pk]), post)
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == ImportStatus.QUEUED
    importing.run(imp.pk)
    page = client.get(reverse("contact_import_detail", args=[imp.pk])).content.decode()
    assert 'data-testid="created">1<' in page
    assert "Spring fair" in page and "1 member." in page
    assert ContactField.objects.get(workspace=acme.workspace, key="age").kind == "number"
    report = client.get(reverse("contact_import_rejections", args=[imp.pk]))
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert "“x” is not a number for Age." in text


def test_choosing_a_new_field_shows_its_name_and_kind_inline(as_role, acme):
    client = as_role(Role.SENDER)
    upload(client, "phone,shoe\n+77011110001,38\n")
    imp = ContactImport.objects.filter(workspace=acme.workspace).latest("pk")
    post = mapping_post(imp, map_1="ignore")
    page = client.post(
        reverse("contact_import_detail", args=[imp.pk]), post, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-testid="new-field-1"' not in page
    post = mapping_post(imp, map_1="new", label_1="Shoe size")
    page = client.post(
        reverse("contact_import_detail", args=[imp.pk]), post, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-testid="new-field-1"' in page and 'value="Shoe size"' in page


def test_a_mapping_without_a_phone_column_is_refused_with_the_reason(as_role, acme):
    client = as_role(Role.SENDER)
    upload(client, "phone,name\n+77011110001,Ann\n")
    imp = ContactImport.objects.filter(workspace=acme.workspace).latest("pk")
    post = mapping_post(imp, map_0="ignore", confirm="1")
    response = client.post(reverse("contact_import_detail", args=[imp.pk]), post)
    assert response.status_code == 200
    assert "Choose exactly one column of phone numbers." in response.content.decode()
    imp.refresh_from_db()
    assert imp.status == ImportStatus.UPLOADED


def test_an_unreadable_file_is_refused_on_the_upload_page(as_role, acme):
    response = upload(as_role(Role.SENDER), "", name="empty.csv")
    assert response.status_code == 400
    assert not ContactImport.objects.filter(workspace=acme.workspace, filename="empty.csv")


def test_a_viewer_sees_imports_but_cannot_upload_map_or_cancel(as_role, acme):
    client = as_role(Role.VIEWER)
    page = client.get(reverse("contact_import_new")).content.decode()
    assert "contact-upload-form" not in page
    assert upload(client, "phone\n+77011110001\n").status_code == 403
    imp = acme.contact_import
    detail = reverse("contact_import_detail", args=[imp.pk])
    assert client.get(detail).status_code == 200
    assert client.post(detail, mapping_post(imp, confirm="1")).status_code == 403
    assert client.post(reverse("contact_import_cancel", args=[imp.pk])).status_code == 403
    imp.refresh_from_db()
    assert imp.status == ImportStatus.UPLOADED


def test_progress_stops_polling_once_finished(as_role, acme):
    client = as_role(Role.VIEWER)
    imp = acme.contact_import
    url = reverse("contact_import_progress", args=[imp.pk])
    ContactImport.objects.filter(pk=imp.pk).update(status=ImportStatus.RUNNING, rows_done=5)
    assert client.get(url).status_code == 200
    ContactImport.objects.filter(pk=imp.pk).update(status=ImportStatus.DONE)
    assert client.get(url).status_code == 286


def test_cancel_stops_a_queued_import(as_role, acme):
    imp = acme.contact_import
    ContactImport.objects.filter(pk=imp.pk).update(status=ImportStatus.QUEUED)
    as_role(Role.SENDER).post(reverse("contact_import_cancel", args=[imp.pk]))
    imp.refresh_from_db()
    assert imp.status == ImportStatus.CANCELLED
    assert importing.run(imp.pk) == {"import": imp.pk, "skipped": "not queued"}


def test_hostile_names_and_values_are_shown_escaped(as_role, acme):
    client = as_role(Role.SENDER)
    upload(client, "phone,<b>x</b>,name\n+77011110001,=1+2,<script>alert(1)</script>\n")
    imp = ContactImport.objects.filter(workspace=acme.workspace).latest("pk")
    page = client.get(reverse("contact_import_detail", args=[imp.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    client.post(reverse("contact_import_detail", args=[imp.pk]), mapping_post(imp, confirm="1"))
    importing.run(imp.pk)
    contact = Contact.objects.get(workspace=acme.workspace, phone="+77011110001")
    assert contact.name == "<script>alert(1)</script>"
    assert contact.fields == {"bxb": "=1+2"}


@pytest.mark.parametrize("role", [Role.SENDER, Role.ADMIN])
def test_the_list_select_offers_only_the_workspaces_lists(as_role, acme, globex, role):
    ContactList.objects.create(workspace=acme.workspace, name="Acme VIPs")
    ContactList.objects.create(workspace=globex.workspace, name="Globex VIPs")
    page = as_role(role).get(reverse("contact_import_detail", args=[acme.contact_import.pk]))
    text = page.content.decode()
    assert "Acme VIPs" in text and "Globex VIPs" not in text
