"""Time the database-free half of a recipient import: read -> normalise -> de-duplicate.

    .venv/bin/python bench/import_read.py [--rows 1000000] [--dir /tmp/crier-bench] [--only xlsx]

Writes a CSV and an XLSX of ``--rows`` recipients (KZ, BR, UZ, RU, GB, US numbers with
formatting noise, 5 % duplicates, 3 % invalid, two placeholder columns) plus a 100,000-row CSV,
then times each in a fresh process, so peak RSS is that of one import, not of the generator.
Files already in ``--dir`` are reused. For an XLSX, "workers" includes the child process that
reads the workbook (see core/tables/workbooks.py): its peak is the largest by far.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (country, prefix of the E.164 number, random digits after it): mobile ranges where every
# tail is valid, so the only invalid rows are the ones made invalid on purpose.
RANGES = [
    ("KZ", "+7701", 7),
    ("KZ", "+7777", 7),
    ("BR", "+551199", 7),
    ("UZ", "+99890", 7),
    ("RU", "+7912", 7),
    ("GB", "+447400", 6),
    ("US", "+12122", 6),
]
INVALID = ["12345", "abc", "+7 000 000 00 00", "8 701 12", "n/a", "", "+44 20 12"]
NAMES = ["Айгерим", "Иван", "Maria", "John", "Olim", "Ana", "Ерлан", "Sarah"]
BATCH = 100_000


def _noisy(e164: str, rng: random.Random) -> str:
    """The number the way people and CRMs write it."""
    style = rng.randrange(6)
    digits = e164[1:]
    if style == 0:
        return e164
    if style == 1:
        return f"+{digits[:-10]} {digits[-10:-7]} {digits[-7:-4]}-{digits[-4:-2]}-{digits[-2:]}"
    if style == 2:
        return f"00{digits}"
    if style == 3 and e164.startswith("+7"):
        return f"8 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}"  # KZ national
    if style == 4:
        return f"+{digits[:-10]} ({digits[-10:-7]}) {digits[-7:]}"
    return f"+{digits[:-7]}.{digits[-7:-4]}.{digits[-4:]}"


def rows(count: int, seed: int = 7):
    """Yield (phone, name, code) for ``count`` recipients: 5 % repeat an earlier number (in
    another format), 3 % are invalid."""
    rng = random.Random(seed)
    recent: collections.deque[str] = collections.deque(maxlen=50_000)
    for i in range(count):
        roll = rng.random()
        if roll < 0.03:
            phone = rng.choice(INVALID)
        elif roll < 0.08 and recent:
            phone = _noisy(recent[rng.randrange(len(recent))], rng)
        else:
            _, prefix, width = rng.choice(RANGES)
            e164 = f"{prefix}{rng.randrange(10**width):0{width}d}"
            recent.append(e164)
            phone = _noisy(e164, rng)
        yield phone, f"{rng.choice(NAMES)} {i}", f"P{rng.randrange(10**6):06d}"


def write_csv(path: Path, count: int) -> None:
    import csv

    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["phone", "name", "promo code"])
        writer.writerows(rows(count))


def write_xlsx(path: Path, count: int) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Recipients")
    sheet.write_row(0, 0, ["phone", "name", "promo code"])
    for i, (phone, name, code) in enumerate(rows(count), 1):
        digits = phone[1:]
        if phone.startswith("+") and digits.isdigit():  # a CRM export: E.164 as a number
            sheet.write_number(i, 0, int(digits))
        else:
            sheet.write_string(i, 0, phone)
        sheet.write_string(i, 1, name)
        sheet.write_string(i, 2, code)
    book.close()


def run_import(path: Path) -> dict:
    """Read, normalise and de-duplicate one file as the import task will; return counts."""
    from core.columns import detect_phone_column
    from core.phones import Normalised, Normaliser
    from core.tables.reader import open_table

    started = time.perf_counter()
    rejected: collections.Counter[str] = collections.Counter()
    countries: collections.Counter[str] = collections.Counter()
    first_row: dict[int, int] = {}  # E.164 digits as an int (half a str's memory) -> row
    total = 0
    # The Normaliser first: its workers fork before the workbook is loaded.
    with Normaliser("KZ") as normaliser, open_table(path, filename=path.name) as table:
        phone = detect_phone_column(table.columns, table.preview(), "KZ")
        pending: collections.deque[list[int]] = collections.deque()

        def batches():
            numbers, cells = [], []
            for row in table:
                numbers.append(row.number)
                cells.append(row.cells[phone])
                if len(cells) == BATCH:
                    pending.append(numbers)
                    yield cells
                    numbers, cells = [], []
            pending.append(numbers)
            yield cells

        for results in normaliser.normalise_batches(batches()):
            numbers = pending.popleft()
            total += len(results)
            for number, result in zip(numbers, results, strict=True):
                if not isinstance(result, Normalised):
                    rejected[result.code.value] += 1
                    continue
                key = int(result.e164[1:])
                if key in first_row:
                    rejected["duplicate_in_file"] += 1
                else:
                    first_row[key] = number
                    countries[result.region] += 1
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool, joined on exit
    return {
        "file": path.name,
        "rows": total,
        "accepted": len(first_row),
        "rejected": dict(rejected),
        "countries": dict(countries.most_common()),
        "seconds": round(seconds, 2),
        "rows_per_s": round(total / seconds),
        # CPU seconds say what the wall clock would on an idle machine: the wall time of a
        # shared box depends on its neighbours.
        "cpu_main_s": round(own.ru_utime + own.ru_stime, 1),
        "cpu_workers_s": round(workers.ru_utime + workers.ru_stime, 1),
        "peak_rss_mib": round(own.ru_maxrss / 1024),
        "peak_worker_rss_mib": round(workers.ru_maxrss / 1024),
        "load_average": round(os.getloadavg()[0], 1),
    }


def bench_files(folder: Path, rows: int) -> list[Path]:
    """The bench's three files in ``folder`` (a 100k CSV, a ``rows`` CSV and XLSX), written
    once and reused."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [
        (folder / "recipients-100k.csv", write_csv, 100_000),
        (folder / f"recipients-{rows}.csv", write_csv, rows),
        (folder / f"recipients-{rows}.xlsx", write_xlsx, rows),
    ]
    for path, write, count in files:
        if not path.exists():
            began = time.perf_counter()
            write(path.with_suffix(".tmp" + path.suffix), count)
            path.with_suffix(".tmp" + path.suffix).rename(path)
            print(f"wrote {path} in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return [path for path, _, _ in files]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/crier-bench"))
    parser.add_argument("--only", help="run only the files whose name contains this")
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_import(args.run)))
        return
    for path in bench_files(args.dir, args.rows):
        if args.only and args.only not in path.name:
            continue
        child = subprocess.run(
            [sys.executable, __file__, "--run", str(path)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        result = json.loads(child.stdout)
        print(
            f"{result['file']:<28} {result['rows']:>9,} rows {result['seconds']:>6.2f} s "
            f"{result['rows_per_s']:>9,} rows/s  CPU {result['cpu_main_s']} s main + "
            f"{result['cpu_workers_s']} s workers  load {result['load_average']}  "
            f"peak RSS {result['peak_rss_mib']} MiB "
            f"(workers {result['peak_worker_rss_mib']} MiB)  accepted {result['accepted']:,} "
            f"rejected {result['rejected']}"
        )


if __name__ == "__main__":
    main()
