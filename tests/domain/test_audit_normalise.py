"""``audit.normalise`` converts the values the writes record directly; it must give exactly what the JSON round
trip it stands for gives (the form stored and hashed)."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
from decimal import Decimal
from typing import Any

import pytest

from domain.audit.writes import _jsonable, created, diff, normalise
from domain.nik import Sex
from domain.participants.models import FundingSource, ParticipantStatus
from domain.participants.rules import Program, Segment


class Plain(enum.Enum):
    A = Decimal("1.50")
    B = (1, dt.date(2026, 1, 2))


class Number(enum.IntEnum):
    ONE = 1


class Text(str, enum.Enum):  # noqa: UP042 (a str mixin, as older enums are written)
    X = "x"


WITA = dt.timezone(dt.timedelta(hours=8))
VALUES: list[Any] = [
    None, True, False, 0, -7, 2**70, "", "Lalu Sapturi", "\u200b", 1.5, -0.0, math.inf, -math.inf,
    Decimal("3500000.00"), Decimal("-1"), Decimal("1E+3"), dt.date(2026, 12, 7),
    dt.datetime(2026, 12, 7, 15, 4, 5, 123456, tzinfo=dt.UTC), dt.datetime(2026, 12, 7, 23, 0, tzinfo=WITA),
    Sex.M, Segment.BPU, FundingSource.APBD, ParticipantStatus.INACTIVE, Program.JKK, Plain.A, Plain.B,
    Number.ONE, Text.X, [], (), [1, "a", None], (Decimal("2"), dt.date(2000, 1, 1)), {}, {"a": {"before": None,
    "after": Segment.PU}}, {"k": [Sex.F, {"n": Decimal("0.10")}]}, {1: "int key"}, {True: 1, "true": 2},
    {None: 0}, {Text.X: 1}, {1.5: "float key"}, ["JKK", "JKM"], [Program.JKM, Program.JKK],
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_normalise_gives_what_the_json_round_trip_gives(value: Any) -> None:
    expected = json.loads(json.dumps(value, default=_jsonable))
    got = normalise(value)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert repr(got) == repr(expected)  # the same types, not only equal values (1 is not True, "x" not Text.X)


def test_what_json_cannot_hold_is_refused_as_before() -> None:
    for value in (object(), {"a": object()}, [b"bytes"], {frozenset(): 1}):
        with pytest.raises(TypeError):
            normalise(value)


def test_created_gives_the_diff_from_nothing() -> None:
    """``created(after)`` stands for ``diff({}, after)`` in the set-based writes: the same changes, the same types,
    the same order (None values left out)."""
    after = {f"field_{i:02d}": value for i, value in enumerate(VALUES)}
    assert repr(created(after)) == repr(diff({}, after))
    assert list(created(after)) == list(diff({}, after))
    assert created({"b": None, "a": Segment.PU}) == {"a": {"before": None, "after": "PU"}}
