from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import NoReverseMatch, reverse

from contacts.models import ContactList, ListMember
from core.statuses import MessageStatus
from tests.campaigns.history_kit import DELIVERED, campaign_with
from workspaces.models import Role


def page(client, contact, **query):
    return client.get(reverse("contact_detail", args=[contact.pk]), query)


def test_history_shows_the_numbers_messages_from_every_campaign_of_the_workspace_only(
    as_role, acme, globex
):
    phone = acme.contact.phone
    spring = campaign_with(acme, "Spring", {phone: DELIVERED, "+77010000001": DELIVERED})
    summer = campaign_with(acme, "Summer", {phone: MessageStatus.UNDELIVERED})
    campaign_with(globex, "Globex news", {phone: DELIVERED})

    response = page(as_role(Role.VIEWER), acme.contact)

    shown = [(m.campaign, m.phone) for m, _price in response.context["history"]]
    assert shown == [(summer, phone), (spring, phone)]  # newest first
    assert "Globex news" not in response.text
    assert response.context["page"].paginator.count == 2


def test_each_message_shows_its_status_error_and_estimated_price(as_role, acme):
    campaign_with(acme, "Spring", {acme.contact.phone: MessageStatus.UNDELIVERED})
    message = acme.workspace.campaigns.get(name="Spring").messages.get()
    message.error_reason = "Absent subscriber"
    message.save()

    response = page(as_role(Role.VIEWER), acme.contact)

    [(_message, price)] = response.context["history"]
    assert price.amount == Decimal("0.0350") and price.currency == "USD" and price.parts == 1
    assert "Absent subscriber" in response.text
    assert "text-bg-danger" in response.text  # the undelivered badge
    assert "0.0350 USD" in response.text


def test_a_message_without_a_rate_says_so(as_role, acme):
    acme.rate.delete()
    campaign_with(acme, "Spring", {acme.contact.phone: DELIVERED})

    response = page(as_role(Role.VIEWER), acme.contact)

    assert response.context["history"][0][1] is None
    assert "no rate" in response.text


def test_the_history_comes_in_pages(as_role, acme):
    for n in range(30):
        campaign_with(acme, f"Campaign {n:02}", {acme.contact.phone: DELIVERED})

    first = page(as_role(Role.VIEWER), acme.contact)
    second = page(as_role(Role.VIEWER), acme.contact, page="2")

    assert len(first.context["history"]) == 25
    assert [m.campaign.name for m, _ in second.context["history"]] == [
        f"Campaign {n:02}" for n in range(4, -1, -1)
    ]


def test_details_show_field_labels_lists_and_the_workspaces_zone(as_role, acme):
    response = page(as_role(Role.VIEWER), acme.contact)

    assert ("City", "Almaty") in response.context["fields"]
    assert "Customers" in response.text
    assert f'{acme.workspace.time_zone} <span class="text-body-secondary">(the workspace\'s)' in (
        response.text
    )


def test_the_edit_link_shows_where_the_contact_book_has_an_edit_page(as_role, acme):
    try:
        edit = reverse("contact_edit", kwargs={"contact_pk": acme.contact.pk})
    except NoReverseMatch:
        edit = None

    response = page(as_role(Role.SENDER), acme.contact)

    assert response.context["edit_url"] == (edit or "")
    assert ('data-testid="edit"' in response.text) == bool(edit)


def test_a_viewer_sees_no_buttons_and_cannot_opt_out(as_role, acme):
    viewer = as_role(Role.VIEWER)

    response = page(viewer, acme.contact)
    refused = viewer.post(reverse("contact_opt_out", args=[acme.contact.pk]))

    assert 'data-testid="opt-out-button"' not in response.text
    assert 'data-testid="erase"' not in response.text
    assert refused.status_code == 403
    acme.contact.refresh_from_db()
    assert not acme.contact.opted_out


def test_a_sender_opts_a_contact_out_with_a_note_and_back_in(as_role, acme):
    sender = as_role(Role.SENDER)

    sender.post(reverse("contact_opt_out", args=[acme.contact.pk]), {"note": "asked by phone"})
    acme.contact.refresh_from_db()
    out = page(sender, acme.contact)
    sender.post(reverse("contact_opt_in", args=[acme.contact.pk]))

    assert (acme.contact.opt_out_source, acme.contact.opt_out_note) == ("manual", "asked by phone")
    assert "By a member" in out.text and "asked by phone" in out.text
    acme.contact.refresh_from_db()
    assert not acme.contact.opted_out


def test_a_sender_adds_the_contact_to_a_list_and_removes_them_from_another(as_role, acme):
    vip = ContactList.objects.create(workspace=acme.workspace, name="VIP")
    customers = ContactList.objects.get(workspace=acme.workspace, name="Customers")
    sender = as_role(Role.SENDER)

    sender.post(reverse("contact_lists", args=[acme.contact.pk]), {"add": vip.pk})
    sender.post(reverse("contact_lists", args=[acme.contact.pk]), {"remove": customers.pk})

    assert list(acme.contact.lists.values_list("name", flat=True)) == ["VIP"]


@pytest.mark.parametrize("action", ["add", "remove"])
def test_another_workspaces_list_is_404(as_role, acme, globex, action):
    foreign = ContactList.objects.get(workspace=globex.workspace, name="Customers")

    response = as_role(Role.SENDER).post(
        reverse("contact_lists", args=[acme.contact.pk]), {action: foreign.pk}
    )

    assert response.status_code == 404
    assert ListMember.objects.filter(contact_list=foreign).count() == 1


def test_no_list_chosen_says_so(as_role, acme):
    response = as_role(Role.SENDER).post(
        reverse("contact_lists", args=[acme.contact.pk]), {"add": "x"}, follow=True
    )

    assert "Choose a list first." in response.text


def test_a_price_keeps_the_rate_cards_places_beyond_four(as_role, acme):
    acme.rate.price = Decimal("0.012345")
    acme.rate.save()
    campaign_with(acme, "Spring", {acme.contact.phone: DELIVERED})

    response = page(as_role(Role.VIEWER), acme.contact)

    assert "0.012345 USD" in response.text
