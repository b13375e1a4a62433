"""Provider registry: a stable slug -> adapter class, imported lazily.

Model choices, forms and the sandbox all derive from this table; an unknown slug fails loudly
with ``UnknownProvider`` instead of quietly doing nothing.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.base import ProviderAdapter

# slug -> (label, "module:Class"). The order is the order users see.
PROVIDERS: dict[str, tuple[str, str]] = {
    "bsg": ("BSG", "providers.bsg:BSGAdapter"),
    "mobizon": ("Mobizon", "providers.mobizon:MobizonAdapter"),
    "smsdrop": ("smsdrop", "providers.smsdrop:SmsdropAdapter"),
    "conpeek": ("Conpeek", "providers.conpeek:ConpeekAdapter"),
}


class UnknownProvider(LookupError):
    pass


def choices() -> list[tuple[str, str]]:
    return [(slug, label) for slug, (label, _path) in PROVIDERS.items()]


@cache
def get(slug: str) -> type[ProviderAdapter]:
    """The adapter class for ``slug``; raises UnknownProvider for a slug not in the table."""
    try:
        _label, path = PROVIDERS[slug]
    except KeyError:
        raise UnknownProvider(f"No provider is registered under {slug!r}.") from None
    module_name, class_name = path.split(":")
    return getattr(import_module(module_name), class_name)
