"""The rooms keep their shape: arrows point one way (the import-linter contracts in
pyproject.toml), every task a service queues by name exists, and no app module grows past
~400 lines without saying why."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from crier.celery import app
from tests.packages import ROOT, our_modules


def test_the_import_contracts_hold():
    """Layers: crier > overview > campaigns > providers > workspaces : audit > core, and
    inside campaigns and core.tables; lazy imports inside functions count too."""
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_task_queued_by_name_is_registered():
    queued = {
        name
        for path in our_modules()
        for name in re.findall(r"""enqueue\(\s*["']([\w.]+)["']""", path.read_text())
    }
    assert queued, "the services queue their tasks through core.queue.enqueue"
    assert queued <= set(app.tasks), queued - set(app.tasks)


def test_no_app_module_is_over_400_lines_without_a_reason_in_its_docstring():
    """A long module says why in its docstring ("Longer than 400 lines because ...")."""
    unexplained = []
    for path in our_modules():
        text = path.read_text()
        if text.count("\n") <= 400:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if not re.search(r"(Longer than|Over) \d+ lines\b", docstring):
            unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert unexplained == []
