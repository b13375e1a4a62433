"""The one way to write to the audit log.

    from audit.log import record
    from audit.models import Action

    record(campaign.workspace, user, Action.CAMPAIGN_LAUNCHED, target=f"campaign {campaign}",
           campaign_id=campaign.pk, recipients=count)

``record(workspace, actor, action, target="", **details)``:

- ``workspace``: the Workspace the event belongs to (its admins and owners see it).
- ``actor``: the User who acted, or None when Crier itself did (a task, a command).
- ``action``: an ``Action`` value; an unknown action raises ValueError.
- ``target``: a short human description of the object as it is now ("campaign Spring sale"),
  kept as text because the object may be deleted afterwards.
- ``details``: JSON-serialisable facts (ids, counts, old and new values; Decimal and datetime
  are fine). Never a secret: a key whose name looks like one (password, secret, token, key,
  credential) raises ValueError, so the mistake shows up in tests rather than in the log.

Call it inside the transaction that makes the change, so the event exists exactly when the
change does. Returns the saved AuditEvent.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

from audit.models import Action, AuditEvent

# What the actor acted through when it was not the dashboard ("API key 1a2b3c4d"): the API
# sets it for the length of a request, and every event written meanwhile says so in "via".
via: ContextVar[str] = ContextVar("via", default="")

_SECRET_LOOKING = re.compile(r"pass|secret|token|key|credential|auth", re.IGNORECASE)


def record(workspace, actor, action: str, target: str = "", **details) -> AuditEvent:
    if action not in Action.values:
        raise ValueError(f"Unknown audit action {action!r}; add it to audit.models.Action.")
    secret_looking = sorted(name for name in details if _SECRET_LOOKING.search(name))
    if secret_looking:
        raise ValueError(f"Audit details must never hold secrets: {secret_looking}")
    if through := via.get():
        details.setdefault("via", through)
    return AuditEvent.objects.create(
        workspace=workspace,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=actor.get_username() if actor is not None and actor.is_authenticated else "",
        action=action,
        target=target[:300],
        details=details,
    )
