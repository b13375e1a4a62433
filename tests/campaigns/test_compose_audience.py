"""Step 3 from the contact book (campaigns.pages.compose.campaign_audience): choosing lists,
segments and exclusion lists, and the live count beside the uploaded recipients."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Message
from contacts.models import Contact, ContactList, ListMember, Segment
from workspaces.models import Role


@pytest.fixture
def book(acme):
    people = [
        Contact.objects.create(workspace=acme.workspace, phone=f"+7701444{n:04d}", country="KZ")
        for n in range(6)
    ]
    customers = ContactList.objects.create(workspace=acme.workspace, name="Buyers")
    staff = ContactList.objects.create(workspace=acme.workspace, name="Staff")
    for person in people[:5]:
        ListMember.objects.create(contact_list=customers, contact=person)
    ListMember.objects.create(contact_list=staff, contact=people[4])
    everyone = Segment.objects.create(workspace=acme.workspace, name="Everyone", conditions={})
    people[3].opted_out_at = timezone.now()
    people[3].save()
    return customers, staff, everyone


def url(campaign) -> str:
    return reverse("campaign_audience", args=[campaign.pk])


def test_the_draft_page_offers_the_workspaces_lists_and_segments_only(as_role, acme, globex, book):
    ContactList.objects.create(workspace=globex.workspace, name="Globex secret list")

    page = as_role(Role.SENDER).get(reverse("campaign_detail", args=[acme.campaign.pk])).text

    assert "From your contacts" in page and "Buyers" in page and "Everyone" in page
    assert "Globex secret list" not in page


def test_choosing_lists_saves_them_and_shows_the_live_count(as_role, acme, book):
    customers, staff, _ = book
    client = as_role(Role.SENDER)

    response = client.post(
        url(acme.campaign),
        {"audience_lists": [customers.pk], "exclusion_lists": [staff.pk]},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert list(acme.campaign.audience_lists.all()) == [customers]
    assert list(acme.campaign.exclusion_lists.all()) == [staff]
    html = response.text
    assert 'data-testid="audience-reached">3<' in html  # 5 members, 1 opted out, 1 excluded
    assert "1 left out: opted out" in html and "1 left out: in an exclusion list" in html
    assert "draft-changed" in response["HX-Trigger"]


def test_the_count_adds_the_uploaded_recipients_without_counting_a_number_twice(
    as_role, acme, book
):
    customers, _, _ = book
    Message.objects.create(campaign=acme.campaign, phone="+77014440000", country="KZ")
    Message.objects.create(campaign=acme.campaign, phone="+77019990001", country="KZ")

    response = as_role(Role.SENDER).post(url(acme.campaign), {"audience_lists": [customers.pk]})

    assert 'data-testid="audience-reached">3<' in response.text
    assert "already among the uploaded recipients" in response.text
    assert 'data-testid="audience-together">5<' in response.text


def test_a_list_both_drawn_on_and_left_out_is_refused_by_name(as_role, acme, book):
    customers, _, _ = book

    response = as_role(Role.SENDER).post(
        url(acme.campaign), {"audience_lists": [customers.pk], "exclusion_lists": [customers.pk]}
    )

    assert "“Buyers” is both drawn on and left out" in response.text
    assert not acme.campaign.audience_lists.exists()


def test_another_workspaces_list_cannot_be_chosen(as_role, acme, globex):
    foreign = ContactList.objects.create(workspace=globex.workspace, name="Theirs")

    response = as_role(Role.SENDER).post(url(acme.campaign), {"audience_lists": [foreign.pk]})

    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert not acme.campaign.audience_lists.exists()


def test_a_viewer_sees_the_count_but_cannot_choose(as_role, acme, book):
    customers, _, _ = book
    acme.campaign.audience_lists.add(customers)
    client = as_role(Role.VIEWER)

    shown = client.get(url(acme.campaign))
    refused = client.post(url(acme.campaign), {"audience_lists": []})

    assert 'data-testid="audience-reached">4<' in shown.text and "disabled" in shown.text
    assert refused.status_code == 403
    assert acme.campaign.audience_lists.count() == 1


def test_a_launched_campaigns_audience_cannot_be_changed(as_role, acme, book):
    acme.campaign.status = "sending"
    acme.campaign.save()

    response = as_role(Role.SENDER).post(url(acme.campaign), {"audience_lists": [book[0].pk]})

    assert response.status_code == 403
    assert not acme.campaign.audience_lists.exists()


def test_an_audience_alone_gets_a_preview_and_a_price(as_role, acme, book):
    customers, _, _ = book
    acme.campaign.text = "Hi {name}"
    acme.campaign.save()
    acme.campaign.audience_lists.add(customers)

    html = as_role(Role.SENDER).get(reverse("campaign_preview", args=[acme.campaign.pk])).text

    assert "+77014440000" in html
    assert 'data-testid="estimate"' in html and "Add recipients in step 3" not in html


def test_a_segment_that_no_longer_reads_is_named_instead_of_counted(as_role, acme, book):
    _, _, everyone = book
    everyone.conditions = {"rules": [{"field": "field:gone", "op": "empty"}]}
    everyone.save()
    acme.campaign.audience_segments.add(everyone)

    response = as_role(Role.SENDER).get(url(acme.campaign))

    assert response.status_code == 200
    assert "The segment “Everyone” cannot be used" in response.text


def test_the_providers_quote_is_offered_for_an_audience_too(as_role, acme, book):
    # pricing.provider_quote sends it the audience's contacts as the launch would make them.
    customers, _, _ = book
    client = as_role(Role.SENDER)
    preview = reverse("campaign_preview", args=[acme.campaign.pk])
    acme.campaign.audience_lists.add(customers)
    assert "/quote/" in client.get(preview).text
    Message.objects.create(campaign=acme.campaign, phone="+77019990001", country="KZ")
    assert "/quote/" in client.get(preview).text


def test_a_workspace_without_segments_is_pointed_to_where_they_are_made(as_role, acme):
    Segment.objects.filter(workspace=acme.workspace).delete()

    html = as_role(Role.SENDER).get(url(acme.campaign)).text

    assert "No segments yet" in html and reverse("segment_list") in html


def test_the_quote_is_not_asked_above_its_limit(as_role, acme, book, settings):
    from campaigns.compose import pricing

    customers, _, _ = book  # four of its five members get a message (one opted out)
    acme.campaign.audience_lists.add(customers)
    settings.CRIER_QUOTE_LIMIT = 3
    client = as_role(Role.SENDER)
    preview = reverse("campaign_preview", args=[acme.campaign.pk])
    assert "/quote/" not in client.get(preview).text
    with pytest.raises(pricing.QuoteTooLarge, match="at most 3 messages, and this campaign has 4"):
        pricing.provider_quote(acme.campaign)
    answer = client.post(reverse("campaign_quote", args=[acme.campaign.pk])).text
    assert "at most 3 messages" in answer
