"""Reading recipient files: every format yields exactly the corpus rows, numbered as the user
sees them; a bad file is refused with its own message before anything is parsed."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter

import pytest

from core.columns import (
    detect_phone_column,
    missing_placeholders,
    placeholder_names,
)
from core.phones import Normalised, normalise_many
from core.rejections import Code, Rejection
from core.tables.reader import open_table, read_pasted
from core.tables.table import ImportRejected, ReadOptions
from tests.campaigns import corpus
from tests.campaigns.corpus import BAD, CONTACTS, HEADER

EXPECTED_CELLS = [[c.phone, c.name, c.city] for c in CONTACTS]


def read(data: bytes, filename="contacts.csv", **options) -> list:
    with open_table(io.BytesIO(data), filename=filename, options=ReadOptions(**options)) as t:
        return list(t)


def rejected(code: str, data: bytes, filename="contacts.csv", **options) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        read(data, filename, **options)
    assert caught.value.code == code, caught.value.message
    return caught.value


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        ("cp1251", ";"),
        ("koi8-r", ";"),
        ("cp866", ","),
        ("utf-16", "\t"),  # Python writes the BOM, as Excel's "Unicode text" does
        ("utf-8-sig", ";"),  # Excel's "CSV UTF-8" in a semicolon locale
        ("utf-8", "|"),
    ],
)
def test_csv_in_each_encoding_is_detected_with_exact_rows(encoding, delimiter):
    data = corpus.csv_bytes(encoding, delimiter=delimiter)
    with open_table(io.BytesIO(data), filename="contacts.csv") as table:
        assert (table.encoding, table.delimiter) == (encoding, delimiter)
        assert table.columns == HEADER
        rows = list(table)
    assert [r.cells for r in rows] == EXPECTED_CELLS
    assert [r.number for r in rows] == list(range(2, 102))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("text", ["phone,name\n+77011234567,Ann\n+77011234568,Bob\n", None])
def test_utf16_without_a_bom_is_read_not_refused_as_binary(encoding, text):
    """Plain Latin text in UTF-16 without a BOM was refused as "binary data" before the user
    could choose an encoding (#15)."""
    if text is None:  # the corpus, Cyrillic names and all
        text = corpus.csv_bytes("utf-8").decode("utf-8")
    data = text.encode(encoding)
    with open_table(io.BytesIO(data), filename="contacts.csv") as table:
        assert table.encoding == encoding
        rows = list(table)
    lines = [line for line in text.splitlines()[1:] if line]
    assert len(rows) == len(lines)
    assert lines[0].startswith(rows[0].cells[0]) and "+7" in rows[0].cells[0]


def test_encoding_override_wins_over_detection():
    data = corpus.csv_bytes("cp1251")
    # Read as KOI8-R on purpose: the user chose it, so the names come out as KOI8-R says.
    rows = read(data, encoding="KOI8-R")
    assert rows[0].cells[1] == CONTACTS[0].name.encode("cp1251").decode("koi8-r")


def test_text_that_is_not_valid_in_the_chosen_encoding_names_the_row():
    data = corpus.csv_bytes("cp1251")
    error = rejected("bad_encoding", data, encoding="UTF-8")
    assert "UTF-8" in error.message


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_every_line_ending_gives_the_same_rows(newline):
    rows = read(corpus.csv_bytes("utf-8", newline=newline))
    assert [r.cells for r in rows] == EXPECTED_CELLS


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_quoted_newline_row_is_numbered_by_its_first_line(newline):
    rows = read(corpus.csv_bytes("utf-8", newline=newline, multiline_at=4))
    assert rows[4].cells[1] == f"{CONTACTS[4].name}{newline}второй ряд"
    assert [r.number for r in rows[3:7]] == [5, 6, 8, 9]
    assert len(rows) == 100


def test_delimiter_and_quote_overrides_are_used():
    text = "phone|name\n'+7 701 100 00 00'|'Smith| John'\n"
    rows = read(text.encode(), delimiter="|", quotechar="'")
    assert rows[0].cells == ["+7 701 100 00 00", "Smith| John"]


def test_single_column_without_header_keeps_the_first_row():
    rows = read(b"+77011000000\n+77011000001\n")
    assert [(r.number, r.cells) for r in rows] == [(1, ["+77011000000"]), (2, ["+77011000001"])]


def test_header_override_treats_first_row_as_data():
    data = corpus.csv_bytes("utf-8")
    with open_table(
        io.BytesIO(data), filename="c.csv", options=ReadOptions(has_header=False)
    ) as table:
        assert table.columns == ["Column 1", "Column 2", "Column 3"]
        assert next(iter(table)).cells == HEADER


def test_empty_header_cell_gets_a_generated_name_and_placeholder():
    data = "phone;;Город\n+77011000000;Айгерим;Алматы\n".encode()
    with open_table(io.BytesIO(data), filename="c.csv") as table:
        assert table.columns == ["phone", "Column 2", "Город"]
        assert placeholder_names(table.columns, 0) == {"column_2": 1, "город": 2}


def test_preview_does_not_consume_rows():
    with open_table(io.BytesIO(corpus.csv_bytes("utf-8")), filename="c.csv") as table:
        preview = table.preview(10)
        assert [r.number for r in preview] == list(range(2, 12))
        assert len(list(table)) == 100


def test_ten_percent_bad_rows_are_each_rejected_with_row_and_reason():
    rows = read(corpus.csv_bytes("cp1251"))
    results = normalise_many([r.cells[0] for r in rows], "KZ", processes=1)
    accepted = [x for x in results if isinstance(x, Normalised)]
    assert [x.e164 for x in accepted] == [c.e164 for c in CONTACTS if c.e164]
    bad = [
        (row.number, x) for row, x in zip(rows, results, strict=True) if isinstance(x, Rejection)
    ]
    assert [number for number, _ in bad] == list(range(11, 102, 10))
    assert [(x.code, x.detail) for _, x in bad] == [(code, detail) for _, code, detail in BAD]
    assert Counter(x.code for _, x in bad) == {
        Code.EMPTY: 3,
        Code.NOT_A_NUMBER: 3,
        Code.INVALID_FOR_COUNTRY: 4,
    }


def test_xlsx_numeric_phones_come_without_decimal_or_exponent():
    rows = read(corpus.xlsx_bytes(blank_rows_above=2), filename="contacts.xlsx")
    assert [r.number for r in rows] == list(range(4, 104))  # the header is on sheet row 3
    numeric = 0
    for row, contact in zip(rows, CONTACTS, strict=True):
        digits = contact.phone.lstrip("+")
        if digits.isdigit():  # written as a number cell: must read back as the same digits
            assert row.cells[0] == digits
            numeric += 1
        else:
            assert row.cells[0] == contact.phone
    assert numeric == 34  # "+7…" and "7…" forms of 33 good numbers, and the bad "12345"


def test_xlsx_reads_a_chosen_sheet_and_names_the_sheets_when_missing():
    data = corpus.xlsx_bytes()
    assert read(data, "c.xlsx", sheet="Other", has_header=False)[0].cells == ["not this one"]
    assert read(data, "c.xlsx", sheet=1, has_header=False)[0].cells == ["not this one"]
    error = rejected("no_such_sheet", data, "c.xlsx", sheet="Sheet9")
    assert "Contacts, Other" in error.message


def test_xls_numeric_phones_come_without_decimal():
    rows = read(corpus.xls_bytes(), filename="contacts.xls")
    assert len(rows) == 100
    assert rows[2].cells == [CONTACTS[2].phone.lstrip("+"), CONTACTS[2].name, CONTACTS[2].city]
    results = normalise_many([r.cells[0] for r in rows], "KZ", processes=1)
    assert sum(isinstance(x, Normalised) for x in results) == 90


def test_xlsx_dates_are_iso_text(tmp_path):
    import datetime

    import xlsxwriter

    path = tmp_path / "dates.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["phone", "birthday", "callback"])
    sheet.write_number(1, 0, 7.7011234567e10)
    sheet.write_datetime(
        1, 1, datetime.date(1990, 5, 17), book.add_format({"num_format": "d/m/yy"})
    )
    fmt = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_datetime(1, 2, datetime.datetime(2026, 1, 2, 9, 30), fmt)
    book.close()
    with open_table(path, filename="dates.xlsx") as table:
        assert [r.cells for r in table] == [["77011234567", "1990-05-17", "2026-01-02 09:30:00"]]


def test_zip_bomb_is_refused_by_its_compression_ratio():
    error = rejected("zip_bomb", corpus.zip_bomb_xlsx(), "bomb.xlsx")
    assert "xl/worksheets/sheet1.xml" in error.message


def test_zip_bomb_is_refused_by_its_declared_total_size():
    error = rejected("zip_bomb", corpus.zip_bomb_xlsx(8), "big.xlsx", max_unzipped_bytes=2**20)
    assert "1 MB limit" in error.message


def test_xml_entities_are_refused():
    error = rejected("xml_entities", corpus.doctype_xlsx(), "evil.xlsx")
    assert "sheet1.xml" in error.message


def test_upload_over_the_size_limit_is_refused_before_reading():
    error = rejected("too_large", corpus.csv_bytes("utf-8"), max_bytes=1000)
    assert "limit is 0 MB" in error.message or "limit" in error.message


def test_row_cap_stops_the_stream():
    data = corpus.csv_bytes("utf-8")
    with open_table(io.BytesIO(data), filename="c.csv", options=ReadOptions(max_rows=99)) as t:
        assert len(t.preview(10)) == 10  # the cap bites while streaming, not up front
        with pytest.raises(ImportRejected) as caught:
            list(t)
    assert caught.value.code == "too_many_rows"
    assert "99" in caught.value.message


def test_column_cap_is_enforced_for_text_and_sheets():
    rejected("too_many_columns", corpus.csv_bytes("utf-8"), max_columns=2)
    rejected("too_many_columns", corpus.xlsx_bytes(), "c.xlsx", max_columns=2)


def test_wide_row_later_in_the_file_is_refused_with_its_number():
    data = b"phone;name\n" + b"+77011000000;a\n" * 20 + b"x;" * 30 + b"x\n"
    error = rejected("too_many_columns", data, max_columns=5)
    assert error.message.startswith("Row 22 has 31 columns")


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"", "c.csv", "empty"),
        (b"\r\n\r\n", "c.csv", "empty"),
        (b"", "c.xlsx", "empty"),
        (corpus.xlsx_bytes(), "contacts.csv", "wrong_type"),
        (corpus.csv_bytes("utf-8"), "contacts.xlsx", "wrong_type"),
        (b"<html><table><tr><td>1</td></tr></table></html>", "export.xls", "wrong_type"),
        (corpus.xls_bytes(), "contacts.xlsx", "wrong_type"),
        (corpus.corrupt_xlsx(), "contacts.xlsx", "unreadable"),
        (b"PK\x03\x04" + b"\x00" * 100, "contacts.xlsx", "unreadable"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "contacts.xls", "unreadable"),
        (b"a,b\n\x00\x01\x02\x03binary", "contacts.csv", "wrong_type"),
        (b'phone\n"unclosed' + b"x" * 200_000, "contacts.csv", "unreadable"),
        (b"whatever", "contacts.pdf", "unsupported"),
    ],
)
def test_bad_files_are_refused_with_a_message(data, filename, code):
    error = rejected(code, data, filename)
    assert error.message and "Traceback" not in error.message


def test_a_path_is_accepted_and_closed(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(corpus.csv_bytes("cp1251"))
    with open_table(path, filename="c.csv") as table:
        assert len(list(table)) == 100


@pytest.mark.parametrize(
    "header",
    ["Phone", "phone number", "Mobile phone", "MSISDN", "Телефон", "telefone", "numer", "Tel."],
)
def test_phone_column_is_found_by_its_header(header):
    assert detect_phone_column(["Name", header, "City"], [], "KZ") == 1


def test_phone_column_is_found_by_its_values_when_headers_say_nothing():
    with open_table(
        io.BytesIO(b"x;y;z\nAigerim;8 701 100 00 00;1\nIvan;+77011000001;2\n"),
        filename="c.csv",
    ) as table:
        assert detect_phone_column(table.columns, table.preview(), "KZ") == 1


def test_no_phone_column_is_none():
    with open_table(io.BytesIO(b"a,b\nx,y\nz,w\n"), filename="c.csv") as table:
        assert detect_phone_column(table.columns, table.preview(), "KZ") is None


def test_placeholders_are_identifiers_and_unique():
    names = placeholder_names(["Phone", "First name", "First-name", "", "2nd", "Имя"], 0)
    assert names == {"first_name": 1, "first_name_2": 2, "column_4": 3, "column_2nd": 4, "имя": 5}


def test_missing_placeholders_are_listed_once_in_order():
    text = "Hi {имя}, your code {code} expires {date}. Bye {имя}"
    assert missing_placeholders(text, ["имя", "city"]) == ["code", "date"]
    assert missing_placeholders("No placeholders here", []) == []


@pytest.mark.parametrize(
    ("text", "columns", "expected"),
    [
        ("+77011000000\n8 701 100 00 01\n", ["Column 1"],
         [(1, ["+77011000000"]), (2, ["8 701 100 00 01"])]),
        ("+77011000000, +77011000001; 87011000002", ["Column 1"],
         [(1, ["+77011000000"]), (1, ["+77011000001"]), (1, ["87011000002"])]),
        ("phone;name\n+77011000000;Айгерим\n", ["phone", "name"],
         [(2, ["+77011000000", "Айгерим"])]),
    ],
)  # fmt: skip
def test_pasted_text_in_each_shape(text, columns, expected):
    table = read_pasted(text)
    assert table.columns == columns
    assert [(r.number, r.cells) for r in table] == expected


def test_pasted_text_over_the_limit_or_blank_is_refused():
    with pytest.raises(ImportRejected, match="limit"):
        read_pasted("+77011000000\n" * 100, ReadOptions(max_bytes=100))
    with pytest.raises(ImportRejected, match="Nothing was pasted"):
        read_pasted("  \n ")


def test_xlsx_central_directory_is_checked_before_calamine_opens(monkeypatch):
    import python_calamine

    def explode(*args, **kwargs):
        raise AssertionError("calamine must not see a refused file")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", explode)
    rejected("zip_bomb", corpus.zip_bomb_xlsx(), "bomb.xlsx")
    rejected("xml_entities", corpus.doctype_xlsx(), "evil.xlsx")


def test_corpus_zip_bomb_really_is_one():
    # Guards the guard test: the bomb must be small on disk and huge unpacked.
    data = corpus.zip_bomb_xlsx()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    assert len(data) < 200_000 and info.file_size > 64 * 2**20


def test_rejection_report_rows_can_be_read_back():
    from core.rejections import RejectedRow, write_rejections_csv

    out = io.StringIO(newline="")
    rows = [RejectedRow(11, "abc", Rejection(Code.NOT_A_NUMBER), ["abc", "Иван", "=1+1"])]
    write_rejections_csv(rows, out, HEADER)
    text = out.getvalue()
    assert text.startswith("\ufeff")  # so Excel on Windows reads it as UTF-8
    back = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert back == [
        ["row", "phone", "code", "reason", *HEADER],
        ["11", "abc", "not_a_number", "This is not a phone number.", "abc", "Иван", "'=1+1"],
    ]


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("c.csv", corpus.csv_bytes("cp1251")),
        ("c.xlsx", corpus.xlsx_bytes()),
        ("c.xls", corpus.xls_bytes()),
    ],
)
def test_a_django_upload_is_read_and_left_open(filename, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(filename, data)
    with open_table(upload, filename=upload.name) as table:
        assert len(list(table)) == 100
    assert not upload.closed  # the view owns the upload


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_report_cells_that_a_spreadsheet_would_run_are_defused(start):
    from core.rejections import RejectedRow, write_rejections_csv

    out = io.StringIO(newline="")
    value = f"{start}HYPERLINK(1)"
    rows = [RejectedRow(2, value, Rejection(Code.NOT_A_NUMBER), [value, "safe"])]
    write_rejections_csv(rows, out, [value], header=True)
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    assert header[-1] == "'" + value
    assert row[1] == "'" + value and row[4] == "'" + value and row[5] == "safe"


def test_report_rows_can_be_appended_without_a_second_header():
    from core.rejections import RejectedRow, write_rejections_csv

    out = io.StringIO(newline="")
    write_rejections_csv([], out, HEADER)
    rows = [RejectedRow(5, "", Rejection(Code.DUPLICATE_IN_FILE, "3"), ["", "a", "b"])]
    assert write_rejections_csv(rows, out, header=False) == 1
    text = out.getvalue()
    assert text.count("\ufeff") == 1 and text.startswith("\ufeff")  # no second BOM either
    lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [line[0] for line in lines] == ["row", "5"]
    assert (
        lines[1][3]
        == "The same number appears earlier in the file (row 3); only the first one is kept."
    )


def test_encoding_is_detected_from_the_first_non_ascii_line_deep_in_the_file():
    # 200 KB of Latin rows first: a leading sample alone would call this file ASCII/UTF-8.
    latin = [corpus.Contact(f"+7701{i:07d}", f"John {i}", "Almaty", None) for i in range(8000)]
    contacts = latin + list(CONTACTS)
    data = corpus.csv_bytes("cp1251", contacts=contacts)
    assert len(data) > 200_000
    with open_table(io.BytesIO(data), filename="c.csv") as table:
        assert table.encoding == "cp1251"
        rows = list(table)
    assert [r.cells for r in rows[8000:]] == EXPECTED_CELLS


def test_a_sheet_of_many_chunks_is_read_whole_and_in_order(tmp_path):
    # The reading child sends a sheet in chunks of a few thousand rows.
    contacts = CONTACTS * 50
    path = tmp_path / "big.xlsx"
    path.write_bytes(corpus.xlsx_bytes(contacts, numeric=False))
    with open_table(path, filename="big.xlsx") as table:
        rows = list(table)
    assert [r.number for r in rows] == list(range(2, len(contacts) + 2))
    assert [r.cells for r in rows] == [[c.phone, c.name, c.city] for c in contacts]
