"""Template.plain_length, the pricing shortcut, agrees with rendering the text and measuring it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from campaigns.compose.templating import Template
from campaigns.models import PlaceholderPolicy
from core.sms_parts import count, is_plain, plain_parts

# Plain letters, GSM extension characters, UCS-2 letters, an emoji, whitespace and braces.
ALPHABET = st.sampled_from(list("abcXYZ 019.,!?@£$_€{^й😀\t\n "))
LITERAL = st.text(ALPHABET, max_size=90)
VALUE = st.one_of(st.none(), st.integers(-(10**6), 10**6), st.text(ALPHABET, max_size=90))


@given(
    literals=st.lists(LITERAL, min_size=2, max_size=4),
    values=st.lists(VALUE, min_size=3, max_size=3),
    policy=st.sampled_from(PlaceholderPolicy.values),
)
def test_plain_length_is_the_length_of_the_plain_rendered_text(literals, values, policy):
    names = ["name", "code", "city"]
    text = literals[0] + "".join(
        "{" + names[i % 3] + "}" + literal for i, literal in enumerate(literals[1:])
    )
    template = Template(text, policy)
    row = [values[names.index(name)] for name in template.names]
    rendered = template.fill(row)

    length = template.plain_length(row)

    if is_plain(rendered):
        assert length == len(rendered)
        assert plain_parts(length) == count(rendered).parts
    else:
        assert length is None


def test_a_kept_placeholder_is_not_plain():
    # "{" and "}" are GSM extension characters: two septets each.
    template = Template("Hi {name}", PlaceholderPolicy.KEEP)
    assert template.plain_length([None]) is None
    assert Template("Hi {name}", PlaceholderPolicy.STRIP).plain_length([None]) == 3
