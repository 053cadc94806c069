"""A participant's mobile number: parsing to E.164, and masking.

Participants register an Indonesian mobile number (the contact BPJS Ketenagakerjaan sends claim and
contribution notices to). People write it as ``0812-3456-7890``, ``+62 812 3456 7890`` or ``6281234567890``;
it is stored in one form, E.164 (``+6281234567890``), so that a number is one value wherever it was typed.
Indonesian mobile numbers start with 8 after the country code (62) and have 10 to 13 digits after it
(the numbering plan's 08xx-xxxx-xxxx with 9 to 12 digits after the trunk 0).

It is personal data under UU 27/2022 (PDP): masked without ``pii:read`` as ``+62812******89`` — the
country code and the operator prefix, which say nothing about the person, and the last two digits, enough
for an officer on the phone to confirm "the number ending in 89" without learning it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, func

from domain.nik import stars
from domain.read_fields import Mask

#: Digits after the country code 62, first digit 8 (mobile numbers).
MIN_DIGITS = 10
MAX_DIGITS = 13
#: Separators people write inside a number; anything else is refused.
_SEPARATORS = frozenset(" -.()")
#: Longest text looked at at all: a number with separators fits many times over, and a message never
#: echoes more than this.
MAX_INPUT_LENGTH = 40
#: Characters kept in front when masking: "+62" and the three-digit operator prefix ("812").
_KEPT_HEAD = 6


class InvalidPhoneNumber(ValueError):
    """A number that is not an Indonesian mobile number. The message says what is wrong and how to fix it."""


def parse_phone_number(raw: str) -> str:
    """`raw` as E.164 (``+628…``): ``08…``, ``+628…`` and ``628…`` are accepted, with spaces, dashes, dots
    and parentheses between the digits."""
    if not isinstance(raw, str):
        raise InvalidPhoneNumber("a phone number is text, e.g. 0812-3456-7890")
    if len(raw) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber(
            f"a phone number has at most {MAX_DIGITS + 3} digits; this text has {len(raw)} characters"
        )
    text = raw.strip()
    plus = text.startswith("+")
    body = text[1:] if plus else text
    if any(not (c.isascii() and c.isdigit()) and c not in _SEPARATORS for c in body):
        raise InvalidPhoneNumber(
            "a phone number contains digits only (spaces, dashes, dots and parentheses between them are fine), "
            "e.g. 0812-3456-7890 or +62 812 3456 7890"
        )
    digits = "".join(c for c in body if c.isdigit())
    if digits.startswith("62"):
        national = digits[2:]
    elif digits.startswith("0") and not plus:
        national = digits[1:]
    else:
        raise InvalidPhoneNumber("an Indonesian phone number starts with 08, +62 or 62, e.g. 0812-3456-7890")
    if not national.startswith("8"):
        raise InvalidPhoneNumber("a mobile number starts with 08 (+628); landline numbers are not accepted")
    if not MIN_DIGITS <= len(national) <= MAX_DIGITS:
        raise InvalidPhoneNumber(
            f"a mobile number has {MIN_DIGITS}-{MAX_DIGITS} digits after +62 (0812-3456-7890 has 11); "
            f"this one has {len(national)}"
        )
    return "+62" + national


def mask_phone_number(value: str) -> str:
    """``+6281234567889`` → ``+62812******89``: country code and operator prefix, then the last two digits."""
    if len(value) <= _KEPT_HEAD + 2:
        return "*" * len(value)
    return value[:_KEPT_HEAD] + "*" * (len(value) - _KEPT_HEAD - 2) + value[-2:]


def mask_phone_number_sql(value: ColumnElement[str]) -> ColumnElement[str]:
    """:func:`mask_phone_number` as a SQL expression (the JSON reads, on both databases); NULL stays NULL."""
    length = func.length(value)
    kept = _KEPT_HEAD + 2
    return case(
        (length <= kept, stars(length)),
        else_=func.substr(value, 1, _KEPT_HEAD).concat(stars(length - kept)).concat(func.substr(value, length - 1)),
    )


#: How the API, the console and the audit trail mask a phone number without ``pii:read``.
PHONE_NUMBER = Mask(mask_phone_number, mask_phone_number_sql)
