"""A campaign through the API: a draft made and changed under the compose steps' own rules,
recipients as JSON, price, launch and the other moves, counters and messages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.compose import pricing
from campaigns.models import Campaign, Message
from core.statuses import CampaignStatus
from providers.base import AccountInfo

RICH = AccountInfo(currency="USD", balance=Decimal("1000"))


@pytest.fixture(autouse=True)
def _funds(monkeypatch):
    monkeypatch.setattr(pricing, "current_funds", lambda campaign: RICH)


def new_draft(api, acme, **more):
    body = {
        "name": "API sale",
        "account": acme.account.pk,
        "sender": acme.sender.value,
        "text": "Hi {name}, 20% off today",
        **more,
    }
    return api.post("/api/v1/campaigns", body, format="json")


def add_recipients(api, campaign_id, recipients, django_capture_on_commit_callbacks, mode="add"):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/v1/campaigns/{campaign_id}/recipients",
            {"recipients": recipients, "mode": mode},
            format="json",
        )
    assert response.status_code == 202, response.json()
    return api.get(f"/api/v1/imports/{response.json()['id']}").json()


def test_a_draft_is_made_with_the_pages_rules(api, acme):
    response = new_draft(api, acme)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft" and body["text"] == "Hi {name}, 20% off today"
    assert body["counters"]["total"] == 0
    campaign = Campaign.objects.get(pk=body["id"])
    assert campaign.workspace == acme.workspace and campaign.sender == acme.sender.value


def test_a_refused_draft_names_each_field_and_saves_nothing(api, acme, globex):
    before = Campaign.objects.count()
    response = new_draft(api, acme, account=globex.account.pk, text="")
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "/api/v1/problems/validation-error"
    assert "account" in {e["field"] for e in problem["errors"]}
    response = new_draft(api, acme, sender="NotOurs")
    assert [e["field"] for e in response.json()["errors"]] == ["sender"]
    response = new_draft(api, acme, send_at="2001-01-01T10:00:00+05:00")
    assert [e["field"] for e in response.json()["errors"]] == ["send_at"]
    assert "has passed" in response.json()["errors"][0]["message"]
    assert Campaign.objects.count() == before


def test_patch_changes_only_what_it_is_given(api, acme):
    draft = new_draft(api, acme).json()
    response = api.patch(
        f"/api/v1/campaigns/{draft['id']}",
        {"text": "New text", "rate_limit": 100, "rate_period": 3600},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["text"], body["rate_limit"], body["rate_period"]) == ("New text", 100, 3600)
    assert body["sender"] == acme.sender.value and body["name"] == "API sale"
    refused = api.patch(f"/api/v1/campaigns/{draft['id']}", {"rate_limit": 5}, format="json")
    assert refused.status_code == 200  # a period is already there
    refused = api.patch(f"/api/v1/campaigns/{draft['id']}", {"rate_period": None}, format="json")
    assert refused.status_code == 400
    assert Campaign.objects.get(pk=draft["id"]).rate_period == 3600


def test_recipients_as_json_go_through_the_import_with_every_refusal_reported(
    api, acme, eager, django_capture_on_commit_callbacks
):
    draft = new_draft(api, acme).json()
    imp = add_recipients(
        api,
        draft["id"],
        [
            {"phone": "+7 701 000 0001", "fields": {"name": "Ann"}},
            {"phone": "87010000002", "fields": {"name": "Bob, Jr."}},
            {"phone": "not a number", "fields": {"name": "X"}},
            {"phone": "+77010000001", "fields": {"name": "Ann again"}},
            {"phone": acme.stop_entry.phone, "fields": {"name": "Opted out"}},
        ],
        django_capture_on_commit_callbacks,
    )
    assert imp["status"] == "done", imp
    assert (imp["accepted"], imp["rejected"]) == (2, 3)
    rows = api.get(f"/api/v1/imports/{imp['id']}/rejections").json()
    assert rows["count"] == 3
    assert {r["code"] for r in rows["results"]} == {
        "not_a_number",
        "duplicate_in_file",
        "stop_listed",
    }
    assert "not a number" in [r["value"] for r in rows["results"]]
    names = dict(Message.objects.filter(campaign_id=draft["id"]).values_list("phone", "fields"))
    assert names["+77010000002"] == {"name": "Bob, Jr."}


def test_launch_then_pause_resume_stop_and_the_counters(
    api, acme, eager, django_capture_on_commit_callbacks
):
    draft = new_draft(api, acme).json()
    not_ready = api.post(f"/api/v1/campaigns/{draft['id']}/launch", {}, format="json")
    assert not_ready.status_code == 422
    assert not_ready.json()["type"] == "/api/v1/problems/not-ready"
    recipients = [{"phone": f"+7701000{n:04d}", "fields": {"name": "A"}} for n in range(30)]
    add_recipients(api, draft["id"], recipients, django_capture_on_commit_callbacks)
    price = api.get(f"/api/v1/campaigns/{draft['id']}/price").json()
    assert price["status"] == "done" and price["messages"] == 30
    assert Decimal(price["total"]) == 30 * acme.rate.price
    launched = api.post(f"/api/v1/campaigns/{draft['id']}/launch", {}, format="json")
    assert launched.status_code == 200, launched.json()
    assert launched.json()["campaign"]["status"] == "scheduled"
    again = api.post(f"/api/v1/campaigns/{draft['id']}/launch", {}, format="json")
    assert again.status_code == 409
    assert again.json()["type"] == "/api/v1/problems/wrong-state"
    assert (
        api.patch(f"/api/v1/campaigns/{draft['id']}", {"text": "x"}, format="json").status_code
        == 409
    )
    paused = api.post(f"/api/v1/campaigns/{draft['id']}/pause", format="json")
    assert paused.json()["campaign"]["status"] == "paused"
    resumed = api.post(f"/api/v1/campaigns/{draft['id']}/resume", format="json")
    assert resumed.json()["campaign"]["status"] in {"sending", "scheduled"}
    stopped = api.post(f"/api/v1/campaigns/{draft['id']}/stop", format="json")
    assert stopped.json() == {"campaign": stopped.json()["campaign"], "cancelled": 30}
    counters = api.get(f"/api/v1/campaigns/{draft['id']}/counters").json()
    assert (counters["total"], counters["cancelled"]) == (30, 30)
    history = api.get(f"/api/v1/campaigns/{draft['id']}/counters/history").json()
    assert history["results"][0]["counts"]["pending"] == 30


def test_messages_come_a_page_at_a_time_filtered(api, acme):
    campaign = acme.campaign
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7701000{n:04d}", country="KZ", status=status)
        for n, status in enumerate(["pending", "delivered"] * 75)
    )
    first = api.get(f"/api/v1/campaigns/{campaign.pk}/messages?limit=100").json()
    assert len(first["results"]) == 100 and first["next"]
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 50 and second["next"] is None
    ids = [m["id"] for m in first["results"] + second["results"]]
    assert ids == sorted(ids) and len(set(ids)) == 150
    delivered = api.get(f"/api/v1/campaigns/{campaign.pk}/messages?status=delivered").json()
    assert {m["status"] for m in delivered["results"]} == {"delivered"}
    bad = api.get(f"/api/v1/campaigns/{campaign.pk}/messages?status=nope")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "status"
    later = api.get(
        f"/api/v1/campaigns/{campaign.pk}/messages", {"updated_since": "2999-01-01T00:00:00Z"}
    ).json()
    assert later["results"] == []


def test_clone_and_delete(api, acme):
    copy = api.post(f"/api/v1/campaigns/{acme.campaign.pk}/clone", {"name": "Again"}, format="json")
    assert copy.status_code == 201 and copy.json()["name"] == "Again"
    assert api.delete(f"/api/v1/campaigns/{copy.json()['id']}").status_code == 204
    assert not Campaign.objects.filter(pk=copy.json()["id"]).exists()
    Campaign.objects.filter(pk=acme.campaign.pk).update(status=CampaignStatus.SENDING)
    assert api.delete(f"/api/v1/campaigns/{acme.campaign.pk}").status_code == 409


def test_list_filters(api, acme):
    Campaign.objects.create(workspace=acme.workspace, name="Voice thing", channel="voice")
    names = lambda q: [c["name"] for c in api.get("/api/v1/campaigns" + q).json()["results"]]  # noqa: E731
    assert names("?channel=voice") == ["Voice thing"]
    assert names("?search=spring") == ["Acme spring sale"]
    assert names("?status=sending") == []
    assert api.get("/api/v1/campaigns?created_after=yesterday").status_code == 400


def test_times_are_answered_in_utc(api, acme):
    acme.workspace.time_zone = "Asia/Almaty"
    acme.workspace.save()
    body = api.get(f"/api/v1/campaigns/{acme.campaign.pk}").json()
    assert body["created_at"].endswith("Z")


def test_a_hundred_thousand_recipients_in_one_request(
    api, acme, eager, django_capture_on_commit_callbacks
):
    draft = new_draft(api, acme).json()
    recipients = [
        {"phone": f"+7701{n:07d}", "fields": {"name": f"Customer {n}"}} for n in range(100_000)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/v1/campaigns/{draft['id']}/recipients",
            {"recipients": recipients},
            format="json",
            headers={"Idempotency-Key": "big-one"},
        )
    assert response.status_code == 202, response.content[:300]
    imp = api.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert (imp["status"], imp["accepted"], imp["rejected"]) == ("done", 100_000, 0)
    too_many = api.post(
        f"/api/v1/campaigns/{draft['id']}/recipients",
        {"recipients": [*recipients, {"phone": "+77019999999"}]},
        format="json",
    )
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["field"] == "recipients"


def test_a_body_over_the_limit_is_a_413_problem(api, acme, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    draft = new_draft(api, acme).json()
    recipients = [{"phone": f"+7701{n:07d}"} for n in range(200)]
    for headers in ({}, {"Idempotency-Key": "x"}):
        response = api.post(
            f"/api/v1/campaigns/{draft['id']}/recipients",
            {"recipients": recipients},
            format="json",
            headers=headers,
        )
        assert response.status_code == 413, response.content[:200]
        assert response.json()["type"] == "/api/v1/problems/payload-too-large"


def test_uploads_too_large_or_while_busy_are_problems_not_redirects(api, acme, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    draft = new_draft(api, acme).json()
    url = f"/api/v1/campaigns/{draft['id']}/recipients/upload"

    def upload():
        csv = SimpleUploadedFile("people.csv", b"phone\n" + b"+77010000001\n" * 200)
        return api.post(url, {"file": csv}, format="multipart")

    settings.CRIER_IMPORT_MAX_BYTES = 1000
    response = upload()
    assert response.status_code == 413, response.content[:200]
    assert "larger than" in response.json()["detail"]
    settings.CRIER_IMPORT_MAX_BYTES = 10**6
    settings.CRIER_UPLOADS_PER_PROCESS = 0
    response = upload()
    assert response.status_code == 503
    assert response.json()["type"] == "/api/v1/problems/busy" and response["Retry-After"] == "5"
    settings.CRIER_UPLOADS_PER_PROCESS = 4
    assert upload().status_code == 202


def test_a_draft_takes_its_text_from_a_template(api, acme, globex):
    from campaigns.models import MessageTemplate

    both = new_draft(api, acme, template=acme.template.pk)  # a text and a template: refused
    assert both.status_code == 400
    assert [e["field"] for e in both.json()["errors"]] == ["template"]
    payload = {"name": "From template", "account": acme.account.pk, "sender": acme.sender.value}
    response = api.post(
        "/api/v1/campaigns", {**payload, "template": acme.template.pk}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["template"] == acme.template.pk and body["text"] == acme.template.text
    assert MessageTemplate.objects.get(pk=acme.template.pk).usage_count == 1
    # Another workspace's template, or one of another channel, is refused and nothing is saved.
    before = Campaign.objects.count()
    spoken = MessageTemplate.objects.create(
        workspace=acme.workspace, name="Spoken", channel="voice", text="Hi"
    )
    for template in (globex.template.pk, spoken.pk):
        refused = api.post("/api/v1/campaigns", {**payload, "template": template}, format="json")
        assert refused.status_code == 400
        assert [e["field"] for e in refused.json()["errors"]] == ["template"]
    assert Campaign.objects.count() == before
    # A PATCH with text edits the text; the campaign still came from the template.
    edited = api.patch(f"/api/v1/campaigns/{body['id']}", {"text": "Edited"}, format="json")
    assert edited.json()["text"] == "Edited" and edited.json()["template"] == acme.template.pk
    # A PATCH that changes only the channel: the text no longer comes from an SMS template.
    spoken = api.patch(f"/api/v1/campaigns/{body['id']}", {"channel": "voice"}, format="json")
    assert spoken.status_code == 200, spoken.json()
    assert spoken.json()["channel"] == "voice" and spoken.json()["template"] is None
    assert MessageTemplate.objects.get(pk=acme.template.pk).usage_count == 0


def test_a_status_the_counters_say_is_empty_is_answered_without_reading_messages(api, acme):
    """As the recipient table (campaigns.pages.queries): queued, sent and delivered are in no
    (campaign, status) index on PostgreSQL, so looking for none walks all of a campaign's
    entries in its (campaign, id) one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    campaign = acme.campaign
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7701000{n:04d}", country="KZ", status="delivered")
        for n in range(3)
    )
    url = f"/api/v1/campaigns/{campaign.pk}/messages"
    with CaptureQueriesContext(connection) as queries:
        sent = api.get(url, {"status": "sent"})
    assert sent.status_code == 200 and sent.json()["results"] == [] and not sent.json()["next"]
    assert not [q for q in queries if "campaigns_message" in q["sql"]]
    delivered = api.get(url, {"status": "delivered"}).json()["results"]
    assert [m["status"] for m in delivered] == ["delivered"] * 3
    empty = Campaign.objects.create(workspace=acme.workspace, name="No messages yet")
    none = api.get(f"/api/v1/campaigns/{empty.pk}/messages", {"status": "sent"})
    assert none.status_code == 200 and none.json()["results"] == []


@pytest.mark.parametrize("few", [200, 3], ids=["ids-probed", "too-many-to-probe"])
def test_updated_since_returns_exactly_the_campaigns_messages_changed_since(
    api, acme, monkeypatch, few
):
    """Every message of the campaign changed at or after the time (less the clocks' margin),
    in id order across pages, whether they are few (read through the (campaign, updated_at)
    index first) or not; none changed earlier, none of another campaign."""
    from datetime import timedelta

    from django.utils import timezone

    from api.views import base

    monkeypatch.setattr(base, "FEW_CHANGED", few)
    campaign = acme.campaign
    other = Campaign.objects.create(workspace=acme.workspace, name="Other")
    made = Message.objects.bulk_create(
        Message(campaign=c, phone=f"+7701000{n:04d}", country="KZ")
        for n, c in enumerate([campaign] * 12 + [other] * 3)
    )
    since = timezone.now() - timedelta(hours=1)
    # Read from CLOCK_SKEW earlier (api.views.base.changes_since): a change stamped just
    # before the time asked is returned again, one before that is not.
    Message.objects.update(updated_at=since - base.CLOCK_SKEW - timedelta(seconds=1))
    changed = [m.pk for m in made[:12] if m.pk % 3 != 1]
    Message.objects.filter(pk__in=changed[::2]).update(updated_at=since - base.CLOCK_SKEW)
    Message.objects.filter(pk__in=changed[1::2]).update(updated_at=since + timedelta(minutes=5))
    Message.objects.filter(campaign=other).update(updated_at=since + timedelta(minutes=5))
    url = f"/api/v1/campaigns/{campaign.pk}/messages?limit=3&updated_since="
    page = api.get(url + since.isoformat().replace("+00:00", "Z")).json()
    got = [m["id"] for m in page["results"]]
    while page["next"]:
        page = api.get(page["next"]).json()
        got += [m["id"] for m in page["results"]]
    assert got == sorted(changed)
    later = since + timedelta(minutes=10)
    none = api.get(url + later.isoformat().replace("+00:00", "Z")).json()
    assert none["results"] == [] and not none["next"]
