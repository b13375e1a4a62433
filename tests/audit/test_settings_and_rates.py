"""Workspace settings and rate-card changes are audited with what changed, before → after,
and the audit log page shows every detail in words, never a raw dict or id."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.log import record
from audit.models import Action, AuditEvent
from workspaces.models import Role

HTMX = {"HX-Request": "true"}


def only_event() -> AuditEvent:
    (event,) = AuditEvent.objects.all()
    return event


def shown(client) -> list[list[str]]:
    """Each row of the audit log page's details, as "label: value" strings."""
    html = client.get(reverse("audit_log")).text
    rows = re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>")[1], re.S)
    return [
        [f"{k}: {v}" for k, v in re.findall(r'emphasis">([^<]+)</span>: ([^<]+)</div>', row)]
        for row in rows
    ]


def settings_form(acme, **changes):
    ws = acme.workspace
    return {"name": ws.name, "default_country": ws.default_country, "time_zone": ws.time_zone,
            "currency": ws.currency} | changes  # fmt: skip


def test_workspace_settings_changes_are_recorded_old_and_new(as_role, acme):
    client = as_role(Role.ADMIN)
    client.post(reverse("workspace_settings"), settings_form(acme, time_zone="Asia/Almaty"))

    event = only_event()
    assert (event.action, event.actor_name) == (Action.WORKSPACE_CHANGED, "adam")
    assert event.details == {"time_zone": {"old": "UTC", "new": "Asia/Almaty"}}
    assert shown(client) == [["time zone: UTC → Asia/Almaty"]]


def test_saving_unchanged_settings_records_nothing(as_role, acme):
    as_role(Role.ADMIN).post(reverse("workspace_settings"), settings_form(acme, currency="usd"))
    assert not AuditEvent.objects.exists()


def test_a_rate_added_edited_and_removed_is_recorded(as_role, acme):
    client = as_role(Role.ADMIN)
    add = {"country": "UZ", "price": "0.05", "note": ""}
    client.post(reverse("rate_add", args=[acme.account.pk]), add, headers=HTMX)
    edit = {"country": "KZ", "price": "0.04", "note": ""}
    client.post(reverse("rate_edit", args=[acme.rate.pk]), edit, headers=HTMX)
    client.post(reverse("rate_delete", args=[acme.rate.pk]), headers=HTMX)

    events = AuditEvent.objects.order_by("pk")
    assert {e.action for e in events} == {Action.RATE_CARD_CHANGED}
    assert {e.target for e in events} == {"account Acme BSG"}
    assert shown(client) == [  # newest first
        ["destination: KZ", "price: 0.04 → —"],
        ["destination: KZ", "price: 0.035 → 0.04"],
        ["destination: UZ", "price: — → 0.05"],
    ]


def test_an_imported_rate_card_is_recorded_with_its_counts(as_role, acme):
    client = as_role(Role.ADMIN)
    content = SimpleUploadedFile("rates.csv", b"KZ,0.03\nUZ,0.05\n")
    client.post(reverse("rate_import", args=[acme.account.pk]), {"file": content}, headers=HTMX)

    event = only_event()
    assert event.action == Action.RATE_CARD_IMPORTED
    assert event.details == {"file": "rates.csv", "added": 1, "changed": 1, "removed": 0}


def test_details_read_as_words(as_role, acme):
    olivia = acme.user(Role.OWNER)
    record(acme.workspace, olivia, Action.MEMBER_ROLE_CHANGED, "member sam",
           old_role="sender", new_role="admin")  # fmt: skip
    host = {"old": "", "new": "https://api.example.com"}
    record(acme.workspace, olivia, Action.CREDENTIALS_CHANGED, "account Acme BSG",
           fields=["api_key"], api_base_url=host)  # fmt: skip
    start = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    record(acme.workspace, olivia, Action.CAMPAIGN_LAUNCHED, "campaign X", campaign_id=7,
           recipients=1200, estimate="42.00", currency="EUR", start_at=start,
           new_user=False)  # fmt: skip

    rows = shown(as_role(Role.OWNER))

    assert rows == [
        ["recipients: 1,200", "estimate: 42.00 EUR", "new user: no", "starts: 1 Mar 2026, 09:30"],
        ["credentials: api key", "API host: — → https://api.example.com"],
        ["role: Sender → Admin"],
    ]
    html = as_role(Role.OWNER).get(reverse("audit_log")).text
    assert "{" not in html.split("<tbody>")[1].split("</tbody>")[0]
