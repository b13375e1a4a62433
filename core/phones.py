"""Phone numbers to E.164 with phonenumbers, fast enough for a million rows.

The answer is always phonenumbers' own: ``parse`` with the workspace's default country, then
``number_type`` (which is UNKNOWN exactly when ``is_valid_number`` is false, so one call gives
both). Two deliberate additions, both proven against plain phonenumbers in the tests:

* Separators (spaces, dashes, dots, parentheses) are stripped before parsing when a cell holds
  nothing else, so "+7 (701) 123-45-67" takes the fast path below as "+77011234567".
* Digits that phonenumbers rejects for the default country are retried as an international
  number: "0077011234567" as "+77011234567" (00 is the international prefix in most of the
  world, but not in phonenumbers' metadata for KZ, RU or US) and "447400123456" as
  "+447400123456" (a spreadsheet number cell cannot hold the "+"; CRMs export E.164 without it).
  phonenumbers' own verdict wins whenever it accepts the digits as they are.

For a batch, each distinct cell is validated once, on all cores (forked children, see
core.children: one that dies or stalls raises ChildLost rather than hang the import),
since phonenumbers costs ~45 µs a number in pure Python. Plain "+<digits>" and national
digits, the common cases, take a fast path (~8 µs) that runs phonenumbers' own parsing and
validation steps without its free-text handling, on each region's metadata compiled once (one
regex tries all the number types in phonenumbers' order); test_phones.py proves it equal to
plain phonenumbers in every region. Country names come from phonenumbers' locale table, read without
the geocoder's prefix database (100 MB a process).

Longer than 400 lines because the fast path and the forked pool that make a million rows quick
sit beside the plain phonenumbers path they must agree with, which the tests compare them
against.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import NamedTuple

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberType,
    ValidationResult,
)
from phonenumbers import phonenumberutil as _pnu
from phonenumbers.re_util import re_compile

from core import children
from core.rejections import Code, Rejection

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


class Normalised(NamedTuple):
    """A valid number: ``e164`` ("+77011234567"), ``region`` ("KZ"; "001" for non-geographic
    numbers) and ``type`` (a value of TYPE_NAMES, e.g. "mobile"). A named tuple: a million of
    them are made, cached and sent between processes in a large import."""

    e164: str
    region: str
    type: str


Result = Normalised | Rejection
# How a verdict travels between processes and waits in a cache: a valid number as a plain
# (e164, region, type) tuple, pickled several times cheaper than any object.
Verdict = tuple[str, str, str] | Rejection

# Cells made only of digits, one leading plus and separators (white space, "-", ".", "(" and
# ")") are parsed without the separators. Anything else (letters, "ext", "#", "/") goes to
# phonenumbers untouched. A translation table deletes them: a regex costs twice as much.
_WHITE_SPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())  # none is above
_SEPARATORS = str.maketrans("", "", _WHITE_SPACE + "-.()")
_CACHE_LIMIT = 20_000  # ~5 MB of entries; repeated cells are usually near each other
_POOL_THRESHOLD = 2_000  # below this many new values a pool costs more than it saves


def cache_key(raw: str) -> str:
    """The string actually given to phonenumbers for ``raw``: separators removed when ``raw``
    holds only digits (three or more), a leading plus and separators; otherwise ``raw``
    stripped."""
    # Already clean is the shape of most exports: worth skipping the rest for.
    if raw.isascii() and len(raw) > 3 and (raw.isdigit() or (raw[1:].isdigit() and raw[0] == "+")):
        return raw
    stripped = raw.strip()
    cleaned = stripped.translate(_SEPARATORS)
    digits = cleaned[1:] if cleaned[:1] == "+" else cleaned
    # Under three digits phonenumbers' viability test treats "00" and "0.0" differently
    # (too short vs not a number), so such input keeps its separators.
    if len(digits) < 3 or not digits.isdecimal():
        return stripped
    return cleaned


def country_name(region: str) -> str:
    """English name of a region code, "Kazakhstan" for "KZ"; the code itself if unknown."""
    return _english_names().get(region) or region


@lru_cache(maxsize=1)
def _english_names() -> dict[str, str]:
    """Region code -> English name, from the table phonenumbers' geocoder names countries
    with (geocoder._region_display_name). The table is read on its own: importing it the
    usual way, through its package, loads the geocoder's prefix database as well, 100 MB in
    every process for ~250 names."""
    path = Path(phonenumbers.__file__).parent / "geodata" / "locale.py"
    spec = importlib.util.spec_from_file_location("phonenumbers.geodata.locale", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = {}
    for region, by_language in module.LOCALE_DATA.items():
        name = by_language.get("en", "")
        if name.startswith("*"):  # the same as the name in another language
            name = by_language.get(name[1:], "")
        names[region] = name
    return names


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


def _parse_exactly(text: str, default_country: str) -> Verdict:
    """phonenumbers' verdict on ``text``, without allowed-country checks."""
    if text[:1] == "+":
        digits = text[1:]
        plain = digits.isdigit() and digits.isascii() and 3 <= len(digits) <= 30
        parsed = _parse_plus_digits(text) if plain else None
    elif _is_digits(text):
        parsed = _parse_national_digits(text, default_country)
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
    region, kind = _region_and_type(calling_code, nsn)
    if kind == _UNKNOWN:  # exactly when is_valid_number is false
        return _invalid(text, calling_code, default_country)
    # format_number's E.164 branch, which applies no formatting and drops extensions.
    return f"+{calling_code}{nsn}", region, TYPE_NAMES[kind]


# --- the fast path ------------------------------------------------------------------------
# phonenumbers spends half of parse() finding a number inside free text, and validates with a
# chain of small functions around each regex. For the common "+<digits>" and national-digits
# input the functions below run the same steps with the same metadata and compiled patterns,
# minus the overhead: a _Plan holds what one region's metadata says, compiled once. Wherever
# phonenumbers would do something unusual (strip a national prefix, an unknown calling code)
# they call phonenumbers' own function or return None so that phonenumbers.parse decides.
# test_phones.py compares them with plain phonenumbers on generated input in every region.

_SHORT_LENGTHS = (
    ValidationResult.TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ValidationResult.INVALID_LENGTH,
)
_MIN_NSN, _MAX_NSN = _pnu._MIN_LENGTH_FOR_NSN, _pnu._MAX_LENGTH_FOR_NSN
_UNKNOWN = PhoneNumberType.UNKNOWN
_FIXED_LINE, _MOBILE = PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE
# _number_type_helper's order: the first of these descriptions the number matches wins.
_ORDER = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
    ("fixed_line", _FIXED_LINE),
    ("mobile", _MOBILE),
)


def _is_digits(text: str) -> bool:
    """3 to 30 ASCII digits."""
    return text.isdigit() and text.isascii() and 3 <= len(text) <= 30


class _Plan:
    """One region's metadata, compiled for _type_of: the general description, then per
    length of national number a single pattern that tries the type descriptions in
    _number_type_helper's order (an alternation reports the first alternative that matches
    the whole number, and the metadata patterns have no groups of their own)."""

    def __init__(self, metadata: PhoneMetadata):
        self.metadata = metadata
        general = metadata.general_desc
        self.general = _described(general)
        self.same = metadata.same_mobile_and_fixed_line_pattern
        self.mobile = _described(metadata.mobile)
        self.prefix = (
            re_compile(metadata.national_prefix_for_parsing)
            if metadata.national_prefix_for_parsing
            else None
        )
        self.leading = metadata.leading_digits and re_compile(metadata.leading_digits)
        self.international = metadata.international_prefix and re_compile(
            metadata.international_prefix
        )
        self.transform = metadata.national_prefix_transform_rule
        self.possible = tuple(general.possible_length)
        self.local_only = frozenset(general.possible_length_local_only)
        self._types = [(getattr(metadata, name), kind) for name, kind in _ORDER]
        self.by_length: dict[int, tuple[re.Pattern | None, list[int]]] = {}

    def strip_national_prefix(self, national: str) -> str:
        """``national`` without its national prefix when phonenumbers.parse strips one:
        _maybe_strip_national_prefix_carrier_code, then a possible length left over."""
        match = self.prefix.match(national) if self.prefix is not None else None
        if match is None:
            return national
        if self.transform or self.general is None or not self.possible:
            # Transform rules and odd metadata: phonenumbers' own functions.
            metadata = self.metadata
            _, stripped, _ = _pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
            if _pnu._test_number_length(stripped, metadata) in _SHORT_LENGTHS:
                return national
            return stripped
        stripped = national[match.end() :]
        # Not when the number was viable as it was and no longer is.
        general = self.general[1]
        if general.fullmatch(national) and not general.fullmatch(stripped):
            return national
        # _test_number_length against the general lengths: keep the stripped digits unless
        # they are too short, local-only or of an impossible length.
        n = len(stripped)
        if n in self.local_only or (n not in self.possible and n < self.possible[-1]):
            return national
        return stripped

    def types_for(self, length: int) -> tuple[re.Pattern | None, list[int]]:
        entry = self.by_length.get(length)
        if entry is None:
            # _is_number_matching_desc: a description checks its lengths before its pattern.
            chosen = [
                (desc.national_number_pattern, kind)
                for desc, kind in self._types
                if desc is not None
                and desc.national_number_pattern
                and (not desc.possible_length or length in desc.possible_length)
            ]
            alternation = "|".join(f"({pattern})" for pattern, _ in chosen)
            entry = (re.compile(alternation) if chosen else None), [kind for _, kind in chosen]
            self.by_length[length] = entry
        return entry


def _described(desc) -> tuple[frozenset[int], re.Pattern] | None:
    # _is_number_matching_desc: no description or no pattern never matches.
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length), re_compile(desc.national_number_pattern)


def _matches(described, nsn: str) -> bool:
    if described is None:
        return False
    lengths, pattern = described
    return (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


_PLANS: dict[int, _Plan] = {}


def _plan(metadata: PhoneMetadata) -> _Plan:
    # Keyed by id: metadata objects are unhashable, loaded once and kept by phonenumbers. The
    # plan holds the metadata too, so its id cannot be reused while cached.
    plan = _PLANS.get(id(metadata))
    if plan is None:
        plan = _PLANS[id(metadata)] = _Plan(metadata)
    return plan


def _type_of(nsn: str, metadata_or_plan) -> int:
    """``phonenumberutil._number_type_helper``: the number's type, UNKNOWN if invalid."""
    plan = metadata_or_plan if type(metadata_or_plan) is _Plan else _plan(metadata_or_plan)
    general = plan.general
    length = len(nsn)
    if general is None or (general[0] and length not in general[0]):
        return _UNKNOWN
    if general[1].fullmatch(nsn) is None:
        return _UNKNOWN
    pattern, kinds = plan.by_length.get(length) or plan.types_for(length)
    match = pattern.fullmatch(nsn) if pattern is not None else None
    if match is None:
        return _UNKNOWN
    kind = kinds[match.lastindex - 1]
    if kind == _FIXED_LINE:
        if plan.same or _matches(plan.mobile, nsn):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return _FIXED_LINE
    if kind == _MOBILE and plan.same:
        return _UNKNOWN  # the same pattern as fixed line, which did not match
    return kind


# Calling code and its length by the first three digits of an international number:
# _extract_country_code never looks further.
_CALLING_CODES: dict[str, tuple[int, int]] = {}


def _calling_code(digits: str) -> tuple[int, int]:
    head = digits[:3]
    found = _CALLING_CODES.get(head)
    if found is None:
        code, rest = _pnu._extract_country_code(head)
        found = _CALLING_CODES[head] = (code, len(head) - len(rest))
    return found


class _Code(NamedTuple):
    """A calling code's regions with their metadata, in _region_code_for_number_from_list's
    order, and the plan of its main region (or non-geographic entity)."""

    regions: list[tuple[str, PhoneMetadata | None]]
    main: _Plan | None


_CODES: dict[int, _Code] = {}


def _code(calling_code: int) -> _Code:
    entry = _CODES.get(calling_code)
    if entry is None:
        regions = COUNTRY_CODE_TO_REGION_CODE.get(calling_code, ())
        listed = [(r, PhoneMetadata.metadata_for_region(r.upper(), None)) for r in regions]
        main = PhoneMetadata.metadata_for_region_or_calling_code(
            calling_code, regions[0] if regions else None
        )
        entry = _CODES[calling_code] = _Code(listed, _plan(main) if main is not None else None)
    return entry


def _parse_plus_digits(text: str) -> tuple[int, str] | None:
    """The country code and national significant number ``phonenumbers.parse(text)`` gives
    for "+" and ASCII digits, or None where parse would raise or take a rarer branch (no
    known country code)."""
    calling_code, length = _CALLING_CODES.get(text[1:4]) or _calling_code(text[1:])
    if calling_code == 0:
        return None
    code = _CODES.get(calling_code) or _code(calling_code)
    return _national_part(calling_code, text[1 + length :], code.main)


def _parse_national_digits(text: str, region: str) -> tuple[int, str] | None:
    """As _parse_plus_digits, for ``phonenumbers.parse(text, region)`` of ASCII digits that
    do not start with an international prefix of ``region``."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return None
    plan = _plan(metadata)
    if plan.international and plan.international.match(text):
        return None
    calling_code = metadata.country_code
    code = str(calling_code)
    if text.startswith(code):
        # _maybe_extract_country_code: the region's own country code without a "+" counts
        # when the rest, and not the whole, fits the plan, or the whole is too long.
        _, rest, _ = _pnu._maybe_strip_national_prefix_carrier_code(text[len(code) :], metadata)
        general = metadata.general_desc
        if (
            not _pnu._match_national_number(text, general, False)
            and _pnu._match_national_number(rest, general, False)
        ) or _pnu._test_number_length(text, metadata) == ValidationResult.TOO_LONG:
            main_region = phonenumbers.region_code_for_country_code(calling_code)
            if main_region != region:
                main = PhoneMetadata.metadata_for_region_or_calling_code(calling_code, main_region)
                plan = _plan(main) if main is not None else None
            return _national_part(calling_code, rest, plan)
    return _national_part(calling_code, text, plan)


def _national_part(calling_code: int, national: str, plan: _Plan | None) -> tuple[int, str] | None:
    """The end of ``phonenumbers.parse`` once the country code is known: strip a national
    prefix if what is left still has a possible length, then check lengths. The digits left
    are the national significant number (parse stores leading zeros apart and
    national_significant_number puts them back)."""
    if len(national) < _MIN_NSN:
        return None
    if plan is not None and plan.prefix is not None and plan.prefix.match(national):
        national = plan.strip_national_prefix(national)
    if not _MIN_NSN <= len(national) <= _MAX_NSN:
        return None
    return calling_code, national


def _region_and_type(calling_code: int, nsn: str) -> tuple[str | None, int]:
    """``region_code_for_number`` and ``number_type`` of a parsed number, sharing the type
    check that picking among several regions may already have made."""
    code = _CODES.get(calling_code) or _code(calling_code)
    regions = code.regions
    if len(regions) == 1:  # the main region's metadata (a non-geographic entity's too)
        return regions[0][0], (_UNKNOWN if code.main is None else _type_of(nsn, code.main))
    # _region_code_for_number_from_list: leading digits if the region has them, else validity.
    # Plans are made as the loop reaches them: +1 has 25 regions, and most numbers are US.
    for region, metadata in regions:
        if metadata is None:
            continue
        plan = _PLANS.get(id(metadata)) or _plan(metadata)
        if plan.leading:
            if plan.leading.match(nsn):
                return region, _type_of(nsn, plan)
        else:
            kind = _type_of(nsn, plan)
            if kind != _UNKNOWN:
                return region, kind
    return None, _UNKNOWN


def _region_of(calling_code: int, nsn: str) -> str | None:
    """``phonenumbers.region_code_for_number`` given the national significant number."""
    return _region_and_type(calling_code, nsn)[0]


def _verdict(key: str, default_country: str) -> Verdict:
    if not key:
        return Rejection(Code.EMPTY)
    verdict = _parse_exactly(key, default_country)
    if type(verdict) is Rejection and _is_digits(key):
        international = "+" + (key[2:] if key.startswith("00") else key)
        retried = _parse_exactly(international, default_country)
        if type(retried) is tuple or key.startswith("00"):
            return retried
    return verdict


def _result(verdict: Verdict) -> Result:
    return Normalised._make(verdict) if type(verdict) is tuple else verdict


def _check_allowed(verdict: Verdict, allowed: frozenset[str] | None) -> Verdict:
    if allowed is None or type(verdict) is Rejection or verdict[1] in allowed:
        return verdict
    return Rejection(Code.COUNTRY_NOT_ALLOWED, country_name(verdict[1]))


def normalise(
    raw: str | None, default_country: str, allowed: Iterable[str] | None = None
) -> Result:
    """Normalise one cell. Never raises for any string: a bad value is a Rejection (empty,
    not_a_number, invalid_for_country naming the country, country_not_allowed when ``allowed``
    region codes are given and the number's region is not among them)."""
    if raw is None:
        return Rejection(Code.EMPTY)
    allowed_set = frozenset(allowed) if allowed is not None else None
    return _result(_check_allowed(_verdict(cache_key(raw), default_country), allowed_set))


def verdict(raw: str, default_country: str, allowed: frozenset[str] | None = None) -> Verdict:
    """``normalise``'s answer as a Verdict (a valid number as a plain tuple), for a caller
    that checks a million cells and keeps its own cache (campaigns.recipients.checking)."""
    return _check_allowed(_verdict(cache_key(raw), default_country), allowed)


def region_of(e164: str) -> str:
    """The region code of a valid E.164 number ("KZ"), "" when phonenumbers cannot tell."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.region_code_for_number(number) or ""


def single_time_zone(e164: str) -> str:
    """The IANA zone of an E.164 number when phonenumbers knows exactly one for its prefix
    ("Asia/Almaty"), else "" (several zones, as for most of Russia's mobiles, or unknown)."""
    from phonenumbers import timezone as zones  # its prefix table loads on first use only

    try:
        found = zones.time_zones_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return ""
    return found[0] if len(found) == 1 and found[0] != zones.UNKNOWN_TIMEZONE else ""


def _verdicts(cells: list[str], default_country: str) -> list[Verdict]:
    """What a worker does with its share of a batch's distinct cells."""
    return [_verdict(cache_key(cell), default_country) for cell in cells]


class Normaliser:
    """Normalises batches of cells on ``processes`` cores with a bounded cache of verdicts.

    Use as a context manager: entering forks the workers, leaving stops them (killed and
    reaped, however they were doing). ``normalise_many`` returns one result per input, in
    order; ``normalise_batches`` does the same for a stream of batches while the next batch is
    validated in the background, so reading and validating overlap. Both raise
    children.ChildLost when a worker dies, or owes an answer for ``stall_seconds``.
    """

    def __init__(
        self,
        default_country: str,
        allowed: Iterable[str] | None = None,
        processes: int | None = None,
        *,
        stall_seconds: float = 60,
    ):
        self.default_country = default_country
        self.allowed = frozenset(allowed) if allowed is not None else None
        self.processes = processes if processes is not None else (os.cpu_count() or 1)
        self.stall_seconds = stall_seconds
        self._cache: dict[str, Verdict] = {}
        self._pool: children.Workers | None = None

    def __enter__(self) -> Normaliser:
        # Fork the workers now, while this process is small: forked after a big workbook is
        # loaded, each worker would map (and be charged for) that memory too.
        self._get_pool()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def normalise_many(self, raws: Sequence[str]) -> list[Result]:
        return next(self.normalise_batches([raws]))

    def normalise_batches(self, batches: Iterable[Sequence[str]]) -> Iterator[list[Result]]:
        for verdicts in self.verdicts(batches):
            yield [_result(verdict) for verdict in verdicts]

    def verdicts(self, batches: Iterable[Sequence[str]]) -> Iterator[list[Verdict]]:
        """As normalise_batches, with each valid number as a plain (e164, region, type)
        tuple: a million-row import has no use for an object per row."""
        pending: deque = deque()
        for raws in batches:
            pending.append(self._submit(raws))
            if len(pending) > 1:
                yield self._collect(*pending.popleft())
        while pending:
            yield self._collect(*pending.popleft())

    def _submit(self, raws: Sequence[str]):
        # Cached by the cell as it is: cleaning every cell here (cache_key) would cost the
        # reading process a second a million rows; the workers clean the distinct ones.
        keys = [raw if raw is not None else "" for raw in raws]
        cache = self._cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        # This batch's verdicts: the cached ones now (the cache may be cleared before the
        # batch is collected), the others when its jobs are done.
        verdicts: dict[str, Verdict] = {}
        fresh = []
        for key in dict.fromkeys(keys):
            verdict = cache.get(key)
            if verdict is None:
                fresh.append(key)
            else:
                verdicts[key] = verdict
        pool = self._get_pool() if len(fresh) >= _POOL_THRESHOLD else None
        if pool is None:
            jobs = [children.Done(_verdicts(fresh, self.default_country))]
        else:
            size = -(-len(fresh) // (self.processes * 2))
            jobs = [pool.submit(fresh[i : i + size]) for i in range(0, len(fresh), size)]
        return keys, verdicts, fresh, jobs

    def _collect(self, keys: list[str], verdicts: dict, fresh: list[str], jobs) -> list[Verdict]:
        classified = dict(zip(fresh, (v for job in jobs for v in job.get()), strict=True))
        self._cache.update(classified)
        verdicts.update(classified)
        found = list(map(verdicts.__getitem__, keys))
        if self.allowed is not None:
            found = [_check_allowed(verdict, self.allowed) for verdict in found]
        return found

    def _get_pool(self) -> children.Workers | None:
        """The workers, or None to work in this process (one core)."""
        if self._pool is None and self.processes > 1:
            # Forked: workers inherit the loaded metadata instead of importing it again.
            work = partial(_verdicts, default_country=self.default_country)
            try:
                self._pool = children.Workers(
                    self.processes, work, stall_seconds=self.stall_seconds
                )
            except OSError:  # out of processes or pipes: one core still does the job
                self.processes = 1
        return self._pool


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
