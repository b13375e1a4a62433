"""Time the whole recipient import (read -> normalise -> de-duplicate -> store) on SQLite and
PostgreSQL, through the same code the Celery task runs.

    .venv/bin/python bench/import.py [--rows 1000000] [--dir DIR] [--db sqlite,postgres]
                                     [--only 100k] [--repeat 3]

Files come from bench/import_read.py's generator (several countries, formatting noise, 5 %
duplicates, 3 % invalid, two placeholder columns). Each import runs in a fresh process against
a fresh database, so peak RSS is one import's (the preview read by ``imports.create`` included).
PostgreSQL is reached at postgres://postgres@127.0.0.1:5432/crier_bench (created if missing;
BENCH_POSTGRES_URL overrides it). Targets on a 2-core machine (#20): 1M-row CSV with exact
validation <= 10 s on PostgreSQL with peak RSS <= 300 MiB, <= 15 s on SQLite; 1M-row XLSX
<= 25 s, 100k-row CSV <= 3 s.

Besides the wall clock, each line gives the CPU seconds of the import process, of its
validation workers and of its PostgreSQL backend, and the load average: on a shared machine
the wall clock depends on the neighbours, the CPU seconds much less. With --repeat, the best
and the median wall clock close each case.
"""

from __future__ import annotations

import argparse
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

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crier_bench")


def run_one(path: Path) -> dict:
    """In this (child) process: migrate a fresh database, import ``path`` into a new campaign."""
    import django
    from django.core.files import File
    from django.core.management import call_command

    django.setup()
    from campaigns.models import Campaign
    from campaigns.recipients import imports
    from workspaces.models import Workspace

    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(name="Bench", default_country="KZ")
    campaign = Campaign.objects.create(workspace=workspace, name="Bench", text="Hi {name}")
    with path.open("rb") as source:
        imp = imports.create(campaign, None, upload=File(source, name=path.name))
    imports.confirm(imp, "add")
    backend = _Backend()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if profile := os.environ.get("BENCH_PROFILE"):
        import cProfile

        cProfile.runctx("imports.run(imp.pk)", globals(), locals(), profile)
    else:
        imports.run(imp.pk)
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool, joined on exit
    imp.refresh_from_db()
    return {
        "status": imp.status,
        "error": imp.error,
        "rows": imp.rows_done,
        "accepted": imp.accepted,
        "stored": campaign.messages.count(),
        "rejected": imp.summary.get("by_reason", {}),
        "seconds": round(seconds, 2),
        "rows_per_s": round(imp.rows_done / seconds),
        # CPU seconds say what the wall clock would on an idle machine: the wall time of a
        # shared box depends on its neighbours.
        "cpu_main_s": round(_cpu(own) - _cpu(cpu), 1),
        "cpu_workers_s": round(_cpu(workers), 1),
        "cpu_database_s": backend.cpu_seconds(),
        "peak_rss_mib": round(own.ru_maxrss / 1024),
        "peak_worker_rss_mib": round(workers.ru_maxrss / 1024),
        "load_average": round(os.getloadavg()[0], 1),
    }


def _cpu(usage) -> float:
    return usage.ru_utime + usage.ru_stime


class _Backend:
    """CPU time of this connection's PostgreSQL backend, when it runs on this machine."""

    def __init__(self):
        from django.db import connection

        self.pid = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
        self.start = self._ticks()

    def _ticks(self) -> int | None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError, TypeError):
            return None
        return int(fields[11]) + int(fields[12])  # utime + stime

    def cpu_seconds(self) -> float | None:
        end = self._ticks()
        if self.start is None or end is None:
            return None
        return round((end - self.start) / os.sysconf("SC_CLK_TCK"), 1)


def main() -> None:
    from bench.import_read import bench_files

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/crier-bench"))
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--only", help="run only the files whose name contains this")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; best and median")
    parser.add_argument("--profile", type=Path, help="cProfile the import's process into this file")
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.profile:
        os.environ["BENCH_PROFILE"] = str(args.profile.resolve())
    if args.run:
        print(json.dumps(run_one(args.run)))
        return
    files = [f for f in bench_files(args.dir, args.rows) if not args.only or args.only in f.name]
    for db in args.db.split(","):
        for path in files:
            runs = [_run_child(db, path) for _ in range(args.repeat)]
            for r in runs:
                _print(db, path, r)
            if len(runs) > 1:
                seconds = sorted(r["seconds"] for r in runs)
                print(
                    f"{db:<8} {path.name:<26} best {seconds[0]:.2f} s, "
                    f"median {statistics.median(seconds):.2f} s of {len(runs)}",
                    flush=True,
                )


def _run_child(db: str, path: Path) -> dict:
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
            [sys.executable, __file__, "--run", str(path)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
    if child.returncode:
        print(child.stderr, file=sys.stderr)
        raise SystemExit(child.returncode)
    return json.loads(child.stdout.strip().splitlines()[-1])


def _print(db: str, path: Path, r: dict) -> None:
    database = f" + {r['cpu_database_s']} s PostgreSQL" if r["cpu_database_s"] is not None else ""
    print(
        f"{db:<8} {path.name:<26} {r['rows']:>9,} rows {r['seconds']:>6.2f} s "
        f"{r['rows_per_s']:>8,} rows/s  peak RSS {r['peak_rss_mib']} MiB "
        f"(workers {r['peak_worker_rss_mib']} MiB)  CPU {r['cpu_main_s']} s main + "
        f"{r['cpu_workers_s']} s workers{database}  load {r['load_average']}  "
        f"stored {r['stored']:,}  {r['status']}{(' ' + r['error']) if r['error'] else ''}",
        flush=True,
    )


if __name__ == "__main__":
    main()
