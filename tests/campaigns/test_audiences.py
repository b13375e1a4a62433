"""Campaign audiences (campaigns.audiences): the contacts of lists and segments minus exclusion
lists, opt-outs, file recipients and disallowed countries, counted live and fixed at launch."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from campaigns import audiences, services
from campaigns.compose import pricing
from campaigns.models import Campaign, CampaignCounters, Message, NumberIndex, PlaceholderPolicy
from contacts.models import Contact, ContactField, ContactList, ListMember, Segment
from core.statuses import CampaignStatus, MessageStatus
from providers.base import AccountInfo

RICH = AccountInfo(currency="EUR", balance=Decimal("1000"))


def contact(acme, n: int, **values) -> Contact:
    values.setdefault("country", "KZ")
    return Contact.objects.create(workspace=acme.workspace, phone=f"+7701555{n:04d}", **values)


def listed(acme, name: str, members) -> ContactList:
    contact_list = ContactList.objects.create(workspace=acme.workspace, name=name)
    ListMember.objects.bulk_create(
        ListMember(contact_list=contact_list, contact=member) for member in members
    )
    return contact_list


@pytest.fixture
def draft(acme):
    """A draft with a text and no recipients of its own."""
    campaign = acme.campaign
    campaign.text = "Hello"
    campaign.sender = acme.sender.value
    campaign.save()
    acme.account.currency = "EUR"
    acme.account.save()
    return campaign


@pytest.fixture
def book(acme):
    """Ten contacts: 0-5 in "Buyers", 4-9 matched by the segment "Almaty", 8-9 in "Staff"."""
    ContactField.objects.get_or_create(workspace=acme.workspace, key="city", label="City")
    people = [
        contact(acme, n, name=f"P{n}", fields={"city": "Almaty" if n >= 4 else ""})
        for n in range(10)
    ]
    customers = listed(acme, "Buyers", people[:6])
    staff = listed(acme, "Staff", people[8:])
    almaty = Segment.objects.create(
        workspace=acme.workspace,
        name="Almaty",
        conditions={
            "match": "all",
            "rules": [
                {"field": "name", "op": "contains", "value": "P"},
                {"field": "field:city", "op": "not_empty"},
            ],
        },
    )
    return SimpleNamespace(people=people, customers=customers, staff=staff, almaty=almaty)


def phones(campaign: Campaign) -> set[str]:
    return set(
        campaign.messages.filter(status=MessageStatus.PENDING).values_list("phone", flat=True)
    )


def test_lists_and_segments_are_counted_once_each_minus_the_exclusion_list(draft, book):
    draft.audience_lists.add(book.customers)
    draft.audience_segments.add(book.almaty)
    draft.exclusion_lists.add(book.staff)

    counted = audiences.count(draft)

    assert (counted.drawn, counted.reached) == (10, 8)
    assert counted.dropped["excluded"] == 2
    assert set(audiences.contacts(draft).values_list("phone", flat=True)) == {
        p.phone for p in book.people[:8]
    }


def test_opted_out_contacts_are_left_out_and_counted_before_exclusions(draft, book):
    draft.audience_lists.add(book.customers, book.staff)
    draft.exclusion_lists.add(book.staff)
    book.people[9].opted_out_at = timezone.now()
    book.people[9].save()
    book.people[0].opted_out_at = timezone.now()
    book.people[0].save()

    counted = audiences.count(draft)

    assert counted.reached == 5
    assert counted.dropped == {"opted_out": 2, "excluded": 1, "in_file": 0}
    assert counted.left_out == [("opted out", 2), ("in an exclusion list", 1)]


def test_numbers_among_the_file_recipients_are_not_counted_twice(draft, book):
    draft.audience_lists.add(book.customers)
    Message.objects.create(campaign=draft, phone=book.people[0].phone, country="KZ")
    Message.objects.create(campaign=draft, phone="+77019990000", country="KZ")

    counted = audiences.count(draft)

    assert counted.reached == 5 and counted.dropped["in_file"] == 1
    estimate = pricing.price(draft)
    assert estimate.messages == 7  # two from the file, five from the book


def test_countries_the_account_may_not_send_to_are_left_out(draft, book, acme):
    book.people[1].country = "UZ"
    book.people[1].phone = "+998901234567"
    book.people[1].save()
    acme.account.allowed_countries = "KZ"
    acme.account.save()
    draft.audience_lists.add(book.customers)

    counted = audiences.count(draft)

    assert counted.reached == 5 and counted.dropped["country"] == 1
    services.launch(draft, None, funds=RICH)
    assert "+998901234567" not in phones(draft)


def test_a_campaign_without_lists_or_segments_has_no_audience(draft, book):
    assert audiences.count(draft) == audiences.NOTHING
    assert not audiences.contacts(draft).exists()
    assert audiences.snapshot(draft) == 0


def test_readiness_accepts_an_audience_alone_and_refuses_one_that_reaches_nobody(draft, book):
    draft.audience_lists.add(book.staff)
    assert "Add recipients in step 3." not in services.content_problems(draft)
    assert services.content_problems(draft) == []

    draft.exclusion_lists.add(book.staff)
    problems = services.content_problems(draft)
    assert any("reach nobody" in problem for problem in problems)


def test_launch_fixes_the_audience_into_pending_messages_with_the_contacts_values(draft, book):
    book.people[4].language = "kk"
    book.people[4].save()
    draft.audience_segments.add(book.almaty)
    draft.exclusion_lists.add(book.staff)

    services.launch(draft, None, funds=RICH)

    assert phones(draft) == {p.phone for p in book.people[4:8]}
    message = draft.messages.get(phone=book.people[4].phone)
    assert message.fields == {"city": "Almaty", "name": "P4", "language": "kk"}
    assert message.country == "KZ" and len(message.reference) == 32
    int(message.reference, 16)
    references = list(draft.messages.values_list("reference", flat=True))
    assert len(set(references)) == len(references)
    assert CampaignCounters.objects.get(campaign=draft).pending == 4
    event = AuditEvent.objects.get(action="campaign_launched")
    assert event.details["recipients"] == 4 and event.details["from_contacts"] == 4


def test_after_launch_changes_to_lists_segments_and_contacts_change_nothing(draft, book, acme):
    draft.audience_lists.add(book.customers)
    services.launch(draft, None, funds=RICH)
    before = phones(draft)

    ListMember.objects.create(contact_list=book.customers, contact=book.people[9])
    book.people[0].name = "Renamed"
    book.people[0].save()
    ListMember.objects.filter(contact_list=book.customers, contact=book.people[1]).delete()

    assert phones(draft) == before
    assert draft.messages.get(phone=book.people[0].phone).fields["name"] == "P0"
    assert draft.messages.count() == 6


def test_a_failed_launch_leaves_the_draft_without_messages(draft, book):
    draft.audience_lists.add(book.customers)
    with pytest.raises(services.CampaignRuleError):
        services.launch(draft, None, funds=AccountInfo(currency="EUR", balance=Decimal("0")))
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT and not draft.messages.exists()


def test_file_recipients_and_the_audience_are_sent_once_each(draft, book):
    draft.audience_lists.add(book.customers)
    Message.objects.create(
        campaign=draft, phone=book.people[2].phone, country="KZ", fields={"name": "File"}
    )

    services.launch(draft, None, funds=RICH)

    assert draft.messages.filter(phone=book.people[2].phone).count() == 1
    assert draft.messages.get(phone=book.people[2].phone).fields == {"name": "File"}
    assert draft.messages.count() == 6


def test_the_price_counts_the_audience_per_country(draft, book, acme):
    draft.audience_lists.add(book.customers)

    estimate = pricing.price(draft)

    assert estimate.messages == 6 and estimate.total == 6 * acme.rate.price


@pytest.mark.parametrize(
    ("policy", "sent", "text_of_p0"),
    [
        (PlaceholderPolicy.KEEP, 6, "Hi P0 from {city}"),
        (PlaceholderPolicy.STRIP, 6, "Hi P0 from "),
        (PlaceholderPolicy.REJECT, 2, None),
    ],
)
def test_placeholders_come_from_contact_fields_under_each_policy(
    draft, book, policy, sent, text_of_p0
):
    from campaigns.compose.templating import render

    # 4 and 5 live in Almaty; 0-3 have a blank city
    draft.text = "Hi {name} from {city}"
    draft.placeholder_policy = policy
    draft.save()
    draft.audience_lists.add(book.customers)

    counted = audiences.count(draft)
    assert counted.reached == sent
    if policy == PlaceholderPolicy.REJECT:
        assert counted.dropped["missing_value"] == 4
    assert pricing.price(draft).messages == sent

    services.launch(draft, None, funds=RICH)

    assert draft.messages.count() == sent
    texts = {m.phone: render(draft.text, m.fields, policy) for m in draft.messages.all()}
    assert texts[book.people[4].phone] == "Hi P4 from Almaty"
    assert texts.get(book.people[0].phone) == text_of_p0


def test_a_missing_name_counts_as_missing_under_reject(draft, acme):
    named = contact(acme, 1, name="Ann")
    nameless = contact(acme, 2)
    everyone = listed(acme, "All", [named, nameless])
    draft.text = "Hi {name}"
    draft.placeholder_policy = PlaceholderPolicy.REJECT
    draft.save()
    draft.audience_lists.add(everyone)

    assert audiences.count(draft).reached == 1


def test_a_clone_keeps_the_audience_choice(draft, book):
    draft.audience_lists.add(book.customers)
    draft.audience_segments.add(book.almaty)
    draft.exclusion_lists.add(book.staff)

    copy = services.clone(draft, None)

    assert list(copy.audience_lists.all()) == [book.customers]
    assert list(copy.audience_segments.all()) == [book.almaty]
    assert list(copy.exclusion_lists.all()) == [book.staff]
    assert audiences.count(copy).reached == 8


def test_another_workspaces_contacts_are_never_reached(draft, book, globex):
    stranger = Contact.objects.create(workspace=globex.workspace, phone=book.people[0].phone)
    ListMember.objects.create(contact_list=book.customers, contact=stranger)
    draft.audience_lists.add(book.customers)

    assert audiences.count(draft).reached == 6
    services.launch(draft, None, funds=RICH)
    assert draft.messages.count() == 6


def test_a_segment_naming_a_deleted_field_blocks_the_launch_with_its_name(draft, book):
    draft.audience_segments.add(book.almaty)
    ContactField.objects.filter(key="city").delete()

    problems = services.content_problems(draft)

    assert any("“Almaty” cannot be used" in problem for problem in problems)
    with pytest.raises(services.CampaignRuleError, match="Almaty"):
        services.launch(draft, None, funds=RICH)
    assert not draft.messages.exists()


def test_a_clone_of_a_launched_campaign_draws_on_the_audience_as_it_is_now(draft, book):
    draft.audience_lists.add(book.customers)
    Message.objects.create(campaign=draft, phone="+77019990000", country="KZ", row_number=2)
    services.launch(draft, None, funds=RICH)
    ListMember.objects.filter(contact_list=book.customers, contact=book.people[0]).delete()

    copy = services.clone(draft, None)

    assert set(copy.messages.values_list("phone", flat=True)) == {"+77019990000"}
    services.launch(copy, None, funds=RICH)
    assert phones(copy) == {"+77019990000", *(p.phone for p in book.people[1:6])}


def test_launch_makes_the_number_index_incomplete(draft, book):
    """The audience's numbers are not in it until the next fill (campaigns.number_index)."""
    NumberIndex.objects.create(campaign=draft, version="old", built_at=timezone.now())
    draft.audience_lists.add(book.customers)

    services.launch(draft, None, funds=RICH)

    assert NumberIndex.objects.get(campaign=draft).built_at is None
