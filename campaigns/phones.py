"""Phone numbers to E.164 with phonenumbers, fast enough for a million rows.

The answer is always phonenumbers' own: ``parse`` with the workspace's default country, then
``number_type`` (which is UNKNOWN exactly when ``is_valid_number`` is false, so one call gives
both). Two deliberate additions, both proven against plain phonenumbers in the tests:

* Separators (spaces, dashes, dots, parentheses) are stripped before parsing when a cell holds
  nothing else, so "+7 (701) 123-45-67" and "+77011234567" share one cache entry.
* Digits that phonenumbers rejects for the default country are retried as an international
  number: "0077011234567" as "+77011234567" (00 is the international prefix in most of the
  world, but not in phonenumbers' metadata for KZ, RU or US) and "447400123456" as
  "+447400123456" (a spreadsheet number cell cannot hold the "+"; CRMs export E.164 without it).
  phonenumbers' own verdict wins whenever it accepts the digits as they are.

For a batch, each distinct cleaned value is validated once, on all cores (a fork pool), since
phonenumbers costs ~45 µs a number in pure Python. Plain "+<digits>" and national digits, the
common cases, take a fast path (~15 µs) that runs phonenumbers' own parsing and validation
steps without its free-text handling; test_phones.py proves it equal to plain phonenumbers.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberType,
    ValidationResult,
    geocoder,
)
from phonenumbers import phonenumberutil as _pnu
from phonenumbers.re_util import re_compile

from campaigns.rejections import Code, Rejection

TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}


@dataclass(frozen=True, slots=True)
class Normalised:
    """A valid number: ``e164`` ("+77011234567"), ``region`` ("KZ"; "001" for non-geographic
    numbers) and ``type`` (a value of TYPE_NAMES, e.g. "mobile")."""

    e164: str
    region: str
    type: str


Result = Normalised | Rejection

# Cells made only of digits, one leading plus and these separators are parsed without the
# separators. Anything else (letters, "ext", "#", "/") goes to phonenumbers untouched.
_SEPARATORS = re.compile(r"[\s\-.()]+")
_PLAIN = re.compile(r"\+?\d*")
_CACHE_LIMIT = 100_000  # ~25 MB of entries; duplicates are usually near each other
_POOL_THRESHOLD = 2_000  # below this many new values a pool costs more than it saves


def cache_key(raw: str) -> str:
    """The string actually given to phonenumbers for ``raw``: separators removed when ``raw``
    holds only digits (three or more), a leading plus and separators; otherwise ``raw``
    stripped."""
    # Already clean is the shape of most exports: worth skipping the regexes for.
    if raw.isascii() and len(raw) > 3 and (raw.isdigit() or (raw[1:].isdigit() and raw[0] == "+")):
        return raw
    stripped = raw.strip()
    cleaned = _SEPARATORS.sub("", stripped)
    # Under three digits phonenumbers' viability test treats "00" and "0.0" differently
    # (too short vs not a number), so such input keeps its separators.
    if len(cleaned) - cleaned.startswith("+") < 3 or not _PLAIN.fullmatch(cleaned):
        return stripped
    return cleaned


@lru_cache(maxsize=512)
def country_name(region: str) -> str:
    """English name of a region code, "Kazakhstan" for "KZ"; the code itself if unknown."""
    # phonenumbers ships the names with its geocoder; there is no public accessor.
    return geocoder._region_display_name(region, "en") or region


def _country_of_calling_code(calling_code: int) -> str:
    regions = phonenumbers.region_codes_for_country_code(calling_code)
    if 0 < len(regions) <= 3:
        return " or ".join(country_name(r) for r in regions)
    main = phonenumbers.region_code_for_country_code(calling_code)
    return f"{country_name(main)} or another +{calling_code} country"


def _invalid(text: str, calling_code: int | None, default_country: str) -> Rejection:
    """Name the country whose plan the number failed: the one its +code points to, or the
    default country for a national number."""
    if not text.startswith("+"):
        return Rejection(Code.INVALID_FOR_COUNTRY, country_name(default_country))
    if calling_code is None:
        return Rejection(Code.INVALID_FOR_COUNTRY, "any country")
    return Rejection(Code.INVALID_FOR_COUNTRY, _country_of_calling_code(calling_code))


def _parse_exactly(text: str, default_country: str) -> Result:
    """phonenumbers' verdict on ``text``, without allowed-country checks."""
    if _DIGITS.fullmatch(text):
        parsed = _parse_national_digits(text, default_country)
    elif text[:1] == "+" and _DIGITS.fullmatch(text, 1):
        parsed = _parse_plus_digits(text)
    else:
        parsed = None
    if parsed is None:
        try:
            number = phonenumbers.parse(text, default_country)
        except NumberParseException as error:
            if error.error_type == NumberParseException.NOT_A_NUMBER:
                return Rejection(Code.NOT_A_NUMBER)
            return _invalid(text, None, default_country)
        parsed = number.country_code, phonenumbers.national_significant_number(number)
    calling_code, nsn = parsed
    region = _region_of(calling_code, nsn)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region)
    kind = PhoneNumberType.UNKNOWN if metadata is None else _type_of(nsn, metadata)
    if kind == PhoneNumberType.UNKNOWN:  # exactly when is_valid_number is false
        return _invalid(text, calling_code, default_country)
    # format_number's E.164 branch, which applies no formatting and drops extensions.
    return Normalised(e164=f"+{calling_code}{nsn}", region=region, type=TYPE_NAMES[kind])


# --- the fast path ------------------------------------------------------------------------
# phonenumbers spends half of parse() finding a number inside free text, and validates with a
# chain of small functions around each regex. For the common "+<digits>" input the functions
# below run the same steps with the same metadata and compiled patterns, minus the overhead.
# test_phones.py compares them with plain phonenumbers on generated input; anything they do
# not cover returns None and goes through phonenumbers itself.

_DIGITS = re.compile(r"[0-9]{3,30}")
_SHORT_LENGTHS = (
    ValidationResult.TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ValidationResult.INVALID_LENGTH,
)


def _parse_plus_digits(text: str) -> tuple[int, str] | None:
    """The country code and national significant number ``phonenumbers.parse(text)`` gives
    for "+" and ASCII digits, or None where parse would raise or take a rarer branch (no
    known country code)."""
    calling_code, national = _pnu._extract_country_code(text[1:])
    if calling_code == 0:
        return None
    main_region = phonenumbers.region_code_for_country_code(calling_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(calling_code, main_region)
    return _national_part(calling_code, national, metadata)


def _parse_national_digits(text: str, region: str) -> tuple[int, str] | None:
    """As _parse_plus_digits, for ``phonenumbers.parse(text, region)`` of ASCII digits that
    do not start with an international prefix of ``region``."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return None
    if metadata.international_prefix and re_compile(metadata.international_prefix).match(text):
        return None
    calling_code = metadata.country_code
    if text.startswith(str(calling_code)):
        # _maybe_extract_country_code: the region's own country code without a "+" counts
        # when the rest, and not the whole, fits the plan, or the whole is too long.
        _, rest, _ = _pnu._maybe_strip_national_prefix_carrier_code(
            text[len(str(calling_code)) :], metadata
        )
        general = metadata.general_desc
        if (
            not _pnu._match_national_number(text, general, False)
            and _pnu._match_national_number(rest, general, False)
        ) or _pnu._test_number_length(text, metadata) == ValidationResult.TOO_LONG:
            main_region = phonenumbers.region_code_for_country_code(calling_code)
            if main_region != region:
                metadata = PhoneMetadata.metadata_for_region_or_calling_code(
                    calling_code, main_region
                )
            return _national_part(calling_code, rest, metadata)
    return _national_part(calling_code, text, metadata)


def _national_part(calling_code: int, national: str, metadata) -> tuple[int, str] | None:
    """The end of ``phonenumbers.parse`` once the country code is known: strip a national
    prefix if what is left still has a possible length, then check lengths. The digits left
    are the national significant number (parse stores leading zeros apart and
    national_significant_number puts them back)."""
    if len(national) < _pnu._MIN_LENGTH_FOR_NSN:
        return None
    if metadata is not None:
        _, stripped, _ = _pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
        if _pnu._test_number_length(stripped, metadata) not in _SHORT_LENGTHS:
            national = stripped
    if not _pnu._MIN_LENGTH_FOR_NSN <= len(national) <= _pnu._MAX_LENGTH_FOR_NSN:
        return None
    return calling_code, national


def _region_of(calling_code: int, nsn: str) -> str | None:
    """``phonenumbers.region_code_for_number`` given the national significant number."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(calling_code)
    if regions is None:
        return None
    if len(regions) == 1:
        return regions[0]
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re_compile(metadata.leading_digits).match(nsn):
                return region
        elif _type_of(nsn, metadata) != PhoneNumberType.UNKNOWN:
            return region
    return None


_ORDER = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)
_Matcher = tuple[tuple[int, ...], re.Pattern] | None


def _matcher(desc) -> _Matcher:
    # _is_number_matching_desc: no desc or no pattern never matches; lengths are checked first.
    if desc is None or not desc.national_number_pattern:
        return None
    return tuple(desc.possible_length), re_compile(desc.national_number_pattern)


def _matches(matcher: _Matcher, nsn: str) -> bool:
    if matcher is None:
        return False
    lengths, pattern = matcher
    return (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


_MATCHERS: dict[int, tuple] = {}


def _matchers(metadata: PhoneMetadata) -> tuple:
    # Keyed by id: metadata objects are unhashable, loaded once and kept by phonenumbers. The
    # entry holds the metadata too, so its id cannot be reused while cached.
    entry = _MATCHERS.get(id(metadata))
    if entry is None:
        entry = _MATCHERS[id(metadata)] = (
            metadata,
            _matcher(metadata.general_desc),
            [(_matcher(getattr(metadata, name)), kind) for name, kind in _ORDER],
            _matcher(metadata.fixed_line),
            _matcher(metadata.mobile),
        )
    return entry


def _type_of(nsn: str, metadata: PhoneMetadata) -> int:
    """``phonenumberutil._number_type_helper``, with the patterns looked up once."""
    _, general, special, fixed_line, mobile = _matchers(metadata)
    if not _matches(general, nsn):
        return PhoneNumberType.UNKNOWN
    for matcher, kind in special:
        if _matches(matcher, nsn):
            return kind
    same = metadata.same_mobile_and_fixed_line_pattern
    if _matches(fixed_line, nsn):
        if same or _matches(mobile, nsn):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE
    if not same and _matches(mobile, nsn):
        return PhoneNumberType.MOBILE
    return PhoneNumberType.UNKNOWN


def classify(key: str, default_country: str) -> Result:
    """The verdict for a ``cache_key``: phonenumbers on ``key``; then, for digits only that it
    rejects, phonenumbers on "+" and the digits (after dropping a leading 00)."""
    if not key:
        return Rejection(Code.EMPTY)
    result = _parse_exactly(key, default_country)
    if isinstance(result, Rejection) and _DIGITS.fullmatch(key):
        international = "+" + (key[2:] if key.startswith("00") else key)
        retried = _parse_exactly(international, default_country)
        if isinstance(retried, Normalised) or key.startswith("00"):
            return retried
    return result


def _check_allowed(result: Result, allowed: frozenset[str] | None) -> Result:
    if allowed is None or isinstance(result, Rejection) or result.region in allowed:
        return result
    return Rejection(Code.COUNTRY_NOT_ALLOWED, country_name(result.region))


def normalise(
    raw: str | None, default_country: str, allowed: Iterable[str] | None = None
) -> Result:
    """Normalise one cell. Never raises for any string: a bad value is a Rejection (empty,
    not_a_number, invalid_for_country naming the country, country_not_allowed when ``allowed``
    region codes are given and the number's region is not among them)."""
    if raw is None:
        return Rejection(Code.EMPTY)
    allowed_set = frozenset(allowed) if allowed is not None else None
    return _check_allowed(classify(cache_key(raw), default_country), allowed_set)


# Workers return plain tuples: pickling them is several times cheaper than dataclasses.
def _classify_chunk(keys: list[str], default_country: str) -> list[tuple[str, str, str]]:
    out = []
    for key in keys:
        result = classify(key, default_country)
        if isinstance(result, Normalised):
            out.append((result.e164, result.region, result.type))
        else:
            out.append(("", result.code.value, result.detail))
    return out


def _from_tuple(item: tuple[str, str, str]) -> Result:
    if item[0]:
        return Normalised(*item)
    return Rejection(Code(item[1]), item[2])


class Normaliser:
    """Normalises batches of cells on ``processes`` cores with a bounded cache of verdicts.

    Use as a context manager: entering forks the workers, leaving stops them.
    ``normalise_many`` returns one result per input, in order; ``normalise_batches`` does the
    same for a stream of batches while the next batch is validated in the background, so
    reading and validating overlap.
    """

    def __init__(
        self,
        default_country: str,
        allowed: Iterable[str] | None = None,
        processes: int | None = None,
    ):
        self.default_country = default_country
        self.allowed = frozenset(allowed) if allowed is not None else None
        self.processes = processes if processes is not None else (os.cpu_count() or 1)
        self._cache: dict[str, Result] = {}
        self._pool = None

    def __enter__(self) -> Normaliser:
        # Fork the workers now, while this process is small: forked after a big workbook is
        # loaded, each worker would map (and be charged for) that memory too.
        self._get_pool()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def normalise_many(self, raws: Sequence[str]) -> list[Result]:
        return next(self.normalise_batches([raws]))

    def normalise_batches(self, batches: Iterable[Sequence[str]]) -> Iterator[list[Result]]:
        pending: deque = deque()
        for raws in batches:
            pending.append(self._submit(raws))
            if len(pending) > 1:
                yield self._collect(*pending.popleft())
        while pending:
            yield self._collect(*pending.popleft())

    def _submit(self, raws: Sequence[str]):
        keys = [cache_key(raw) if raw is not None else "" for raw in raws]
        cache = self._cache
        fresh = list(dict.fromkeys(k for k in keys if k not in cache))
        pool = self._get_pool() if len(fresh) >= _POOL_THRESHOLD else None
        if pool is None:
            jobs = [_Done(_classify_chunk(fresh, self.default_country))]
        else:
            size = -(-len(fresh) // (self.processes * 2))
            jobs = [
                pool.apply_async(_classify_chunk, (fresh[i : i + size], self.default_country))
                for i in range(0, len(fresh), size)
            ]
        return keys, fresh, jobs

    def _collect(self, keys: list[str], fresh: list[str], jobs) -> list[Result]:
        verdicts: dict[str, Result] = {}
        items = (item for job in jobs for item in job.get())
        for key, item in zip(fresh, items, strict=True):
            verdicts[key] = _from_tuple(item)
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        cache = self._cache
        cache.update(verdicts)
        allowed = self.allowed
        country = self.default_country
        # A key cached at submit time may have been evicted since; classify it again then.
        return [
            _check_allowed(verdicts.get(k) or cache.get(k) or classify(k, country), allowed)
            for k in keys
        ]

    def _get_pool(self):
        """The worker pool, or None to work in this process (one core, or a daemonic process
        such as a Celery prefork child, which may not have children)."""
        if self._pool is None and self.processes > 1:
            # fork: workers inherit the loaded metadata instead of importing it again.
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
            try:
                self._pool = multiprocessing.get_context(method).Pool(self.processes)
            except (AssertionError, OSError):
                self.processes = 1
        return self._pool


class _Done:
    """An already computed job with the AsyncResult interface."""

    def __init__(self, value):
        self._value = value

    def get(self):
        return self._value


def normalise_many(
    raws: Sequence[str],
    default_country: str,
    allowed: Iterable[str] | None = None,
    processes: int | None = None,
) -> list[Result]:
    """One result per cell of ``raws``, in order (see ``normalise``)."""
    normaliser = Normaliser(default_country, allowed, processes)
    try:
        return normaliser.normalise_many(raws)  # forks only if the batch is big enough
    finally:
        normaliser.close()
