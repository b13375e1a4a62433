"""Workspace settings: country, time zone and currency are chosen from real lists."""

from __future__ import annotations

import pytest
from django.urls import reverse

from workspaces.models import Role, Workspace

SETTINGS = {"name": "Acme", "default_country": "KZ", "time_zone": "Asia/Almaty", "currency": "KZT"}


def save(client, **changes):
    return client.post(reverse("workspace_settings"), SETTINGS | changes)


def test_settings_offer_countries_by_name_zones_and_currencies_in_use(as_role, acme):
    page = as_role(Role.ADMIN).get(reverse("workspace_settings")).text
    assert '<select name="default_country"' in page
    assert '<option value="KZ" selected>Kazakhstan (+7)</option>' in page
    assert '<option value="RU">Russia (+7)</option>' in page
    assert '<option value="XK">Kosovo (+383)</option>' in page  # a phonenumbers region, not ISO
    assert '<select name="time_zone"' in page
    assert '<option value="UTC" selected>UTC</option>' in page
    assert '<option value="America/Sao_Paulo">America/Sao_Paulo</option>' in page
    assert '<option value="localtime"' not in page
    assert '<select name="currency"' in page
    assert '<option value="USD" selected>USD — US Dollar</option>' in page
    assert '<option value="KZT">KZT — Kazakhstani Tenge</option>' in page
    assert 'value="DEM"' not in page  # the Deutsche Mark is no country's currency any more


def test_settings_are_saved_from_the_lists(as_role, acme):
    save(as_role(Role.ADMIN), default_country="RU", time_zone="Europe/Moscow", currency="RUB")
    workspace = Workspace.objects.get(pk=acme.workspace.pk)
    assert (workspace.default_country, workspace.time_zone, workspace.currency) == (
        "RU",
        "Europe/Moscow",
        "RUB",
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("default_country", "Russia", "“Russia” is not a country code Crier knows."),
        ("time_zone", "Moscow", "“Moscow” is not a time zone."),
        ("currency", "DEM", "“DEM” is not the three-letter currency code of a currency in use."),
        ("currency", "Roubles", "“Roubles” is not the three-letter currency code"),
    ],
)
def test_a_value_not_on_a_list_is_refused_not_cut(as_role, acme, field, value, message):
    response = save(as_role(Role.ADMIN), **{field: value})
    assert message in response.text
    workspace = Workspace.objects.get(pk=acme.workspace.pk)
    assert (workspace.default_country, workspace.time_zone, workspace.currency) == (
        "KZ",
        "UTC",
        "USD",
    )


def test_a_new_workspace_starts_like_the_one_the_user_is_in(as_role, acme):
    """Not with the first entry of each list (Afghanistan, Africa/Abidjan, AED)."""
    acme.workspace.time_zone, acme.workspace.currency = "Asia/Almaty", "KZT"
    acme.workspace.save()
    page = as_role(Role.OWNER).get(reverse("workspace_create")).content.decode()
    assert '<option value="KZ" selected>' in page
    assert '<option value="Asia/Almaty" selected>' in page
    assert '<option value="KZT" selected>' in page
