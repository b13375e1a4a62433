"""The project's own guarantees: production settings are hardened, the network is closed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from pytest_socket import SocketConnectBlockedError

ROOT = Path(__file__).resolve().parent.parent


def manage(tmp_path, *args, **env):
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SANDBOX"}}
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
}


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr + result.stdout
    assert "identified no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CRIER_ENCRYPTION_KEYS"])
def test_production_refuses_to_start_without_its_secrets(tmp_path, missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert missing in result.stderr


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
