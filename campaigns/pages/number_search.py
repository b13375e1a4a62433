"""Finding a number among a campaign's recipients, however it is typed.

A whole number in any national or international format ("+7 701 123-45-67", "8 (701)
1234567", "77011234567", "7011234567" with Kazakhstan the workspace's default country) is read
as an import reads it and finds exactly that number, through the ``message_phone`` index:
milliseconds at a million recipients. It no longer also finds the numbers that merely hold its
digits (+977011234567 for 77011234567), which buried the one looked for and made PostgreSQL
read the whole campaign.

Part of a number finds the numbers holding its digits (a plus typed before them must start
the number), wherever they sit: the start people type first, the end they remember. No index
serves that without taxing every import (a (campaign, status, last four digits) index made a
million-row insert three times slower), so the campaign's messages are read in order from its
first until a page is full: quick for common digits, a read of the whole campaign for rare
ones. Erased numbers' stand-ins ("erased:" and hex digits) are never a match.
"""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from campaigns.models import Message
from core import phones

# The messages' order as an expression no index gives: PostgreSQL then reads the few matches
# of a whole number through message_phone and sorts them, where ``pk`` could tempt it to walk
# the primary key in order, hoping to meet them soon.
FEW_IN_ORDER = F("pk") + 0


def matching(messages: QuerySet[Message], typed: str, default_country: str) -> QuerySet[Message]:
    """Those of ``messages`` (one campaign's) whose number is ``typed`` or, for part of a
    number, holds it, in the messages' order."""
    found = phones.normalise(typed, default_country)
    if isinstance(found, phones.Normalised):
        return messages.filter(phone=found.e164).order_by(FEW_IN_ORDER)
    # From the campaign's first message: PostgreSQL takes a campaign's messages to be spread
    # evenly over the table and would otherwise walk it from the first message of all.
    first = messages.order_by("pk").values("pk")[:1]
    holding = Q(phone__startswith="+", phone__contains=typed)
    return messages.filter(holding, pk__gte=first).order_by("pk")
