"""Normalisation gives phonenumbers' own answer, whatever shortcut phones.py takes."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from core import phones
from core.phones import (
    TYPE_NAMES,
    Normalised,
    Normaliser,
    cache_key,
    normalise,
    normalise_many,
)
from core.rejections import Code, Rejection

REGIONS = ["KZ", "BR", "UZ", "RU", "GB", "US", "DE"]
bounded = settings(
    max_examples=200,
    deadline=2000,  # ms; the first number of a region loads its metadata
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def plain_phonenumbers(raw: str, region: str):
    """The reference: phonenumbers on the untouched input, valid or not, nothing cached."""
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as error:
        return "not_a_number" if error.error_type == NumberParseException.NOT_A_NUMBER else None
    if not phonenumbers.is_valid_number(number):
        return None
    return Normalised(
        phonenumbers.format_number(number, PhoneNumberFormat.E164),
        phonenumbers.region_code_for_number(number),
        TYPE_NAMES[phonenumbers.number_type(number)],
    )


def assert_agrees_with_phonenumbers(raw: str, region: str) -> None:
    """normalise(raw) is phonenumbers' verdict on raw, except for the documented international
    retry of digits that phonenumbers rejects."""
    ours = normalise(raw, region)
    expected = plain_phonenumbers(raw, region)
    if not raw.strip():
        assert ours == Rejection(Code.EMPTY)
        return
    if isinstance(expected, Normalised):
        assert ours == expected
        return
    key = cache_key(raw)
    if re.fullmatch(r"[0-9]{3,30}", key):
        retried = plain_phonenumbers("+" + (key[2:] if key.startswith("00") else key), region)
        if isinstance(retried, Normalised):
            assert ours == retried
            return
        if key.startswith("00"):
            expected = retried
    if expected == "not_a_number":
        assert ours == Rejection(Code.NOT_A_NUMBER)
    else:
        assert isinstance(ours, Rejection)
        assert ours.code == Code.INVALID_FOR_COUNTRY


@st.composite
def valid_numbers(draw) -> phonenumbers.PhoneNumber:
    """A valid number of one of REGIONS: an example number with its tail redrawn."""
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE]))
    example = phonenumbers.example_number_for_type(region, kind)
    nsn = str(example.national_number)
    tail = draw(st.integers(0, 999))
    candidate = f"+{example.country_code}{nsn[:-3]}{tail:03d}"
    number = phonenumbers.parse(candidate)
    if not phonenumbers.is_valid_number(number):
        number = example
    return number


separators = st.sampled_from(["", " ", "-", ".", " - ", "(", ")", "  "])


@st.composite
def sprinkled(draw, text: str) -> str:
    """``text`` with separators between random characters, as people type numbers."""
    out = []
    for ch in text:
        out.append(ch)
        if ch != "+" and draw(st.booleans()):
            out.append(draw(separators))
    return draw(st.sampled_from(["", " ", "\t"])) + "".join(out) + draw(st.sampled_from(["", " "]))


phoneish = st.from_regex(r"\s*(\+|00|8|0)?[0-9 ().\-]{0,18}", fullmatch=True)


@bounded
@given(raw=phoneish, region=st.sampled_from(REGIONS))
def test_phone_like_input_agrees_with_plain_phonenumbers(raw, region):
    assert_agrees_with_phonenumbers(raw, region)


@bounded
@given(raw=st.text(max_size=30), region=st.sampled_from(REGIONS))
def test_garbage_is_rejected_never_raises(raw, region):
    result = normalise(raw, region)
    assert isinstance(result, Normalised | Rejection)
    assert_agrees_with_phonenumbers(raw, region)


@bounded
@given(data=st.data(), number=valid_numbers(), region=st.sampled_from(REGIONS))
def test_formatting_variants_normalise_to_the_same_e164(data, number, region):
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    own_region = phonenumbers.region_code_for_number(number)
    variants = [
        (phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL), region),
        ("00" + e164[1:], region),
        (phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL), own_region),
    ]
    for text, default in variants:
        raw = data.draw(sprinkled(text))
        result = normalise(raw, default)
        assert isinstance(result, Normalised), (raw, default, result)
        assert result.e164 == e164, (raw, default)


@bounded
@given(number=valid_numbers(), region=st.sampled_from(REGIONS))
def test_normalising_is_idempotent(number, region):
    first = normalise(phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL), region)
    assert isinstance(first, Normalised)
    assert normalise(first.e164, region) == first
    assert normalise(first.e164, "KZ") == first  # E.164 does not depend on the default


@pytest.mark.parametrize(
    ("raw", "e164", "region", "kind"),
    [
        ("+7 (701) 123-45-67", "+77011234567", "KZ", "mobile"),
        ("8 701 123 45 67", "+77011234567", "KZ", "mobile"),
        ("0077011234567", "+77011234567", "KZ", "mobile"),  # the international retry
        ("447400123456", "+447400123456", "GB", "mobile"),  # E.164 from a number cell
        ("77011234567", "+77011234567", "KZ", "mobile"),  # phonenumbers' own reading wins
        ("8 10 44 20 7946 0018", "+442079460018", "GB", "fixed_line"),  # KZ's own 8~10 prefix
        ("+44 (0) 20 7946 0018", "+442079460018", "GB", "fixed_line"),
        ("+1 800 253 0000", "+18002530000", "US", "toll_free"),
        ("+998 90 123 45 67", "+998901234567", "UZ", "mobile"),
    ],
)
def test_known_numbers(raw, e164, region, kind):
    assert normalise(raw, "KZ") == Normalised(e164, region, kind)


@pytest.mark.parametrize(
    ("raw", "code", "reason"),
    [
        (None, Code.EMPTY, "The phone cell is empty."),
        (" \t", Code.EMPTY, "The phone cell is empty."),
        ("call me", Code.NOT_A_NUMBER, "This is not a phone number."),
        ("701 12", Code.INVALID_FOR_COUNTRY, "This is not a valid phone number for Kazakhstan."),
        ("+999 1234567", Code.INVALID_FOR_COUNTRY,
         "This is not a valid phone number for any country."),
        ("+998 12", Code.INVALID_FOR_COUNTRY, "This is not a valid phone number for Uzbekistan."),
    ],
)  # fmt: skip
def test_rejections_name_the_country(raw, code, reason):
    result = normalise(raw, "KZ")
    assert (result.code, result.reason) == (code, reason)


def test_allowed_countries_reject_the_others_by_name():
    assert normalise("+44 20 7946 0018", "KZ", allowed={"KZ", "UZ"}) == Rejection(
        Code.COUNTRY_NOT_ALLOWED, "United Kingdom"
    )
    assert isinstance(normalise("+998 90 123 45 67", "KZ", allowed={"KZ", "UZ"}), Normalised)
    assert normalise("+44 20 7946 0018", "KZ", allowed={"KZ"}).reason == (
        "The account may not send to United Kingdom."
    )


def _mixed_batch(size: int) -> list[str]:
    rng = random.Random(4)
    raws = []
    for _ in range(size):
        kind = rng.random()
        if kind < 0.8:
            raws.append(f"+7 701 {rng.randrange(10**7):07d}")
        elif kind < 0.9:
            raws.append(f"8 (702) {rng.randrange(10**7):07d}")
        elif kind < 0.95:
            raws.append(rng.choice(["", "abc", "12345", "+44 20 7946 0018"]))
        else:
            raws.append(raws[rng.randrange(len(raws))] if raws else "")
    return raws


def test_pool_gives_the_same_results_in_the_same_order():
    raws = _mixed_batch(6000)  # over the pool threshold, so two workers really run
    expected = [normalise(raw, "KZ", allowed={"KZ"}) for raw in raws]
    assert normalise_many(raws, "KZ", allowed={"KZ"}, processes=2) == expected


def test_streamed_batches_keep_their_order_and_cache():
    raws = _mixed_batch(9000)
    batches = [raws[i : i + 2500] for i in range(0, len(raws), 2500)]
    with Normaliser("KZ", processes=2) as normaliser:
        streamed = [r for batch in normaliser.normalise_batches(batches) for r in batch]
    assert streamed == [normalise(raw, "KZ") for raw in raws]


def test_cache_key_only_strips_separators_from_plain_numbers():
    assert cache_key(" +7 (701) 123-45-67 ") == "+77011234567"
    assert cache_key("+7 701 123 45 67 ext. 12") == "+7 701 123 45 67 ext. 12"
    assert cache_key("8 701 / 123") == "8 701 / 123"


@bounded
@given(digits=st.from_regex(r"[0-9]{3,20}", fullmatch=True), region=st.sampled_from(REGIONS))
def test_fast_parse_of_plus_digits_equals_phonenumbers_parse(digits, region):
    text = "+" + digits
    fast = phones._parse_plus_digits(text)
    try:
        expected = phonenumbers.parse(text, region)
    except NumberParseException:
        assert fast is None
        return
    assert fast is None or fast == _parts(expected)


@bounded
@given(digits=st.from_regex(r"[0-9]{3,20}", fullmatch=True), region=st.sampled_from(REGIONS))
def test_fast_parse_of_national_digits_equals_phonenumbers_parse(digits, region):
    fast = phones._parse_national_digits(digits, region)
    try:
        expected = phonenumbers.parse(digits, region)
    except NumberParseException:
        assert fast is None
        return
    assert fast is None or fast == _parts(expected)


@bounded
@given(number=valid_numbers(), region=st.sampled_from(REGIONS), cut=st.integers(0, 2))
def test_fast_parse_of_digits_with_a_country_code_equals_phonenumbers_parse(number, region, cut):
    # E.164 without its "+", as a number cell holds it, sometimes a digit short: the branch of
    # parse that recognises a region's own country code without a plus.
    digits = phonenumbers.format_number(number, PhoneNumberFormat.E164)[
        1 : None if not cut else -cut
    ]
    for default in (region, phonenumbers.region_code_for_number(number)):
        fast = phones._parse_national_digits(digits, default)
        try:
            expected = phonenumbers.parse(digits, default)
        except NumberParseException:
            assert fast is None
            continue
        assert fast is None or fast == _parts(expected)


def _parts(number: phonenumbers.PhoneNumber) -> tuple[int, str]:
    return number.country_code, phonenumbers.national_significant_number(number)


def test_fast_type_and_region_equal_phonenumbers_in_every_region():
    # Every region's metadata, not only the countries we test by hand: the example number of
    # each type and random variations of it, valid or not.
    rng = random.Random(11)
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in TYPE_NAMES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            nsn = phonenumbers.national_significant_number(example)
            for candidate in [nsn, *(_mutate(nsn, rng) for _ in range(8))]:
                number = phonenumbers.parse(f"+{example.country_code}{candidate}")
                nsn2 = phonenumbers.national_significant_number(number)
                region2 = phones._region_of(number.country_code, nsn2)
                assert region2 == phonenumbers.region_code_for_number(number), number
                assert (phones._type_of(nsn2, _metadata(number, region2)) if region2 else 0) == (
                    phonenumbers.number_type(number) if region2 else 0
                ), number
                checked += 1
    assert checked > 4000


def _mutate(nsn: str, rng: random.Random) -> str:
    digits = list(nsn)
    if rng.random() < 0.2 and len(digits) > 3:
        digits.pop()
    elif rng.random() < 0.2:
        digits.append(str(rng.randrange(10)))
    for _ in range(2):
        digits[rng.randrange(len(digits))] = str(rng.randrange(10))
    return "".join(digits)


def _metadata(number, region):
    return phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        number.country_code, region
    )


def test_fast_paths_cover_the_common_shapes():
    # The equality properties above hold trivially for a fast path that always gives up.
    assert phones._parse_plus_digits("+77011234567") == (7, "7011234567")
    assert phones._parse_national_digits("0077011234567", "KZ") == (7, "0077011234567")
    assert phones._parse_national_digits("02079460018", "GB") == (44, "2079460018")


_SEPARATORS_REGEX = re.compile(r"[\s\-.()]+")


@bounded
@given(
    raw=st.text(alphabet=st.sampled_from("0123456789+ -.()\t\n\u00a0\u3000\u0661²x#/"), max_size=20)
)
def test_cache_key_strips_exactly_what_the_separator_regex_matches(raw):
    # cache_key deletes separators with a translation table; its definition is this regex.
    stripped = raw.strip()
    cleaned = _SEPARATORS_REGEX.sub("", stripped)
    digits = cleaned.removeprefix("+")
    plain = re.fullmatch(r"\+?\d*", cleaned) and len(digits) >= 3
    expected = raw if raw.isascii() and len(raw) > 3 and re.fullmatch(r"\+?\d+", raw) else None
    assert cache_key(raw) == (expected or (cleaned if plain else stripped))


def test_no_white_space_outside_the_separator_table():
    import sys

    assert all(not chr(c).isspace() for c in range(0x3001, sys.maxunicode + 1))


def test_national_prefix_stripping_equals_phonenumbers_in_every_region():
    # _Plan.strip_national_prefix replaces _maybe_strip_national_prefix_carrier_code and the
    # length test parse() runs after it; every region's prefix, on digits that start with it.
    from phonenumbers import ValidationResult
    from phonenumbers import phonenumberutil as pnu

    short = (
        ValidationResult.TOO_SHORT,
        ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        ValidationResult.INVALID_LENGTH,
    )
    rng = random.Random(5)
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        prefix = metadata.national_prefix or metadata.national_prefix_for_parsing or ""
        starts = {re.sub(r"\D", "", prefix)[:4], "0", "1", "8", "9"}
        for start in starts:
            for _ in range(12):
                national = start + "".join(
                    rng.choice("0123456789") for _ in range(rng.randrange(0, 14))
                )
                _, stripped, _ = pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
                expected = (
                    national if pnu._test_number_length(stripped, metadata) in short else stripped
                )
                assert phones._plan(metadata).strip_national_prefix(national) == expected, (
                    region,
                    national,
                )
                checked += 1
    assert checked > 10_000


def test_country_names_are_the_geocoders_without_its_prefix_database():
    import subprocess
    import sys

    from phonenumbers import geocoder

    for region in [*phonenumbers.SUPPORTED_REGIONS, "001", "ZZ", "XK"]:
        assert phones.country_name(region) == (
            geocoder._region_display_name(region, "en") or region
        )
    # Importing the geocoder costs ~100 MB a process: normalising must not.
    code = (
        "import sys; from core import phones; phones.normalise('+44 20 12', 'KZ'); "
        "print('phonenumbers.geodata' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "False"


def _written(e164: str, rng: random.Random) -> str:
    """A number the ways people and CRMs write it (as bench/import_read.py does)."""
    digits = e164[1:]
    return rng.choice(
        [
            e164,
            f"+{digits[:-10]} {digits[-10:-7]} {digits[-7:-4]}-{digits[-4:-2]}-{digits[-2:]}",
            f"00{digits}",
            f"8 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}",
            f"+{digits[:-10]} ({digits[-10:-7]}) {digits[-7:]}",
            f"+{digits[:-7]}.{digits[-7:-4]}.{digits[-4:]}",
            digits,
        ]
    )


def test_thousands_of_written_numbers_agree_with_plain_phonenumbers():
    # The shapes of a real import, valid or not, in the countries the bench uses and more.
    rng = random.Random(8)
    prefixes = ["+7701", "+7777", "+7912", "+551199", "+99890", "+447400", "+12122", "+4930"]
    for _ in range(4000):
        e164 = rng.choice(prefixes) + "".join(rng.choice("0123456789") for _ in range(7))
        if rng.random() < 0.2:  # a digit too many or too few
            e164 = e164[:-1] if rng.random() < 0.5 else e164 + "5"
        assert_agrees_with_phonenumbers(_written(e164, rng), rng.choice(REGIONS))
