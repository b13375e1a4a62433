"""campaigns.compose.segments: what a text costs in SMS parts, and which characters force UCS-2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.sms_parts import (
    GSM7,
    GSM_BASIC,
    GSM_CHARS,
    GSM_EXTENSION,
    SUGGESTIONS,
    UCS2,
    Ucs2Char,
    _measure,
    _measure_exact,
    count,
    count_rendered,
    replace_suggestions,
)

# Escaped, because on screen they cannot be told from their ASCII look-alikes.
RSQUO, LDQUO, RDQUO = "\u2019", "\u201c", "\u201d"
EM_DASH, ELLIPSIS, NBSP, ZWSP = "\u2014", "\u2026", "\u00a0", "\u200b"
ZHE = "Ж"  # Cyrillic: one UTF-16 unit, no GSM stand-in
CYRILLIC_U = "\u0443"  # looks exactly like the Latin y
GRIN = "😀"  # outside the BMP: a surrogate pair, two UTF-16 units

# 100 characters with one apostrophe in them.
HUNDRED_GSM = "Hello Anna, your order 12345 ships today. It's on its way: track at ex.co/t/9."
HUNDRED_GSM = HUNDRED_GSM.ljust(100, "!")

CASES = [
    # text, (encoding, length, parts, chars left in the last part)
    pytest.param("", (GSM7, 0, 0, 160), id="empty text is 0 parts with 160 left"),
    pytest.param("a" * 160, (GSM7, 160, 1, 0), id="160 GSM is 1 part"),
    pytest.param("a" * 161, (GSM7, 161, 2, 145), id="161 GSM is 2 parts of 153"),
    pytest.param("a" * 306, (GSM7, 306, 2, 0), id="306 GSM is 2 full parts"),
    pytest.param("a" * 307, (GSM7, 307, 3, 152), id="307 GSM is 3 parts"),
    pytest.param(ZHE * 70, (UCS2, 70, 1, 0), id="70 UCS-2 is 1 part"),
    pytest.param(ZHE * 71, (UCS2, 71, 2, 63), id="71 UCS-2 is 2 parts of 67"),
    pytest.param(ZHE * 134, (UCS2, 134, 2, 0), id="134 UCS-2 is 2 full parts"),
    pytest.param(ZHE * 135, (UCS2, 135, 3, 66), id="135 UCS-2 is 3 parts"),
    pytest.param("\u03a9" * 161, (GSM7, 161, 2, 145), id="Greek capitals are 1 GSM septet"),
    pytest.param("{€}", (GSM7, 6, 1, 154), id="extension characters are GSM and cost 2"),
    pytest.param("a" * 152 + "€", (GSM7, 154, 1, 6), id="152 + euro fits one part of 160"),
    pytest.param("a" * 159 + "€", (GSM7, 161, 2, 145), id="159 + euro splits"),
    pytest.param(
        "a" * 151 + "€" + "a" * 10, (GSM7, 163, 2, 143), id="escape pair ending at 153 stays"
    ),
    pytest.param(
        "a" * 152 + "€" + "a" * 10,
        (GSM7, 164, 2, 141),
        id="escape pair straddling 153 moves to part 2",
    ),
    pytest.param(
        "a" * 152 + "€" + "a" * 152,
        (GSM7, 306, 3, 152),
        id="moved escape pair adds a part that 306 septets would not need",
    ),
    pytest.param("{" * 81, (GSM7, 162, 2, 143), id="only escape pairs: 76 to a part"),
    pytest.param("Hi " + GRIN, (UCS2, 5, 1, 65), id="emoji counts 2 units"),
    pytest.param(GRIN * 35, (UCS2, 70, 1, 0), id="35 emoji fill one part"),
    pytest.param(
        ZHE * 66 + GRIN + ZHE * 5, (UCS2, 73, 2, 60), id="surrogate pair straddling 67 moves"
    ),
    pytest.param(
        ZHE * 66 + GRIN + ZHE * 66,
        (UCS2, 134, 3, 66),
        id="moved surrogate pair adds a part that 134 units would not need",
    ),
    pytest.param(
        "Hello, Dmitr" + CYRILLIC_U, (UCS2, 13, 1, 57), id="one Cyrillic letter forces UCS-2"
    ),
    pytest.param(HUNDRED_GSM, (GSM7, 100, 1, 60), id="100 GSM characters are 1 part"),
    pytest.param(
        HUNDRED_GSM.replace("'", RSQUO),
        (UCS2, 100, 2, 34),
        id="one curly quote makes the same 100 characters 2 UCS-2 parts",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_tricky_cases(text, expected):
    info = count(text)
    assert (info.encoding, info.length, info.parts, info.chars_left) == expected


@pytest.mark.parametrize(("text", "_"), CASES)
def test_reference_path_gives_the_same_answer_on_every_tricky_case(text, _):
    assert _measure_exact(text) == _measure(text)


@pytest.mark.parametrize(
    ("text", "per_part"),
    [("", 160), ("a" * 160, 160), ("a" * 161, 153), (ZHE * 70, 70), (ZHE * 71, 67)],
)
def test_per_part_limit_drops_once_the_message_is_split(text, per_part):
    assert count(text).per_part == per_part


def test_the_tables_follow_3gpp_ts_23_038():
    assert len(GSM_BASIC) == 127  # 128 codes, less the escape
    assert set("\f^{}\\[]~|€") == GSM_EXTENSION
    assert not GSM_BASIC & GSM_EXTENSION
    assert {"@", "£", "$", "¥", "Ç", "\u03a9", "¤", "¡", "¿", "à", "\n", "\r"} <= GSM_BASIC
    # The lower-case ç, the ohm sign, the backtick, tab and the escape itself are not GSM.
    assert not {"ç", "\u2126", "`", "\t", "\x1b"} & GSM_CHARS


def test_the_module_imports_no_django():
    # It runs in the bench and in workers' tight loops; a fresh interpreter shows what it pulls.
    code = "import sys, core.sms_parts; print('django' in sys.modules)"
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo)
    assert result.stdout.strip() == "False", result.stderr


def test_ucs2_chars_lists_each_culprit_once_in_order_with_its_suggestion():
    text = f"Don{RSQUO}t {LDQUO}panic{RDQUO} {EM_DASH} it{RSQUO}s fine{ELLIPSIS}"
    assert count(text).ucs2_chars == (
        Ucs2Char(RSQUO, "'"),
        Ucs2Char(LDQUO, '"'),
        Ucs2Char(RDQUO, '"'),
        Ucs2Char(EM_DASH, "-"),
        Ucs2Char(ELLIPSIS, "..."),
    )


def test_invisible_and_unusual_spaces_are_suggested_as_space_or_removal():
    assert count(f"a{NBSP}b{ZWSP}c\td").ucs2_chars == (
        Ucs2Char(NBSP, " "),
        Ucs2Char(ZWSP, ""),
        Ucs2Char("\t", " "),
    )


def test_letters_of_other_scripts_and_emoji_have_no_suggestion():
    assert count(f"Привет {GRIN}").ucs2_chars == tuple(Ucs2Char(c, None) for c in [*"Привет", GRIN])


def test_gsm_text_lists_no_ucs2_chars():
    assert count("Price: €5 {today} ~ [ok] | ^_^").ucs2_chars == ()


def test_one_click_replacement_makes_the_text_gsm_again():
    text = f"Don{RSQUO}t {LDQUO}panic{RDQUO} {EM_DASH} it{RSQUO}s{NBSP}fine{ELLIPSIS}{ZWSP}"
    replaced = replace_suggestions(text)
    assert replaced == "Don't \"panic\" - it's fine..."
    assert count(replaced).encoding == GSM7


def test_one_click_replacement_brings_the_curly_quote_message_back_to_one_part():
    info = count(replace_suggestions(HUNDRED_GSM.replace("'", RSQUO)))
    assert (info.encoding, info.parts) == (GSM7, 1)


def test_replacement_keeps_characters_without_a_suggestion():
    assert replace_suggestions(f"Привет{RSQUO} {GRIN}") == f"Привет' {GRIN}"


@pytest.mark.parametrize(
    ("chars", "replacement"),
    [
        ("\u2018\u2019\u201a\u201b", "'"),  # curly single quotes
        ("\u2039\u203a", "'"),  # single angle quotes
        ("\u201c\u201d\u201e\u00ab\u00bb", '"'),  # curly double quotes, guillemets
        ("\u2013\u2014\u2212", "-"),  # en dash, em dash, minus sign
        ("\u2022", "-"),  # bullet
        (ELLIPSIS, "..."),
        (NBSP + "\u2002\u2003\u2009\u202f\u3000\t", " "),  # unusual spaces and tab
        (ZWSP + "\u200c\u200d\ufeff", ""),  # zero-width characters
    ],
)
def test_common_culprits_have_these_suggestions(chars, replacement):
    assert [c.suggestion for c in count(chars).ucs2_chars] == [replacement] * len(chars)


@pytest.mark.parametrize(("char", "replacement"), sorted(SUGGESTIONS.items()))
def test_every_suggestion_replaces_a_non_gsm_character_with_gsm_text(char, replacement):
    assert char not in GSM_CHARS
    assert set(replacement) <= GSM_BASIC


def test_count_rendered_summarises_parts_and_encodings():
    texts = ["Hi Ann, 10% off today", "Hi Bob, " + "a" * 200, "Привет, Ольга"]
    assert count_rendered(iter(texts)).__dict__ == {
        "messages": 3,
        "min_parts": 1,
        "max_parts": 2,
        "total_parts": 4,
        "gsm7_messages": 2,
        "ucs2_messages": 1,
    }


def test_count_rendered_of_no_messages_is_all_zero():
    summary = count_rendered([])
    assert (summary.messages, summary.min_parts, summary.max_parts, summary.total_parts) == (
        0,
        0,
        0,
        0,
    )


# Properties. Texts mix GSM basic and extension characters, Cyrillic and emoji; some are
# built to sit near the part boundaries, where pairs get moved.
GSM_ALPHABET = st.sampled_from(sorted(GSM_CHARS))
ANY_ALPHABET = st.one_of(
    GSM_ALPHABET,
    st.characters(min_codepoint=0x410, max_codepoint=0x44F),  # Cyrillic
    st.characters(min_codepoint=0x1F600, max_codepoint=0x1F64F),  # emoji
    st.sampled_from(sorted(SUGGESTIONS)),
)


@st.composite
def near_a_boundary(draw):
    """A 2-unit character (escape or surrogate pair) just before, on or after a part boundary."""
    fill, pair, tail, per_part = draw(
        st.sampled_from([("a", "€", GSM_ALPHABET, 153), (ZHE, GRIN, ANY_ALPHABET, 67)])
    )
    before = per_part * draw(st.integers(min_value=1, max_value=3)) + draw(st.integers(-3, 1))
    return fill * before + pair + draw(st.text(tail, max_size=12))


TEXTS = st.one_of(
    st.text(GSM_ALPHABET, max_size=400),
    st.text(ANY_ALPHABET, max_size=200),
    near_a_boundary(),
)
# The suite's autouse settings fixture does not touch what these tests exercise.
PROPERTY = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@PROPERTY
@given(TEXTS, TEXTS)
def test_appending_text_never_reduces_the_parts(text, more):
    assert count(text + more).parts >= count(text).parts


@PROPERTY
@given(TEXTS.filter(bool))
def test_non_empty_text_has_at_least_one_part(text):
    assert count(text).parts >= 1


@PROPERTY
@given(TEXTS)
def test_the_parts_hold_the_whole_length(text):
    info = count(text)
    assert info.parts * info.per_part >= info.length
    assert 0 <= info.chars_left <= info.per_part


@PROPERTY
@given(TEXTS)
def test_fast_path_agrees_with_the_character_by_character_definition(text):
    info = count(text)
    reported = (info.encoding, info.length, info.parts, info.per_part - info.chars_left)
    assert reported == _measure_exact(text)


@PROPERTY
@given(TEXTS)
def test_after_replacement_only_characters_without_a_suggestion_force_ucs2(text):
    assert all(c.suggestion is None for c in count(replace_suggestions(text)).ucs2_chars)


@PROPERTY
@given(st.lists(TEXTS, max_size=8))
def test_count_rendered_agrees_with_count(texts):
    summary = count_rendered(texts)
    parts = [count(t).parts for t in texts]
    assert summary.total_parts == sum(parts)
    assert (summary.min_parts, summary.max_parts) == (min(parts, default=0), max(parts, default=0))
    assert summary.gsm7_messages == sum(count(t).encoding == GSM7 for t in texts)
