"""Review r22: recipients given as JSON are stored with exactly the values given. The API
writes them as CSV (api/views/recipients.py) and hands the text to the file import, which
guesses the delimiter and makes placeholder names of the header the way a spreadsheet's header
is read (core/columns.py ``placeholder_names``: casefolded, runs of other characters as "_",
repeats as name_2); a JSON key is a placeholder's name already (``{"name": "Ann"}`` fills
``{name}``), and must fill that placeholder."""

from __future__ import annotations

import pytest

from campaigns.compose.outgoing import messages_for
from campaigns.models import Campaign, Message
from tests.api.test_campaigns import _funds, add_recipients, new_draft  # noqa: F401

VALUES = {
    "semicolons": "Almaty; Abay st. 1; flat 2; floor 3",
    "tabs": "a\tb\tc\td",
    "a quote": 'The "best" shop',
    "a newline": "line one\nline two",
}


@pytest.mark.parametrize("value", VALUES.values(), ids=VALUES.keys())
def test_r22_json_recipients_keep_their_values(
    api, acme, eager, django_capture_on_commit_callbacks, value
):
    """Covers a gap (passes): a value never changes how the API's CSV is read back."""
    draft = new_draft(api, acme, text="Hi {name}: {note}").json()
    recipients = [
        {"phone": f"+7701000000{n}", "fields": {"name": f"N{n}", "note": value}} for n in range(3)
    ]
    imp = add_recipients(api, draft["id"], recipients, django_capture_on_commit_callbacks)
    assert (imp["status"], imp["accepted"], imp["rejected"]) == ("done", 3, 0), imp
    stored = Message.objects.filter(campaign_id=draft["id"]).order_by("phone")
    assert [(m.phone, m.fields) for m in stored] == [
        (f"+7701000000{n}", {"name": f"N{n}", "note": value}) for n in range(3)
    ]


KEYS = {
    "camelCase": ({"orderId": "42"}, "Your order {orderId} is ready", "Your order 42 is ready"),
    "capitals": ({"CODE": "4711"}, "Your code is {CODE}", "Your code is 4711"),
    "leading digit": ({"1st": "Ann"}, "Hi {1st}", "Hi Ann"),
    "case pair": ({"Name": "Ann", "name": "Bob"}, "Hi {name}", "Hi Bob"),
}


@pytest.mark.parametrize("fields,text,sent", KEYS.values(), ids=KEYS.keys())
def test_r22_a_json_key_fills_its_own_placeholder(
    api, acme, eager, django_capture_on_commit_callbacks, fields, text, sent
):
    draft = new_draft(api, acme, text=text)
    assert draft.status_code == 201, draft.json()
    draft = draft.json()
    imp = add_recipients(
        api, draft["id"], [{"phone": "+77010000001", "fields": fields}],
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert (imp["status"], imp["accepted"]) == ("done", 1), imp
    launched = api.post(f"/api/v1/campaigns/{draft['id']}/launch", {}, format="json")
    assert launched.status_code == 200, launched.json()  # nothing warned the client
    campaign = Campaign.objects.get(pk=draft["id"])
    [outgoing] = messages_for(campaign, campaign.messages.all())
    assert (outgoing.text, campaign.messages.get().fields) == (sent, fields)
