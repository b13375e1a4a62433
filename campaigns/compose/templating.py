"""Filling a campaign's {placeholders} from a recipient's values, the way the provider will.

A Template parses the text once; ``fill`` then costs about a microsecond a recipient, so a
100,000-recipient campaign renders in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from campaigns.models import PlaceholderPolicy
from core.columns import PLACEHOLDER
from core.sms_parts import is_plain


def has_placeholders(text: str) -> bool:
    return PLACEHOLDER.search(text) is not None


class Template:
    """A text with {placeholders} and the policy for a recipient without a value.

    A value that is missing or blank is replaced by the placeholder itself under KEEP and by
    nothing under STRIP. REJECT renders like KEEP: the import never stores a recipient missing
    a value the text uses, so such a recipient is not sent at all.
    """

    def __init__(self, text: str, policy: str = PlaceholderPolicy.KEEP):
        pieces = PLACEHOLDER.split(text)  # literal, name, literal, name, …, literal
        self.text = text
        self.names = tuple(dict.fromkeys(pieces[1::2]))  # each once, in order of first use
        strip = policy == PlaceholderPolicy.STRIP
        self._head = pieces[0]
        self._steps = [
            (self.names.index(name), "" if strip else "{" + name + "}", literal)
            for name, literal in zip(pieces[1::2], pieces[2::2], strict=True)
        ]
        # For plain_length: the literals' length when every one is plain, and per placeholder
        # the length of its fallback (None when the fallback is not plain).
        literals = pieces[0::2]
        self._plain_literals = sum(map(len, literals)) if all(map(is_plain, literals)) else None
        self._plain_slots = [
            (index, len(fallback) if is_plain(fallback) else None)
            for index, fallback, _literal in self._steps
        ]

    def fill(self, values: Sequence[object]) -> str:
        """The text for one recipient; ``values`` line up with ``names`` (None: missing)."""
        out = [self._head]
        for index, fallback, literal in self._steps:
            value = values[index]
            if value.__class__ is not str:  # a number stored in the JSON, or None
                value = "" if value is None else str(value)
            out.append(fallback if not value or value.isspace() else value)
            out.append(literal)
        return "".join(out)

    def plain_length(self, values: Sequence[object]) -> int | None:
        """``len(fill(values))`` when that text is plain (segments.is_plain: one GSM septet a
        character, the common case), else None. Counting parts from this length is exact and
        several times cheaper than rendering the text and measuring it."""
        length = self._plain_literals
        if length is None:
            return None
        for index, fallback in self._plain_slots:
            value = values[index]
            if value.__class__ is not str:  # as in fill
                value = "" if value is None else str(value)
            if not value or value.isspace():
                if fallback is None:
                    return None
                length += fallback
            elif is_plain(value):
                length += len(value)
            else:
                return None
        return length

    def render(self, fields: Mapping) -> str:
        """The text for a recipient's fields (placeholder name -> value)."""
        return self.fill([fields.get(name) for name in self.names])


def render(text: str, fields: Mapping, policy: str = PlaceholderPolicy.KEEP) -> str:
    """One recipient's text; build a Template once for many."""
    return Template(text, policy).render(fields)
