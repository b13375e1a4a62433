from __future__ import annotations

from django.urls import reverse

from workspaces.models import Membership, Role


def role_of(tenant, role):
    return Membership.objects.get(pk=tenant.members[role].pk).role


def test_members_page_lists_everyone_for_a_viewer(as_role):
    response = as_role(Role.VIEWER).get(reverse("members"))
    assert response.status_code == 200
    for username in ["olivia", "adam", "sam", "vera"]:
        assert username in response.text
    assert "Invite a member" not in response.text


def test_an_existing_users_address_is_invited_not_added(as_role, globex, mailoutbox):
    """#15: Add once made another tenant's user a member on the spot and answered with their
    username; now the address only gets an e-mail, and the page says no more than that."""
    response = as_role(Role.OWNER).post(
        reverse("member_invite"), {"email": "BOB@example.com", "role": Role.OWNER}, follow=True
    )
    assert not Membership.objects.filter(user=globex.user(Role.OWNER), workspace__name="Acme")
    assert "bob " not in response.text and "Globex" not in response.text
    assert mailoutbox[0].to == ["BOB@example.com"]


def test_an_unknown_name_is_not_looked_up(as_role, mailoutbox):
    response = as_role(Role.ADMIN).post(
        reverse("member_invite"),
        {"email": "ghost", "role": Role.VIEWER},
        headers={"HX-Request": "true"},
    )
    assert "No user is called" not in response.text
    assert "Enter a whole e-mail address" in response.text
    assert not mailoutbox


def test_a_members_address_is_not_invited_twice(as_role, mailoutbox):
    response = as_role(Role.ADMIN).post(
        reverse("member_invite"), {"email": "sam@example.com", "role": Role.VIEWER}
    )
    assert "sam@example.com is already a member of this workspace." in response.text
    assert not mailoutbox


def test_admin_cannot_grant_ownership(as_role, acme):
    as_role(Role.ADMIN).post(
        reverse("member_role", args=[acme.members[Role.SENDER].pk]), {"role": Role.OWNER}
    )
    assert role_of(acme, Role.SENDER) == Role.SENDER


def test_admin_changes_a_senders_role(as_role, acme):
    as_role(Role.ADMIN).post(
        reverse("member_role", args=[acme.members[Role.SENDER].pk]), {"role": Role.VIEWER}
    )
    assert role_of(acme, Role.SENDER) == Role.VIEWER


def test_admin_cannot_remove_an_owner(as_role, acme):
    response = as_role(Role.ADMIN).post(
        reverse("member_remove", args=[acme.members[Role.OWNER].pk]), follow=True
    )
    assert Membership.objects.filter(pk=acme.members[Role.OWNER].pk).exists()
    assert "Only an owner can change or remove another owner." in response.text


def test_last_owner_cannot_be_demoted_or_removed(client, acme, django_user_model):
    owner = acme.members[Role.OWNER]
    second = Membership.objects.create(
        user=django_user_model.objects.create_user("otto"),
        workspace=acme.workspace,
        role=Role.OWNER,
    )
    client.force_login(second.user)
    client.post(reverse("member_remove", args=[owner.pk]))
    assert not Membership.objects.filter(pk=owner.pk).exists()
    # otto is now the only owner; another owner-level action on him must be refused.
    response = client.post(reverse("member_role", args=[second.pk]), {"role": Role.ADMIN})
    assert Membership.objects.get(pk=second.pk).role == Role.OWNER
    assert response.status_code == 302


def test_admin_removes_a_viewer(as_role, acme):
    as_role(Role.ADMIN).post(reverse("member_remove", args=[acme.members[Role.VIEWER].pk]))
    assert not Membership.objects.filter(pk=acme.members[Role.VIEWER].pk).exists()
