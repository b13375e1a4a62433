"""The project's own guarantees: production settings are hardened, the network is closed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from hypothesis import settings as hypothesis_settings
from pytest_socket import SocketConnectBlockedError

ROOT = Path(__file__).resolve().parent.parent


def manage(tmp_path, *args, **env):
    services = {"DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "SANDBOX"}
    base = {k: v for k, v in os.environ.items() if k not in services}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | {"CRIER_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "CRIER_MODE": "production",
    "SECRET_KEY": "p" * 20 + "Q9!x" * 10,
    "CRIER_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "crier.example.com",
    # Never connected to by these commands; production only insists that they are given.
    "DATABASE_URL": "postgres://crier:pw@db.invalid:5432/crier",
    "CELERY_BROKER_URL": "redis://broker.invalid:6379/0",
    "CACHE_URL": "redis://cache.invalid:6379/1",
}


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr + result.stdout
    assert "identified no issues" in result.stdout


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "CRIER_ENCRYPTION_KEYS",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "CACHE_URL",
    ],
)
def test_production_refuses_to_start_without_its_secrets_and_services(tmp_path, missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert f"CRIER_MODE=production needs {missing} in the environment" in result.stderr


def test_production_names_everything_missing_at_once(tmp_path):
    """Half-configured production once ran quietly on SQLite, a folder broker and a
    per-process cache, and `check --deploy` was clean."""
    result = manage(tmp_path, "check", "--deploy", CRIER_MODE="production")
    assert result.returncode != 0
    assert (
        "needs SECRET_KEY, CRIER_ENCRYPTION_KEYS, ALLOWED_HOSTS, DATABASE_URL, "
        "CELERY_BROKER_URL, CACHE_URL in the environment"
    ) in result.stderr


def test_production_turns_the_sandbox_off(tmp_path):
    result = manage(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SANDBOX)",
        **PRODUCTION,
    )
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr


def test_development_generates_its_keys_once(tmp_path):
    first = manage(tmp_path, "check")
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "encryption_key").read_text()
    Fernet(key)  # a valid key
    manage(tmp_path, "check")
    assert (tmp_path / "encryption_key").read_text() == key


def test_the_internet_is_blocked_for_the_suite():
    with pytest.raises(SocketConnectBlockedError):
        httpx.get("http://93.184.215.14/", timeout=1)


def test_ci_runs_hypothesis_derandomized():
    # tests/conftest.py registers the profile and loads it when CI is set, which .ci/run does.
    profile = hypothesis_settings.get_profile("ci")
    assert profile.derandomize is True and profile.database is None
    assert 'export CI="${CI:-true}"' in (ROOT / ".ci" / "run").read_text()


def test_ci_checks_for_missing_migrations():
    lint = (ROOT / ".ci" / "run").read_text().split('step "lint"')[1]
    assert "manage.py makemigrations --check" in lint


def test_no_model_change_lacks_its_migration(tmp_path):
    result = manage(tmp_path, "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_live_server_answers_from_its_own_database_connection(transactional_db, live_server):
    """With an in-memory SQLite test database, Django hands the live server the test thread's
    own connection: a sandbox request and the engine then share one transaction, and either
    side's rollback undoes the other's writes (CI once lost a Mobizon campaign's launch, and
    its charge, that way). The suite's SQLite database is a file: each thread has its own."""
    from django.core.signals import request_started
    from django.db import connections

    seen = []

    def record(**_kwargs):
        seen.append(connections["default"])

    request_started.connect(record)
    try:
        httpx.get(f"{live_server.url}/accounts/login/", timeout=10)
    finally:
        request_started.disconnect(record)
    assert seen, "the live server answered no request"
    assert seen[0] is not connections["default"]
