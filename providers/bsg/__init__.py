"""BSG: SMS and voice through the One-API (v2), message lookups through the REST SMS status API
(v1). adapter.py speaks both wires, errors.py holds BSG's error codes, statuses.py its raw
statuses, emulator.py the sandbox's BSG; its wire-format reference is README.md.
"""

from providers.registry import ProviderPackage

provider = ProviderPackage(__name__, adapter="BSGAdapter", emulator="BSGEmulator")
