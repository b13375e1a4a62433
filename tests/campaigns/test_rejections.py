# ruff: noqa: RUF001 — Cyrillic text is what the report must carry
"""The rejected-rows report: opens in Excel on Windows with its Cyrillic intact, never runs a
formula, and leaves an E.164 number as it is."""

from __future__ import annotations

import csv
import io

from core.rejections import (
    Code,
    RejectedRow,
    Rejection,
    defuse,
    write_rejections_csv,
)
from tests.campaigns.test_imports import run, upload


def test_the_stored_report_starts_with_a_byte_order_mark(acme):
    imp = run(upload(acme.campaign, "phone;имя\n+77011234567;Анна\nБорис;Вадим\n"))

    with imp.rejections_file.open("rb") as f:
        data = f.read()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        ["row", "phone", "code", "reason", "phone", "имя"],
        ["3", "Борис", "not_a_number", "This is not a phone number.", "Борис", "Вадим"],
    ]


def test_a_report_written_in_batches_has_one_byte_order_mark():
    file = io.StringIO()
    row = RejectedRow(7, "=1+2", Rejection(Code.NOT_A_NUMBER), ["=1+2"])

    write_rejections_csv([], file, ["phone"])
    write_rejections_csv([row], file, header=False)

    assert file.getvalue().count("\ufeff") == 1
    assert (
        file.getvalue().splitlines()[1] == "7,'=1+2,not_a_number,This is not a phone number.,'=1+2"
    )


def test_defuse_keeps_e164_numbers_and_defuses_the_rest():
    assert defuse("+79829471240") == "+79829471240"
    assert defuse("+7 982 947 12 40") == "'+7 982 947 12 40"
    assert defuse("-12") == "'-12"
    assert defuse("Анна") == "Анна"
