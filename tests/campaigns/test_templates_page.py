"""The message templates page: a list per channel, create, edit and delete, the live checks
beside the text, roles and isolation."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from campaigns.models import MessageTemplate
from contacts.models import ContactField
from workspaces.models import Role

HX = {"HX-Request": "true"}


def names(tenant) -> set[str]:
    return set(tenant.workspace.message_templates.values_list("name", flat=True))


def test_any_member_reads_the_list_with_usage_and_highlighted_placeholders(as_role, acme):
    MessageTemplate.objects.create(
        workspace=acme.workspace, name="Unused", text="Hi {name}, {city}!"
    )
    acme.template.usage_count = 3
    acme.template.last_used_at = timezone.now() - timedelta(days=2)
    acme.template.save()
    page = as_role(Role.VIEWER).get(reverse("template_list")).text
    assert "Acme welcome" in page
    assert 'data-testid="usage-count">3<' in page
    assert "2\xa0days ago" in page
    assert "never" in page  # the unused one
    assert "Welcome aboard, <mark" in page
    assert '{name}</mark>, <mark class="px-1 rounded font-monospace-sm">{city}</mark>!' in page


def test_a_viewer_sees_no_buttons_that_change_templates(as_role, acme):
    page = as_role(Role.VIEWER).get(reverse("template_list")).text
    assert reverse("template_create") not in page
    assert reverse("template_edit", args=[acme.template.pk]) not in page
    assert reverse("template_delete", args=[acme.template.pk]) not in page


def test_the_list_shows_one_channel_at_a_time_with_counts(as_role, acme):
    MessageTemplate.objects.create(
        workspace=acme.workspace, name="Call me", channel="voice", text="Hello"
    )
    client = as_role(Role.VIEWER)
    sms = client.get(reverse("template_list")).text
    voice = client.get(reverse("template_list"), {"channel": "voice"}).text
    assert "Acme welcome" in sms and "Call me" not in sms
    assert "Call me" in voice and "Acme welcome" not in voice
    assert client.get(reverse("template_list"), {"channel": "fax"}).status_code == 200


def test_search_finds_names_and_texts(as_role, acme):
    MessageTemplate.objects.create(workspace=acme.workspace, name="Reminder", text="Pay by Friday")
    client = as_role(Role.VIEWER)
    found = client.get(reverse("template_list"), {"q": "friday"}, headers=HX).text
    assert "Reminder" in found and "Acme welcome" not in found
    empty = client.get(reverse("template_list"), {"q": "nothing\x00like"}, headers=HX).text
    assert "No template matches" in empty


def test_a_long_text_is_cut_in_the_list_but_never_inside_a_placeholder(as_role, acme):
    MessageTemplate.objects.create(
        workspace=acme.workspace, name="Long", text="x" * 135 + " {first_name} and more"
    )
    page = as_role(Role.VIEWER).get(reverse("template_list")).text
    assert "x" * 135 + " …" in page
    assert "{first_na" not in page


def test_a_sender_creates_a_template(as_role, acme):
    client = as_role(Role.SENDER)
    assert client.get(reverse("template_create")).status_code == 200
    response = client.post(
        reverse("template_create"),
        {"name": "  Spring   sale ", "channel": "sms", "text": "Hi {name}, 20% off"},
    )
    assert response.status_code == 302
    assert response.url == reverse("template_list") + "?channel=sms"
    template = MessageTemplate.objects.get(workspace=acme.workspace, name="Spring sale")
    assert (template.text, template.usage_count, template.created_by) == (
        "Hi {name}, 20% off",
        0,
        acme.user(Role.SENDER),
    )


def test_a_duplicate_name_is_refused_whatever_its_case(as_role, acme):
    response = as_role(Role.SENDER).post(
        reverse("template_create"),
        {"name": "ACME WELCOME", "channel": "sms", "text": "Other"},
        headers=HX,
    )
    assert "The workspace has a template named “ACME WELCOME” already" in response.text
    assert names(acme) == {"Acme welcome"}


def test_another_workspace_may_use_the_same_name(as_role, acme, globex):
    as_role(Role.SENDER).post(
        reverse("template_create"), {"name": "Globex welcome", "channel": "sms", "text": "Hi"}
    )
    assert names(acme) == {"Acme welcome", "Globex welcome"}


def test_an_empty_name_or_text_is_explained_and_nothing_saved(as_role, acme):
    response = as_role(Role.SENDER).post(
        reverse("template_create"), {"name": "  ", "channel": "sms", "text": " \n "}, headers=HX
    )
    assert "Give the template a name." in response.text
    assert "Write the template&#x27;s text." in response.text
    assert names(acme) == {"Acme welcome"}


def test_a_text_too_long_is_refused_with_its_length(as_role, acme):
    response = as_role(Role.SENDER).post(
        reverse("template_create"),
        {"name": "Huge", "channel": "sms", "text": "a" * 5001},
        headers=HX,
    )
    assert "The text has 5,001 characters; a template holds at most 5,000." in response.text
    assert names(acme) == {"Acme welcome"}


def test_a_sender_edits_a_template_and_keeps_its_usage(as_role, acme):
    acme.template.usage_count = 7
    acme.template.save()
    client = as_role(Role.SENDER)
    url = reverse("template_edit", args=[acme.template.pk])
    assert "Welcome aboard, {name}!" in client.get(url).text
    client.post(url, {"name": "Acme welcome", "channel": "sms", "text": "Welcome back"})
    template = MessageTemplate.objects.get(pk=acme.template.pk)
    assert (template.text, template.usage_count) == ("Welcome back", 7)


def test_renaming_onto_another_template_is_refused(as_role, acme):
    MessageTemplate.objects.create(workspace=acme.workspace, name="Reminder", text="Pay")
    response = as_role(Role.SENDER).post(
        reverse("template_edit", args=[acme.template.pk]),
        {"name": "reminder", "channel": "sms", "text": "x"},
        headers=HX,
    )
    assert "a template named “reminder” already" in response.text
    assert MessageTemplate.objects.get(pk=acme.template.pk).name == "Acme welcome"


def test_a_sender_deletes_a_template(as_role, acme):
    response = as_role(Role.SENDER).post(
        reverse("template_delete", args=[acme.template.pk]), headers=HX
    )
    assert response.headers["HX-Redirect"] == reverse("template_list") + "?channel=sms"
    assert names(acme) == set()


def test_a_viewer_can_neither_create_edit_nor_delete(as_role, acme):
    client = as_role(Role.VIEWER)
    edit = reverse("template_edit", args=[acme.template.pk])
    assert client.get(reverse("template_create")).status_code == 403
    assert client.get(edit).status_code == 403
    data = {"name": "Mine", "channel": "sms", "text": "x"}
    assert client.post(reverse("template_create"), data).status_code == 403
    assert client.post(edit, data).status_code == 403
    assert client.post(reverse("template_delete", args=[acme.template.pk])).status_code == 403
    assert names(acme) == {"Acme welcome"}
    assert MessageTemplate.objects.get(pk=acme.template.pk).text == "Welcome aboard, {name}!"


def test_another_workspaces_template_is_404(as_role, acme, globex):
    client = as_role(Role.OWNER)
    data = {"name": "Stolen", "channel": "sms", "text": "x"}
    assert client.get(reverse("template_edit", args=[globex.template.pk])).status_code == 404
    assert client.post(reverse("template_edit", args=[globex.template.pk]), data).status_code == 404
    assert client.post(reverse("template_delete", args=[globex.template.pk])).status_code == 404
    assert names(globex) == {"Globex welcome"}
    assert "Globex welcome" not in client.get(reverse("template_list")).text


def test_hostile_names_and_texts_are_shown_escaped(as_role, acme):
    MessageTemplate.objects.create(
        workspace=acme.workspace,
        name='<script>alert("n")</script>',
        text='=HYPERLINK("http://evil") <img src=x onerror=alert(1)> {name}',
    )
    client = as_role(Role.SENDER)
    page = client.get(reverse("template_list")).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;n&quot;)&lt;/script&gt;" in page
    assert "=HYPERLINK(&quot;http://evil&quot;) &lt;img src=x onerror=alert(1)&gt;" in page
    template = MessageTemplate.objects.get(name__startswith="<script>")
    edit = client.get(reverse("template_edit", args=[template.pk])).text
    assert "<script>alert" not in edit and "<img src=x" not in edit


def test_the_checks_count_sms_parts_as_compose_does(as_role, acme):
    client = as_role(Role.SENDER)
    plain = client.post(reverse("template_check"), {"text": "a" * 161, "channel": "sms"})
    assert 'data-testid="parts">2<' in plain.text
    curly = client.post(reverse("template_check"), {"text": "it\u2019s", "channel": "sms"})
    assert 'data-testid="encoding">UCS-2<' in curly.text
    assert 'data-testid="replace"' in curly.text


def test_replace_puts_the_gsm_stand_ins_into_the_text_without_saving(as_role, acme):
    response = as_role(Role.SENDER).post(
        reverse("template_check"), {"text": "it\u2019s \u201cgood\u201d", "replace": "1"}
    )
    assert 'hx-swap-oob="true">it&#x27;s &quot;good&quot;</textarea>' in response.text
    assert 'data-testid="encoding">GSM-7<' in response.text
    assert names(acme) == {"Acme welcome"}


def test_the_checks_name_the_placeholders_that_are_contact_fields(as_role, acme):
    ContactField.objects.update_or_create(
        workspace=acme.workspace, key="city", defaults={"label": "City of residence"}
    )
    text = "Hi {name}, {city} store: code {promo}, not {first name}"
    page = as_role(Role.SENDER).post(reverse("template_check"), {"text": text}).text
    assert page.count('data-testid="placeholder"') == 3
    assert page.count('data-testid="contact-field"') == 1
    assert "City of residence" in page
    assert "contact name" in page
    assert "from a recipient file's column of this name" in page
    assert "<code>{first name}</code>" in page


def test_another_workspaces_fields_are_not_named(as_role, acme, globex):
    ContactField.objects.filter(workspace=acme.workspace).delete()
    ContactField.objects.update_or_create(
        workspace=globex.workspace, key="city", defaults={"label": "Globex city"}
    )
    page = as_role(Role.SENDER).post(reverse("template_check"), {"text": "{city}"}).text
    assert "Globex city" not in page
    assert 'data-testid="contact-field"' not in page


def test_a_voice_template_shows_no_sms_counter(as_role, acme):
    page = (
        as_role(Role.SENDER)
        .post(reverse("template_check"), {"text": "Hello {name}", "channel": "voice"})
        .text
    )
    assert 'data-testid="parts"' not in page
    assert "text to speech" in page


def test_a_viewer_gets_no_checks(as_role, acme):
    assert as_role(Role.VIEWER).post(reverse("template_check"), {"text": "x"}).status_code == 403


def test_the_form_suggests_the_workspaces_contact_fields(as_role, acme, globex):
    ContactField.objects.filter(workspace=acme.workspace).delete()
    ContactField.objects.create(workspace=acme.workspace, key="plan", label="Plan")
    ContactField.objects.create(workspace=globex.workspace, key="secret_plan", label="Secret")
    page = as_role(Role.SENDER).get(reverse("template_create")).text
    assert "<code>{name}</code>,\n        <code>{plan}</code>." in page
    assert "secret_plan" not in page
