"""Fakesms: a provider that exists only in the tests, to prove that a provider is one package.

It is registered by a test (``monkeypatch.setitem(registry.PROVIDERS, "fake", __name__)``) and
touches no other file: its adapter, statuses and emulator are all here
(docs/adding-a-provider.md).
"""

from providers.registry import ProviderPackage

provider = ProviderPackage(__name__, adapter="FakeAdapter", emulator="FakeEmulator")
