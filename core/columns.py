"""Which column of a recipient table holds the phone number, and what the other columns are
called as {placeholders}."""

from __future__ import annotations

import re
from collections.abc import Iterable

from core import phones
from core.tables.table import PHONE_HEADERS, Row, header_key

# A {placeholder}: letters, digits and "_", the names placeholder_names gives the columns.
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def detect_phone_column(columns: list[str], preview: list[Row], default_country: str) -> int | None:
    """Index of the phone column: the first header naming one (see PHONE_HEADERS, or
    containing "phone"/"телефон"), else the column whose preview values mostly (over half)
    normalise to valid numbers; None when nothing qualifies."""
    keys = [header_key(c) for c in columns]
    for index, key in enumerate(keys):
        if key in PHONE_HEADERS:
            return index
    for index, key in enumerate(keys):
        if "phone" in key or "телефон" in key:
            return index
    best, best_hits = None, 0
    for index in range(len(columns)):
        values = [row.cells[index] for row in preview if row.cells[index].strip()]
        results = (phones.normalise(v, default_country) for v in values)
        hits = sum(isinstance(r, phones.Normalised) for r in results)
        if values and hits * 2 > len(values) and hits > best_hits:
            best, best_hits = index, hits
    return best


def placeholder_names(columns: list[str], phone_column: int | None) -> dict[str, int]:
    """Placeholder name -> column index for every column but the phone one. Names are the
    headers lowercased with runs of other characters turned into "_" ("First name" ->
    "first_name", "Имя" -> "имя"); blanks become column_N and repeats get _2, _3."""
    names: dict[str, int] = {}
    for index, header in enumerate(columns):
        if index == phone_column:
            continue
        name = re.sub(r"\W+", "_", header.strip().casefold()).strip("_")
        if not name or re.fullmatch(r"column_\d+", name):
            name = f"column_{index + 1}"
        elif name[0].isdigit():
            name = f"column_{name}"
        unique, n = name, 2
        while unique in names:
            unique, n = f"{name}_{n}", n + 1
        names[unique] = index
    return names


def placeholders_in(text: str) -> list[str]:
    """The {placeholder} names ``text`` uses, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def missing_placeholders(text: str, available: Iterable[str]) -> list[str]:
    """The placeholders ``text`` uses that no column provides, in order of first use."""
    have = set(available)
    return [name for name in placeholders_in(text) if name not in have]
