"""The contact-book import service: mapping, typed values, upsert by number, lists, the
rejected-rows report, and the limits."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from contacts import importing
from contacts.models import (
    Contact,
    ContactField,
    ContactImport,
    ContactList,
    FieldKind,
    ImportStatus,
    ListAction,
    UpsertMode,
)
from core.tables.table import ImportRejected


@pytest.fixture(autouse=True)
def empty_book(acme):
    """An import starts from Acme's book holding only its opted-out number: the tenant's
    sample contact, field, list and segment are taken away."""
    acme.workspace.segments.all().delete()
    acme.workspace.contact_lists.all().delete()
    acme.workspace.contact_fields.all().delete()
    acme.workspace.contacts.filter(opted_out_at__isnull=True).delete()


def start(
    tenant,
    text: str,
    *,
    mapping=None,
    new_fields=None,
    upsert=UpsertMode.UPDATE,
    list_action=ListAction.NONE,
    contact_list=None,
    new_list_name="",
    filename=None,
):
    """Creates an import of ``text`` (pasted, or uploaded as ``filename``), applies the
    mapping changes, confirms and runs it; returns the import as the run left it."""
    if filename:
        upload = SimpleUploadedFile(filename, text.encode())
        imp = importing.create(tenant.workspace, None, upload=upload)
    else:
        imp = importing.create(tenant.workspace, None, text=text)
    if mapping is not None or new_fields is not None:
        importing.remap(
            imp,
            {k: v for k, v in imp.options.items() if k != "detected"},
            mapping if mapping is not None else imp.mapping,
            new_fields if new_fields is not None else imp.new_fields,
        )
    importing.confirm(imp, upsert, list_action, contact_list, new_list_name)
    importing.run(imp.pk)
    imp.refresh_from_db()
    return imp


def report(imp) -> list[list[str]]:
    with imp.rejections_file.open("rb") as f:
        return list(csv.reader(io.StringIO(f.read().decode("utf-8-sig"))))


def contact(tenant, phone: str) -> Contact:
    return Contact.objects.get(workspace=tenant.workspace, phone=phone)


def test_a_file_becomes_contacts_with_new_typed_fields(acme):
    imp = start(
        acme,
        "phone;name;city;age\n+77011110001;Ann;Almaty;31\n87011110002;Bob;Astana;40\n",
        new_fields={
            "city": {"label": "City", "kind": "text"},
            "age": {"label": "Age", "kind": "number"},
        },
    )
    assert imp.status == ImportStatus.DONE, imp.error
    assert (imp.created, imp.updated, imp.unchanged, imp.rejected) == (2, 0, 0, 0)
    ann = contact(acme, "+77011110001")
    assert (ann.name, ann.fields, ann.country) == ("Ann", {"city": "Almaty", "age": 31}, "KZ")
    assert ann.time_zone == ""  # Kazakh mobiles span two zones: the workspace's applies
    assert contact(acme, "+77011110002").fields == {"city": "Astana", "age": 40}
    kinds = dict(ContactField.objects.filter(workspace=acme.workspace).values_list("key", "kind"))
    assert kinds == {"city": FieldKind.TEXT, "age": FieldKind.NUMBER}


def test_the_mapping_is_guessed_from_headers_and_existing_fields(acme):
    ContactField.objects.create(workspace=acme.workspace, key="city", label="City")
    imp = importing.create(
        acme.workspace, None, text="Phone;Name;City;Shoe size\n+77011110001;Ann;Almaty;38\n"
    )
    assert imp.mapping == ["phone", "name", "field:city", "new:shoe_size"]
    assert imp.new_fields == {"shoe_size": {"label": "Shoe size", "kind": "text"}}


def test_update_overwrites_with_non_empty_cells_and_keeps_the_rest(acme):
    ContactField.objects.create(workspace=acme.workspace, key="city", label="City")
    ContactField.objects.create(workspace=acme.workspace, key="tier", label="Tier")
    Contact.objects.create(
        workspace=acme.workspace,
        phone="+77011110001",
        name="Ann",
        fields={"city": "Almaty", "tier": "gold"},
    )
    imp = start(acme, "phone;name;city\n+77011110001;;Astana\n+77011110002;Bob;\n")
    assert (imp.created, imp.updated, imp.unchanged) == (1, 1, 0), imp.error
    ann = contact(acme, "+77011110001")
    assert (ann.name, ann.fields) == ("Ann", {"city": "Astana", "tier": "gold"})


def test_fill_blanks_only_fills_what_a_contact_lacks(acme):
    ContactField.objects.create(workspace=acme.workspace, key="city", label="City")
    ContactField.objects.create(workspace=acme.workspace, key="tier", label="Tier")
    Contact.objects.create(
        workspace=acme.workspace, phone="+77011110001", name="Ann", fields={"city": "Almaty"}
    )
    imp = start(
        acme,
        "phone;name;city;tier\n+77011110001;Anna;Astana;gold\n",
        upsert=UpsertMode.FILL_BLANKS,
    )
    assert (imp.created, imp.updated, imp.unchanged) == (0, 1, 0), imp.error
    ann = contact(acme, "+77011110001")
    assert (ann.name, ann.fields) == ("Ann", {"city": "Almaty", "tier": "gold"})


def test_a_row_that_changes_nothing_counts_as_unchanged(acme):
    ContactField.objects.create(workspace=acme.workspace, key="city", label="City")
    text = "phone;name;city\n+77011110001;Ann;Almaty\n"
    start(acme, text)
    before = contact(acme, "+77011110001").updated_at
    imp = start(acme, text)
    assert (imp.created, imp.updated, imp.unchanged) == (0, 0, 1), imp.error
    assert contact(acme, "+77011110001").updated_at == before


def test_duplicate_numbers_the_last_row_wins_and_the_earlier_is_reported(acme):
    ContactField.objects.create(workspace=acme.workspace, key="city", label="City")
    imp = start(
        acme,
        "phone;city\n+77011110001;Almaty\n8 701 111 00 01;Astana\n+77011110002;Oral\n",
    )
    assert contact(acme, "+77011110001").fields == {"city": "Astana"}
    assert (imp.created, imp.rejected, imp.accepted) == (2, 1, 2)
    rows = report(imp)
    assert rows[1][:3] == ["2", "+77011110001", "replaced_in_file"]
    assert "row 3" in rows[1][3]


def test_a_later_duplicate_in_another_batch_still_wins(acme, monkeypatch):
    monkeypatch.setattr(importing, "FIRST_BATCH", 2)
    monkeypatch.setattr(importing, "BATCH", 2)
    ContactField.objects.create(workspace=acme.workspace, key="city", label="City")
    imp = start(
        acme,
        "phone;city\n+77011110001;Almaty\n+77011110002;Oral\n+77011110003;Aktau\n"
        "+77011110001;Astana\n",
    )
    assert contact(acme, "+77011110001").fields == {"city": "Astana"}
    assert (imp.created, imp.updated, imp.unchanged, imp.rejected) == (3, 0, 0, 1)
    assert report(imp)[1][:3] == ["2", "+77011110001", "replaced_in_file"]


def test_a_value_that_does_not_fit_its_field_rejects_the_row_naming_both(acme):
    ContactField.objects.create(
        workspace=acme.workspace, key="age", label="Age", kind=FieldKind.NUMBER
    )
    ContactField.objects.create(
        workspace=acme.workspace, key="born", label="Born", kind=FieldKind.DATE
    )
    ContactField.objects.create(
        workspace=acme.workspace,
        key="plan",
        label="Plan",
        kind=FieldKind.CHOICE,
        choices=["Basic", "Pro"],
    )
    imp = start(
        acme,
        "phone;age;born;plan\n"
        "+77011110001;abc;;\n"
        "+77011110002;1,5;31.12.1990;pro\n"
        "+77011110003;;1990-13-45;\n"
        "+77011110004;;;Gold\n",
    )
    assert imp.created == 1, imp.error
    assert contact(acme, "+77011110002").fields == {"age": 1.5, "born": "1990-12-31", "plan": "Pro"}
    reasons = {row[0]: row[3] for row in report(imp)[1:]}
    assert reasons["2"] == "“abc” is not a number for Age."
    assert "not a date for Born" in reasons["4"]
    assert "not one of the choices for Plan: Basic, Pro" in reasons["5"]


def test_opted_out_column_opts_contacts_out_by_import(acme):
    imp = start(acme, "phone;unsubscribed\n+77011110001;yes\n+77011110002;no\n")
    assert imp.status == ImportStatus.DONE, imp.error
    out = contact(acme, "+77011110001")
    assert out.opted_out and out.opt_out_source == "import"
    assert not contact(acme, "+77011110002").opted_out


def test_into_a_new_list_then_replacing_it(acme):
    imp = start(
        acme,
        "phone\n+77011110001\n+77011110002\n",
        list_action=ListAction.ADD,
        new_list_name="Spring fair",
    )
    spring = ContactList.objects.get(workspace=acme.workspace, name="Spring fair")
    assert imp.contact_list == spring
    assert spring.contacts.count() == 2
    start(acme, "phone\n+77011110003\n", list_action=ListAction.REPLACE, contact_list=spring)
    assert list(spring.contacts.values_list("phone", flat=True)) == ["+77011110003"]


def test_formulas_and_html_are_stored_as_text(acme):
    imp = start(
        acme,
        "phone;=1+2;name\n+77011110001;@SUM(A1);<script>alert(1)</script>\n",
    )
    assert imp.status == ImportStatus.DONE, imp.error
    field = ContactField.objects.get(workspace=acme.workspace)
    assert (field.key, field.label) == ("f_12", "=1+2")
    ann = contact(acme, "+77011110001")
    assert ann.fields == {"f_12": "@SUM(A1)"}
    assert ann.name == "<script>alert(1)</script>"


def test_too_many_fields_are_refused_with_the_cap_named(acme, settings):
    settings.CRIER_CONTACT_FIELDS_MAX = 2
    ContactField.objects.create(workspace=acme.workspace, key="city", label="City")
    imp = importing.create(acme.workspace, None, text="phone;a;b\n+77011110001;1;2\n")
    with pytest.raises(importing.ImportNotAllowed, match="at most 2 contact fields; it has 1"):
        importing.confirm(imp, UpsertMode.UPDATE, ListAction.NONE)
    assert ContactField.objects.filter(workspace=acme.workspace).count() == 1


def test_a_file_of_ten_thousand_columns_is_refused(acme):
    header = ";".join(["phone", *(f"c{i}" for i in range(10_000))])
    with pytest.raises(ImportRejected, match="columns"):
        importing.create(acme.workspace, None, text=header + "\n+77011110001\n")


def test_rows_over_the_cap_are_refused_with_the_cap_named_and_nothing_kept(acme, settings):
    settings.CRIER_IMPORT_MAX_ROWS = 3
    rows = "".join(f"+7701111000{i}\n" for i in range(5))
    upload = SimpleUploadedFile("big.csv", ("phone\n" + rows).encode())
    with pytest.raises(ImportRejected, match="more than 3 rows"):
        importing.create(acme.workspace, None, upload=upload)
    assert not ContactImport.objects.filter(filename="big.csv").exists()
    assert not Contact.objects.filter(phone__startswith="+7701111").exists()


def test_tabs_newlines_and_backslashes_are_stored_as_written(acme):
    imp = start(
        acme,
        'phone,name,note\n+77011110001,"Ann\tB\\\\C","line one\nline \\\\two\t"\n',
        filename="people.csv",
    )
    assert imp.status == ImportStatus.DONE, imp.error
    ann = contact(acme, "+77011110001")
    assert ann.name == "Ann\tB\\\\C"
    assert ann.fields == {"note": "line one\nline \\\\two"}


def test_a_time_zone_cell_overrides_and_an_empty_one_keeps_the_contacts(acme):
    Contact.objects.create(workspace=acme.workspace, phone="+77011110001", time_zone="Asia/Aqtau")
    Contact.objects.create(workspace=acme.workspace, phone="+77011110002", time_zone="Asia/Aqtau")
    imp = start(
        acme,
        "phone;time zone;language\n+77011110001;Asia/Almaty;kk\n+77011110002;;\n"
        "+77011110003;Mars/Base;\n",
    )
    assert (imp.updated, imp.unchanged, imp.rejected) == (1, 1, 1), imp.error
    first = contact(acme, "+77011110001")
    assert (first.time_zone, first.language) == ("Asia/Almaty", "kk")
    assert contact(acme, "+77011110002").time_zone == "Asia/Aqtau"
    assert "“Mars/Base” is not a time zone for time zone" in report(imp)[1][3]


def test_a_cancelled_run_changes_nothing(acme):
    imp = importing.create(acme.workspace, None, text="phone;city\n+77011110001;Almaty\n")
    importing.confirm(imp, UpsertMode.UPDATE, ListAction.ADD, None, "Cancelled list")
    ContactImport.objects.filter(pk=imp.pk).update(cancel_requested=True)
    importing.run(imp.pk)
    imp.refresh_from_db()
    assert imp.status == ImportStatus.CANCELLED
    assert not Contact.objects.filter(phone="+77011110001").exists()
    assert not ContactField.objects.filter(workspace=acme.workspace, key="city").exists()
    assert not ContactList.objects.filter(name="Cancelled list").exists()


def test_an_import_whose_worker_died_is_failed_by_the_periodic_check(acme, settings):
    settings.CRIER_IMPORT_STALE_SECONDS = 60
    stale = timezone.now() - timedelta(seconds=61)
    ContactImport.objects.filter(pk=acme.contact_import.pk).update(
        status=ImportStatus.RUNNING, started_at=stale, heartbeat_at=stale
    )
    assert importing.fail_abandoned() == 1
    acme.contact_import.refresh_from_db()
    assert acme.contact_import.status == ImportStatus.FAILED
    assert "start the import again" in acme.contact_import.error


def test_into_a_new_book_a_later_duplicate_in_another_batch_still_wins(acme, monkeypatch):
    acme.workspace.contacts.all().delete()
    monkeypatch.setattr(importing, "FIRST_BATCH", 2)
    monkeypatch.setattr(importing, "BATCH", 2)
    ContactField.objects.create(workspace=acme.workspace, key="city", label="City")
    imp = start(
        acme,
        "phone;city\n+77011110001;Almaty\n+77011110002;Oral\n+77011110003;Aktau\n"
        "+77011110001;Astana\n+77011110004;Taraz\n+77011110001;Semey\n",
    )
    assert contact(acme, "+77011110001").fields == {"city": "Semey"}
    assert (imp.created, imp.updated, imp.unchanged, imp.rejected) == (4, 0, 0, 2), imp.error


def test_a_contact_added_to_a_new_book_during_the_import_is_updated_not_failed(acme, monkeypatch):
    acme.workspace.contacts.all().delete()
    prepare = importing._prepare

    def someone_adds_a_contact_meanwhile(imp, stamp):
        target = prepare(imp, stamp)
        Contact.objects.create(workspace=acme.workspace, phone="+77011110002", name="By hand")
        return target

    monkeypatch.setattr(importing, "_prepare", someone_adds_a_contact_meanwhile)

    imp = start(acme, "phone;name\n+77011110001;Ann\n+77011110002;Bob\n+77011110003;Cem\n")

    assert imp.status == ImportStatus.DONE, imp.error
    assert contact(acme, "+77011110002").name == "Bob"
    assert Contact.objects.filter(workspace=acme.workspace).count() == 3


def test_into_a_new_book_contacts_are_written_as_into_any_other(acme):
    """PostgreSQL COPYs a new book's contacts straight into the table (contacts.upsert): each
    value comes out as the upsert through the rows table writes it."""
    text = (
        "phone,name,note,age,time zone,language,unsubscribed\n"
        '+77011110001,"Ann\tB\\\\C","line one\nline \\\\two\t",31,Asia/Almaty,kk,yes\n'
        "+77011110002,,,,,,\n"
        "+447400123456,Bob,plain,40,,en,no\n"
    )
    new_fields = {
        "note": {"label": "note", "kind": "text"},
        "age": {"label": "age", "kind": "number"},
    }

    def imported() -> dict:
        contacts = Contact.objects.filter(
            workspace=acme.workspace, phone__in=["+77011110001", "+77011110002", "+447400123456"]
        )
        return {
            c.phone: (
                c.country,
                c.name,
                c.fields,
                c.language,
                c.time_zone,
                c.opted_out,
                c.opt_out_source,
                c.opt_out_note,
                c.created_at == c.updated_at,
            )
            for c in contacts
        }

    acme.workspace.contacts.all().delete()
    first = start(acme, text, new_fields=new_fields, filename="people.csv")
    assert (first.created, first.updated, first.rejected) == (3, 0, 0), first.error
    into_new_book = imported()

    acme.workspace.contacts.all().delete()
    acme.workspace.contact_fields.all().delete()
    Contact.objects.create(workspace=acme.workspace, phone="+77019999999")
    second = start(acme, text, new_fields=new_fields, filename="people.csv")
    assert (second.created, second.updated, second.rejected) == (3, 0, 0), second.error

    assert into_new_book == imported()
    assert into_new_book["+77011110001"][1:6] == (
        "Ann\tB\\\\C",
        {"note": "line one\nline \\\\two", "age": 31},
        "kk",
        "Asia/Almaty",
        True,
    )
