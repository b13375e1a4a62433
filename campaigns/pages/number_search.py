"""Finding a number among a campaign's recipients, however it is typed.

A whole number typed with a plus, 00 or the default country's trunk prefix ("+7 701 123-45-67",
"00 7 701 1234567", "8 (701) 1234567" with Kazakhstan the workspace's default country) can be
no other number's part: it finds exactly that number (and any longer one starting with it, as
German numbers may), through the ``message_phone`` index: milliseconds at a million recipients.

Any other digits may be part of a number, even when they also make a whole one of the default
country ("7011234567" is a British number and the end of +77011234567; "77011234567" the end of
+977011234567): they find the numbers holding them (a plus typed before them must start the
number), wherever they sit, and the number the default country reads them as. The start of a
number typed after 00 or the trunk prefix ("8 701 123") finds the numbers starting so, as the
contacts page reads it (contacts.search). An index on the messages for digits anywhere in a
number would tax every import (a (campaign, status, last four digits) one made a million-row
insert three times slower), so a big campaign's numbers get a trigram index of their own once
stored (campaigns.number_index): while it is complete, three digits or more are looked up there
and PostgreSQL chooses between that and reading the messages in order (its statistics tell it
how common the digits are). A page of the table with no status chosen takes its ids from the
index alone (``indexed``), sorted and cut there: joined to the messages first, the 10,001
numbers starting "+7701123" were each looked up among the messages before a sort kept 51 (the
planner expects a few dozen matches, so it sees no reason to cut first). Otherwise the
campaign's messages are read in order from its first until a page is full: quick for common
digits, a read of the whole campaign for rare ones. Erased numbers' stand-ins ("erased:" and
hex digits) are never a match.
"""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from campaigns import number_index
from campaigns.models import Campaign, Message
from contacts import search
from core import phones

# The messages' order as an expression no index gives: PostgreSQL then reads the few matches
# of a whole number through message_phone and sorts them, where ``pk`` could tempt it to walk
# the primary key in order, hoping to meet them soon.
FEW_IN_ORDER = F("pk") + 0


def matching(
    campaign: Campaign, messages: QuerySet[Message], typed: str, default_country: str
) -> QuerySet[Message]:
    """Those of ``messages`` (``campaign``'s) whose number is ``typed`` or, for what may be
    part of a number, holds it, in the messages' order. ``typed`` is digits, after a plus if
    one was typed."""
    whole, digits, starts = _read(typed, default_country)
    if whole in starts:
        return messages.filter(search.starting_with(whole)).order_by(FEW_IN_ORDER)
    if (ids := _indexed(campaign, typed, whole, starts)) is not None:
        return messages.filter(pk__in=ids).order_by("pk")
    holding = Q(phone=whole) if whole else Q()
    if not typed.startswith("+"):
        holding |= Q(phone__startswith="+", phone__contains=digits)
    for start in starts:
        holding |= search.starting_with(start)
    # From the campaign's first message: PostgreSQL takes a campaign's messages to be spread
    # evenly over the table and would otherwise walk it from the first message of all.
    first = messages.order_by("pk").values("pk")[:1]
    return messages.filter(holding, pk__gte=first).order_by("pk")


def indexed(campaign: Campaign, typed: str, default_country: str) -> QuerySet | None:
    """The ids (``message_id``) of all of ``campaign``'s messages that ``matching`` finds, from
    its complete number index, unordered; None when the search does not go through the index
    (a whole number, a plus typed, no complete index, too few digits). While the index is
    complete it holds a row for each of the campaign's messages with a number, and for no
    other message (campaigns.number_index), so these are the ids themselves, not candidates."""
    whole, _, starts = _read(typed, default_country)
    return None if whole in starts else _indexed(campaign, typed, whole, starts)


def _indexed(campaign: Campaign, typed: str, whole: str, starts: set[str]) -> QuerySet | None:
    if typed.startswith("+"):  # the number starts so: the message_phone index answers
        return None
    return number_index.holding(campaign, typed, whole, starts)


def _read(typed: str, default_country: str) -> tuple[str, str, set[str]]:
    """What ``typed`` is: the whole number it makes in the default country ("" if none), its
    digits without a plus, and the starts of a number it can only be."""
    found = phones.normalise(typed, default_country)
    whole = found.e164 if isinstance(found, phones.Normalised) else ""
    digits = typed.removeprefix("+")
    starts = {typed} if typed.startswith("+") else search.starts_as_typed(digits, default_country)
    return whole, digits, starts
