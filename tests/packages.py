"""Crier's own top-level packages, as the import-linter contracts in pyproject.toml name them:
the one list every test that walks the code reads, so a new package is walked by all of them."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUR_PACKAGES: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
    "importlinter"
]["root_packages"]


def our_modules() -> Iterator[Path]:
    """Every Python file of those packages but their migrations."""
    for package in OUR_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path
