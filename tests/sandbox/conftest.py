"""Sandbox fixtures: one provisioned account per provider, a clock that tests can move."""

from __future__ import annotations

import pytest

from providers.sandbox import accounts, clock
from providers.sandbox.models import SandboxAccount


@pytest.fixture(autouse=True)
def sandbox_clock():
    """The sandbox clock; ``sandbox_clock.advance(seconds)`` moves delivery forward."""
    clock.reset()
    yield clock
    clock.reset()


def _account(slug: str, name: str = "Test") -> SandboxAccount:
    accounts.provision(slug, name=name)
    return SandboxAccount.objects.get(provider=slug, name=name)


@pytest.fixture
def bsg_account(db) -> SandboxAccount:
    return _account("bsg")


@pytest.fixture
def mobizon_account(db) -> SandboxAccount:
    return _account("mobizon")


@pytest.fixture
def smsdrop_account(db) -> SandboxAccount:
    return _account("smsdrop")


@pytest.fixture
def conpeek_account(db) -> SandboxAccount:
    return _account("conpeek")
