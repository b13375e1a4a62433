"""The contact rows' checks on every core (contacts.checking): the checking children make the
records and lines of COPY text the import's process used to make, and the last row of a
number wins exactly as when one process checked every row in order."""

from __future__ import annotations

import functools
import random

import pytest

from contacts import checking, upsert, values
from core import phones
from core.checking import Pool, Tally
from core.rejections import Code, RejectedRow, Rejection
from core.tables.table import Row
from tests.campaigns import test_import_checking as campaign_rows

AWKWARD = [
    *campaign_rows.AWKWARD,
    '=HYPERLINK("http://x")',
    "<script>alert(1)</script>",
    "x" * 600,
]
# (column) phone, name, note (text), age (number), born (date), plan (choice), language,
# time zone, opted out
NUMBERS = ["31", "1,5", "-2", "007", "1e3", "abc", "", "12345678901234567", " 4 000 "]
DATES = ["31.12.1990", "1990-12-31", "1990-13-45", "", "2024-02-29 10:00"]
PLANS = ["pro", "Basic", "Gold", ""]
LANGUAGES = ["kk", "", "much-too-long-language"]
ZONES = ["Asia/Almaty", "", "Mars/Base"]
OPTED = ["yes", "no", "", "maybe", "STOP"]
STAMP = "2026-12-07 00:00:00+00:00"


def rules(shape: str) -> checking.Rules:
    return checking.Rules(
        default_country="KZ",
        column=0,
        width=9,
        name=1,
        extras={
            "language": (6, values.language, "Language"),
            "time_zone": (7, values.time_zone, "Time zone"),
            "opted_out": (8, values.opted_out, "Opted out"),
        },
        texts=[(2, upsert.json_key("note"))],
        numbers=[(3, upsert.json_key("age"), "Age", values.number)],
        others=[
            (4, upsert.json_key("born"), "Born", values.date),
            (5, upsert.json_key("plan"), "Plan", values.choice(["Basic", "Pro"])),
        ],
        records=shape == "records",
        contact_line=(
            functools.partial(upsert.contact_line, head="7\t", stamp=STAMP, bulk="t")
            if shape == "contacts"
            else None
        ),
    )


def one_process(batches: list[list[Row]], rules: checking.Rules):
    """What the import did with one process checking every row in order (its _Checker before
    the children made the records): per batch the records of new numbers and of numbers an
    earlier batch wrote; the rejected rows; the tally; the numbers seen."""
    record = checking.Records(rules)
    seen: dict[int, int] = {}
    tally = Tally()
    written, rejected = [], []

    def refuse(number, cells, rejection):
        tally.reject(rejection.code)
        phone = cells[rules.column] if rules.column < len(cells) else ""
        rejected.append(RejectedRow(number, phone, rejection, cells))

    for batch in batches:
        records: dict[int, tuple] = {}
        again: dict[int, tuple] = {}
        cells_of: dict[int, list[str]] = {}
        for number, cells in batch:
            raw = cells[rules.column] if rules.column < len(cells) else ""
            verdict = phones.verdict(raw, rules.default_country)
            if type(verdict) is not tuple:
                refuse(number, cells, verdict)
                continue
            e164, region, kind = verdict
            try:
                made = record(number, cells, e164, region, kind)
            except values.BadValue as bad:
                refuse(number, cells, Rejection(Code.BAD_VALUE, str(bad)))
                continue
            digits = int(e164[1:])
            earlier = seen.get(digits)
            into = records
            if earlier is not None:
                replaced = Rejection(Code.REPLACED_IN_FILE, str(number))
                if digits in records or digits in again:
                    into = records if digits in records else again
                    refuse(earlier, cells_of[digits], replaced)
                    del into[digits]
                else:
                    rejected.append(RejectedRow(earlier, e164, replaced))
                    tally.reject(Code.REPLACED_IN_FILE)
                    into = again
                tally.accepted -= 1
            else:
                tally.by_country[region] = tally.by_country.get(region, 0) + 1
            seen[digits] = number
            into[digits] = made
            cells_of[digits] = cells
            tally.accepted += 1
        written.append((list(records.values()), list(again.values())))
    return written, rejected, tally, seen


def expected_batches(written, rules: checking.Rules, shape: str) -> list[checking.Checked]:
    """What the old writers made of the records: the records (SQLite), the rows table's lines,
    and into a new book the contacts' lines too."""
    if shape == "records":
        return [checking.Checked(fresh, again, []) for fresh, again in written]
    return [
        checking.Checked(
            [upsert.copy_line(r) for r in fresh],
            [upsert.copy_line(r, "t") for r in again],
            [rules.contact_line(r) for r in fresh] if shape == "contacts" else [],
        )
        for fresh, again in written
    ]


def on_every_core(batches: list[list[Row]], rules: checking.Rules, processes: int):
    checker = checking.Checker(rules)
    checked, rejected = [], []
    with Pool(checking.Lines(rules), processes=processes) as pool:
        for batch, *answer in pool.answers(batches):
            done, refused = checker.check(batch, *answer)
            checked.append(done)
            rejected += refused
    return checked, rejected, checker.tally, checker.seen


def mixed_rows(count: int, seed: int = 17) -> list[Row]:
    """Numbers repeated near and far (in the same share, another share, another batch, three
    times and more), in other formats, invalid cells, short rows, values that do not fit
    their field and awkward text."""
    rng = random.Random(seed)
    rows = []
    for number, roll, phone in campaign_rows.phones_near_and_far(count, rng):
        cells = [
            phone,
            rng.choice(AWKWARD),
            rng.choice(AWKWARD),
            rng.choice(NUMBERS) if rng.random() < 0.3 else str(rng.randrange(100)),
            rng.choice(DATES) if rng.random() < 0.2 else "",
            rng.choice(PLANS) if rng.random() < 0.2 else "",
            rng.choice(LANGUAGES) if rng.random() < 0.1 else "",
            rng.choice(ZONES) if rng.random() < 0.1 else "",
            rng.choice(OPTED) if rng.random() < 0.1 else "",
        ]
        if roll > 0.95:
            cells = cells[: rng.randrange(1, 9)]  # a short row
        rows.append(Row(number, cells))
    return rows


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("shape", ["records", "rows", "contacts"])
def test_the_last_row_of_a_number_wins_as_in_one_process(shape, processes):
    rows = mixed_rows(9_000)
    batches = [rows[:2_000], rows[2_000:2_500], rows[2_500:7_000], rows[7_000:]]
    checks = rules(shape)
    checked, rejected, tally, seen = on_every_core(batches, checks, processes)
    written, expected_rejected, expected_tally, expected_seen = one_process(batches, checks)
    assert checked == expected_batches(written, checks, shape)
    assert rejected == expected_rejected
    assert tally == expected_tally
    assert seen == expected_seen
    # The file has every case the comparison is about.
    assert sum(len(b.again) for b in checked) > 100
    codes = {row.rejection.code for row in rejected}
    assert {Code.REPLACED_IN_FILE, Code.BAD_VALUE, Code.EMPTY, Code.NOT_A_NUMBER} <= codes
    replaced_here = [
        r for r in rejected if r.rejection.code == Code.REPLACED_IN_FILE and r.cells is not None
    ]
    assert len(replaced_here) > 10  # replaced by a later row of the same batch


def test_a_number_three_times_in_one_batch_after_an_earlier_batch_is_sent_once_as_a_repeat():
    first = [Row(2, ["+77011110001", "Ann"] + [""] * 7)]
    second = [
        Row(3, ["+77011110001", "Bob"] + [""] * 7),
        Row(4, ["87011110002", "Cem"] + [""] * 7),
        Row(5, ["8 701 111 00 01", "Dan"] + [""] * 7),
        Row(6, ["+77011110001", "Eve", "", "x"] + [""] * 5),  # not a number for Age
        Row(7, ["+77011110001", "Fay"] + [""] * 7),
    ]
    checks = rules("rows")
    checked, rejected, tally, _ = on_every_core([first, second], checks, 1)
    assert [line.split("\t")[3] for line in checked[1].again] == ["Fay"]
    assert checked[1].again[0].endswith("\t7\tt\n")
    assert [line.split("\t")[3] for line in checked[1].lines] == ["Cem"]
    assert [(r.number, r.rejection.code, r.rejection.detail) for r in rejected] == [
        (2, Code.REPLACED_IN_FILE, "3"),
        (3, Code.REPLACED_IN_FILE, "5"),
        (6, Code.BAD_VALUE, "“x” is not a number for Age."),
        (5, Code.REPLACED_IN_FILE, "7"),
    ]
    assert (tally.accepted, tally.rejected, tally.by_country) == (2, 4, {"KZ": 2})


def test_contacts_added_to_a_new_book_during_the_import_take_the_file_s_time_zone_only(
    acme, monkeypatch
):
    """Into a new book the children send each row's line into the contacts and into the rows
    table: when someone else's contacts make the COPY fail, the rows table's lines upsert them,
    a time zone cell replacing theirs and an empty one keeping it."""
    from contacts import importing
    from contacts.models import Contact
    from tests.contacts.test_importing import contact, start

    acme.workspace.contacts.all().delete()
    prepare = importing._prepare

    def someone_adds_contacts_meanwhile(imp, stamp):
        target = prepare(imp, stamp)
        for phone in ("+77011110001", "+77011110002"):
            Contact.objects.create(workspace=acme.workspace, phone=phone, time_zone="Asia/Aqtau")
        return target

    monkeypatch.setattr(importing, "_prepare", someone_adds_contacts_meanwhile)
    imp = start(
        acme,
        "phone;time zone;name\n+77011110001;Asia/Almaty;Ann\n+77011110002;;Bob\n"
        "+77011110003;;Cem\n",
    )
    assert (imp.created, imp.updated, imp.rejected) == (1, 2, 0), imp.error
    assert contact(acme, "+77011110001").time_zone == "Asia/Almaty"
    assert (contact(acme, "+77011110002").time_zone, contact(acme, "+77011110002").name) == (
        "Asia/Aqtau",
        "Bob",
    )
    assert contact(acme, "+77011110003").name == "Cem"
