"""Parsing and masking of participants' mobile numbers (domain.participants.phone)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from domain.participants.phone import InvalidPhoneNumber, mask_phone_number, parse_phone_number


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("081234567890", "+6281234567890"),
        ("0812-3456-7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("(0812) 3456.7890", "+6281234567890"),
        ("08123456789", "+628123456789"),  # 10 digits after +62: the shortest
        ("+62 8123 4567 8901 2", "+628123456789012"),  # 13 digits after +62: the longest
    ],
)
def test_usual_ways_of_writing_a_number_give_e164(typed: str, stored: str) -> None:
    assert parse_phone_number(typed) == stored


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("", "starts with 08, +62 or 62"),
        ("081234567", "has 10-13 digits after +62"),
        ("+62 8123 4567 8901 23", "has 10-13 digits after +62"),
        ("0211234567", "landline"),
        ("+0812345678", "starts with 08, +62 or 62"),
        ("0812-3456-789O", "digits only"),
        ("0812\x003456789", "digits only"),
        ("0812\u0663456789", "digits only"),  # an Arabic-Indic digit
        ("+62+812345678", "digits only"),
        ("0" * 41, "at most"),
    ],
)
def test_what_is_not_a_mobile_number_is_refused_with_a_reason(bad: str, says: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=re.escape(says)) as refused:
        parse_phone_number(bad)
    assert len(str(refused.value)) < 200


@pytest.mark.parametrize("not_text", [81234567890, None, b"081234567890"])
def test_a_value_that_is_not_text_is_refused(not_text: Any) -> None:
    with pytest.raises(InvalidPhoneNumber):
        parse_phone_number(not_text)


def test_masking_keeps_the_operator_prefix_and_the_last_two_digits() -> None:
    assert mask_phone_number("+6281234567889") == "+62812******89"
    assert mask_phone_number("+628123456789") == "+62812*****89"
    assert mask_phone_number("+628123456789012") == "+62812********12"
    assert mask_phone_number("12345678") == "********"  # too short to keep anything
