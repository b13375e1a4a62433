"""Run the benches on an earlier commit and on this tree side by side, alternating, and print
each headline figure's median on both, their ratio and their spread.

    .venv/bin/python bench/compare.py --baseline <git ref> [--rounds 3]
        [--only import,preview,dashboard,poll,send] [--quick] [--keep] [--current DIR]

The machine is shared, so a figure is only worth comparing with one taken under the same load:
for each bench the script runs the baseline's ``bench/<x>.py`` and then the current tree's (this
checkout with its uncommitted changes, or ``--current``), ``--rounds`` times (B, C, B, C, ...),
each in a fresh process with the checkout as its working directory and on PYTHONPATH, so each
side imports its own code (the header shows where ``campaigns`` came from). The baseline is a
``git worktree add --detach`` in the temporary folder, reused when it is there already and
removed at the end unless ``--keep``. Before the measured runs, unmeasured ones write the
import's files (once, read by both sides) and seed each side's dashboard database. Sizes are
modest, so a default run takes about 20-25 minutes on 2 cores; ``--quick`` is a smoke test of
about 10.

The children get this environment less whatever configures Crier (CRIER_*, CELERY_*, DJANGO_*,
BENCH_*, DATABASE_URL, CACHE_URL), so both sides run on the defaults: SQLite for preview (its
Celery queue in its own folder) and PostgreSQL databases of this script's own, crier_bench_cmp_*
(dropped at the end unless ``--keep``), so a bench someone runs by hand is not dropped under
them. A lock in the temporary folder keeps two comparisons from sharing those databases.

Each figure is printed with its median and min-max on both sides, the ratio of the medians
(C/B) and whether the two ranges overlap; a difference inside overlapping ranges is noise. Apart
ranges are not proof either: under a load of 4 on 2 cores, identical code once showed page p50s
1.9x apart over 3 rounds, so rerun, or raise --rounds, before believing one. Besides each
bench's own figures, "whole run: CPU" is the CPU seconds of the bench's processes, setup
included: less sensitive to the neighbours than any wall clock. The 1-minute load average
before and after each run is in its progress line.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TMP = Path(tempfile.gettempdir())
POSTGRES = "postgres://postgres@127.0.0.1:5432/"
IMPORTS = str(TMP / "crier-bench-compare")  # the import's files, read by both sides
CONFIGURES_CRIER = ("CRIER_", "CELERY_", "DJANGO_", "BENCH_", "DATABASE_URL", "CACHE_URL")
RUN_TIMEOUT = 1800

# bench/send.py gives its sandbox server a random port that settings.CRIER_SANDBOX_ORIGINS does
# not list, so since #15's provider-host rule every request is refused and it divides by zero.
# Until send.py lists its own origin, this adds it, the way tests/conftest.py does.
SEND = """
import sys
from bench import send

sys.argv = ["bench/send.py", *sys.argv[1:]]
serve = send._serve

def _serve(port):
    from django.conf import settings
    settings.CRIER_SANDBOX_ORIGINS = [*settings.CRIER_SANDBOX_ORIGINS, f"http://127.0.0.1:{port}"]
    return serve(port)

send._serve = _serve
send.main()
"""


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    lower_is_better: bool = True


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def import_figures(out: str) -> list[Figure]:
    """Per database and file: the import's wall clock, and the CPU seconds of the import
    process, its validation workers and its PostgreSQL backend (much less noisy)."""
    line = re.compile(
        r"^(?P<db>\w+)\s+\S+\.(?P<kind>csv|xlsx)\s+[\d,]+ rows\s+(?P<s>[\d.]+) s .*?"
        r"CPU (?P<main>[\d.]+) s main \+ (?P<workers>[\d.]+) s workers"
        r"(?: \+ (?P<pg>[\d.]+) s PostgreSQL)?",
        re.M,
    )
    figures = []
    for m in line.finditer(out):
        case = f"{m['db']} {m['kind']}"
        cpu = round(sum(float(m[g] or 0) for g in ("main", "workers", "pg")), 1)
        processes = "import, workers" + (", PostgreSQL" if m["pg"] else "")
        figures.append(Figure(f"{case}: wall", float(m["s"]), "s"))
        figures.append(Figure(f"{case}: CPU ({processes})", cpu, "s"))
    return figures


def preview_figures(out: str) -> list[Figure]:
    """The medians of price(), the preview view (priced in the request, read back, priced by the
    worker) and the live counter's p50. "Starting the worker's task" (~0.02 s, printed to
    10 ms) is left out: at that resolution its ratio is noise."""
    medians = re.finditer(
        r"^\s*(?P<label>[^:\n]+): best [\d.]+ s, median (?P<v>[\d.]+) s", out, re.M
    )
    figures = [
        Figure(m["label"], float(m["v"]), "s")
        for m in medians
        if "starting the worker" not in m["label"]
    ]
    counters = re.finditer(r"^live counter, (?P<label>[^:]+): p50 (?P<v>[\d.]+) ms", out, re.M)
    figures += [Figure(f"live counter, {m['label']}: p50", float(m["v"]), "ms") for m in counters]
    return figures


def dashboard_figures(out: str) -> list[Figure]:
    """Each page's p50 (an indented page is a view of the one above it); a page that did not
    answer 200 fails the run, since an error page is fast."""
    line = re.compile(
        r"^(?P<page>.+?)\s+(?P<p50>[\d.]+)\s+[\d.]+\s+\d+(?:\s+over)?\s+\[(?P<st>\d+)\]$", re.M
    )
    figures, parent = [], ""
    for m in line.finditer(out):
        if m["st"] != "200":
            raise ValueError(f"{m['page'].strip()} answered {m['st']}")
        page = m["page"]
        if page.startswith(" "):
            page = f"{parent}, {page.strip()}"
        else:
            parent = page
        figures.append(Figure(f"{page}: p50", float(m["p50"]), "ms"))
    return figures


def poll_figures(out: str) -> list[Figure]:
    """The median poll cycle and apply_statuses alone, and the cycle's PostgreSQL CPU."""
    m = re.search(
        r"median (?P<cycle>[\d.]+) s; apply_statuses alone: .*?median (?P<a>[\d.]+) s", out
    )
    if m is None:
        return []
    figures = [Figure("poll cycle", float(m["cycle"]), "s")]
    if database := [float(v) for v in re.findall(r"changes/s; database CPU ([\d.]+) s", out)]:
        figures.append(Figure("poll cycle: PostgreSQL CPU", statistics.median(database), "s"))
    return [*figures, Figure("apply_statuses alone", float(m["a"]), "s")]


def send_figures(out: str) -> list[Figure]:
    """Per provider: messages/s for the worker, Crier's own time a message, and the rate against
    a provider that takes exactly the latency (the sandbox's own work left out)."""
    line = re.compile(
        r"^(?P<slug>\w+)\s+[\d,]+ queued in [\d.]+ s = (?P<rate>[\d,]+) messages/s per worker;"
        r".*?= (?P<us>\d+) us a message; against a provider taking .*?: (?P<ideal>[\d,]+) "
        r"messages/s",
        re.M,
    )
    figures = []
    for m in line.finditer(out):
        slug = m["slug"]
        figures.append(Figure(f"{slug}: messages/s", _number(m["rate"]), "msg/s", False))
        figures.append(Figure(f"{slug}: Crier's own time a message", _number(m["us"]), "µs"))
        figures.append(
            Figure(f"{slug}: at exactly the latency", _number(m["ideal"]), "msg/s", False)
        )
    return figures


@dataclass(frozen=True)
class Bench:
    script: str
    parse: Callable[[str], list[Figure]]
    args: list[str]
    quick: list[str]
    database: str | None = None  # crier_bench_cmp_<this>, as BENCH_POSTGRES_URL
    # Arguments added for a run before the measured ones, whose figures are not kept: the
    # import's files, written once for both sides; the dashboard's data, seeded by each side
    # into a database of its own (per_side_database) that the measured runs reuse.
    prepare: tuple[str, ...] = ()
    per_side_database: bool = False


BENCHES = {
    "import": Bench(
        "import.py",
        import_figures,
        ["--rows", "300000", "--only", "300000", "--db", "sqlite,postgres", "--dir", IMPORTS],
        ["--rows", "30000", "--only", "30000", "--db", "sqlite,postgres", "--dir", IMPORTS],
        database="import",
        prepare=("--only", "(no file: only write them)"),
    ),
    "preview": Bench(
        "preview.py",
        preview_figures,
        ["--recipients", "300000", "--repeat", "3"],
        ["--recipients", "20000", "--repeat", "1"],
    ),
    "dashboard": Bench(
        "dashboard.py",
        dashboard_figures,
        ["--rounds", "30"],
        ["--rounds", "5"],
        database="dash",
        prepare=("--reseed", "--rounds", "1"),
        per_side_database=True,
    ),
    "poll": Bench(
        "poll.py",
        poll_figures,
        ["--messages", "100000", "--runs", "3"],
        ["--messages", "20000", "--runs", "1"],
        database="poll",
    ),
    "send": Bench("send.py", send_figures, ["--messages", "20000"], ["--messages", "3000"], "send"),
}


@dataclass
class Side:
    name: str
    tree: Path
    runs: list[list[Figure]] = field(default_factory=list)
    loads: list[tuple[float, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def baseline_worktree(ref: str) -> Path:
    """A detached worktree of ``ref``, reused when one is there at that commit already."""
    sha = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    tree = TMP / f"crier-compare-{sha[:12]}"
    if not tree.exists():
        git("worktree", "add", "--detach", str(tree), sha)
    elif git("rev-parse", "HEAD", cwd=tree) != sha:
        sys.exit(f"{tree} exists but is not at {sha}; remove it (git worktree remove) first")
    # preview.py starts ROOT/.venv/bin/celery: the worktree borrows this interpreter's venv.
    if not (tree / ".venv").exists() and sys.prefix != sys.base_prefix:
        (tree / ".venv").symlink_to(sys.prefix)
    return tree


def child_env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIGURES_CRIER)}
    return env | {"PYTHONPATH": str(tree)}


def database_url(bench: Bench, side: str) -> dict[str, str]:
    """BENCH_POSTGRES_URL for a bench on PostgreSQL: one database both sides share in turn, or
    one each when the bench keeps its seeded data between runs."""
    if not bench.database:
        return {}
    name = f"crier_bench_cmp_{bench.database}" + (f"_{side}" if bench.per_side_database else "")
    return {"BENCH_POSTGRES_URL": POSTGRES + name}


def command(bench: Bench, args: list[str]) -> list[str]:
    if bench.script == "send.py":
        return [sys.executable, "-c", SEND, *args]
    return [sys.executable, f"bench/{bench.script}", *args]


def describe(tree: Path, env: dict[str, str]) -> str:
    """The commit of ``tree``, its uncommitted changes, and where its ``campaigns`` comes from
    (it must be the tree itself, never an installed copy)."""
    imported = subprocess.run(
        [sys.executable, "-c", "import campaigns; print(campaigns.__file__)"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(imported).is_relative_to(tree):
        sys.exit(f"{tree}: campaigns is imported from {imported}, not from the checkout")
    changed = len(git("status", "--porcelain", "--untracked-files=no", cwd=tree).splitlines())
    commit = git("log", "-1", "--format=%h %s", cwd=tree)[:90]
    return f"{commit}\n    {changed} uncommitted files; campaigns from {imported}"


@dataclass(frozen=True)
class Outcome:
    output: str
    ok: bool
    seconds: float
    cpu: float
    load: tuple[float, float]

    def line(self, side: Side, log: Path, ok: bool) -> str:
        """The progress line: wall clock, the load before and after, where a failure is told."""
        failed = "" if ok else f"  FAILED (see {log})"
        load = f"load {self.load[0]:.2f} -> {self.load[1]:.2f}"
        return f"{side.name:8} {self.seconds:6.1f} s  {load}{failed}"


def execute(bench: Bench, side: Side, args: list[str], log: Path) -> Outcome:
    """Runs ``bench/<script> args`` in the side's checkout, its output kept in ``log``."""
    env = child_env(side.tree) | database_url(bench, side.name)
    before, cpu, started = os.getloadavg()[0], _children_cpu(), time.perf_counter()
    try:
        output, ok = _run_group(command(bench, args), cwd=side.tree, env=env)
    except subprocess.TimeoutExpired:
        output, ok = f"timed out after {RUN_TIMEOUT} s".encode(), False
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
    log.write_bytes(output)
    load = (before, os.getloadavg()[0])
    return Outcome(output.decode(errors="replace"), ok, seconds, cpu, load)


def measure(bench: Bench, side: Side, args: list[str], log: Path) -> str:
    """One measured run: records its figures, or why there are none; returns the progress line."""
    outcome = execute(bench, side, args, log)
    side.loads.append(outcome.load)
    try:
        figures = bench.parse(outcome.output) if outcome.ok else []
        reason = (outcome.output.strip().splitlines() or ["no output"])[-1]
    except ValueError as exc:
        figures, reason = [], str(exc)
    if figures:
        side.runs.append([*figures, Figure("whole run: CPU of its processes", outcome.cpu, "s")])
    else:
        side.failures.append(f"{log}: {reason}")
    return outcome.line(side, log, bool(figures))


def _run_group(args: list[str], **kwargs) -> tuple[bytes, bool]:
    """Runs a bench in a process group of its own, so that on a timeout or ^C its servers and
    workers are stopped with it; returns its output and whether it succeeded."""
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    with subprocess.Popen(args, start_new_session=True, **pipes, **kwargs) as child:
        try:
            output, _ = child.communicate(timeout=RUN_TIMEOUT)
        except BaseException:
            os.killpg(child.pid, signal.SIGKILL)
            raise
    return output, child.returncode == 0


def _children_cpu() -> float:
    """CPU seconds of the finished children and everything they waited for: a bench, its own
    subprocesses and servers (not PostgreSQL's backends)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def drop_databases() -> None:
    import psycopg

    with psycopg.connect(POSTGRES + "postgres", autocommit=True) as conn:
        names = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'crier\\_bench\\_cmp\\_%'"
        ).fetchall()
        for (name,) in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def _spread(values: list[float]) -> str:
    return f"{_fmt(statistics.median(values))} ({_fmt(min(values))}-{_fmt(max(values))})"


def summary(name: str, args: list[str], baseline: Side, current: Side) -> None:
    print(f"\n{name}: bench/{BENCHES[name].script} {' '.join(args)}")
    for side in (baseline, current):
        loads = [load for pair in side.loads for load in pair]
        print(f"  {side.name}: {len(side.runs)} runs, load {min(loads):.1f}-{max(loads):.1f}")
        for failure in side.failures:
            print(f"  {side.name} FAILED: {failure}")
    if not baseline.runs or not current.runs:
        return
    samples: dict[str, dict[str, list[float]]] = {}
    for side in (baseline, current):
        for figures in side.runs:
            for f in figures:
                samples.setdefault(f.name, {}).setdefault(side.name, []).append(f.value)
    kinds = {f.name: f for figures in baseline.runs + current.runs for f in figures}
    width = max(map(len, samples))
    print(
        f"  {'figure':{width}} {'unit':5} {'baseline median (min-max)':>27} "
        f"{'current median (min-max)':>27} {'C/B':>5}"
    )
    for figure, by_side in samples.items():
        b, c = by_side.get("baseline"), by_side.get("current")
        if not b or not c:
            print(f"  {figure:{width}} only on {'baseline' if b else 'current'}")
            continue
        ratio = statistics.median(c) / statistics.median(b) if statistics.median(b) else 0
        print(
            f"  {figure:{width}} {kinds[figure].unit:5} {_spread(b):>27} {_spread(c):>27} "
            f"{ratio:5.2f}  {_verdict(b, c, kinds[figure].lower_is_better)}"
        )


def _verdict(b: list[float], c: list[float], lower_is_better: bool) -> str:
    if len(b) < 2 or len(c) < 2:
        return "(one run: no spread)"
    if min(c) <= max(b) and min(b) <= max(c):
        return "overlap"
    better = (max(c) < min(b)) == lower_is_better
    return "apart: C better" if better else "apart: C WORSE"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="a git ref: the code before")
    parser.add_argument("--current", type=Path, default=ROOT, help="default: this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(BENCHES))
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--keep", action="store_true", help="keep the worktree and databases")
    args = parser.parse_args()
    names = args.only.split(",")
    if unknown := set(names) - set(BENCHES):
        parser.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    lock = (TMP / "crier-bench-compare.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit("another bench/compare.py is running (it would drop these databases)")
    tree = baseline_worktree(args.baseline)
    try:
        compare(names, tree, args)
    finally:
        if not args.keep:
            git("worktree", "remove", "--force", str(tree))  # --force: the .venv link
            drop_databases()


def compare(names: list[str], baseline_tree: Path, args) -> None:
    logs = TMP / f"crier-compare-logs-{datetime.now():%Y%m%d-%H%M%S}"
    logs.mkdir()
    current_tree = args.current.resolve()
    print(
        f"bench/compare.py, {datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, "
        f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {sys.executable}"
    )
    for label, tree in (("baseline", baseline_tree), ("current", current_tree)):
        print(f"  {label:8} {tree}: {describe(tree, child_env(tree))}")
    print(f"  {args.rounds} rounds, B then C in each; outputs in {logs}")
    started = time.perf_counter()
    results = []
    for name in names:
        bench = BENCHES[name]
        bench_args = bench.quick if args.quick else bench.args
        sides = Side("baseline", baseline_tree), Side("current", current_tree)
        print(f"{name}: bench/{bench.script} {' '.join(bench_args)}", flush=True)
        for side in (sides if bench.per_side_database else sides[-1:]) if bench.prepare else ():
            log = logs / f"{name}-prepare-{side.name}.log"
            outcome = execute(bench, side, [*bench_args, *bench.prepare], log)
            print(f"{name:9} prepare {outcome.line(side, log, outcome.ok)}", flush=True)
        for round_ in range(1, args.rounds + 1):
            for side in sides:
                log = logs / f"{name}-{round_}-{side.name}.log"
                print(
                    f"{name:9} round {round_} {measure(bench, side, bench_args, log)}", flush=True
                )
        results.append((name, bench_args, *sides))
    print(
        f"\nSUMMARY (C/B = current median / baseline median; {args.rounds} rounds; "
        f"{(time.perf_counter() - started) / 60:.0f} min)"
    )
    for result in results:
        summary(*result)


if __name__ == "__main__":
    main()
