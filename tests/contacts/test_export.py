"""Exporting a list or a segment as CSV and XLSX: every member once, the custom fields as
columns, formulas made inert, numbers kept as numbers."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from python_calamine import CalamineWorkbook

from contacts.models import Contact, ContactField, ContactList, FieldKind, ListMember, Segment
from workspaces.models import Role


@pytest.fixture
def fair(acme):
    workspace = acme.workspace
    workspace.contact_fields.all().delete()  # the tenant's sample City: this book has its own
    ContactField.objects.create(workspace=workspace, key="age", label="Age", kind=FieldKind.NUMBER)
    ContactField.objects.create(workspace=workspace, key="f_12", label="=1+2")
    fair = ContactList.objects.create(workspace=workspace, name="Spring fair")
    people = [
        Contact.objects.create(
            workspace=workspace,
            phone="+77011110001",
            name="<script>alert(1)</script>",
            country="KZ",
            fields={"age": 31, "f_12": "@SUM(A1)"},
        ),
        Contact.objects.create(
            workspace=workspace, phone="+77011110002", name='=HYPERLINK("x")', country="KZ"
        ),
    ]
    Contact.objects.create(workspace=workspace, phone="+77011110003", name="Not in the list")
    ListMember.objects.bulk_create(ListMember(contact_list=fair, contact=c) for c in people)
    return fair


def export(client, **query):
    return client.get(reverse("contact_export"), query)


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_a_list_exports_its_members_with_fields_and_formulas_defused(as_role, fair):
    response = export(as_role(Role.VIEWER), list=fair.pk)
    assert response["Content-Disposition"].startswith('attachment; filename="Spring-fair.csv"')
    rows = csv_rows(response)
    assert rows[0] == [
        "phone",
        "name",
        "country",
        "language",
        "time zone",
        "opted out",
        "'=1+2",
        "Age",
    ]
    assert rows[1] == [
        "+77011110001",
        "<script>alert(1)</script>",
        "KZ",
        "",
        "",
        "no",
        "'@SUM(A1)",
        "31",
    ]
    assert rows[2][:2] == ["+77011110002", '\'=HYPERLINK("x")']
    assert len(rows) == 3


def test_xlsx_keeps_numbers_and_defuses_text(as_role, fair):
    response = export(as_role(Role.VIEWER), list=fair.pk, format="xlsx")
    data = b"".join(response.streaming_content)
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    assert sheet[1][0] == "+77011110001" and sheet[1][7] == 31
    assert sheet[2][1] == '\'=HYPERLINK("x")'


def test_a_segment_exports_the_contacts_matching_it_now(as_role, acme, fair):
    segment = Segment.objects.create(
        workspace=acme.workspace,
        name="Adults",
        conditions={"match": "all", "rules": [{"field": "field:age", "op": "gt", "value": "18"}]},
    )
    rows = csv_rows(export(as_role(Role.VIEWER), segment=segment.pk))
    assert [row[0] for row in rows[1:]] == ["+77011110001"]


def test_another_workspaces_list_or_segment_is_404(as_role, globex):
    theirs = ContactList.objects.create(workspace=globex.workspace, name="Theirs")
    segment = Segment.objects.create(workspace=globex.workspace, name="Theirs")
    client = as_role(Role.OWNER)
    assert export(client, list=theirs.pk).status_code == 404
    assert export(client, segment=segment.pk).status_code == 404


@pytest.mark.parametrize(
    "query", [{}, {"list": "abc"}, {"list": "1", "format": "pdf"}, {"segment": "-1"}]
)
def test_a_missing_or_malformed_choice_is_404_not_500(as_role, fair, query):
    assert export(as_role(Role.VIEWER), **query).status_code == 404
