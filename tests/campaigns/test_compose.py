"""Compose steps on the draft page: setup, message with the live counter, options."""

from __future__ import annotations

import json
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from core.statuses import CampaignStatus
from providers.models import ProviderAccount, SenderName
from workspaces.models import Role


def post(client, name, campaign, data):
    return client.post(reverse(name, args=[campaign.pk]), data, headers={"HX-Request": "true"})


def fresh(campaign) -> Campaign:
    return Campaign.objects.get(pk=campaign.pk)


def test_setup_offers_only_approved_senders(as_role, acme):
    SenderName.objects.create(
        account=acme.account, value="Waiting", status="pending", note="Documents requested"
    )
    client = as_role(Role.SENDER)
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert '<option value="Waiting" disabled>Waiting — pending: Documents requested' in page

    data = {"name": "Sale", "channel": "sms", "account": acme.account.pk, "sender": "Waiting"}
    response = post(client, "campaign_setup", acme.campaign, data)
    assert "“Waiting” is not approved by the provider yet" in response.text
    response = post(client, "campaign_setup", acme.campaign, data | {"sender": ""})
    assert "BSG needs a sender name on every SMS" in response.text
    response = post(client, "campaign_setup", acme.campaign, data | {"sender": "AcmeInfo"})
    assert 'data-testid="saved"' in response.text
    assert fresh(acme.campaign).sender == "AcmeInfo"


def test_voice_on_an_sms_only_provider_is_explained(as_role, acme):
    mobizon = ProviderAccount(workspace=acme.workspace, provider="mobizon", name="MZ")
    mobizon.credentials = {"api_key": "k" * 40, "domain": "mobizon.kz"}
    mobizon.save()
    response = post(
        as_role(Role.SENDER),
        "campaign_setup",
        acme.campaign,
        {"name": "Call", "channel": "voice", "account": mobizon.pk, "sender": ""},
    )
    assert "Mobizon does not offer voice campaigns." in response.text
    assert fresh(acme.campaign).channel == "sms"


def test_the_counter_shows_parts_and_what_forces_ucs2(as_role, acme):
    client = as_role(Role.SENDER)
    plain = post(client, "campaign_count", acme.campaign, {"text": "a" * 161})
    assert 'data-testid="parts">2<' in plain.text
    assert 'data-testid="encoding">GSM-7<' in plain.text
    curly = post(client, "campaign_count", acme.campaign, {"text": "It\u2019s on"})
    assert 'data-testid="encoding">UCS-2<' in curly.text
    assert "\u2019</code>→<code" in curly.text


def test_one_click_replacement_makes_the_text_gsm_and_saves_it(as_role, acme):
    response = post(
        as_role(Role.SENDER),
        "campaign_replace",
        acme.campaign,
        {"text": "\u201cSale\u201d \u2013 today\u2026"},
    )
    assert fresh(acme.campaign).text == '"Sale" - today...'
    assert 'data-testid="encoding">GSM-7<' in response.text


def test_an_empty_message_is_refused(as_role, acme):
    response = post(as_role(Role.SENDER), "campaign_message", acme.campaign, {"text": " "})
    assert "Write the message to send." in response.text


def on_account(campaign, provider: str, credentials: dict, **fields) -> Campaign:
    account = ProviderAccount(workspace=campaign.workspace, provider=provider, name=provider)
    account.credentials = credentials
    account.save()
    Campaign.objects.filter(pk=campaign.pk).update(account=account, **fields)
    return fresh(campaign)


CONPEEK = {"api_key": "k", "tenant_url": "https://t.example.com", "voice_campaign_id": "1"}


def test_ssml_must_be_well_formed(as_role, acme):
    campaign = on_account(acme.campaign, "conpeek", CONPEEK, channel="voice", sender="")
    client = as_role(Role.SENDER)
    bad = post(client, "campaign_message", campaign, {"voice_kind": "ssml", "ssml": "<speak>Hi"})
    assert "The SSML is not well-formed XML" in bad.text
    entity = post(
        client,
        "campaign_message",
        campaign,
        {"voice_kind": "ssml", "ssml": '<!DOCTYPE x [<!ENTITY a "b">]><speak>&a;</speak>'},
    )
    assert "may not declare a DOCTYPE" in entity.text
    post(client, "campaign_message", campaign, {"voice_kind": "ssml", "ssml": "<speak>Hi</speak>"})
    assert fresh(campaign).ssml == "<speak>Hi</speak>"


def test_options_are_checked_against_the_provider(as_role, acme):
    client = as_role(Role.SENDER)
    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = post(
        client,
        "campaign_options",
        acme.campaign,
        {"send_at": past, "validity_minutes": 5000, "flash": "on", "rate_limit": 10},
    )
    assert "This time has passed" in response.text
    assert "BSG keeps trying a message for 1 h to 72 h; 83 h 20 min is outside that." in (
        response.text
    )
    assert 'name="flash"' not in response.text  # BSG sends no flash SMS: not offered
    assert "A rate limit needs both" in response.text

    later = (timezone.now() + timedelta(days=2)).astimezone(timezone.get_fixed_timezone(0))
    post(
        client,
        "campaign_options",
        acme.campaign,
        {
            "send_at": later.strftime("%Y-%m-%dT%H:%M"),
            "validity_minutes": 120,
            "rate_limit": 100,
            "rate_period": 60,
        },
    )
    campaign = fresh(acme.campaign)
    assert campaign.start_at is not None and campaign.start_at > timezone.now()
    assert (campaign.validity_minutes, campaign.rate_limit, campaign.rate_period) == (120, 100, 60)


def test_only_a_draft_can_be_edited(as_role, acme):
    acme.campaign.status = CampaignStatus.SENDING
    acme.campaign.save()
    response = post(as_role(Role.SENDER), "campaign_message", acme.campaign, {"text": "new"})
    assert response.status_code == 403
    assert fresh(acme.campaign).text == "Hi {name}"


def test_placeholders_offered_are_those_of_the_current_recipients(as_role, acme):
    from campaigns.recipients import imports

    for text, mode in [
        ("phone,city\n+77011234567,Almaty\n", "add"),
        ("phone,first_name\n+77012223344,Ann\n", "replace"),
    ]:
        imp = imports.create(acme.campaign, None, text=text)
        imports.confirm(imp, mode)
        imports.run(imp.pk)
    page = as_role(Role.SENDER).get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert "<code>{first_name}</code>" in page
    assert "{city}" not in page


def test_a_clone_offers_the_placeholders_its_recipients_came_with(as_role, acme):
    from campaigns import services
    from campaigns.recipients import imports

    imp = imports.create(acme.campaign, None, text="phone,name\n+77011234567,Ann\n")
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    copy = services.clone(fresh(acme.campaign), acme.user("sender"))

    page = as_role(Role.SENDER).get(reverse("campaign_detail", args=[copy.pk])).text

    assert "<code>{name}</code>" in page
    assert 'data-testid="missing-placeholders"' not in page


def test_preview_renders_real_recipients_and_prices_them(as_role, acme):
    from campaigns.recipients import imports

    imp = imports.create(
        acme.campaign, None, text="phone,name\n+77011234567,Ann\n+5511912345678,\n"
    )
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    response = as_role(Role.VIEWER).get(reverse("campaign_preview", args=[acme.campaign.pk]))
    assert "Hi Ann" in response.text
    assert "Hi {name}" in response.text  # Brazil's row has no name; the policy keeps the text
    assert 'data-testid="total">0.04 USD<' in response.text  # one KZ part at 0.0350
    assert 'data-testid="unpriced"' in response.text  # Brazil has no rate


def test_clone_copies_content_options_and_recipients_with_new_references(as_role, acme):
    from campaigns.models import Message
    from campaigns.recipients import imports

    imp = imports.create(
        acme.campaign, None, text="phone,name\n+77011234567,Ann\n+77012223344,Bo\n"
    )
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    acme.campaign.status = CampaignStatus.COMPLETED
    acme.campaign.validity_minutes = 120
    acme.campaign.save()
    Message.objects.filter(campaign=acme.campaign).update(status="delivered")

    response = as_role(Role.SENDER).post(reverse("campaign_clone", args=[acme.campaign.pk]))
    copy = Campaign.objects.exclude(pk=acme.campaign.pk).get(workspace=acme.workspace)
    assert response.url == reverse("campaign_detail", args=[copy.pk])
    assert (copy.name, copy.status, copy.text) == ("Copy of Acme spring sale", "draft", "Hi {name}")
    assert copy.validity_minutes == 120
    old = list(acme.campaign.messages.order_by("pk").values_list("phone", "fields", "reference"))
    new = list(copy.messages.order_by("pk").values_list("phone", "fields", "reference", "status"))
    assert [(p, f) for p, f, _, _ in new] == [(p, f) for p, f, _ in old]
    assert {s for *_, s in new} == {"pending"}
    references = [r for _, _, r, _ in new]
    assert all(len(r) == 32 for r in references)
    assert not set(references) & {r for _, _, r in old}


def test_only_a_draft_is_deleted(as_role, acme):
    client = as_role(Role.SENDER)
    acme.campaign.status = CampaignStatus.SENT
    acme.campaign.save()
    client.post(reverse("campaign_delete", args=[acme.campaign.pk]))
    assert Campaign.objects.filter(pk=acme.campaign.pk).exists()
    acme.campaign.status = CampaignStatus.DRAFT
    acme.campaign.save()
    response = client.post(reverse("campaign_delete", args=[acme.campaign.pk]))
    assert response.url == reverse("campaign_list")
    assert not Campaign.objects.filter(pk=acme.campaign.pk).exists()


SMSDROP = {"email": "a@example.com", "password": "p"}


def test_a_template_on_smsdrop_is_refused_in_the_message_step(as_role, acme):
    campaign = on_account(acme.campaign, "smsdrop", SMSDROP, text="Hello")
    response = post(as_role(Role.SENDER), "campaign_message", campaign, {"text": "Hi {name}"})

    assert "smsdrop does not offer a different text per recipient." in response.text
    assert fresh(campaign).text == "Hello"


def test_flash_with_cyrillic_on_smsdrop_is_refused_in_the_options(as_role, acme):
    campaign = on_account(acme.campaign, "smsdrop", SMSDROP, text="Привет")
    response = post(as_role(Role.SENDER), "campaign_options", campaign, {"flash": "on"})

    assert "smsdrop sends flash SMS in the GSM alphabet only" in response.text
    assert not fresh(campaign).flash
    response = post(as_role(Role.SENDER), "campaign_options", campaign, {"rate_limit": ""})
    assert 'data-testid="saved"' in response.text


def test_the_accounts_default_sender_is_offered_only_where_the_provider_has_one(as_role, acme):
    client = as_role(Role.SENDER)
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert "The account&#x27;s default" not in page  # BSG: every SMS names a sender
    assert '<option value="AcmeInfo" selected>' in page

    campaign = on_account(acme.campaign, "mobizon", {"api_key": "k" * 40, "domain": "mobizon.kz"})
    page = client.get(reverse("campaign_detail", args=[campaign.pk])).text
    assert "The account&#x27;s default" in page


def test_bsg_voice_offers_text_to_speech_with_its_documented_voices(as_role, acme):
    campaign = on_account(acme.campaign, "bsg", {"api_key": "live_k"}, channel="voice")
    page = as_role(Role.SENDER).get(reverse("campaign_message", args=[campaign.pk])).text

    kinds = page[
        page.index('name="voice_kind"') : page.index("</select>", page.index("voice_kind"))
    ]
    assert 'value="tts"' in kinds and 'value="ssml"' not in kinds
    assert '<option value="sonya" selected>Sonya</option>' in page
    assert '<option value="en" selected>English</option>' in page
    assert '<option value="marketing" selected>Marketing</option>' in page

    response = post(
        as_role(Role.SENDER),
        "campaign_message",
        campaign,
        {"voice_kind": "tts", "text": "Your table is ready", "voice": "sonya", "language": "en"},
    )
    assert 'data-testid="saved"' in response.text
    assert (fresh(campaign).voice, fresh(campaign).language) == ("sonya", "en")


def test_conpeek_voice_offers_its_three_kinds_and_a_voice_definition_id(as_role, acme):
    campaign = on_account(acme.campaign, "conpeek", CONPEEK, channel="voice", sender="")
    page = as_role(Role.SENDER).get(reverse("campaign_message", args=[campaign.pk])).text

    for kind in ("tts", "ssml", "announcement"):
        assert f'value="{kind}"' in page
    assert "Voice definition id" in page
    assert 'name="language"' not in page
    assert 'name="voice_category"' not in page  # BSG's field, which Conpeek does not take


def test_a_saved_step_tells_the_preview_to_refresh(as_role, acme):
    response = post(as_role(Role.SENDER), "campaign_message", acme.campaign, {"text": "Hello"})

    assert "draft-changed" in response.headers["HX-Trigger"]
    page = as_role(Role.SENDER).get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert "draft-changed from:body" in page


def test_the_preview_lists_what_the_launch_would_refuse(as_role, acme):
    campaign = on_account(acme.campaign, "smsdrop", SMSDROP, text="Hi {name}", sender="AcmeInfo")
    page = as_role(Role.SENDER).get(reverse("campaign_preview", args=[campaign.pk])).text

    assert "Step 2: smsdrop does not offer a different text per recipient." in page


def test_saving_a_new_sender_leaves_the_message_step_alone(as_role, acme):
    """Steps 2 and 4 reload when step 1 changes their shape (another account or channel), not
    when it changes a sender or the name: a reload would drop what is being typed in step 2
    (a browser test lost its text that way)."""
    client = as_role(Role.SENDER)
    data = {"name": "Sale", "channel": "sms", "account": acme.account.pk, "sender": "AcmeInfo"}
    post(client, "campaign_setup", acme.campaign, data)

    renamed = post(client, "campaign_setup", acme.campaign, data | {"name": "Sale 2"})
    assert set(json.loads(renamed.headers["HX-Trigger"])) == {"draft-changed"}
    voice = post(client, "campaign_setup", acme.campaign, data | {"channel": "voice"})
    assert set(json.loads(voice.headers["HX-Trigger"])) == {"draft-changed", "setup-reshaped"}
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert page.count('hx-trigger="setup-reshaped from:body"') == 2  # steps 2 and 4
