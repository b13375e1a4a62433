"""Normalisation gives phonenumbers' own answer, whatever shortcut phones.py takes."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from campaigns import phones
from campaigns.phones import (
    TYPE_NAMES,
    Normalised,
    Normaliser,
    cache_key,
    normalise,
    normalise_many,
)
from campaigns.rejections import Code, Rejection

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
            for candidate in [nsn, *(_mutate(nsn, rng) for _ in range(4))]:
                number = phonenumbers.parse(f"+{example.country_code}{candidate}")
                nsn2 = phonenumbers.national_significant_number(number)
                region2 = phones._region_of(number.country_code, nsn2)
                assert region2 == phonenumbers.region_code_for_number(number), number
                assert (phones._type_of(nsn2, _metadata(number, region2)) if region2 else 0) == (
                    phonenumbers.number_type(number) if region2 else 0
                ), number
                checked += 1
    assert checked > 2000


def _mutate(nsn: str, rng: random.Random) -> str:
    digits = list(nsn)
    if rng.random() < 0.2 and len(digits) > 3:
        digits.pop()
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
