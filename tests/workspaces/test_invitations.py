"""Members are invited, not taken (#15): an e-mailed link, single-use and expiring, that whoever
holds it accepts signed in or by signing up; the page never says whether an address has an
account; revocable; audited."""

from __future__ import annotations

import json
import re
import smtplib
from datetime import timedelta

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from tests.conftest import PASSWORD
from workspaces import members
from workspaces.models import Invitation, Membership, Role, hash_token


def invite(client, email, role=Role.SENDER, **kwargs):
    return client.post(reverse("member_invite"), {"email": email, "role": role}, **kwargs)


def token_in(mail) -> str:
    return re.search(r"http://testserver/invitations/([\w-]+)/", mail.body).group(1)


def link(token: str) -> str:
    return reverse("invitation", args=[token])


@pytest.fixture
def invited(as_role, mailoutbox):
    """An invitation from adam to newbie@example.com as a sender; returns its token."""
    invite(as_role(Role.ADMIN), "newbie@example.com")
    (mail,) = mailoutbox
    as_role(Role.ADMIN).logout()
    return token_in(mail)


def test_an_invitation_is_one_email_with_a_link_whose_token_is_stored_hashed(
    as_role, acme, mailoutbox
):
    response = invite(as_role(Role.ADMIN), "newbie@example.com", follow=True)
    assert "Invitation sent to newbie@example.com." in response.text
    (mail,) = mailoutbox
    assert mail.to == ["newbie@example.com"]
    assert mail.subject == "adam invited you to Acme on Crier"
    token = token_in(mail)
    invitation = Invitation.objects.get()
    assert invitation.token_hash == hash_token(token)
    assert token not in json.dumps(list(Invitation.objects.values()), default=str)
    assert (invitation.workspace, invitation.role) == (acme.workspace, Role.SENDER)
    assert invitation.expires_at - timezone.now() > timedelta(days=6, hours=23)
    assert not Membership.objects.filter(user__email="newbie@example.com").exists()


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(
    as_role, globex, mailoutbox
):
    client = as_role(Role.ADMIN)
    known = invite(client, "bob@example.com", headers={"HX-Request": "true"})
    unknown = invite(client, "nobody@example.com", headers={"HX-Request": "true"})
    assert known.status_code == unknown.status_code == 200
    assert known.headers["HX-Redirect"] == unknown.headers["HX-Redirect"]
    page = client.get(reverse("members")).text
    assert "bob@example.com" in page  # the pending invitation, by address only
    assert "Globex" not in page and ">bob<" not in page
    assert len(mailoutbox) == 2


def test_another_tenants_superuser_only_joins_by_accepting(client, as_role, globex, mailoutbox):
    bob = globex.user(Role.OWNER)
    bob.is_superuser = bob.is_staff = True
    bob.save()
    invite(as_role(Role.OWNER), "bob@example.com", role=Role.OWNER)
    assert not Membership.objects.filter(user=bob, workspace__name="Acme").exists()
    client.force_login(bob)
    client.post(link(token_in(mailoutbox[0])))
    assert Membership.objects.get(user=bob, workspace__name="Acme").role == Role.OWNER


def test_an_address_already_in_this_workspace_is_refused_by_name(as_role, mailoutbox):
    response = invite(as_role(Role.ADMIN), "SAM@example.com", headers={"HX-Request": "true"})
    assert "SAM@example.com is already a member of this workspace." in response.text
    assert not Invitation.objects.exists() and not mailoutbox


def test_a_bad_address_names_the_field(as_role):
    response = invite(as_role(Role.ADMIN), "sam", headers={"HX-Request": "true"})
    assert "Enter a whole e-mail address, such as name@example.com." in response.text
    response = invite(as_role(Role.ADMIN), "", headers={"HX-Request": "true"})
    assert "Enter the e-mail address to send the invitation to." in response.text


def test_only_an_owner_invites_an_owner(as_role, mailoutbox):
    invite(as_role(Role.ADMIN), "boss@example.com", role=Role.OWNER)
    assert not Invitation.objects.exists()
    invite(as_role(Role.OWNER), "boss@example.com", role=Role.OWNER)
    assert Invitation.objects.get().role == Role.OWNER


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
def test_sender_and_viewer_cannot_invite(as_role, mailoutbox, role):
    assert invite(as_role(role), "x@example.com").status_code == 403
    assert not Invitation.objects.exists() and not mailoutbox


def test_opening_the_link_uses_nothing_up(client, invited, acme):
    client.force_login(acme.user(Role.SENDER))  # any signed-in user may open it
    page = client.get(link(invited))
    assert page.status_code == 200
    assert "Join Acme" in page.text
    assert Invitation.objects.get().state == Invitation.State.PENDING


def test_a_signed_in_user_accepts_and_works_in_the_workspace(
    client, invited, globex, django_user_model
):
    """The link is the permission: the account's own address need not be the invited one."""
    bob = globex.user(Role.OWNER)
    client.force_login(bob)
    response = client.post(link(invited), follow=True)
    assert Membership.objects.get(user=bob, workspace__name="Acme").role == Role.SENDER
    assert "You joined Acme as Sender." in response.text
    assert response.context["request"].workspace.name == "Acme"
    invitation = Invitation.objects.get()
    assert (invitation.state, invitation.accepted_by) == (Invitation.State.ACCEPTED, bob)


def test_the_link_works_once(client, invited, acme, globex, django_user_model):
    client.force_login(globex.user(Role.OWNER))
    client.post(link(invited))
    client.force_login(django_user_model.objects.create_user("mallory"))
    for response in [client.get(link(invited)), client.post(link(invited))]:
        assert response.status_code == 410
        assert "This invitation was already used" in response.text
    assert not Membership.objects.filter(user__username="mallory").exists()


def test_an_expired_link_says_so(client, invited, globex):
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(globex.user(Role.OWNER))
    response = client.post(link(invited))
    assert response.status_code == 410
    assert "This invitation has expired" in response.text
    assert not Membership.objects.filter(workspace__name="Acme", user__username="bob").exists()


def test_a_link_never_issued_is_404(client, db):
    response = client.get(link("made-up-token"))
    assert response.status_code == 404
    assert "This is not a working invitation link" in response.text


def test_an_already_member_is_told_and_the_invitation_stays_open(client, invited, acme):
    client.force_login(acme.user(Role.VIEWER))
    response = client.post(link(invited))
    assert "already a member of Acme (viewer)" in response.text
    assert Membership.objects.get(pk=acme.members[Role.VIEWER].pk).role == Role.VIEWER
    assert Invitation.objects.get().state == Invitation.State.PENDING


def test_signed_out_the_page_offers_log_in_and_sign_up(client, invited):
    page = client.get(link(invited)).text
    assert reverse("invitation_sign_up", args=[invited]) in page
    assert f"{reverse('login')}?next={link(invited)}" in page


def test_signing_up_creates_the_account_joins_and_logs_in(client, invited, django_user_model):
    sign_up = reverse("invitation_sign_up", args=[invited])
    assert 'value="newbie@example.com"' in client.get(sign_up).text
    response = client.post(
        sign_up,
        {"username": "newbie", "email": "newbie@example.com", "password1": PASSWORD,
         "password2": PASSWORD},
        follow=True,
    )  # fmt: skip
    user = django_user_model.objects.get(username="newbie")
    assert user.check_password(PASSWORD)
    assert Membership.objects.get(user=user).role == Role.SENDER
    assert response.context["user"] == user
    assert "You joined Acme as Sender." in response.text


def test_a_weak_password_or_taken_username_is_explained_and_nothing_is_used(
    client, invited, acme, django_user_model
):
    sign_up = reverse("invitation_sign_up", args=[invited])
    response = client.post(
        sign_up,
        {"username": "olivia", "email": "x@example.com", "password1": "12345678",
         "password2": "12345678"},
    )  # fmt: skip
    assert "A user with that username already exists." in response.text
    assert "This password is too common." in response.text
    assert "This password is entirely numeric." in response.text
    assert Invitation.objects.get().state == Invitation.State.PENDING
    assert django_user_model.objects.filter(username="olivia").count() == 1


def test_a_second_invitation_to_an_address_replaces_the_first(as_role, client, mailoutbox):
    invite(as_role(Role.ADMIN), "newbie@example.com")
    invite(as_role(Role.ADMIN), "Newbie@example.com", role=Role.VIEWER)
    first, second = (token_in(mail) for mail in mailoutbox)
    client.logout()
    assert "This invitation was withdrawn" in client.get(link(first)).text
    assert client.get(link(second)).status_code == 200
    assert Invitation.objects.open().get().role == Role.VIEWER


def test_revoking_stops_the_link_and_is_recorded(as_role, invited, acme, client):
    admin = as_role(Role.ADMIN)
    invitation = Invitation.objects.get()
    response = admin.post(reverse("member_invitation_revoke", args=[invitation.pk]), follow=True)
    assert "The invitation to newbie@example.com no longer works." in response.text
    assert "newbie@example.com" not in response.context["invitations"]
    client.logout()
    assert client.get(link(invited)).status_code == 410
    event = AuditEvent.objects.get(action=Action.INVITATION_REVOKED)
    assert (event.actor_name, event.target) == ("adam", "invitation to newbie@example.com")


def test_an_admin_cannot_revoke_an_owners_invitation(as_role, mailoutbox):
    invite(as_role(Role.OWNER), "boss@example.com", role=Role.OWNER)
    invitation = Invitation.objects.get()
    as_role(Role.ADMIN).post(reverse("member_invitation_revoke", args=[invitation.pk]))
    assert Invitation.objects.get().state == Invitation.State.PENDING


def test_admins_see_open_invitations_and_viewers_do_not(as_role, invited):
    assert "newbie@example.com" in as_role(Role.ADMIN).get(reverse("members")).text
    assert "newbie@example.com" not in as_role(Role.VIEWER).get(reverse("members")).text


def test_inviting_and_accepting_are_audited_without_the_token(client, invited, globex):
    client.force_login(globex.user(Role.OWNER))
    client.post(link(invited))
    invited_event = AuditEvent.objects.get(action=Action.MEMBER_INVITED)
    assert (invited_event.actor_name, invited_event.target) == (
        "adam",
        "invitation to newbie@example.com",
    )
    assert invited_event.details["role"] == Role.SENDER
    accepted = AuditEvent.objects.get(action=Action.INVITATION_ACCEPTED)
    assert (accepted.actor_name, accepted.target) == ("bob", "member bob")
    assert accepted.details == {
        "email": "newbie@example.com",
        "role": "sender",
        "invited_by": "adam",
    }
    assert invited not in json.dumps(list(AuditEvent.objects.values()), default=str)


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({})


def test_an_email_that_cannot_be_sent_leaves_no_invitation(as_role, settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    response = invite(as_role(Role.ADMIN), "newbie@example.com", headers={"HX-Request": "true"})
    assert "could not be sent (SMTPRecipientsRefused)" in response.text
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.exists()


def test_of_two_people_accepting_at_once_one_gets_in(invited, globex, django_user_model):
    """Both found the invitation pending; the conditional update lets one of them through."""
    first, second = Invitation.objects.get(), Invitation.objects.get()
    members.accept(first, globex.user(Role.OWNER))
    with pytest.raises(members.InvitationUnusable) as refused:
        members.accept(second, django_user_model.objects.create_user("mallory"))
    assert refused.value.state == Invitation.State.ACCEPTED
    assert not Membership.objects.filter(user__username="mallory").exists()


def test_an_invitation_accepted_meanwhile_cannot_be_revoked(invited, acme, globex):
    stale = Invitation.objects.get()
    members.accept(Invitation.objects.get(), globex.user(Role.OWNER))
    with pytest.raises(members.MembershipRuleError):
        members.revoke(acme.members[Role.ADMIN], stale)
    assert Invitation.objects.get().state == Invitation.State.ACCEPTED


def test_the_audit_log_reads_an_invitation_plainly(as_role, invited):
    page = as_role(Role.ADMIN).get(reverse("audit_log")).text
    assert "Member invited" in page
    assert "e-mail address" in page and "newbie@example.com" in page
    assert "link works until" in page
