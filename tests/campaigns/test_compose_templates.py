"""Templates in compose step 2: "Use a template" copies its text into the draft and counts a
use; "Save as template" keeps the text being written under a new name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.compose import message_templates
from campaigns.models import Campaign, Channel, MessageTemplate, VoiceKind
from core.statuses import CampaignStatus
from providers.models import ProviderAccount
from workspaces.models import Role

HX = {"HX-Request": "true"}


def use(client, campaign, template, **kwargs):
    return client.post(
        reverse("campaign_template_use", args=[campaign.pk]), {"template": template.pk}, **kwargs
    )


def save_as(client, campaign, name, text):
    return client.post(
        reverse("campaign_template_save", args=[campaign.pk]),
        {"name": name, "text": text},
        headers=HX,
    )


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def test_step_two_lists_the_templates_of_the_campaigns_channel(as_role, acme):
    MessageTemplate.objects.create(
        workspace=acme.workspace, name="Spoken", channel="voice", text="Hi"
    )
    page = as_role(Role.SENDER).get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert 'data-testid="use-template"' in page
    assert "Acme welcome" in page
    assert "Spoken" not in page


def test_a_viewer_sees_no_template_tools(as_role, acme):
    page = as_role(Role.VIEWER).get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert 'data-testid="template-tools"' not in page


def test_choosing_copies_the_text_and_counts_one_use(as_role, acme):
    response = use(as_role(Role.SENDER), acme.campaign, acme.template, headers=HX)
    assert fresh(acme.campaign).text == "Welcome aboard, {name}!"
    template = fresh(acme.template)
    assert template.usage_count == 1
    assert template.last_used_at is not None
    # The step comes back with the text in the box, still editable, and the preview reloads.
    assert "Welcome aboard, {name}!</textarea>" in response.text
    assert 'data-testid="template-chosen"' in response.text
    assert "draft-changed" in response.headers["HX-Trigger"]


def test_a_template_counts_each_campaign_that_chose_it_once(as_role, acme):
    client = as_role(Role.SENDER)
    use(client, acme.campaign, acme.template, headers=HX)
    use(client, acme.campaign, acme.template, headers=HX)  # the same draft again
    assert fresh(acme.template).usage_count == 1
    other = Campaign.objects.create(
        workspace=acme.workspace, name="Second", account=acme.campaign.account
    )
    use(client, other, acme.template, headers=HX)
    assert fresh(acme.template).usage_count == 2


def test_the_campaign_records_the_template_it_came_from(as_role, acme):
    client = as_role(Role.SENDER)
    use(client, acme.campaign, acme.template, headers=HX)
    assert fresh(acme.campaign).template == acme.template
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert "From the template “Acme welcome”." in page
    client.post(
        reverse("campaign_message", args=[acme.campaign.pk]),
        {"text": "Welcome, {name}. Edited.", "placeholder_policy": "keep"},
        headers=HX,
    )
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert "From the template “Acme welcome”,\n        edited since." in page
    assert fresh(acme.campaign).template == acme.template


def test_choosing_another_template_counts_it_and_records_it(as_role, acme):
    second = MessageTemplate.objects.create(
        workspace=acme.workspace, name="Second", channel="sms", text="Hello"
    )
    client = as_role(Role.SENDER)
    use(client, acme.campaign, acme.template, headers=HX)
    use(client, acme.campaign, second, headers=HX)
    assert fresh(acme.campaign).template == second
    # A template counts the campaigns that come from it: the draft left the first one.
    assert (fresh(acme.template).usage_count, fresh(second).usage_count) == (0, 1)
    use(client, acme.campaign, acme.template, headers=HX)
    assert (fresh(acme.template).usage_count, fresh(second).usage_count) == (1, 0)
    use(client, acme.campaign, acme.template, headers=HX)
    assert fresh(acme.template).usage_count == 1


def test_changing_the_channel_leaves_a_template_of_the_other_channel(as_role, acme):
    client = as_role(Role.SENDER)
    use(client, acme.campaign, acme.template, headers=HX)
    campaign = fresh(acme.campaign)
    data = {"name": campaign.name, "channel": "voice", "account": campaign.account_id}
    response = client.post(reverse("campaign_setup", args=[campaign.pk]), data, headers=HX)
    assert response.status_code == 200
    campaign = fresh(acme.campaign)
    assert campaign.channel == Channel.VOICE, response.text[:500]
    assert campaign.template is None
    assert fresh(acme.template).usage_count == 0


def test_a_clone_keeps_the_template_and_counts_a_use(as_role, acme):
    from campaigns import services

    use(as_role(Role.SENDER), acme.campaign, acme.template, headers=HX)
    copy = services.clone(fresh(acme.campaign), acme.user(Role.SENDER))
    assert copy.template == acme.template
    assert fresh(acme.template).usage_count == 2


def test_deleting_the_template_keeps_the_campaigns_text(as_role, acme):
    client = as_role(Role.SENDER)
    use(client, acme.campaign, acme.template, headers=HX)
    acme.template.delete()
    campaign = fresh(acme.campaign)
    assert campaign.template is None
    assert campaign.text == "Welcome aboard, {name}!"
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert 'data-testid="from-template"' not in page


def test_the_text_stays_editable_and_the_template_unchanged(as_role, acme):
    client = as_role(Role.SENDER)
    use(client, acme.campaign, acme.template, headers=HX)
    client.post(
        reverse("campaign_message", args=[acme.campaign.pk]),
        {"text": "Welcome to {name}! Edited.", "placeholder_policy": "keep"},
        headers=HX,
    )
    assert fresh(acme.campaign).text == "Welcome to {name}! Edited."
    assert fresh(acme.template).text == "Welcome aboard, {name}!"
    assert fresh(acme.template).usage_count == 1  # saving the message is no new use


def test_without_htmx_choosing_redirects_to_the_campaign(as_role, acme):
    response = use(as_role(Role.SENDER), acme.campaign, acme.template)
    assert response.status_code == 302
    assert response.url == reverse("campaign_detail", args=[acme.campaign.pk])
    assert fresh(acme.campaign).text == acme.template.text


def test_a_template_of_another_channel_cannot_be_chosen(as_role, acme):
    spoken = MessageTemplate.objects.create(
        workspace=acme.workspace, name="Spoken", channel="voice", text="Hello"
    )
    assert use(as_role(Role.SENDER), acme.campaign, spoken, headers=HX).status_code == 404
    assert fresh(acme.campaign).text == "Hi {name}"
    assert fresh(spoken).usage_count == 0


def test_another_workspaces_template_is_404(as_role, acme, globex):
    response = use(as_role(Role.OWNER), acme.campaign, globex.template, headers=HX)
    assert response.status_code == 404
    assert fresh(acme.campaign).text == "Hi {name}"
    assert fresh(globex.template).usage_count == 0


def test_a_missing_or_hostile_template_id_is_404(as_role, acme):
    url = reverse("campaign_template_use", args=[acme.campaign.pk])
    client = as_role(Role.SENDER)
    for value in ["", "abc", "99999999999999999999", "\x00"]:
        assert client.post(url, {"template": value}, headers=HX).status_code == 404


def test_a_viewer_cannot_choose(as_role, acme):
    assert use(as_role(Role.VIEWER), acme.campaign, acme.template).status_code == 403
    assert fresh(acme.template).usage_count == 0


def test_a_launched_campaign_cannot_choose(as_role, acme):
    Campaign.objects.filter(pk=acme.campaign.pk).update(status=CampaignStatus.SENDING)
    assert use(as_role(Role.SENDER), acme.campaign, acme.template).status_code == 403
    assert fresh(acme.template).usage_count == 0


def voice_campaign(acme, provider="bsg"):
    return Campaign.objects.create(
        workspace=acme.workspace,
        name="Calls",
        channel=Channel.VOICE,
        account=acme.account,
        voice_kind="",
        text="",
    )


def test_a_voice_template_becomes_the_text_to_speech(as_role, acme):
    campaign = voice_campaign(acme)
    spoken = MessageTemplate.objects.create(
        workspace=acme.workspace, name="Spoken", channel="voice", text="Your parcel is here."
    )
    page = as_role(Role.SENDER).get(reverse("campaign_detail", args=[campaign.pk])).text
    assert "Spoken" in page and "Acme welcome" not in page
    use(as_role(Role.SENDER), campaign, spoken, headers=HX)
    campaign = fresh(campaign)
    assert (campaign.text, campaign.voice_kind) == ("Your parcel is here.", VoiceKind.TTS)
    assert fresh(spoken).usage_count == 1


def test_a_provider_without_text_to_speech_offers_no_voice_templates(as_role, acme):
    mobizon = ProviderAccount(workspace=acme.workspace, provider="mobizon", name="MZ")
    mobizon.credentials = {"api_key": "k" * 40, "domain": "mobizon.kz"}
    mobizon.save()
    campaign = voice_campaign(acme)
    Campaign.objects.filter(pk=campaign.pk).update(account=mobizon)
    spoken = MessageTemplate.objects.create(
        workspace=acme.workspace, name="Spoken", channel="voice", text="Hi"
    )
    page = as_role(Role.SENDER).get(reverse("campaign_detail", args=[campaign.pk])).text
    assert 'data-testid="use-template"' not in page
    assert use(as_role(Role.SENDER), campaign, spoken, headers=HX).status_code == 404


def test_save_as_template_keeps_the_text_being_written(as_role, acme):
    response = save_as(as_role(Role.SENDER), acme.campaign, "Flash sale", "Sale today, {name}!")
    assert 'data-testid="template-saved"' in response.text
    template = MessageTemplate.objects.get(workspace=acme.workspace, name="Flash sale")
    assert (template.channel, template.text, template.usage_count) == (
        "sms",
        "Sale today, {name}!",
        0,
    )
    assert template.created_by == acme.user(Role.SENDER)
    assert fresh(acme.campaign).text == "Hi {name}"  # the campaign is not changed


def test_save_as_template_takes_the_campaigns_channel(as_role, acme):
    campaign = voice_campaign(acme)
    save_as(as_role(Role.SENDER), campaign, "Spoken", "Hello there")
    assert MessageTemplate.objects.get(name="Spoken").channel == "voice"


def test_save_as_template_with_a_taken_name_says_so(as_role, acme):
    response = save_as(as_role(Role.SENDER), acme.campaign, "acme Welcome", "Other text")
    assert "The workspace has a template named “acme Welcome” already; choose another name." in (
        response.text
    )
    assert 'value="acme Welcome"' in response.text  # the name stays to be corrected
    assert MessageTemplate.objects.filter(workspace=acme.workspace).count() == 1


def test_save_as_template_needs_a_name_and_a_text(as_role, acme):
    response = save_as(as_role(Role.SENDER), acme.campaign, "", "")
    assert "Give the template a name." in response.text
    assert "Write the template&#x27;s text." in response.text
    assert MessageTemplate.objects.filter(workspace=acme.workspace).count() == 1


def test_without_htmx_save_as_template_reports_on_the_campaign_page(as_role, acme):
    client = as_role(Role.SENDER)
    url = reverse("campaign_template_save", args=[acme.campaign.pk])
    response = client.post(url, {"name": "Acme welcome", "text": "x"}, follow=True)
    message = next(iter(response.context["messages"])).message
    assert message.startswith("The template was not saved: The workspace has a template named")
    response = client.post(url, {"name": "From the draft"}, follow=True)
    assert MessageTemplate.objects.get(name="From the draft").text == "Hi {name}"


def test_a_viewer_cannot_save_as_template(as_role, acme):
    response = as_role(Role.VIEWER).post(
        reverse("campaign_template_save", args=[acme.campaign.pk]), {"name": "Mine", "text": "x"}
    )
    assert response.status_code == 403
    assert MessageTemplate.objects.filter(workspace=acme.workspace).count() == 1


def test_hostile_template_names_are_escaped_in_the_chooser(as_role, acme):
    MessageTemplate.objects.create(
        workspace=acme.workspace, name='"><img src=x onerror=alert(1)>', text="=1+2 <b>bold</b>"
    )
    page = as_role(Role.SENDER).get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert "<img src=x" not in page and "<b>bold</b>" not in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_chooser_asks_before_replacing_a_text_and_not_before_filling_an_empty_one(
    as_role, acme
):
    client = as_role(Role.SENDER)
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert 'hx-confirm="Replace the message text with the template “Acme welcome”?"' in page
    Campaign.objects.filter(pk=acme.campaign.pk).update(text="")
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert "Replace the message text" not in page


def test_the_chooser_lists_the_most_used_first_and_finds_the_rest(as_role, acme):
    MessageTemplate.objects.bulk_create(
        MessageTemplate(workspace=acme.workspace, name=f"T{n:03}", text=f"Text {n}", usage_count=n)
        for n in range(60)
    )
    client = as_role(Role.SENDER)
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert page.count('data-testid="template-choice"') == 50
    assert page.index("T059") < page.index("T058")
    assert "11 more: type a few letters" in page
    url = reverse("campaign_template_choices", args=[acme.campaign.pk])
    found = client.get(url, {"q": "text 3"}, headers=HX).text
    assert found.count('data-testid="template-choice"') == 11  # Text 3, Text 30 … Text 39
    assert "more:" not in found
    none = client.get(url, {"q": "<b>x</b>"}, headers=HX).text
    assert "No SMS template matches “&lt;b&gt;x&lt;/b&gt;”." in none


def test_the_chooser_search_lists_only_the_campaigns_channel(as_role, acme):
    MessageTemplate.objects.create(
        workspace=acme.workspace, name="Spoken welcome", channel="voice", text="Hi"
    )
    url = reverse("campaign_template_choices", args=[acme.campaign.pk])
    found = as_role(Role.SENDER).get(url, {"q": "welcome"}, headers=HX).text
    assert "Acme welcome" in found and "Spoken welcome" not in found


def test_a_viewer_gets_no_chooser_list(as_role, acme):
    url = reverse("campaign_template_choices", args=[acme.campaign.pk])
    assert as_role(Role.VIEWER).get(url).status_code == 403


def test_choose_refuses_a_launched_campaign_or_a_template_of_another_channel(acme):
    spoken = MessageTemplate.objects.create(
        workspace=acme.workspace, name="Spoken", channel="voice", text="Hi"
    )
    with pytest.raises(ValueError, match="own workspace and channel"):
        message_templates.choose(acme.campaign, spoken)
    acme.campaign.status = CampaignStatus.SENDING
    with pytest.raises(ValueError, match="Only a draft"):
        message_templates.choose(acme.campaign, acme.template)
    assert fresh(acme.template).usage_count == 0
    assert fresh(acme.campaign).text == "Hi {name}"


def test_a_launched_campaigns_page_names_its_template(as_role, acme):
    client = as_role(Role.SENDER)
    use(client, acme.campaign, acme.template, headers=HX)
    Campaign.objects.filter(pk=acme.campaign.pk).update(status=CampaignStatus.SENDING)
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert 'data-testid="from-template"' in page
    assert "“Acme welcome”." in page
    MessageTemplate.objects.filter(pk=acme.template.pk).update(text="Changed later")
    page = client.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert "the two texts differ now" in page
