from __future__ import annotations

from django.urls import reverse

from workspaces.models import Membership, Role, Workspace


def test_a_user_switches_between_workspaces(client, acme, globex):
    sam = acme.user(Role.SENDER)
    Membership.objects.create(user=sam, workspace=globex.workspace, role=Role.VIEWER)
    client.force_login(sam)
    assert client.get(reverse("overview")).context["workspace"] == acme.workspace

    client.post(reverse("switch_workspace"), {"workspace": globex.workspace.pk})
    response = client.get(reverse("account_list"))
    assert response.context["workspace"] == globex.workspace
    assert "Globex BSG" in response.text
    assert "Acme BSG" not in response.text


def test_switching_to_a_foreign_workspace_is_404(client, acme, globex):
    client.force_login(acme.user(Role.OWNER))
    response = client.post(reverse("switch_workspace"), {"workspace": globex.workspace.pk})
    assert response.status_code == 404
    assert client.get(reverse("overview")).context["workspace"] == acme.workspace


def test_a_user_without_workspace_is_asked_to_create_one(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("loner"))
    response = client.get(reverse("overview"))
    assert response.status_code == 302
    assert response.url == reverse("workspace_create")

    client.post(
        reverse("workspace_create"),
        {
            "name": "Loner Ltd",
            "default_country": "gb",
            "time_zone": "Europe/London",
            "currency": "gbp",
        },
    )
    workspace = Workspace.objects.get(name="Loner Ltd")
    assert (workspace.default_country, workspace.currency) == ("GB", "GBP")
    assert Membership.objects.get(workspace=workspace).role == Role.OWNER


def test_workspace_settings_explain_bad_values(as_role):
    response = as_role(Role.ADMIN).post(
        reverse("workspace_settings"),
        {"name": "Acme", "default_country": "XX", "time_zone": "Mars/Olympus", "currency": "1"},
    )
    assert "“XX” is not a country code" in response.text
    assert "“Mars/Olympus” is not a time zone" in response.text
    assert "three-letter currency code" in response.text


def test_overview_leads_to_adding_an_account_when_there_is_none(client, django_user_model):
    user = django_user_model.objects.create_user("fresh")
    Membership.objects.create(
        user=user, workspace=Workspace.objects.create(name="Fresh"), role=Role.OWNER
    )
    client.force_login(user)
    response = client.get(reverse("overview"))
    assert "Connect your first provider" in response.text
    assert reverse("account_add") in response.text
