"""What the contact book tells the layers above it, which it cannot call.

``contacts_added`` is sent when contacts were created other than one by one through
``Contact.save`` (which sends post_save): by an import, or by opting out numbers the book did
not hold. Arguments: ``workspace_id`` and ``since``, an aware datetime no later than the new
contacts' ``created_at``. Sent inside the creating transaction; a receiver that queues work
does it on commit (core.queue.enqueue).
"""

from __future__ import annotations

from django.dispatch import Signal

contacts_added = Signal()
