"""Finding a number among a campaign's recipients, however it is typed, at a million of them.

What it finds, with the workspace's default country (Kazakhstan: +7, trunk prefix 8):

* A whole number in any national or international format ("+7 701 123-45-67", "8 (701)
  1234567", "77011234567", "7011234567") is read as an import reads it and finds exactly that
  number, not the numbers that merely hold its digits.
* Part of one typed with a plus ("+7 701 12") finds the numbers starting with it.
* Other digits ("1234567", "701 123") find the numbers ending with them, or starting with them
  as typed or as a national number (the contact book's starts, contacts.search.starts) once
  such a start holds ``START_DIGITS`` digits with the country code: a shorter start (+7701, a
  whole operator) is a different search from a shorter end (4567, one person). Digits from the
  middle of a number find nothing: a number is typed from its start or remembered by its end.

How, without an index that every import and status update would pay for: a whole number reads
the ``message_phone`` index; an end of ``TAIL_DIGITS`` or more reads its last digits in the
(campaign, status, last digits) index ``message_campaign_status``, which every message is
written to anyway; a long start reads a range of ``message_phone``. Such searches match few
messages, so all their ids are read (PostgreSQL picks the indexes when no order or limit
tempts it to walk the table) and the page taken from them. A search of only short parts is
common: the campaign's messages are read in order from its first, and a page fills fast.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Right
from django.db.models.lookups import Exact

from campaigns.models import TAIL_DIGITS, Message
from contacts.search import starting_with, starts
from core import params, phones
from core.statuses import MessageStatus

START_DIGITS = 7
# The order of the messages as an expression no index gives: PostgreSQL then reads the few
# matches through the indexes and sorts them, where ``pk`` would tempt it to walk the primary
# key in order, hoping to meet a page of them soon (a million rows when they sit late or not
# at all).
FEW_IN_ORDER = F("pk") + 0  # "+7701123": at most 10,000 numbers of a country with 10-digit ones


def matching(messages: QuerySet[Message], typed: str, default_country: str) -> QuerySet[Message]:
    """Those of ``messages`` (one campaign's) whose number is ``typed`` or, for part of a
    number, starts or ends with it as the module says, in the order of the messages."""
    found = phones.normalise(typed, default_country)
    if isinstance(found, phones.Normalised):
        return messages.filter(phone=found.e164).order_by(FEW_IN_ORDER)
    parts = _parts(typed, default_country)
    few = [q for q, selective in parts if selective]
    if few:
        return messages.filter(reduce(or_, few)).order_by(FEW_IN_ORDER)
    first = messages.order_by("pk").values("pk")[:1]
    # From the campaign's first message: PostgreSQL takes messages to be spread evenly over the
    # table and would start from the first message of all.
    return messages.filter(reduce(or_, [q for q, _ in parts]), pk__gte=first).order_by("pk")


def _parts(typed: str, default_country: str) -> list[tuple[Q, bool]]:
    """Each way the number may hold what is typed, and whether few numbers match it."""
    digits = params.ascii_digits(typed)
    if not digits:
        return [(Q(pk__in=[]), True)]
    parts = [(starting_with(s), len(s) > START_DIGITS) for s in starts(typed, default_country)]
    if not typed.lstrip().startswith("+"):
        parts.append((ending_with(digits), len(digits) >= TAIL_DIGITS))
    return parts


def ending_with(digits: str) -> Q:
    """The numbers ending with ``digits`` (never an erased one's stand-in, whose hex digits
    may end so). Naming every status lets PostgreSQL reach the last digits in the (campaign,
    status, last digits) index: one short range per status."""
    ends = Q(phone__startswith="+", phone__endswith=digits)
    if len(digits) < TAIL_DIGITS:
        return ends
    tail = Exact(Right("phone", TAIL_DIGITS), digits[-TAIL_DIGITS:])
    return Q(tail, status__in=MessageStatus.values) & ends
