"""Real processes around the test: the sandbox behind a web server, Celery workers and beat,
all on the test's PostgreSQL database and a Redis broker.

Run by .ci/run with DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis) set; skipped
elsewhere. The test process only arranges data and reads the results; everything in between is
done by the worker processes exactly as in production.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# The workers' own broker: never the one .ci/run gives the test process, so a stray publish
# from the test process cannot reach them. Helpers running suites side by side pick their own.
# Under pytest-xdist each runner gets a database of its own, counting down from that one.
_BASE = os.environ.get("CRIER_RELIABILITY_BROKER_URL", "redis://127.0.0.1:6379/14")
_RUNNER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
BROKER = _BASE.rsplit("/", 1)[0] + f"/{int(_BASE.rsplit('/', 1)[1]) - _RUNNER}"


# `make reliability-test` runs three runners (-n 3 --dist loadfile --no-loadscope-reorder).
# xdist hands out whole files in the order below: one to each runner, then a second to a runner
# whose file has two tests or fewer left, now or when it gets there. So the files are ordered to
# pair up into runs of about the same length (seconds on a quiet machine, 2026-12-07):
# test_embedded 231 + test_imports 35, test_at_most_once 155 + test_chaos 135 (its first test
# ends first), test_sending 190 + test_failover 80. In xdist's own order the embedded soak test
# ran after the slow-provider file on one runner: 8 min for the suite instead of 5.
# (--dist loadgroup would say this with marks, but with pytest 9 xdist 3.8's groups are lost.)
FILE_ORDER = [
    "test_embedded.py",
    "test_sending.py",
    "test_at_most_once.py",
    "test_imports.py",
    "test_chaos.py",
    "test_failover.py",
]


def pytest_collection_modifyitems(config, items):
    def place(item):
        name = item.path.name
        return FILE_ORDER.index(name) if name in FILE_ORDER else len(FILE_ORDER)

    items.sort(key=place)  # stable: each file's tests keep their order
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    if postgres:
        return
    skip = pytest.mark.skip(reason="needs DATABASE_URL=postgres://… (run by .ci/run)")
    for item in items:
        item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Starts and kills the project's own processes against the test database."""

    def __init__(self, tmp_path: Path, port: int, **environment: str):
        db = connection.settings_dict
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": BROKER,
            "CRIER_VAR_DIR": str(tmp_path / "var"),
            "SECRET_KEY": settings.SECRET_KEY,
            "CRIER_ENCRYPTION_KEYS": ",".join(settings.CRIER_ENCRYPTION_KEYS),
            "CRIER_PROVIDER_TIMEOUT": "3",
            "CRIER_SEND_TASK_SECONDS": "5",
            "CRIER_SEND_BATCH_SIZE": "500",
            "CRIER_SEND_BACKOFF_CAP": "2",
            "CRIER_SEND_MAX_ATTEMPTS": "100",
            "LOG_LEVEL": "WARNING",
            "CRIER_SANDBOX_ORIGINS": self.url,  # the accounts call this web server's sandbox
            **environment,
        }
        self.logs = tmp_path
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *command: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 takes its children too
        )
        self.running[name] = process
        return process

    def web(self) -> None:
        self.start(
            "web", sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the web server did not start: {self.log('web')}")

    def worker(self, name: str = "worker") -> None:
        celery = str(Path(sys.executable).with_name("celery"))
        self.start(
            name,
            celery,
            "-A",
            "crier",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=WARNING",
            f"--hostname={name}@%h",
        )

    def beat(self) -> None:
        celery = str(Path(sys.executable).with_name("celery"))
        self.start("beat", celery, "-A", "crier", "beat", "--loglevel=WARNING")

    def kill(self, name: str) -> None:
        """kill -9 the process and everything it started."""
        process = self.running.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.running):
            process = self.running.pop(name)
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)

    def log(self, name: str) -> str:
        """The end of process ``name``'s log, or of each one named so ("worker": worker1, ...)."""
        paths = [self.logs / f"{name}.log"] if (self.logs / f"{name}.log").exists() else []
        paths = paths or sorted(self.logs.glob(f"{name}*.log"))
        return "\n".join(f"[{p.stem}] " + p.read_text(errors="replace")[-3000:] for p in paths)


@pytest.fixture
def processes(transactional_db, tmp_path, settings):
    redis.Redis.from_url(BROKER).flushdb()
    settings.CRIER_SEND_BATCH_SIZE = 500
    running = Processes(tmp_path, _free_port())
    settings.CRIER_SANDBOX_ORIGINS = [running.url]
    running.web()
    yield running
    running.stop_all()
    redis.Redis.from_url(BROKER).flushdb()
