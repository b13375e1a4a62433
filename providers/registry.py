"""Provider registry: a stable slug -> the provider's package, imported lazily.

A provider package holds everything Crier knows of that provider (docs/adding-a-provider.md):

- ``__init__.py`` declares ``provider = ProviderPackage(__name__, adapter=..., emulator=...)``,
  naming its adapter class (in ``adapter.py``) and its emulator class (in ``emulator.py``);
- ``adapter.py``: the ``ProviderAdapter`` subclass that speaks the provider's wire;
- ``statuses.py``: its raw statuses in the common vocabulary (``MESSAGE``, ``REASON``,
  ``CAMPAIGN``), read through ``providers.statuses``;
- ``emulator.py``: the sandbox's stand-in for it: ``urlpatterns`` served at /sandbox/<slug>/
  and a ``providers.sandbox.emulator.Emulator`` subclass (accounts, prices, demo).

Model choices, the account form, the sandbox's URLs, accounts and prices, and the demo all
derive from this table; an unknown slug fails loudly with ``UnknownProvider``. Nothing outside a
package names its slug.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.base import ProviderAdapter
    from providers.sandbox.emulator import Emulator

# slug -> package. The order is the order users see.
PROVIDERS: dict[str, str] = {
    "bsg": "providers.bsg",
    "mobizon": "providers.mobizon",
    "smsdrop": "providers.smsdrop",
    "conpeek": "providers.conpeek",
}


class UnknownProvider(LookupError):
    pass


@dataclass(frozen=True)
class ProviderPackage:
    """What a provider package's ``__init__.py`` declares as ``provider``. Importing the
    package stays cheap: its modules load when first asked for."""

    name: str  # the package, e.g. "providers.bsg": pass __name__
    adapter: str  # the adapter class's name in <name>.adapter
    emulator: str  # the emulator class's name in <name>.emulator

    def module(self, name: str) -> ModuleType:
        return import_module(f"{self.name}.{name}")

    @property
    def adapter_class(self) -> type[ProviderAdapter]:
        return getattr(self.module("adapter"), self.adapter)

    @property
    def emulator_class(self) -> type[Emulator]:
        return getattr(self.module("emulator"), self.emulator)


def package(slug: str) -> ProviderPackage:
    """The package registered under ``slug``; raises UnknownProvider for any other slug."""
    try:
        name = PROVIDERS[slug]
    except KeyError:
        raise UnknownProvider(f"No provider is registered under {slug!r}.") from None
    return import_module(name).provider


def get(slug: str) -> type[ProviderAdapter]:
    """The adapter class for ``slug``; raises UnknownProvider for a slug not in the table."""
    return package(slug).adapter_class


def statuses(slug: str) -> ModuleType:
    """The raw-status tables of ``slug`` (its package's ``statuses`` module)."""
    return package(slug).module("statuses")


def emulator(slug: str) -> type[Emulator]:
    """The sandbox's emulator of ``slug``; its module's ``urlpatterns`` serve /sandbox/<slug>/."""
    return package(slug).emulator_class


def choices() -> list[tuple[str, str]]:
    """(slug, label) of every provider, for model and form choices."""
    return [(slug, get(slug).label) for slug in PROVIDERS]
