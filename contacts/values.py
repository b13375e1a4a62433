"""A contact import's cells as typed field values, and the zones of numbers at import speed.

Every converter takes a stripped, non-empty cell and returns the value stored in
``Contact.fields`` (a JSON string, number or ISO date), or raises ``BadValue`` with a sentence
that names the value and the field.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import zoneinfo
from collections.abc import Callable

import phonenumbers
from phonenumbers import timezone as zones

from contacts.models import ContactField, FieldKind
from core import phones

TEXT_LIMIT = 500  # characters kept of a text value
LANGUAGE_LIMIT = 10
_SPACES = str.maketrans("", "", " \u00a0\u202f'")
# Day first, as most of the world writes dates; ISO (year first) whatever the separator.
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")
_TRUTHY = {"1", "yes", "y", "true", "x", "opted out", "opted-out", "stop", "да", "+"}
_FALSY = {"0", "no", "n", "false", "нет", "-"}


class BadValue(ValueError):
    pass


def _shown(cell: str) -> str:
    return cell if len(cell) <= 40 else cell[:37] + "…"


def text(cell: str, label: str) -> str:
    return cell[:TEXT_LIMIT]


def number(cell: str, label: str) -> int | float:
    cleaned = cell.translate(_SPACES)
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")  # a decimal comma
    try:
        value = float(cleaned)
    except ValueError:
        raise BadValue(f"“{_shown(cell)}” is not a number for {label}.") from None
    if not math.isfinite(value):
        raise BadValue(f"“{_shown(cell)}” is not a number for {label}.")
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def date(cell: str, label: str) -> str:
    if _ISO_DATETIME.fullmatch(cell):  # a spreadsheet's date cell, read with its time
        cell = cell[:10]
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(cell, pattern).date().isoformat()
        except ValueError:
            continue
    raise BadValue(
        f"“{_shown(cell)}” is not a date for {label}; write it as 2024-12-31 or 31.12.2024."
    )


def choice(choices: list[str]) -> Callable[[str, str], str]:
    by_key = {str(c).casefold(): str(c) for c in choices}

    def convert(cell: str, label: str) -> str:
        found = by_key.get(cell.casefold())
        if found is None:
            allowed = ", ".join(str(c) for c in choices[:10])
            raise BadValue(f"“{_shown(cell)}” is not one of the choices for {label}: {allowed}.")
        return found

    return convert


def converter(kind: str, choices: list | None = None) -> Callable[[str, str], object]:
    if kind == FieldKind.NUMBER:
        return number
    if kind == FieldKind.DATE:
        return date
    if kind == FieldKind.CHOICE:
        return choice(list(choices or []))
    return text


def field_converter(field: ContactField) -> Callable[[str, str], object]:
    return converter(field.kind, field.choices)


def opted_out(cell: str, label: str) -> bool:
    """True for a cell saying yes ("yes", "1", "true", "x", "stop"), False for no; anything
    else is a bad value rather than a guess about someone's consent."""
    key = cell.casefold()
    if key in _TRUTHY:
        return True
    if key in _FALSY:
        return False
    raise BadValue(f"“{_shown(cell)}” is neither yes nor no for {label}.")


def language(cell: str, label: str) -> str:
    if len(cell) > LANGUAGE_LIMIT:
        raise BadValue(f"“{_shown(cell)}” is not a language code for {label} (such as en, ru).")
    return cell


def time_zone(cell: str, label: str) -> str:
    if cell not in _zone_names():
        raise BadValue(f"“{_shown(cell)}” is not a time zone for {label} (such as Asia/Almaty).")
    return cell


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


_GEOGRAPHIC = {"fixed_line", "fixed_line_or_mobile"}


class Zones:
    """``phones.single_time_zone`` for a valid number whose region and type its verdict
    already gave, in about a microsecond: phonenumbers' own prefix table, looked up directly,
    and one full lookup per region for the numbers whose zone is the country's."""

    def __init__(self):
        self._country_level: dict[tuple[str, str] | str, str] = {}
        self._geographic: dict[tuple[str, str], bool] = {}

    def __call__(self, e164: str, region: str, kind: str) -> str:
        geographic = self._geographic.get((region, kind))
        if geographic is None:
            geographic = self._geographic[(region, kind)] = _is_geographic(region, kind)
        if geographic:
            data = zones.TIMEZONE_DATA
            for length in range(zones.TIMEZONE_LONGEST_PREFIX, 0, -1):
                found = data.get(e164[1 : 1 + length])
                if found is not None:
                    return _single(found)
            return ""
        # The country's zones: one lookup a region (a number for non-geographic ones).
        key = (region, kind) if region != "001" else e164
        zone = self._country_level.get(key)
        if zone is None:
            zone = self._country_level[key] = phones.single_time_zone(e164)
        return zone


def _is_geographic(region: str, kind: str) -> bool:
    """phonenumbers.is_number_type_geographical for a type name."""
    if kind in _GEOGRAPHIC:
        return True
    code = phonenumbers.country_code_for_region(region) if region != "001" else 0
    return kind == "mobile" and code in phonenumbers.phonenumberutil._GEO_MOBILE_COUNTRIES


def _single(found) -> str:
    return found[0] if len(found) == 1 and found[0] != zones.UNKNOWN_TIMEZONE else ""
