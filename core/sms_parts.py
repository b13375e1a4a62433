"""How many SMS parts a text costs: GSM-7 or UCS-2, the parts, and what forces UCS-2.

Pure Python, no Django, so the live counter, the preview, the bench and the sandbox's billing
(providers.sandbox.billing) share one definition: the price shown is the price billed.
Lengths are in the encoding's units: septets for GSM-7, UTF-16 code units for UCS-2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


GSM7, UCS2 = Encoding.GSM7, Encoding.UCS2

# 3GPP TS 23.038 §6.2.1, the GSM 7-bit default alphabet in code order 0x00-0x7F, 16 a line.
# 0x09 is the capital Ç (handsets often draw it as ç, which is not in the table). The Greek
# capitals are escaped because Ω and the ohm sign look alike. 0x1B is the escape into the
# extension table, not a character, so it is dropped below.
_DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\x1bÆæßÉ"  # Δ_ΦΓΛΩΠΨΣΘΞ
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM_BASIC = frozenset(_DEFAULT_ALPHABET) - {"\x1b"}
# 3GPP TS 23.038 §6.2.1.1, the extension table: sent as ESC + a septet, so each costs 2 septets.
GSM_EXTENSION = frozenset("\f^{}\\[]~|€")
GSM_CHARS = GSM_BASIC | GSM_EXTENSION

# (single part, each part of a multipart message): the multipart User Data Header takes 6 of
# the 140 octets, leaving 153 septets or 67 UTF-16 code units.
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}

# The usual culprits pasted from word processors and phones, and the GSM text to use instead.
# Written as escapes because most of them cannot be told apart from ASCII on screen.
SUGGESTIONS: dict[str, str] = {
    # single quotes (left, right, low-9, reversed-9), single angle quotes, grave, acute accent
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2039\u203a\u0060\u00b4", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb", '"'),  # “ ” „ ‟ « »
    # hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus; bullet
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2022", "-"),
    "\u2026": "...",  # ellipsis
    # tab, no-break space, ogham space, en quad … hair space, narrow no-break, math, ideographic
    **dict.fromkeys("\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005", " "),
    **dict.fromkeys("\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "),
    **dict.fromkeys("\u2028\u2029", "\n"),  # line and paragraph separators
    # zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen: invisible, so dropped
    **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""),
}
_SUGGESTION_TABLE = str.maketrans(SUGGESTIONS)


def _char_class(chars: Iterable[str]) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


# fullmatch of a repeated class runs in one tight loop inside re, several times faster than
# searching for a character outside the class. The Greek capitals are the only basic characters
# above U+00FF: without them the class becomes a 256-bit map, the fastest check re has, for the
# common case. Text with Greek takes the GSM-with-pairs way, which is exact for it too.
_only_latin1_basic = re.compile(_char_class(c for c in GSM_BASIC if c <= "\xff") + "*").fullmatch
_only_gsm = re.compile(_char_class(GSM_CHARS) + "*").fullmatch
_EXTENSION = re.compile(_char_class(GSM_EXTENSION))
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # a surrogate pair in UTF-16


class Ucs2Char(NamedTuple):
    char: str
    suggestion: str | None  # GSM text to use instead ("" means delete it); None: no stand-in


@dataclass(frozen=True)
class SegmentInfo:
    """What one text costs, as count() reports it."""

    encoding: Encoding
    length: int  # septets (an extension character counts 2) or UTF-16 code units
    parts: int  # 0 for empty text
    chars_left: int  # units still free in the last part before another part is needed
    per_part: int  # the limit in use: 160/70 for a single part, 153/67 once split
    ucs2_chars: tuple[Ucs2Char, ...]  # distinct characters forcing UCS-2, first seen first


@dataclass(frozen=True)
class TemplateSegments:
    """The parts of a template campaign, counted on every recipient's rendered text."""

    messages: int
    min_parts: int  # 0 when there are no messages
    max_parts: int
    total_parts: int
    gsm7_messages: int
    ucs2_messages: int


def count(text: str) -> SegmentInfo:
    """Count the parts ``text`` is sent as; empty text is 0 parts with 160 septets left."""
    if _only_latin1_basic(text):
        return _plain_gsm7(len(text))
    encoding, length, parts, used = _measure(text)
    ucs2_chars = ()
    if encoding is UCS2:
        forcing = [c for c in dict.fromkeys(text) if c not in GSM_CHARS]
        ucs2_chars = tuple(map(_ucs2_char, forcing))
    return _info(encoding, length, parts, used, ucs2_chars)


def _info(
    encoding: Encoding, length: int, parts: int, used: int, ucs2_chars: tuple[Ucs2Char, ...]
) -> SegmentInfo:
    single, multi = LIMITS[encoding]
    per_part = multi if parts > 1 else single
    return SegmentInfo(encoding, length, parts, per_part - used, per_part, ucs2_chars)


# Both answers depend on one small key, and building the objects costs more than the counting.
@lru_cache(maxsize=4096)
def _plain_gsm7(length: int) -> SegmentInfo:
    """count() of a text of ``length`` one-septet characters."""
    return _info(GSM7, length, *_split_evenly(length, *LIMITS[GSM7]), ())


@lru_cache(maxsize=4096)
def _ucs2_char(char: str) -> Ucs2Char:
    return Ucs2Char(char, SUGGESTIONS.get(char))


def is_gsm7(text: str) -> bool:
    """Whether ``text`` goes as GSM-7 (every character in the default alphabet or its
    extension table); otherwise it is a unicode (UCS-2) message."""
    return _only_gsm(text) is not None


def replace_suggestions(text: str) -> str:
    """Apply every suggestion; the result is GSM-7 unless a character has no stand-in."""
    return text.translate(_SUGGESTION_TABLE)


def count_rendered(texts: Iterable[str]) -> TemplateSegments:
    """Summarise the parts of every rendered text; no texts give all zeros.

    Skips the UCS-2 culprits, so it costs about a microsecond for a 1-part GSM text.
    """
    parts: list[int] = []
    gsm7 = 0
    for text in texts:
        encoding, _, n, _ = _measure(text)
        parts.append(n)
        gsm7 += encoding is GSM7
    return TemplateSegments(
        messages=len(parts),
        min_parts=min(parts, default=0),
        max_parts=max(parts, default=0),
        total_parts=sum(parts),
        gsm7_messages=gsm7,
        ucs2_messages=len(parts) - gsm7,
    )


def _measure(text: str) -> tuple[Encoding, int, int, int]:
    """(encoding, length, parts, units used in the last part), as _measure_exact but faster.

    The text is rewritten one character per unit, as sent: an extension character becomes
    ESC + the character, an emoji a high + low surrogate. Then only the part boundaries are
    visited, and a part that would end on ESC or a high surrogate leaves it to the next one.
    """
    if _only_latin1_basic(text):  # the common case: one septet per character
        return GSM7, len(text), *_split_evenly(len(text), 160, 153)
    if _only_gsm(text):
        encoding, opener, units = GSM7, "\x1b", _EXTENSION.sub("\x1b-", text)
    else:
        encoding, opener, units = UCS2, "\ud800", _ASTRAL.sub("\ud800\udc00", text)
    single, multi = LIMITS[encoding]
    length = len(units)
    if length <= single or len(text) == length:
        return encoding, length, *_split_evenly(length, single, multi)
    parts, start = 1, 0
    while length - start > multi:
        end = start + multi
        if units[end - 1] == opener:  # a pair is never split: it opens the next part
            end -= 1
        parts, start = parts + 1, end
    return encoding, length, parts, length - start


def is_plain(text: str) -> bool:
    """Every character is one septet of the GSM basic set (and Latin-1): the text is GSM-7 and
    its length in septets is ``len(text)``, whatever it is joined to."""
    return _only_latin1_basic(text) is not None


@lru_cache(maxsize=1024)
def plain_parts(length: int) -> int:
    """The parts of a plain text (see is_plain) of ``length`` characters."""
    return _split_evenly(length, *LIMITS[GSM7])[0]


def _split_evenly(length: int, single: int, multi: int) -> tuple[int, int]:
    """(parts, units in the last part) when every character is 1 unit."""
    if length <= single:
        return (1 if length else 0), length
    parts = -(-length // multi)
    return parts, length - (parts - 1) * multi


def _measure_exact(text: str) -> tuple[Encoding, int, int, int]:
    """The definition, one character at a time: the reference _measure must agree with."""
    if all(c in GSM_CHARS for c in text):
        encoding, units = GSM7, [2 if c in GSM_EXTENSION else 1 for c in text]
    else:
        encoding, units = UCS2, [2 if ord(c) > 0xFFFF else 1 for c in text]
    length = sum(units)
    single, multi = LIMITS[encoding]
    if length <= single:
        return encoding, length, (1 if length else 0), length
    parts, used = 1, 0
    for n in units:
        if used + n > multi:  # an escape or surrogate pair is never split: it opens a new part
            parts, used = parts + 1, 0
        used += n
    return encoding, length, parts, used
