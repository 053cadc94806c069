"""Cleaning free text from callers before it is stored: NFC, trimmed, no control characters, bounded."""

from __future__ import annotations

import unicodedata

from domain.writes.codes import WriteCode
from domain.writes.errors import Problem

#: The longest free text a person writes into a record: a correction's reason, a workflow note.
MAX_NOTE_LENGTH = 2000


def clean_text(value: str, field: str, *, max_length: int, required: bool = True) -> tuple[str, list[Problem]]:
    """The value as stored, and what is wrong with it (empty list when fine).

    Control and format characters (NUL, bidi overrides, zero-width) are refused rather than silently
    dropped: a name with a hidden character is a different name in every registry it is matched against.
    """
    text = unicodedata.normalize("NFC", value).strip()
    problems: list[Problem] = []
    if len(text) > max_length:
        problems.append(
            Problem(field, WriteCode.TOO_LONG, f"{field} is {len(text):,} characters; at most {max_length}")
        )
        return text[:max_length], problems
    # Printable ASCII has none of them (the ASCII control characters are Cc, and not printable), and is what
    # nearly every value is: each character's category is looked up only for the others.
    bad = (
        []
        if text.isascii() and text.isprintable()
        else sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co")})
    )
    if bad:
        problems.append(
            Problem(
                field, WriteCode.CONTROL_CHARACTERS, f"{field} contains invisible control characters ({', '.join(bad)})"
            )
        )
    if required and not text:
        problems.append(Problem(field, WriteCode.REQUIRED, f"{field} is required"))
    return text, problems
