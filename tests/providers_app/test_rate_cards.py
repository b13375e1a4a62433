"""The rate card pages of a provider account: read, add, edit, delete inline, import a file."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from providers.models import Rate
from workspaces.models import Role

HTMX = {"HX-Request": "true"}


def rates_of(account) -> dict[str, Decimal]:
    return {rate.destination: rate.price for rate in account.rates.all()}


def add_rate(client, account, country="", prefix="", price="0.03", note=""):
    data = {"country": country, "prefix": prefix, "price": price, "note": note}
    return client.post(reverse("rate_add", args=[account.pk]), data, headers=HTMX)


def upload(client, account, content: bytes, name="rates.csv", replace=False):
    data = {"file": SimpleUploadedFile(name, content)} | ({"replace": "on"} if replace else {})
    return client.post(reverse("rate_import", args=[account.pk]), data, headers=HTMX)


def test_the_account_page_links_to_its_rates(as_role, acme):
    response = as_role(Role.VIEWER).get(reverse("account_detail", args=[acme.account.pk]))
    assert reverse("rate_list", args=[acme.account.pk]) in response.text


def test_a_viewer_reads_the_rates_but_gets_no_forms(as_role, acme):
    response = as_role(Role.VIEWER).get(reverse("rate_list", args=[acme.account.pk]))
    assert response.status_code == 200
    assert "0.035 USD" in response.text
    assert 'data-testid="rate-add-form"' not in response.text
    assert 'data-testid="rate-import-form"' not in response.text


def test_admin_adds_a_country_and_a_prefix(as_role, acme):
    client = as_role(Role.ADMIN)
    add_rate(client, acme.account, country="uz", price="0.05")
    response = add_rate(client, acme.account, prefix="+7 701", price="0.031", note="Kcell")

    assert response.status_code == 200
    assert "+7701" in response.text  # the refreshed card
    assert rates_of(acme.account) == {
        "KZ": Decimal("0.035"),
        "UZ": Decimal("0.05"),
        "+7701": Decimal("0.031"),
    }


@pytest.mark.parametrize(
    ("country", "prefix", "price", "message"),
    [
        ("KAZ", "", "0.03", "“KAZ” is not a country code. Use two letters such as KZ."),
        ("XX", "", "0.03", "“XX” is not a country code."),
        ("", "0701", "0.03", "No country's calling code starts 0701: begin with the country"),
        ("", "77a1", "0.03", "A dialling prefix is digits only, such as 7701 or +7 701."),
        ("UZ", "998", "0.03", "A rate is for a country or for a dialling prefix: give exactly"),
        ("", "", "0.03", "A rate is for a country or for a dialling prefix: give exactly"),
        ("UZ", "", "-0.01", "A price cannot be negative."),
        ("KZ", "", "0.04", "This account already has a rate for this country."),
    ],
)
def test_broken_rules_are_named(as_role, acme, country, prefix, price, message):
    response = add_rate(as_role(Role.ADMIN), acme.account, country, prefix, price)
    assert message in html.unescape(response.text)
    assert rates_of(acme.account) == {"KZ": Decimal("0.035")}


def test_the_same_prefix_twice_is_refused(as_role, acme):
    client = as_role(Role.ADMIN)
    add_rate(client, acme.account, prefix="7701")
    response = add_rate(client, acme.account, prefix="+7701", price="0.02")
    assert "This account already has a rate for this prefix." in response.text


def test_admin_edits_a_rate_inline(as_role, acme):
    client = as_role(Role.ADMIN)
    url = reverse("rate_edit", args=[acme.rate.pk])
    assert 'data-testid="rate-edit-form"' in client.get(url, headers=HTMX).text

    response = client.post(url, {"country": "KZ", "price": "0.04", "note": "new"}, headers=HTMX)

    assert 'data-testid="rate-edit-form"' not in response.text
    assert "0.04 USD" in response.text
    acme.rate.refresh_from_db()
    assert (acme.rate.price, acme.rate.note) == (Decimal("0.04"), "new")


def test_a_bad_edit_keeps_the_form_and_the_old_price(as_role, acme):
    url = reverse("rate_edit", args=[acme.rate.pk])
    response = as_role(Role.ADMIN).post(url, {"country": "KZ", "price": "-1"}, headers=HTMX)
    assert "A price cannot be negative." in response.text
    acme.rate.refresh_from_db()
    assert acme.rate.price == Decimal("0.035")


def test_admin_deletes_a_rate(as_role, acme):
    url = reverse("rate_delete", args=[acme.rate.pk])
    response = as_role(Role.ADMIN).post(url, headers=HTMX)
    assert 'data-testid="no-rates"' in response.text
    assert not Rate.objects.filter(pk=acme.rate.pk).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SENDER])
def test_only_admins_change_rates(as_role, acme, role):
    client = as_role(role)
    assert add_rate(client, acme.account, country="UZ").status_code == 403
    assert upload(client, acme.account, b"UZ;0.05\n").status_code == 403
    edit = {"country": "KZ", "price": "9"}
    assert client.post(reverse("rate_edit", args=[acme.rate.pk]), edit).status_code == 403
    assert client.post(reverse("rate_delete", args=[acme.rate.pk])).status_code == 403
    assert rates_of(acme.account) == {"KZ": Decimal("0.035")}


def test_a_foreign_account_s_rates_are_404(as_role, globex):
    client = as_role(Role.OWNER)
    assert client.get(reverse("rate_list", args=[globex.account.pk])).status_code == 404
    assert add_rate(client, globex.account, country="UZ").status_code == 404
    assert upload(client, globex.account, b"UZ;0.05\n").status_code == 404
    assert client.get(reverse("rate_edit", args=[globex.rate.pk])).status_code == 404
    assert client.post(reverse("rate_delete", args=[globex.rate.pk])).status_code == 404
    assert rates_of(globex.account) == {"KZ": Decimal("0.035")}


# --- Import ---------------------------------------------------------------------------------


def test_import_adds_and_updates_rates(as_role, acme):
    content = b"country;price;note\nKZ;0,04\n7701;0,031;Kcell\nuz;0.05\n"
    response = upload(as_role(Role.ADMIN), acme.account, content)

    assert response.headers["HX-Redirect"] == reverse("rate_list", args=[acme.account.pk])
    assert rates_of(acme.account) == {
        "KZ": Decimal("0.04"),
        "UZ": Decimal("0.05"),
        "+7701": Decimal("0.031"),
    }
    assert acme.account.rates.get(prefix="7701").note == "Kcell"


def test_import_without_a_header_and_with_a_legacy_encoding(as_role, acme):
    content = "7701;0.031;Кселл\n7747;0.032;Билайн\n".encode("cp1251")
    upload(as_role(Role.ADMIN), acme.account, content)
    assert acme.account.rates.get(prefix="7747").note == "Билайн"


def test_import_names_every_bad_row_and_changes_nothing(as_role, acme):
    content = (
        b"country,price\n"
        b"KZ,0.04\n"
        b"XX,0.02\n"
        b"7701,abc\n"
        b"UZ,\n"
        b"0701,0.01\n"
        b"KZ,0.05\n"
        b"UZ,-1\n"
        b"Kazakhstan,0.03\n"
        b"RU,0.06\n"
    )
    response = upload(as_role(Role.ADMIN), acme.account, content)

    text = html.unescape(response.text)
    assert "Nothing was imported." in text
    errors = [
        "Row 3: “XX” is not a country code. Use two letters such as KZ.",
        "Row 4: “abc” is not a price; write it like 0.035.",
        "Row 5: UZ has no price.",
        "Row 6: No country's calling code starts 0701: begin with the country code, "
        "e.g. 7701 for +7 701.",
        "Row 7: KZ is already on row 2.",
        "Row 8: A price cannot be negative.",
        "Row 9: “Kazakhstan” is neither a two-letter country code nor a dialling prefix.",
    ]
    for error in errors:
        assert f"<li>{error}</li>" in text
    assert text.count("<li>Row ") == len(errors)
    assert rates_of(acme.account) == {"KZ": Decimal("0.035")}


def test_a_bad_row_in_a_replacing_import_deletes_nothing(as_role, acme):
    upload(as_role(Role.ADMIN), acme.account, b"UZ;0.05\nRU;oops\n", replace=True)
    assert rates_of(acme.account) == {"KZ": Decimal("0.035")}


def test_a_replacing_import_drops_the_rates_it_does_not_list(as_role, acme):
    upload(as_role(Role.ADMIN), acme.account, b"UZ;0.05\n", replace=True)
    assert rates_of(acme.account) == {"UZ": Decimal("0.05")}


def test_an_unreadable_file_is_refused_as_a_whole(as_role, acme):
    response = upload(as_role(Role.ADMIN), acme.account, b"", name="rates.csv")
    assert "Nothing was imported" in response.text or "The submitted file is empty" in response.text
    response = upload(as_role(Role.ADMIN), acme.account, b"\n\n", name="rates.csv")
    assert "Nothing was imported: The file has no rows." in response.text
    assert rates_of(acme.account) == {"KZ": Decimal("0.035")}


def test_a_round_price_reads_as_people_write_it(as_role, acme):
    url = reverse("rate_edit", args=[acme.rate.pk])
    response = as_role(Role.ADMIN).post(url, {"country": "KZ", "price": "10"}, headers=HTMX)
    assert "10 USD" in response.text
    assert 'value="10"' in as_role(Role.ADMIN).get(url, headers=HTMX).text


def test_voice_has_rates_of_its_own_beside_the_sms_ones(as_role, acme):
    client = as_role(Role.ADMIN)
    acme.account.rates.all().delete()
    add_rate(client, acme.account, country="KZ", price="0.035")
    data = {"channel": "voice", "country": "KZ", "price": "0.06"}
    response = client.post(reverse("rate_add", args=[acme.account.pk]), data, headers=HTMX)

    assert "0.06 USD" in response.text and "/ call" in response.text
    channels = dict(acme.account.rates.values_list("channel", "price"))
    assert channels == {"sms": Decimal("0.035"), "voice": Decimal("0.06")}

    data = {"file": SimpleUploadedFile("v.csv", b"KZ;0.07\n"), "channel": "voice", "replace": "on"}
    client.post(reverse("rate_import", args=[acme.account.pk]), data, headers=HTMX)
    channels = dict(acme.account.rates.values_list("channel", "price"))
    assert channels == {"sms": Decimal("0.035"), "voice": Decimal("0.07")}
