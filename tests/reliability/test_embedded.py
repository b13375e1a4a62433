"""`make run`'s embedded default keeps its worker under a stream of work (#13).

The filesystem broker's worker died after 7.5 minutes of the demo, reading a message file beat
had not finished writing. Here web, worker and beat run as `make run` starts them, on SQLite
and the embedded broker (crier/broker.py) in a fresh var/, while a feeder creates, imports
and launches a campaign every two seconds for three minutes on top of beat's own two tasks
every two seconds; then every process must be alive, every log clean and all the work done.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.conftest import ROOT, Processes, _free_port

FEED_SECONDS = 180
FEED = Path(__file__).with_name("embedded_feed.py")
FINISHED = ("sent", "completed")
TROUBLE = re.compile(r"Unrecoverable error|Traceback|database is locked|ERROR|CRITICAL")


def embedded(tmp_path: Path) -> Processes:
    """The project's processes with no DATABASE_URL or CELERY_BROKER_URL: the laptop default."""
    running = Processes(tmp_path, _free_port())
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        running.env.pop(name, None)
    for command in (["migrate", "--noinput"], ["seed_demo", "--origin", running.url]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=running.env,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return running


def counts(database: Path, sql: str) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        return dict(db.execute(sql).fetchall())


def test_three_minutes_of_imports_and_sends_leave_the_embedded_worker_alive(tmp_path):
    running = embedded(tmp_path)
    database = Path(running.env["CRIER_VAR_DIR"]) / "crier.sqlite3"
    celery = str(Path(sys.executable).with_name("celery"))
    try:
        running.web()
        # As the Procfile starts it, at INFO so that every task it took is in its log.
        running.start("worker", celery, "-A", "crier", "worker", "--loglevel=INFO",
                      "--pool=prefork", "--concurrency=2")  # fmt: skip
        running.beat()
        started = time.monotonic()
        feed = subprocess.run(
            [sys.executable, str(FEED), "--seconds", str(FEED_SECONDS)],
            cwd=ROOT,
            env=running.env,
            capture_output=True,
            text=True,
            timeout=FEED_SECONDS + 180,
        )
        assert feed.returncode == 0, feed.stderr[-3000:]
        fed = json.loads(feed.stdout.strip().splitlines()[-1])

        def campaigns() -> dict[str, int]:
            return counts(
                database,
                "SELECT status, count(*) FROM campaigns_campaign "
                "WHERE name LIKE 'Feed %' GROUP BY status",
            )

        deadline = time.monotonic() + 90
        while set(campaigns()) - {"draft", *FINISHED} and time.monotonic() < deadline:
            time.sleep(1)
        elapsed = time.monotonic() - started
        for name in ("web", "worker", "beat"):
            assert running.running[name].poll() is None, f"{name} died: {running.log(name)}"
        logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("worker", "beat")}
    finally:
        running.stop_all()

    for name, log in logs.items():
        assert not TROUBLE.search(log), f"{name}: {TROUBLE.search(log).group()}\n{log[-3000:]}"
    imports = counts(
        database, "SELECT status, count(*) FROM campaigns_recipientimport GROUP BY status"
    )
    assert imports == {"done": fed["drafts"]}, imports
    assert fed["refused"] == 0, feed.stderr[-3000:]
    assert fed["launched"] == fed["drafts"], fed
    assert sum(campaigns().get(status, 0) for status in FINISHED) == fed["launched"], campaigns()
    tasks = logs["worker"].count(" succeeded in ")
    print(f"\n{elapsed:.0f} s, fed {fed}, worker tasks {tasks}, campaigns {campaigns()}")
    assert tasks >= FEED_SECONDS, tasks  # beat alone sends one a second
