"""Recipient files built by the tests themselves, with known contents.

``CONTACTS`` is one list of 100 rows (phone, name, city): 90 good Kazakh numbers written the
many ways people write them, and 10 bad ones whose rejection code and reason are listed in
``BAD``. Every builder below writes the same rows in another format, so a test can check that
each format yields exactly these rows, numbers and verdicts.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import xlsxwriter
import xlwt

from core.rejections import Code

FIRST_NAMES = ["Айгерим", "Иван", "Пётр", "Жанна", "Ерлан", "Ольга", "Сергей", "Дана", "Наталья"]
CITIES = ["Алматы", "Астана", "Шымкент", "Караганда", "Актобе"]


@dataclass(frozen=True)
class Contact:
    phone: str  # as written in the file
    name: str
    city: str
    e164: str | None  # what it must normalise to; None for a bad row


def _good_phone(i: int) -> tuple[str, str]:
    digits = f"701{1_000_000 + i * 7919:07d}"  # distinct, valid KZ mobiles +7 701 …
    forms = [
        f"+7 {digits[:3]} {digits[3:6]} {digits[6:8]} {digits[8:]}",
        f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}",
        f"+7{digits}",
        f"00 7 {digits}",
        f"7{digits}",
        f"8.{digits[:3]}.{digits[3:]}",
    ]
    return forms[i % len(forms)], f"+7{digits}"


# The bad rows: (what is written, expected code, expected reason detail).
BAD = [
    ("", Code.EMPTY, ""),
    ("   ", Code.EMPTY, ""),
    ("", Code.EMPTY, ""),
    ("abc", Code.NOT_A_NUMBER, ""),
    ("n/a", Code.NOT_A_NUMBER, ""),
    ("нет", Code.NOT_A_NUMBER, ""),
    ("12345", Code.INVALID_FOR_COUNTRY, "Kazakhstan"),
    ("8 701 123", Code.INVALID_FOR_COUNTRY, "Kazakhstan"),
    ("+7 000 000 00 00", Code.INVALID_FOR_COUNTRY, "Russia or Kazakhstan"),
    ("+44 20 12", Code.INVALID_FOR_COUNTRY, "United Kingdom or another +44 country"),
]
BAD_EVERY = 10  # every tenth row (rows 10, 20, … of the data) is bad


def _contacts() -> list[Contact]:
    rows, bad = [], iter(BAD)
    for i in range(100):
        name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {i}"
        city = CITIES[i % len(CITIES)]
        if (i + 1) % BAD_EVERY == 0:
            rows.append(Contact(next(bad)[0], name, city, None))
        else:
            phone, e164 = _good_phone(i)
            rows.append(Contact(phone, name, city, e164))
    return rows


CONTACTS = _contacts()
HEADER = ["Телефон", "Имя", "Город"]


def csv_text(
    contacts=CONTACTS, delimiter=";", newline="\r\n", header=HEADER, multiline_at=None
) -> str:
    """CSV as Excel writes it: every cell quoted only when needed. ``multiline_at`` puts a
    quoted line break into that contact's name."""
    lines = [delimiter.join(header)] if header else []
    for i, c in enumerate(contacts):
        name = f'"{c.name}{newline}второй ряд"' if i == multiline_at else c.name
        lines.append(delimiter.join([c.phone, name, c.city]))
    return newline.join(lines) + newline


def csv_bytes(encoding: str, **kwargs) -> bytes:
    return csv_text(**kwargs).encode(encoding)


def xlsx_bytes(contacts=CONTACTS, numeric=True, header=HEADER, blank_rows_above=0) -> bytes:
    """An XLSX with the phones as numeric cells where they are plain digits (as a CRM export
    or a user typing them has it) and a date column."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("Contacts")
    book.add_worksheet("Other").write(0, 0, "not this one")
    top = blank_rows_above
    sheet.write_row(top, 0, header)
    for i, c in enumerate(contacts, top + 1):
        digits = c.phone.lstrip("+")
        if numeric and digits.isdigit():
            sheet.write_number(i, 0, int(digits))
        else:
            sheet.write_string(i, 0, c.phone)
        sheet.write_string(i, 1, c.name)
        sheet.write_string(i, 2, c.city)
    book.close()
    return out.getvalue()


def xls_bytes(contacts=CONTACTS, header=HEADER) -> bytes:
    """A legacy Excel 97 workbook with numeric phone cells (xlwt writes floats)."""
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Contacts")
    for col, title in enumerate(header):
        sheet.write(0, col, title)
    for row, c in enumerate(contacts, 1):
        digits = c.phone.lstrip("+")
        sheet.write(row, 0, float(digits) if digits.isdigit() else c.phone)
        sheet.write(row, 1, c.name)
        sheet.write(row, 2, c.city)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rewrite_zip(data: bytes, replace: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = replace.get(info.filename, src.read(info))
            dst.writestr(info.filename, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def zip_bomb_xlsx(unpacked_mib: int = 64) -> bytes:
    """A real workbook whose sheet1.xml is padded with white space to ``unpacked_mib`` MiB:
    it compresses about a thousandfold, as bombs do."""
    padding = b" " * (unpacked_mib * 1024 * 1024)
    original = xlsx_bytes(CONTACTS[:3])
    with zipfile.ZipFile(io.BytesIO(original)) as src:
        sheet = src.read("xl/worksheets/sheet1.xml")
    return _rewrite_zip(original, {"xl/worksheets/sheet1.xml": sheet + padding})


def doctype_xlsx() -> bytes:
    """A workbook whose sheet declares entities (the start of a "billion laughs")."""
    original = xlsx_bytes(CONTACTS[:3])
    with zipfile.ZipFile(io.BytesIO(original)) as src:
        sheet = src.read("xl/worksheets/sheet1.xml")
    declaration, rest = sheet.split(b"?>", 1)
    evil = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    return _rewrite_zip(original, {"xl/worksheets/sheet1.xml": declaration + b"?>" + evil + rest})


def corrupt_xlsx() -> bytes:
    """A zip that says it is a workbook but holds no workbook parts."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return out.getvalue()
