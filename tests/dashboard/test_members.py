from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from dashboard.models import Membership, Role


def role_of(tenant, role):
    return Membership.objects.get(pk=tenant.members[role].pk).role


def test_members_page_lists_everyone_for_a_viewer(as_role):
    response = as_role(Role.VIEWER).get(reverse("members"))
    assert response.status_code == 200
    for username in ["olivia", "adam", "sam", "vera"]:
        assert username in response.text
    assert "Add a member" not in response.text


def test_admin_adds_an_existing_user_by_email(as_role, acme, globex):
    client = as_role(Role.ADMIN)
    response = client.post(
        reverse("member_add"), {"identifier": "BOB@example.com", "role": Role.SENDER}
    )
    assert response.status_code == 302
    assert Membership.objects.get(workspace=acme.workspace, user__username="bob").role == "sender"


def test_admin_adds_a_new_address_and_sees_its_password_once(as_role, acme):
    client = as_role(Role.ADMIN)
    response = client.post(
        reverse("member_add"),
        {"identifier": "newbie@example.com", "role": Role.VIEWER},
        follow=True,
    )
    user = get_user_model().objects.get(email="newbie@example.com")
    message = next(iter(response.context["messages"])).message
    password = message.split("password ")[1].split(" ")[0]
    assert user.check_password(password)
    assert Membership.objects.get(user=user).workspace == acme.workspace


def test_unknown_username_without_at_sign_is_explained(as_role):
    response = as_role(Role.ADMIN).post(
        reverse("member_add"),
        {"identifier": "ghost", "role": Role.VIEWER},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "No user is called “ghost”" in response.text


def test_existing_member_cannot_be_added_twice(as_role):
    response = as_role(Role.ADMIN).post(
        reverse("member_add"), {"identifier": "sam", "role": Role.VIEWER}
    )
    assert "sam is already a member of this workspace." in response.text


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


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
def test_sender_and_viewer_cannot_add_members(as_role, role):
    response = as_role(role).post(
        reverse("member_add"), {"identifier": "x@example.com", "role": Role.VIEWER}
    )
    assert response.status_code == 403
    assert not get_user_model().objects.filter(email="x@example.com").exists()
