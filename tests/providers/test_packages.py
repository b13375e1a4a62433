"""A provider is one package: nothing outside it names the provider, and every package holds
the pieces the registry reads (docs/adding-a-provider.md).

"Names" means in code: a slug as an identifier (``bsg``, ``providers.bsg``), as a string
(``"bsg"``) or as a path or dotted part of one (``"providers.bsg.adapter"``, ``"/sandbox/bsg"``);
in a template, a slug in a tag, variable or quoted attribute. Prose that mentions a provider by
its name ("smsdrop counts credits") is not code. Exempt: the registry's lines, migrations (they
record the schema as it was: sandbox 0001 lists the four providers as the choices of its day),
the tests and bench/ (both drive named providers on purpose).
"""

from __future__ import annotations

import io
import re
import tokenize
from importlib import import_module
from pathlib import Path

import pytest

from providers import registry
from providers.base import ProviderAdapter
from providers.sandbox.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
SLUGS = set(registry.PROVIDERS)
PACKAGES = [Path(import_module(name).__file__).parent for name in registry.PROVIDERS.values()]
SKIPPED = {".venv", "tests", "bench", "migrations", "var", "node_modules", "build"}
ANY = "|".join(SLUGS)
# A slug as a part of a path or a dotted name; a sentence's "… by smsdrop." is not one.
PART = re.compile(rf"[./](?:{ANY})\b|\b(?:{ANY})[./]\w")
TEMPLATE_CODE = re.compile(r"{[{%].*?[%}]}|[\"'][^\"'<>]*[\"']", re.S)


def sources(pattern: str) -> list[Path]:
    return [
        path
        for path in sorted(ROOT.rglob(pattern))
        if not SKIPPED & set(path.relative_to(ROOT).parts)
        and not any(path.is_relative_to(package) for package in PACKAGES)
        and path != ROOT / "providers" / "registry.py"
    ]


def named_in_python(path: Path) -> list[str]:
    found = []
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.NAME and token.string in SLUGS:
            found.append(f"{token.start[0]}: {token.string}")
        elif token.type == tokenize.STRING:
            text = token.string.strip("rbfuRBFU").strip("\"'")
            if text in SLUGS or PART.search(text):
                found.append(f"{token.start[0]}: {token.string[:60]}")
    return found


def named_in_template(path: Path) -> list[str]:
    code = TEMPLATE_CODE.findall(path.read_text())
    return [piece[:60] for piece in code if re.search(rf"\b(?:{ANY})\b", piece)]


def test_no_module_outside_a_providers_package_names_it():
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sources("*.py")
        if (found := named_in_python(path))
    }
    assert offenders == {}


def test_no_template_names_a_provider():
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sources("*.html")
        if (found := named_in_template(path))
    }
    assert offenders == {}


def test_the_scan_would_see_a_slug():
    """The scan above is not blind: it finds the slugs where they must be."""
    assert named_in_python(ROOT / "providers" / "registry.py")
    assert named_in_template(ROOT / "templates" / "providers" / "account_list.html") == []
    assert PART.search("/sandbox/bsg") and PART.search("providers.mobizon.adapter")
    assert not PART.search("(smsdrop: no credits) and Conpeek. Reported by smsdrop.")


@pytest.mark.parametrize("slug", sorted(SLUGS))
def test_every_package_holds_what_the_registry_reads(slug):
    package = registry.package(slug)
    adapter = registry.get(slug)
    assert issubclass(adapter, ProviderAdapter) and adapter.slug == slug
    assert issubclass(registry.emulator(slug), Emulator)
    assert package.module("emulator").urlpatterns
    tables = registry.statuses(slug)
    assert {"MESSAGE", "REASON", "CAMPAIGN"} <= set(vars(tables))


def test_an_unknown_slug_fails_loudly():
    with pytest.raises(registry.UnknownProvider, match="nexmo"):
        registry.get("nexmo")
