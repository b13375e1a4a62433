from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.urls import reverse

from audit.models import Action, AuditEvent
from campaigns import contact_history, services
from campaigns.models import Batch, CampaignCounters, Message
from campaigns.pages.queries import counters_of
from campaigns.tracking import costs
from contacts import book
from contacts.models import Contact, ListMember
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from providers.sandbox import clock
from tests.campaigns.history_kit import DELIVERED, campaign_with
from tests.sendkit import campaign_for, ledger, sandbox_account, tick
from workspaces.models import Role


def erase(client, contact):
    return client.post(reverse("contact_erase", args=[contact.pk]), follow=True)


def test_erasing_replaces_the_number_with_a_stand_in_in_every_message_of_the_workspace(
    as_role, acme
):
    phone = acme.contact.phone
    spring = campaign_with(acme, "Spring", {phone: DELIVERED, "+77010000001": DELIVERED})
    summer = campaign_with(acme, "Summer", {phone: MessageStatus.UNDELIVERED})
    stand_in = contact_history.erased_phone(phone)

    response = erase(as_role(Role.ADMIN), acme.contact)

    assert f"now show {stand_in}" in response.text
    assert not Message.objects.filter(phone=phone).exists()
    erased = Message.objects.filter(phone=stand_in).order_by("pk")
    assert [(m.campaign, m.status, m.fields) for m in erased] == [
        (spring, DELIVERED, {}),
        (summer, MessageStatus.UNDELIVERED, {}),
    ]
    assert spring.messages.get(phone="+77010000001").fields == {"name": "Ann"}
    assert len(stand_in) == 16 and stand_in.startswith("erased:") and phone[1:] not in stand_in


def test_the_contact_and_their_list_memberships_are_deleted(as_role, acme):
    erase(as_role(Role.ADMIN), acme.contact)

    assert not Contact.objects.filter(pk=acme.contact.pk).exists()
    assert not ListMember.objects.filter(contact_id=acme.contact.pk).exists()


def test_another_workspace_keeps_the_number(as_role, acme, globex):
    phone = acme.contact.phone
    theirs = campaign_with(globex, "Globex news", {phone: DELIVERED})

    erase(as_role(Role.ADMIN), acme.contact)

    assert theirs.messages.get().phone == phone
    assert Contact.objects.filter(workspace=globex.workspace, phone=phone).exists()


def test_counters_statuses_and_costs_stay_as_they_were(as_role, acme):
    phone = acme.contact.phone
    campaign = campaign_with(acme, "Spring", {phone: DELIVERED, "+77010000001": DELIVERED})
    batch = Batch.objects.create(
        campaign=campaign,
        key="b1",
        status=BatchStatus.SUBMITTED,
        size=2,
        cost=Decimal("0.0700"),
        currency="USD",
    )
    campaign.messages.update(batch=batch)
    before = (_counts(campaign), costs.billing(campaign), campaign.messages.get(phone=phone))

    erase(as_role(Role.ADMIN), acme.contact)

    message = campaign.messages.get(pk=before[2].pk)
    assert (_counts(campaign), costs.billing(campaign)) == before[:2]
    assert (message.status, message.batch_id, message.updated_at) == (
        DELIVERED,
        batch.pk,
        before[2].updated_at,
    )


def _counts(campaign) -> dict:
    counters = CampaignCounters.objects.get(campaign=campaign)
    return {status: getattr(counters, status) for status in MessageStatus.values}


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
def test_only_an_admin_erases(as_role, acme, role):
    campaign_with(acme, "Spring", {acme.contact.phone: DELIVERED})

    confirm = as_role(role).get(reverse("contact_erase", args=[acme.contact.pk]))
    refused = as_role(role).post(reverse("contact_erase", args=[acme.contact.pk]))

    assert (confirm.status_code, refused.status_code) == (403, 403)
    assert Contact.objects.filter(pk=acme.contact.pk).exists()
    assert Message.objects.filter(phone=acme.contact.phone).count() == 1


def test_the_confirm_step_names_the_consequences(as_role, acme):
    phone = acme.contact.phone
    campaign_with(acme, "Spring", {phone: DELIVERED})
    campaign_with(acme, "Autumn", {phone: MessageStatus.PENDING}, status=CampaignStatus.SENDING)
    campaign_with(acme, "Winter", {phone: MessageStatus.PENDING}, status=CampaignStatus.DRAFT)

    response = as_role(Role.ADMIN).get(reverse("contact_erase", args=[acme.contact.pk]))

    assert response.context["messages_count"] == 3
    assert [c.name for c in response.context["still_to_send"]] == ["Autumn", "Winter"]
    assert "“Autumn” (sending), “Winter” (draft)" in response.text
    assert "cannot be undone" in response.text
    assert contact_history.erased_phone(phone) in response.text
    assert "may still hold the number" in response.text  # uploaded files are not rewritten


def test_the_erasure_is_audited_without_the_number(as_role, acme):
    campaign_with(acme, "Spring", {acme.contact.phone: DELIVERED})

    erase(as_role(Role.ADMIN), acme.contact)

    event = AuditEvent.objects.get(action=Action.CONTACT_ERASED)
    assert (event.workspace, event.actor_name) == (acme.workspace, "adam")
    assert event.details == {
        "contact_id": acme.contact.pk,
        "messages": 1,
        "cancelled": 0,
        "kept_on_stop_list": False,
    }
    assert acme.contact.phone not in str(event.target) + str(event.details)


def test_a_message_being_handed_over_refuses_the_erasure_and_changes_nothing(as_role, acme):
    phone = acme.contact.phone
    campaign_with(acme, "Spring", {phone: DELIVERED})
    live = campaign_with(
        acme, "Autumn", {phone: MessageStatus.SUBMITTING}, status=CampaignStatus.SENDING
    )

    response = erase(as_role(Role.ADMIN), acme.contact)

    assert "being handed to the provider right now" in response.text
    assert "Autumn" in response.text
    assert Message.objects.filter(phone=phone).count() == 2
    assert live.messages.get().status == MessageStatus.SUBMITTING
    assert Contact.objects.filter(pk=acme.contact.pk).exists()
    assert not AuditEvent.objects.filter(action=Action.CONTACT_ERASED).exists()


def test_retry_and_clone_leave_erased_messages_out(as_role, acme):
    phone = acme.contact.phone
    campaign = campaign_with(
        acme,
        "Spring",
        {phone: MessageStatus.FAILED, "+77010000001": MessageStatus.FAILED},
        status=CampaignStatus.FAILED,
    )
    erase(as_role(Role.ADMIN), acme.contact)

    copy = services.clone(campaign, None)
    retried = services.retry_failed(campaign, None)

    assert list(copy.messages.values_list("phone", flat=True)) == ["+77010000001"]
    assert retried == 1
    assert campaign.messages.get(phone__startswith="erased:").status == MessageStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_pending_messages_of_a_sending_campaign_are_cancelled_and_never_sent(
    client, acme, live_server, settings
):
    settings.CRIER_SEND_BATCH_SIZE = 5
    clock.reset()
    account, remote = sandbox_account(acme.workspace, "bsg", live_server.url)
    campaign = campaign_for(acme.workspace, account, 12)  # sending, +77010000000 to ...011
    erased = Contact.objects.create(workspace=acme.workspace, phone="+77010000009")

    client.force_login(acme.user(Role.ADMIN))
    erase(client, erased)
    _drain(campaign)

    message = campaign.messages.get(phone=contact_history.erased_phone("+77010000009"))
    assert message.status == MessageStatus.CANCELLED
    assert message.error_reason == contact_history.ERASED_REASON
    assert counters_of(campaign).cancelled == 1
    assert ledger(remote)["charges"] == 11


def _drain(campaign, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tick(budget=5)
        campaign.refresh_from_db()
        if campaign.status != CampaignStatus.SENDING:
            return
        time.sleep(0.02)
    raise AssertionError(f"still {campaign.status}")


def test_a_drafts_message_to_the_number_is_cancelled_with_the_reason(as_role, acme):
    draft = campaign_with(
        acme, "Winter", {acme.contact.phone: MessageStatus.PENDING}, status=CampaignStatus.DRAFT
    )

    erase(as_role(Role.ADMIN), acme.contact)

    message = draft.messages.get()
    assert (message.status, message.error_reason) == (
        MessageStatus.CANCELLED,
        contact_history.ERASED_REASON,
    )
    assert counters_of(draft).pending == 0 and counters_of(draft).cancelled == 1


def test_an_opted_out_contact_stays_on_the_stop_list_with_nothing_but_the_number(as_role, acme):
    """Erasing an opted-out person must not make their number sendable again: an upload that
    holds it later would message someone who asked not to be. Only the number, the date and the
    source of the opt-out are kept (the suppression record data-protection guidance asks for)."""
    contact = acme.contact
    book.opt_out(acme.workspace, [contact.phone], note="STOP by SMS", actor=None, where="page")
    Contact.objects.filter(pk=contact.pk).update(
        name="Ann", fields={"city": "Almaty"}, language="ru", time_zone="Asia/Almaty"
    )
    listed = ListMember.objects.filter(contact_id=contact.pk).count()
    opted_out_at = Contact.objects.get(pk=contact.pk).opted_out_at

    response = erase(as_role(Role.ADMIN), Contact.objects.get(pk=contact.pk))

    assert "stays on the stop list" in response.text
    kept = Contact.objects.get(workspace=acme.workspace, phone=contact.phone)
    assert (kept.name, kept.fields, kept.language, kept.time_zone, kept.opt_out_note) == (
        "",
        {},
        "",
        "",
        "",
    )
    assert kept.opted_out_at == opted_out_at
    assert not ListMember.objects.filter(contact_id=kept.pk).exists()
    assert listed  # the Tenant's contact is in a list: the erasure took it out
    assert contact.phone in book.opted_out_phones(acme.workspace.pk).values_list("phone", flat=True)


def test_the_confirm_step_of_an_opted_out_contact_says_the_number_stays_on_the_stop_list(
    as_role, acme
):
    book.opt_out(acme.workspace, [acme.contact.phone], actor=None, where="page")

    response = as_role(Role.ADMIN).get(reverse("contact_erase", args=[acme.contact.pk]))

    assert "keeps the number on the stop list" in response.text
    assert "forgets their opt-out" not in response.text
