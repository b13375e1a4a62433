"""The lists a workspace's settings choose from, from well-kept sources rather than by hand:
phonenumbers' regions (the countries whose numbers Crier reads), the tz database, and CLDR
(through babel) for country names and the currencies in use."""

from __future__ import annotations

import unicodedata
import zoneinfo
from functools import cache

import phonenumbers
from babel import Locale
from babel.numbers import get_currency_name, get_territory_currencies

# Not places: "localtime" is this machine's zone and "Factory" a placeholder for unset clocks.
NOT_PLACES = {"localtime", "Factory"}


@cache
def countries() -> list[tuple[str, str]]:
    """(region code, "Kazakhstan (+7)") for every region phonenumbers knows, by name."""
    names = Locale("en").territories
    return sorted(
        (
            (
                region,
                f"{names.get(region, region)} (+{phonenumbers.country_code_for_region(region)})",
            )
            for region in phonenumbers.SUPPORTED_REGIONS
        ),
        key=lambda choice: _sort_key(choice[1]),
    )


@cache
def time_zones() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones() - NOT_PLACES)]


@cache
def currencies() -> list[tuple[str, str]]:
    """(ISO 4217 code, "KZT — Kazakhstani Tenge") for every currency some country uses today."""
    codes = {
        code for region in Locale("en").territories for code in get_territory_currencies(region)
    }
    return [(code, f"{code} — {get_currency_name(code, locale='en')}") for code in sorted(codes)]


def _sort_key(name: str) -> str:
    # "Åland Islands" among the A's, not after "Zimbabwe".
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
