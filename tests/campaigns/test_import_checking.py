"""The rows' checks on every core (campaigns.recipients.checking): the validating children
build the lines of COPY text the import's process used to build, and the first row of a
number wins exactly as when one process checked every row in order."""

from __future__ import annotations

import gc
import json
import random
from collections.abc import Iterator

import pytest

from campaigns.recipients import checking
from campaigns.recipients.bulk import FieldsEncoder
from core import phones
from core.rejections import Code, Rejection
from core.tables.table import Row

TAIL = "\t7\tpending\t\t\t\t2026-12-07T00:00:00+00:00\t2026-12-07T00:00:00+00:00\n"
NAMES = {"name": 1, "city": 3, 'q"uote %s': 2}
AWKWARD = [
    "tab\there",
    "back\\slash \\t \\N",
    "\"quoted\" 'single'",
    "Айгерим Ünï 😀",
    "line\nbreak\r",
    "%s %d %(x)s",
    "",
    "   ",
    "\\",
]


def rules(**changes) -> checking.Rules:
    values = dict(
        default_country="KZ",
        allowed=None,
        column=0,
        names=NAMES,
        required=[],
        existing=set(),
        stop=set(),
        tail=TAIL,
    )
    return checking.Rules(**{**values, **changes})


def one_process(batch: list[Row], rules: checking.Rules):
    """What the import did with one process checking every row in order (its _Checker before
    the children built the lines): the lines without their references, the rejected rows'
    numbers and rejections, and the accepted rows by country."""
    encode = FieldsEncoder(rules.names)
    seen: dict[str, int] = {}
    lines, rejected, by_country = [], [], {}
    for number, cells in batch:
        raw = cells[rules.column] if rules.column < len(cells) else ""
        found = phones.normalise(raw, rules.default_country, rules.allowed)
        if isinstance(found, Rejection):
            rejected.append((number, found))
            continue
        missing = checking.missing(cells, rules.required)
        if found.e164 in seen:
            rejected.append((number, Rejection(Code.DUPLICATE_IN_FILE, str(seen[found.e164]))))
        elif found.e164 in rules.existing:
            rejected.append((number, Rejection(Code.DUPLICATE_IN_CAMPAIGN)))
        elif found.e164 in rules.stop:
            rejected.append((number, Rejection(Code.STOP_LISTED)))
        elif missing:
            rejected.append((number, Rejection(Code.MISSING_PLACEHOLDER, "{" + missing + "}")))
        else:
            seen[found.e164] = number
            by_country[found.region] = by_country.get(found.region, 0) + 1
            fields = encode(cells)
            lines.append(f"\t{found.e164}\t{found.region}\t{found.type}\t{number}\t{fields}{TAIL}")
    return lines, rejected, by_country


def on_every_core(batches: list[list[Row]], rules: checking.Rules, processes: int = 2):
    checker = checking.Checker(rules)
    lines, rejected = [], []
    with checking.Pool(checking.Lines(rules), processes=processes) as pool:
        for batch, keys, some_lines, by_country in pool.answers(batches):
            accepted, refused = checker.check(batch, keys, some_lines, by_country)
            lines += accepted
            rejected += [(row.number, row.rejection) for row in refused]
    references = [line[:32] for line in lines]
    assert all(len(line.split("\t", 1)[0]) == 32 for line in lines)
    assert references == sorted(references)
    return [line[32:] for line in lines], rejected, checker.tally


def phones_near_and_far(count: int, rng: random.Random) -> Iterator[tuple[int, float, str]]:
    """(row number, roll, phone cell) of ``count`` rows: numbers repeated near and far, in
    other formats, and invalid cells; ``roll`` is the row's random draw, for the rest of it."""
    numbers = [f"+7701{n:07d}" for n in rng.sample(range(10**7), count // 3)]
    for number in range(2, count + 2):
        roll = rng.random()
        phone = rng.choice(numbers)
        if roll < 0.2:
            phone = "8 " + phone[2:5] + " " + phone[5:]  # the same number, nationally
        elif roll < 0.25:
            phone = rng.choice(["", "n/a", "12345", "+7 000 000 00 00", "+447400123456"])
        yield number, roll, phone


def mixed_rows(count: int, seed: int = 20) -> list[Row]:
    """Numbers repeated near and far (in the same share, another share, another batch), in
    other formats, invalid cells, short rows and awkward placeholder values."""
    rng = random.Random(seed)
    rows = []
    for number, roll, phone in phones_near_and_far(count, rng):
        cells = [phone, rng.choice(AWKWARD), rng.choice(AWKWARD), rng.choice(AWKWARD)]
        if roll > 0.95:
            cells = cells[: rng.randrange(1, 4)]  # a short row
        rows.append(Row(number, cells))
    return rows


@pytest.mark.parametrize("processes", [1, 2])
def test_the_children_build_the_lines_one_process_built_for_awkward_values(processes):
    batch = [Row(n + 2, [f"+7701{n:07d}", value, value, value]) for n, value in enumerate(AWKWARD)]
    batch += [Row(100 + n, [f"8701{n:07d}"]) for n in range(2_500)]  # short rows
    lines, rejected, _ = on_every_core([batch], rules(), processes)
    assert (lines, rejected) == one_process(batch, rules())[:2]
    fields = json.loads(lines[1].split("\t")[5].replace("\\\\", "\\"))
    assert fields == {"name": AWKWARD[1], "city": AWKWARD[1], 'q"uote %s': AWKWARD[1]}


@pytest.mark.parametrize("processes", [1, 2])
def test_the_first_row_of_a_number_wins_as_in_one_process(processes):
    rows = mixed_rows(9_000)
    valid = [
        found.e164
        for r in rows
        if isinstance(found := phones.normalise(r.cells[0], "KZ"), phones.Normalised)
    ]
    stop, existing = set(valid[5:9]), set(valid[20:30])
    checks = rules(required=[("name", 1)], stop=stop, existing=existing, allowed=frozenset({"KZ"}))
    batches = [rows[:2_000], rows[2_000:4_500], rows[4_500:]]
    lines, rejected, tally = on_every_core(batches, checks, processes)
    expected_lines, expected_rejected, by_country = one_process(rows, checks)
    assert lines == expected_lines
    assert rejected == expected_rejected
    assert tally.by_country == by_country
    assert (tally.accepted, tally.rejected) == (len(lines), len(rejected))
    codes = {rejection.code for _, rejection in rejected}
    assert {
        Code.DUPLICATE_IN_FILE,
        Code.MISSING_PLACEHOLDER,
        Code.COUNTRY_NOT_ALLOWED,
        Code.EMPTY,
        Code.STOP_LISTED,
        Code.DUPLICATE_IN_CAMPAIGN,
    } <= codes


def test_a_row_missing_a_placeholder_is_a_duplicate_only_after_its_number_was_accepted():
    batch = [
        Row(2, ["+77011234567", ""]),  # missing: nothing came before
        Row(3, ["+77011234567", "Ann"]),  # the first accepted
        Row(4, ["87011234567", ""]),  # after it: a duplicate of row 3
    ]
    _, rejected, tally = on_every_core([batch], rules(names={"name": 1}, required=[("name", 1)]))
    assert rejected == [
        (2, Rejection(Code.MISSING_PLACEHOLDER, "{name}")),
        (4, Rejection(Code.DUPLICATE_IN_FILE, "3")),
    ]
    assert tally.accepted == 1


def test_the_heap_is_frozen_only_while_inside():
    with checking.frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    gc.freeze()  # someone else's freeze is theirs to undo
    try:
        with checking.frozen_heap():
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
