"""Conpeek's raw statuses in the common vocabulary (docs/provider-status-map.md).

Conpeek documents none: an accepted request is queued and stays so.
"""

# raw -> (common status, final at Conpeek)
MESSAGE = {"queued": ("queued", False)}

REASON: dict[str, str] = {}

CAMPAIGN: dict[str, str] = {}
