"""Conpeek: voice messages added to a voice SMS campaign that exists at Conpeek. adapter.py
speaks the one documented endpoint, statuses.py says what little is known of statuses,
emulator.py is the sandbox's Conpeek; its wire-format reference is README.md.
"""

from providers.registry import ProviderPackage

provider = ProviderPackage(__name__, adapter="ConpeekAdapter", emulator="ConpeekEmulator")
