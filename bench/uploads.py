"""Peak memory of the web process while it reads three worst-case uploads at once.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helper_upload \\
        .venv/bin/python bench/uploads.py [--before /tmp/crier-before] [--port 8765]

The worst case is a 49.9 MiB CSV that is one line: phone numbers separated by semicolons with
no line break anywhere (an export with the wrong line ends). For each source tree (this one,
and ``--before``, a checkout of an earlier commit, e.g. ``git worktree add /tmp/crier-before
<commit>``) the script creates a database of its own, starts that tree's web server
(``manage.py runserver --noreload``), logs in through the login form, uploads a small file to
warm the server up, then posts the file through the campaign's upload form from three clients
at once while it samples the server's resident memory (VmRSS) every 10 ms. It prints idle,
peak and peak above idle for each tree side by side (medians over ``--rounds``), and what the
server answered. The target (issue #15): under 300 MB above idle.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.benchdb import fresh_postgres

HERE = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
SIZE = int(49.9 * MiB)
UPLOADS = 3
USERNAME, PASSWORD = "bench-uploads", "bench-uploads-password"
# Run by each tree's own manage.py shell, so that its models and migrations are the ones used.
SEED = f"""
from django.contrib.auth import get_user_model
from campaigns.models import Campaign
from workspaces.models import Membership, Role, Workspace
user = get_user_model().objects.create_user({USERNAME!r}, password={PASSWORD!r})
workspace = Workspace.objects.create(name="Bench", default_country="KZ")
Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
campaign = Campaign.objects.create(workspace=workspace, name="Bench upload", text="Hi")
print("campaign", campaign.pk)
"""


def single_line_csv(path: Path) -> Path:
    if not path.exists() or path.stat().st_size != SIZE:
        cell = b"+77011234567;"
        path.write_bytes((cell * (SIZE // len(cell) + 1))[:SIZE])
    return path


def rss(pid: int) -> int:
    """Resident memory of ``pid`` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError("VmRSS")


def _samples(pid: int, seconds: float) -> list[int]:
    samples = []
    for _ in range(int(seconds / 0.02)):
        samples.append(rss(pid))
        time.sleep(0.02)
    return samples


class Sampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.01)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


def server(tree: Path, port: int, database_url: str, var: Path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crier.settings",
        "DATABASE_URL": database_url,
        "CRIER_VAR_DIR": str(var),
        "CRIER_PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    python = str(HERE / ".venv" / "bin" / "python")
    manage = [python, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=tree, env=env, check=True)
    seeded = subprocess.run(
        [*manage, "shell", "-c", SEED], cwd=tree, env=env, check=True, capture_output=True
    )
    campaign = int(re.search(rb"campaign (\d+)", seeded.stdout).group(1))
    process = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/login/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return process, base, campaign


def logged_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=600, follow_redirects=False)
    client.get("/login/")
    token = client.cookies["csrftoken"]
    response = client.post(
        "/login/",
        data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
    )
    assert response.status_code == 302, f"login failed: {response.status_code}"
    return client


def upload(client: httpx.Client, campaign: int, path: Path) -> str:
    """Posts ``path`` through the upload form; returns what the user is told."""
    page = f"/campaigns/{campaign}/"
    with path.open("rb") as file:
        response = client.post(
            f"/campaigns/{campaign}/imports/",
            data={"text": ""},
            files={"file": (path.name, file, "text/csv")},
            headers={"X-CSRFToken": client.cookies["csrftoken"], "Referer": str(client.base_url)},
        )
    if response.status_code == 302:
        if "/imports/" in response.headers["location"]:
            return "accepted"
        response = client.get(page)  # the reason is a message on the page it went back to
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))
    for reason in ("Row 1 is longer", "Another upload", "could not be read", "columns; the limit"):
        if reason in text:
            return f"{response.status_code}: {text[text.index(reason) :][:60]}…"
    return f"{response.status_code}: (no reason found)"


def measure(tree: Path, port: int, database_url: str, big: Path, small: Path) -> dict:
    fresh_postgres(database_url)
    with tempfile.TemporaryDirectory(prefix="crier-bench-uploads-") as var:
        process, base, campaign = server(tree, port, database_url, Path(var))
        try:
            clients = [logged_in(base) for _ in range(UPLOADS)]
            for client in clients:
                client.get(f"/campaigns/{campaign}/")
            assert upload(clients[0], campaign, small) == "accepted"
            time.sleep(1)
            idle = statistics.median(_samples(process.pid, seconds=1))
            sampler = Sampler(process.pid)
            sampler.start()
            started = time.perf_counter()
            with ThreadPoolExecutor(UPLOADS) as pool:
                answers = list(pool.map(lambda c: upload(c, campaign, big), clients))
            seconds = time.perf_counter() - started
            peak = sampler.stop()
        finally:
            process.terminate()
            process.wait()
    return {"idle": idle, "peak": peak, "seconds": seconds, "answers": answers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "crier-bench")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database the bench may drop and create.")
    args.dir.mkdir(parents=True, exist_ok=True)
    big = single_line_csv(args.dir / "single-line-49.9MiB.csv")
    small = args.dir / "small.csv"
    small.write_text("phone;name\n+77011234567;Ann\n")
    trees = {"this tree": HERE}
    if args.before:
        trees = {"before": args.before.resolve(), **trees}
    results = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            results[name].append(measure(tree, args.port, database_url, big, small))
    print(f"\n{UPLOADS} concurrent uploads of a {SIZE / MiB:.1f} MiB single-line CSV")
    print(f"(medians of {args.rounds} round(s); target: peak above idle under 300 MB)\n")
    print(f"{'':12}{'idle MB':>10}{'peak MB':>10}{'above idle':>12}{'seconds':>10}")
    for name, runs in results.items():

        def median(key: str, runs=runs) -> float:
            return statistics.median(run[key] for run in runs)

        above = statistics.median(run["peak"] - run["idle"] for run in runs)
        print(
            f"{name:12}{median('idle') / 1e6:10.0f}{median('peak') / 1e6:10.0f}"
            f"{above / 1e6:12.0f}{median('seconds'):10.1f}"
        )
    for name, runs in results.items():
        print(f"\n{name}: the server answered")
        for answer in runs[-1]["answers"]:
            print(f"  {answer}")


if __name__ == "__main__":
    main()
