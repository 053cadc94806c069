"""clean_text: what a caller's free text becomes before it is stored, and what is refused.

Its fast path skips the per-character category lookup for printable ASCII; every other value is looked at
character by character. Over GraphQL an ASCII control character in a variable is refused at the edge
before any write runs, so the write rule itself is tested here, directly, on both sides of the fast path.
"""

from __future__ import annotations

import unicodedata

import pytest

from domain.text import clean_text
from domain.writes.codes import WriteCode


@pytest.mark.parametrize(
    "value",
    ["Budi\x1bSantoso", "Budi\x00", "Budi\tSantoso", "Budi\x7f", "Budi\u202eitsaM", "Siti\u200bAminah", "Ani\ud800"],
)
def test_control_and_format_characters_are_refused_ascii_or_not(value: str) -> None:
    _, problems = clean_text(value, "fullName", max_length=200)
    assert [p.code for p in problems] == [WriteCode.CONTROL_CHARACTERS], value


@pytest.mark.parametrize("value", ["Budi Santoso", "  Budi Santoso  ", "Ni Luh Putu Ayu", "Siti Nurhaliza"])
def test_printable_text_is_kept_trimmed(value: str) -> None:
    assert clean_text(value, "fullName", max_length=200) == (value.strip(), [])


def test_the_fast_path_agrees_with_the_category_rule_on_every_ascii_character() -> None:
    for code in range(128):
        character = chr(code)
        _, problems = clean_text(f"a{character}b", "f", max_length=10)
        refused = unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co")
        assert bool(problems) is refused, repr(character)
