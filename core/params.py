"""Query parameters, read one way everywhere: a hostile value falls back to "not given",
never to a 500.

``str.isdigit`` is no test for a number: "²" and a fullwidth "9" pass it, and ``int`` then
fails or reads a number from another script; a nineteen-digit page overflows the database's
integers; a NUL in a search is refused by PostgreSQL. These helpers take only what a page can
use.
"""

from __future__ import annotations

import re

LARGEST = 2**31 - 1  # the database's integer column: ids and page numbers stay within it
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def whole_number(value: object, *, largest: int = LARGEST) -> int | None:
    """A positive whole number written in ASCII digits and within ``largest``, else None."""
    text = str(value if value is not None else "").strip()
    if not text or len(text) > len(str(largest)) or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= largest else None


def text(value: object, *, max_length: int = 100) -> str:
    """A search term: control characters (NUL among them) dropped, trimmed, cut to length."""
    cleaned = _UNPRINTABLE.sub("", str(value if value is not None else "")).strip()
    return cleaned[:max_length].strip()


def ascii_digits(value: str) -> str:
    """The ASCII digits of a typed number, in order (no "²" or "٣")."""
    return "".join(c for c in value if "0" <= c <= "9")
