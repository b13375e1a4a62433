"""Every model is in the admin, and every changelist renders with data in it."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

OURS = ("dashboard", "providers", "campaigns", "sandbox")


def our_models():
    return [m for m in apps.get_models() if m._meta.app_label in OURS]


@pytest.mark.parametrize("model", our_models(), ids=lambda m: m._meta.label)
def test_model_is_registered(model):
    assert admin.site.is_registered(model), f"register {model._meta.label} in its admin.py"


@pytest.mark.parametrize("model", our_models(), ids=lambda m: m._meta.label)
def test_changelist_and_search_render(admin_client, acme, model):
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "acme"}).status_code == 200


def test_celery_beat_periodic_tasks_are_editable(admin_client):
    url = reverse("admin:django_celery_beat_periodictask_add")
    assert admin_client.get(url).status_code == 200


def test_changing_an_accounts_api_host_in_the_admin_is_audited(client, acme, django_user_model):
    from audit.models import AuditEvent

    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin_user)
    account = acme.account
    url = reverse("admin:providers_provideraccount_change", args=[account.pk])
    data = {
        "workspace": account.workspace_id,
        "provider": account.provider,
        "name": account.name,
        "api_base_url": "https://evil.example.com",
        "currency": account.currency,
        "is_active": "on",
        "last_error": "",
        "senders-TOTAL_FORMS": "0",
        "senders-INITIAL_FORMS": "0",
    }

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="credentials_changed")
    assert event.details["api_base_url"] == {"old": "", "new": "https://evil.example.com"}


def test_deleting_campaigns_in_the_admin_deletes_their_messages(admin_client, acme):
    from campaigns.models import Campaign, Message

    other = Campaign.objects.create(workspace=acme.workspace, name="Other")
    for n, campaign in enumerate([acme.campaign, other]):
        Message.objects.create(campaign=campaign, phone=f"+7701000000{n}", country="KZ")
    url = reverse("admin:campaigns_campaign_delete", args=[acme.campaign.pk])

    admin_client.post(url, {"post": "yes"})
    admin_client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"},
    )

    assert not Campaign.objects.filter(pk__in=[acme.campaign.pk, other.pk]).exists()
    assert not Message.objects.exists()  # no message outlives its campaign


@pytest.mark.parametrize(
    ("superuser", "url", "allowed"),
    [
        (True, "https://api.other-provider.example", True),  # a superuser: any public host
        (True, "http://127.0.0.1:8219/", False),  # never inward, never http
        (True, "https://10.0.0.5/", False),
        (False, "https://evil.example.com", False),  # staff: the documented host only
        (False, "https://one-api.bsg.world", True),
    ],
)
def test_the_admin_keeps_to_the_same_provider_hosts_as_the_dashboard(
    client, acme, django_user_model, superuser, url, allowed
):
    """The Django admin once let staff point an account anywhere (#15)."""
    make = django_user_model.objects.create_superuser if superuser else None
    if make:
        user = make("root", "root@example.com", "pw")
    else:
        from django.contrib.auth.models import Permission

        user = django_user_model.objects.create_user("staff", "s@example.com", "pw")
        user.is_staff = True
        user.save()
        user.user_permissions.add(*Permission.objects.filter(codename__endswith="provideraccount"))
    client.force_login(user)
    account = acme.account
    account.provider = "bsg"
    account.save()
    response = client.post(
        reverse("admin:providers_provideraccount_change", args=[account.pk]),
        {
            "workspace": account.workspace_id,
            "provider": "bsg",
            "name": account.name,
            "api_base_url": url,
            "currency": account.currency,
            "is_active": "on",
            "last_error": "",
            "senders-TOTAL_FORMS": "0",
            "senders-INITIAL_FORMS": "0",
        },
    )
    account.refresh_from_db()
    assert (account.api_base_url == url) is allowed, response.content.decode()[:1500]
