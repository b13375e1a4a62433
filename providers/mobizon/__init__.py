"""Mobizon: SMS campaigns through a regional API domain, form-encoded with PHP bracket keys.
adapter.py speaks the wire, errors.py holds Mobizon's API and per-recipient error codes,
statuses.py its raw statuses, emulator.py the sandbox's Mobizon; its wire-format reference
is README.md.
"""

from providers.registry import ProviderPackage

provider = ProviderPackage(__name__, adapter="MobizonAdapter", emulator="MobizonEmulator")
