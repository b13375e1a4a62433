"""Time the contact-book import beside today's campaign import of the same file, and an upsert
that changes 10 % of the contacts, on SQLite and PostgreSQL.

    .venv/bin/python bench/contacts_import.py [--rows 1000000] [--dir DIR] [--db sqlite,postgres]
                                              [--repeat 1]

The file is bench/import_read.py's generator (several countries, formatting noise, 5 %
duplicates, 3 % invalid) with one more column: phone, name, promo code, age. The contact
import maps name to the contact's name and creates two custom fields (promo code as text,
age as a number); the campaign import takes the same file as recipients with placeholders.
The upsert file is the same rows with every tenth row's promo code changed, imported over the
book the first file made ("update" mode), once that book's own search indexes are built.

On PostgreSQL the contact import's book is bulk-loaded (contacts.search_indexes): after the
timed run, the case also times the book's searches (a name, a field's value, a segment's count)
without its own indexes, their build (wall and the server's CPU), and the searches again.

Each case runs in a fresh process against a fresh database (PostgreSQL at
postgres://postgres@127.0.0.1:5432/crier_bench_contacts, created if missing;
BENCH_POSTGRES_URL overrides it), so peak RSS is that case's. Targets (issue #17): the
contact import <= 1.3x the campaign import, the upsert <= 1.5x, peak RSS <= 400 MiB.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchdb import fresh_postgres  # noqa: E402 - after the path is set
from bench.import_read import rows as generated_rows  # noqa: E402

POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crier_bench_contacts"
)
CASES = ("campaign", "contacts", "upsert")
TARGETS = [("contacts", "contact import", "1.3x"), ("upsert", "upsert 10 % changed", "1.5x")]


def write_files(folder: Path, count: int) -> tuple[Path, Path]:
    """The import file and its upsert twin (every tenth row's promo code changed)."""
    folder.mkdir(parents=True, exist_ok=True)
    first = folder / f"contacts-{count}.csv"
    second = folder / f"contacts-{count}-changed.csv"
    if not (first.exists() and second.exists()):
        with (
            first.open("w", encoding="utf-8", newline="") as a,
            second.open("w", encoding="utf-8", newline="") as b,
        ):
            out_a, out_b = csv.writer(a), csv.writer(b)
            header = ["phone", "name", "promo code", "age"]
            out_a.writerow(header)
            out_b.writerow(header)
            for i, (phone, name, code) in enumerate(generated_rows(count)):
                age = str(18 + i % 60)
                out_a.writerow([phone, name, code, age])
                out_b.writerow([phone, name, code + "-NEW" if i % 10 == 0 else code, age])
    return first, second


def run_case(case: str, first: Path, second: Path) -> dict:
    """In this (child) process: migrate a fresh database and time one case."""
    import django
    from django.core.management import call_command

    django.setup()
    from contacts import search_indexes
    from workspaces.models import Workspace

    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(name="Bench", default_country="KZ")
    if case == "campaign":
        run = _campaign_import(workspace, first)
    elif case == "contacts":
        run = _contact_import(workspace, first)
    else:
        _contact_import(workspace, first)()  # the book the upsert finds, untimed
        search_indexes.build(workspace.pk)  # as its task does once the import commits
        run = _contact_import(workspace, second)
    timer = importlib.import_module("bench.import")
    backend = timer._Backend()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    workers_before = timer._cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {
        **result,
        "seconds": round(seconds, 2),
        "cpu_main_s": round(timer._cpu(own) - timer._cpu(cpu), 1),
        "cpu_workers_s": round(timer._cpu(workers) - workers_before, 1),
        "cpu_database_s": backend.cpu_seconds(),
        "peak_rss_mib": round(own.ru_maxrss / 1024),
        "load_average": round(os.getloadavg()[0], 1),
    }
    if case == "contacts" and backend.pid is not None:
        figures["indexes"] = _index_book(workspace)
    return figures


def _index_book(workspace) -> dict:
    """The book's searches without its own indexes, their build, and the searches after."""
    from django.db import connection

    from contacts import search_indexes

    timer = importlib.import_module("bench.import")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")  # as autovacuum would after the import
    before = _searches(workspace)
    backend = timer._Backend()
    started = time.perf_counter()
    built = search_indexes.build(workspace.pk)
    seconds = time.perf_counter() - started
    return {
        "built": len(built),
        "build_s": round(seconds, 2),
        "build_cpu_database_s": backend.cpu_seconds(),
        "before_ms": before,
        "after_ms": _searches(workspace),
    }


def _searches(workspace, rounds: int = 5) -> dict:
    """Median ms of the contacts page searching a name and a field's value (its first page
    and capped count) and of a segment's count as the segments page gives it."""
    from django.http import QueryDict

    from contacts import counting, segments
    from contacts.search import ContactFilter, page_of

    def by_query(query: dict):
        params = QueryDict(mutable=True)
        params.update(query)
        return lambda: page_of(ContactFilter.from_query(params).apply(workspace), 1)

    rule = {"field": "field:promo_code", "op": "is", "value": "P010921"}
    timed = {
        "name": by_query({"q": "ana 10"}),
        "field": by_query({"field": "promo_code", "value": "P010921"}),
        "segment": lambda: counting.tally(
            segments.members(workspace, {"match": "all", "rules": [rule]}), 10_000
        ),
    }
    medians = {}
    for label, call in timed.items():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        medians[label] = round(statistics.median(times) * 1000)
    return medians


def _campaign_import(workspace, path: Path):
    from django.core.files import File

    from campaigns.models import Campaign
    from campaigns.recipients import imports

    campaign = Campaign.objects.create(workspace=workspace, name="Bench", text="Hi {name}")
    with path.open("rb") as source:
        imp = imports.create(campaign, None, upload=File(source, name=path.name))
    imports.confirm(imp, "add")

    def run() -> dict:
        imports.run(imp.pk)
        imp.refresh_from_db()
        return {
            "status": imp.status,
            "error": imp.error,
            "rows": imp.rows_done,
            "stored": imp.accepted,
            "rejected": imp.rejected,
        }

    return run


def _contact_import(workspace, path: Path):
    from django.core.files import File

    from contacts import importing
    from contacts.models import ListAction, UpsertMode

    with path.open("rb") as source:
        imp = importing.create(workspace, None, upload=File(source, name=path.name))
    kinds = {"promo_code": "text", "age": "number"}
    new_fields = {
        key: {"label": spec["label"], "kind": kinds.get(key, "text")}
        for key, spec in imp.new_fields.items()
    }
    options = {k: v for k, v in imp.options.items() if k != "detected"}
    importing.remap(imp, options, imp.mapping, new_fields)
    importing.confirm(imp, UpsertMode.UPDATE, ListAction.NONE)

    def run() -> dict:
        importing.run(imp.pk)
        imp.refresh_from_db()
        return {
            "status": imp.status,
            "error": imp.error,
            "rows": imp.rows_done,
            "stored": imp.created + imp.updated + imp.unchanged,
            "rejected": imp.rejected,
            "created": imp.created,
            "updated": imp.updated,
            "unchanged": imp.unchanged,
        }

    return run


def _run_child(db: str, case: str, first: Path, second: Path) -> dict:
    with tempfile.TemporaryDirectory() as var:
        if db == "postgres":
            fresh_postgres(POSTGRES)
            url = POSTGRES
        else:
            url = f"sqlite:///{var}/bench.sqlite3"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "CRIER_VAR_DIR": var,
            "DJANGO_SETTINGS_MODULE": "crier.settings",
            "LOG_LEVEL": "WARNING",
            "DEBUG": "false",
        }
        child = subprocess.run(
            [sys.executable, __file__, "--case", case, str(first), str(second)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
    if child.returncode:
        print(child.stderr, file=sys.stderr)
        raise SystemExit(child.returncode)
    return json.loads(child.stdout.strip().splitlines()[-1])


def _print(db: str, case: str, r: dict) -> None:
    database = f" + {r['cpu_database_s']} s db" if r["cpu_database_s"] is not None else ""
    counts = (
        f"  created {r['created']:,} updated {r['updated']:,} unchanged {r['unchanged']:,}"
        if "created" in r
        else ""
    )
    print(
        f"{db:<8} {case:<9} {r['rows']:>9,} rows {r['seconds']:>7.2f} s  "
        f"CPU {r['cpu_main_s']} s main + {r['cpu_workers_s']} s workers{database}  "
        f"peak RSS {r['peak_rss_mib']} MiB  load {r['load_average']}  "
        f"stored {r['stored']:,} rejected {r['rejected']:,}{counts}  {r['status']}"
        f"{(' ' + r['error']) if r['error'] else ''}",
        flush=True,
    )
    if built := r.get("indexes"):
        print(
            f"{db:<8} {case:<9} its own search indexes: {built['build_s']:.2f} s, "
            f"{built['build_cpu_database_s']} s db; searches (ms) without "
            f"{built['before_ms']}, with {built['after_ms']}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/crier-bench"))
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case; medians")
    parser.add_argument("--cases", default=",".join(CASES), help="of " + ", ".join(CASES))
    parser.add_argument("--case", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("files", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, *args.files)))
        return
    first, second = write_files(args.dir, args.rows)
    for db in args.db.split(","):
        medians = {}
        for case in args.cases.split(","):
            runs = [_run_child(db, case, first, second) for _ in range(args.repeat)]
            for r in runs:
                _print(db, case, r)
            medians[case] = statistics.median(r["seconds"] for r in runs)
        base = medians.get("campaign")
        if base is None or len(medians) == 1:
            continue
        print(
            f"{db:<8} median wall: campaign import {base:.2f} s"
            + "".join(
                f" | {label} {medians[case]:.2f} s = {medians[case] / base:.2f}x (<= {limit})"
                for case, label, limit in TARGETS
                if case in medians
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
