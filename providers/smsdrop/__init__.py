"""smsdrop: SMS campaigns paid in credits, one call to create and launch. adapter.py speaks the
wire, statuses.py holds its raw campaign statuses (it has no per-message ones), emulator.py the
sandbox's smsdrop; its wire-format reference is README.md.
"""

from providers.registry import ProviderPackage

provider = ProviderPackage(__name__, adapter="SmsdropAdapter", emulator="SmsdropEmulator")
