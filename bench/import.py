"""Time the whole recipient import (read -> normalise -> de-duplicate -> store) on SQLite and
PostgreSQL, through the same code the Celery task runs.

    .venv/bin/python bench/import.py [--rows 1000000] [--dir DIR] [--db sqlite,postgres]

Files come from bench/import_read.py's generator (several countries, formatting noise, 5 %
duplicates, 3 % invalid, two placeholder columns). Each import runs in a fresh process against
a fresh database, so peak RSS is one import's. PostgreSQL is reached at
postgres://postgres@127.0.0.1:5432/crier_bench (created if missing; BENCH_POSTGRES_URL
overrides it). Targets on a 2-core machine: 1M-row CSV <= 20 s on PostgreSQL with peak RSS
<= 400 MiB, 1M-row XLSX <= 25 s, 100k-row CSV <= 3 s; SQLite within twice these.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crier_bench")


def _fresh_postgres() -> None:
    import psycopg

    admin_url = POSTGRES.rsplit("/", 1)[0] + "/postgres"
    name = POSTGRES.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def run_one(path: Path) -> dict:
    """In this (child) process: migrate a fresh database, import ``path`` into a new campaign."""
    import django
    from django.core.files import File
    from django.core.management import call_command

    django.setup()
    from campaigns import imports
    from campaigns.models import Campaign
    from dashboard.models import Workspace

    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(name="Bench", default_country="KZ")
    campaign = Campaign.objects.create(workspace=workspace, name="Bench", text="Hi {name}")
    with path.open("rb") as source:
        imp = imports.create(campaign, None, upload=File(source, name=path.name))
    imports.confirm(imp, "add")
    started = time.perf_counter()
    imports.run(imp.pk)
    seconds = time.perf_counter() - started
    imp.refresh_from_db()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "status": imp.status,
        "error": imp.error,
        "rows": imp.rows_done,
        "accepted": imp.accepted,
        "stored": campaign.messages.count(),
        "rejected": imp.summary.get("by_reason", {}),
        "seconds": round(seconds, 2),
        "rows_per_s": round(imp.rows_done / seconds),
        "peak_rss_mib": round(own / 1024),
        "peak_worker_rss_mib": round(children / 1024),
    }


def main() -> None:
    from bench.import_read import bench_files

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/crier-bench"))
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run)))
        return
    files = bench_files(args.dir, args.rows)
    for db in args.db.split(","):
        for path in files:
            with tempfile.TemporaryDirectory() as var:
                if db == "postgres":
                    _fresh_postgres()
                    url = POSTGRES
                else:
                    url = f"sqlite:///{var}/bench.sqlite3"
                env = {
                    **os.environ,
                    "DATABASE_URL": url,
                    "CRIER_VAR_DIR": var,
                    "DJANGO_SETTINGS_MODULE": "dashboard.settings",
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
                r = json.loads(child.stdout.strip().splitlines()[-1])
                print(
                    f"{db:<8} {path.name:<26} {r['rows']:>9,} rows {r['seconds']:>6.2f} s "
                    f"{r['rows_per_s']:>8,} rows/s  peak RSS {r['peak_rss_mib']} MiB "
                    f"(workers {r['peak_worker_rss_mib']} MiB)  stored {r['stored']:,}  "
                    f"{r['status']}{(' ' + r['error']) if r['error'] else ''}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
