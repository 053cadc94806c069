"""``domain.audit.writes.normalise`` gives what the JSON round trip gives, for every kind of value an event holds
(its fast paths skip the round trip; the stored and hashed form must not change)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from typing import Any

import pytest

from domain.audit.writes import _jsonable, normalise
from domain.nik import Sex
from domain.participants.models import FundingSource, ParticipantStatus
from domain.participants.rules import Program, Segment


class Plain(enum.Enum):
    A = "a"
    B = 2
    C = (1, "x")


class Number(enum.IntEnum):
    X = 3


VALUES: list[Any] = [
    None, True, 0, "s", 1.5, float("inf"), decimal.Decimal("16800.00"), decimal.Decimal("1E+3"),
    dt.date(2026, 1, 31), dt.datetime(2026, 1, 1, 3, 4, 5, 6, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 1, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    Plain.A, Plain.B, Plain.C, Number.X, FundingSource.APBD, ParticipantStatus.ACTIVE, Segment.BPU, Program.JKK, Sex.F,
    ["a", Program.JKM, (1, 2)], {"a": {"before": None, "after": dt.date(2020, 1, 1)}}, {1: "x", "y": 2},
    {"k": [Plain.C, {"z": decimal.Decimal(1)}]}, (), {},
]  # fmt: skip


@pytest.mark.parametrize("value", [*VALUES, VALUES, {"all": VALUES}], ids=repr)
def test_normalise_is_the_json_round_trip(value: Any) -> None:
    expected = json.loads(json.dumps(value, default=_jsonable))
    got = normalise(value)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # the same types and key order: the same hash


def test_what_json_cannot_hold_is_still_refused() -> None:
    with pytest.raises(TypeError):
        normalise({"a": {1, 2}})
