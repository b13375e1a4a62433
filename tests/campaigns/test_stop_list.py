from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.models import Contact
from workspaces.models import Role


def numbers(tenant):
    return set(
        Contact.objects.filter(opted_out_at__isnull=False)
        .filter(workspace=tenant.workspace)
        .values_list("phone", flat=True)
    )


def test_a_sender_adds_numbers_in_any_format(as_role, acme):
    as_role(Role.SENDER).post(
        reverse("stop_list"), {"numbers": "+7 701 111 22 33\n8 (701) 444-55-66, 87014445566"}
    )
    assert numbers(acme) == {"+77019998877", "+77011112233", "+77014445566"}


def test_one_bad_number_adds_nothing_and_names_it(as_role, acme):
    response = as_role(Role.SENDER).post(
        reverse("stop_list"), {"numbers": "+77011112233\nhello"}, headers={"HX-Request": "true"}
    )
    assert "Not valid phone numbers: hello" in response.text
    assert numbers(acme) == {"+77019998877"}


def test_upload_adds_the_phone_column_and_reports_bad_rows(as_role, acme):
    content = "name,mobile\nAnn,+77011112233\nBob,nope\nCid,+77019998877\nDee,+77011112233\n"
    response = as_role(Role.SENDER).post(
        reverse("stop_list_upload"),
        {"file": SimpleUploadedFile("optouts.csv", content.encode()), "note": "March opt-outs"},
        follow=True,
    )
    text = next(iter(response.context["messages"])).message
    assert text == (
        "Added 1 number from optouts.csv; 1 was listed already. "
        "Rows 3 hold no valid number and were skipped."
    )
    assert numbers(acme) == {"+77019998877", "+77011112233"}
    added = Contact.objects.get(workspace=acme.workspace, phone="+77011112233")
    assert (added.opt_out_note, added.opt_out_source, added.country) == (
        "March opt-outs",
        "manual",
        "KZ",
    )


def test_an_unreadable_upload_adds_nothing(as_role, acme):
    response = as_role(Role.SENDER).post(
        reverse("stop_list_upload"),
        {"file": SimpleUploadedFile("optouts.xlsx", b"not a workbook")},
        follow=True,
    )
    assert "Nothing was added" in next(iter(response.context["messages"])).message
    assert numbers(acme) == {"+77019998877"}


def test_only_an_admin_removes_a_number(as_role, acme):
    url = reverse("stop_list_remove", args=[acme.stop_entry.pk])
    assert as_role(Role.SENDER).post(url).status_code == 403
    as_role(Role.ADMIN).post(url)
    assert numbers(acme) == set()
    # The contact stays in the book, opted back in.
    assert Contact.objects.get(pk=acme.stop_entry.pk).opted_out_at is None
