from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from providers.models import ProviderAccount
from workspaces.models import Role

SECRET = "live_Zq8TOPSECRETkey4242"


def add_bsg(client, **extra):
    data = {"provider": "bsg", "name": "Main BSG", "cred_api_key": SECRET, "currency": "eur"}
    return client.post(reverse("account_add"), data | extra)


def test_admin_adds_an_account_and_credentials_are_encrypted(as_role, acme):
    response = add_bsg(as_role(Role.ADMIN))
    account = ProviderAccount.objects.get(name="Main BSG")
    assert response.status_code == 302
    assert account.workspace == acme.workspace
    assert account.currency == "EUR"
    assert account.credentials == {"api_key": SECRET}
    assert SECRET not in account.credentials_encrypted


def test_database_dump_holds_no_plaintext_credential(as_role, acme):
    add_bsg(as_role(Role.ADMIN))
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    dump = out.getvalue()
    assert "credentials_encrypted" in dump
    assert SECRET not in dump
    assert "live_acme_secret_key_9876" not in dump


def test_pages_show_only_the_last_four_characters(as_role, acme):
    client = as_role(Role.ADMIN)
    add_bsg(client)
    account = ProviderAccount.objects.get(name="Main BSG")
    for url in [
        reverse("account_detail", args=[account.pk]),
        reverse("account_edit", args=[account.pk]),
        reverse("account_list"),
        reverse("overview"),
    ]:
        text = client.get(url).text
        assert SECRET not in text
        assert SECRET[:-4] not in text, url
    assert "4242" in client.get(reverse("account_detail", args=[account.pk])).text


def test_editing_without_retyping_the_key_keeps_it(as_role, acme):
    client = as_role(Role.ADMIN)
    add_bsg(client)
    account = ProviderAccount.objects.get(name="Main BSG")
    client.post(
        reverse("account_edit", args=[account.pk]),
        {"name": "Renamed", "cred_api_key": "", "currency": "EUR", "provider": "mobizon"},
    )
    account.refresh_from_db()
    assert account.name == "Renamed"
    assert account.provider == "bsg"  # the provider of an existing account cannot change
    assert account.credentials == {"api_key": SECRET}


def test_a_new_key_replaces_the_old_one(as_role):
    client = as_role(Role.ADMIN)
    add_bsg(client)
    account = ProviderAccount.objects.get(name="Main BSG")
    client.post(
        reverse("account_edit", args=[account.pk]),
        {"name": "Main BSG", "cred_api_key": "live_new_key_0001", "currency": "EUR"},
    )
    account.refresh_from_db()
    assert account.credentials == {"api_key": "live_new_key_0001"}


@pytest.mark.parametrize(
    ("slug", "fields"),
    [
        ("bsg", ["cred_api_key"]),
        ("mobizon", ["cred_api_key", "cred_domain"]),
        ("smsdrop", ["cred_email", "cred_password"]),
        ("conpeek", ["cred_api_key", "cred_tenant_url", "cred_voice_campaign_id"]),
    ],
)
def test_credential_fields_follow_the_provider(as_role, slug, fields):
    response = as_role(Role.ADMIN).get(
        reverse("account_add"), {"provider": slug}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'id="credentials"' in response.text
    assert "<html" not in response.text
    for name in fields:
        assert f'name="{name}"' in response.text


def test_missing_credentials_and_duplicate_names_are_explained(as_role, acme):
    client = as_role(Role.ADMIN)
    response = client.post(
        reverse("account_add"),
        {"provider": "mobizon", "name": "Acme BSG", "currency": "KZT"},
        headers={"HX-Request": "true"},
    )
    assert "This workspace already has an account named “Acme BSG”" in response.text
    assert 'id="id_cred_api_key_error"' in response.text
    assert 'id="id_cred_domain_error"' in response.text
    assert ProviderAccount.objects.filter(workspace=acme.workspace).count() == 1


def test_mobizon_base_url_follows_the_regional_domain(as_role):
    as_role(Role.ADMIN).post(
        reverse("account_add"),
        {
            "provider": "mobizon",
            "name": "Mobizon BR",
            "cred_api_key": "k" * 40,
            "cred_domain": "mobizon.com.br",
            "currency": "BRL",
        },
    )
    account = ProviderAccount.objects.get(name="Mobizon BR")
    assert account.effective_base_url == "https://api.mobizon.com.br"
    assert account.adapter().base_url == "https://api.mobizon.com.br"


def test_admin_disables_and_enables_an_account(as_role, acme):
    client = as_role(Role.ADMIN)
    client.post(reverse("account_toggle", args=[acme.account.pk]))
    acme.account.refresh_from_db()
    assert acme.account.is_active is False
    client.post(reverse("account_toggle", args=[acme.account.pk]))
    acme.account.refresh_from_db()
    assert acme.account.is_active is True


def test_admin_list_page_does_not_show_credentials(admin_client, acme):
    response = admin_client.get(reverse("admin:providers_provideraccount_changelist"))
    assert response.status_code == 200
    assert "live_acme_secret_key_9876" not in response.text
    change = admin_client.get(
        reverse("admin:providers_provideraccount_change", args=[acme.account.pk])
    )
    assert "live_acme_secret_key_9876" not in change.text
    assert "9876" in change.text


def test_allowed_countries_are_checked_and_tidied(as_role, acme):
    client = as_role(Role.ADMIN)
    response = add_bsg(client, allowed_countries="kz, XX, uz")
    assert "Not a country code: XX" in response.text
    add_bsg(client, allowed_countries="uz, kz,KZ")
    account = ProviderAccount.objects.get(name="Main BSG")
    assert account.allowed_countries == "KZ, UZ"
    assert account.allowed_country_set() == {"KZ", "UZ"}
    assert acme.account.allowed_country_set() is None
