"""The one private library API the read path keeps, pinned to the versions it is known to hold for.

``schema.compiled.run.page_structure`` reads SQLAlchemy's ``HasCacheKey._generate_cache_key()`` (it pays:
``bench/private_api.py``, bench/RESULTS.md "Private APIs"). A SQLAlchemy outside the range below may change
it without notice, so widening the range in pyproject.toml fails here until this test (and the behaviour it
checks) has been looked at again for the new versions. Everything else the read path uses of its libraries
is public API.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select

from domain.participants.models import Participant
from schema.compiled.run import page_structure

#: The SQLAlchemy releases ``_generate_cache_key`` was checked against (and pyproject.toml allows).
KNOWN = ((2, 1, 9), (2, 2))


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_sqlalchemy_is_pinned_to_the_checked_range() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    [spec] = [d for d in pyproject["project"]["dependencies"] if d.startswith("sqlalchemy")]
    lower = re.search(r">=\s*([\d.]+)", spec)
    upper = re.search(r"<\s*([\d.]+)", spec)
    assert lower is not None
    assert upper is not None, "an upper bound: the private call holds for the releases checked"
    assert (_release(lower.group(1)), _release(upper.group(1))) == KNOWN, spec
    installed = _release(version("sqlalchemy"))
    assert KNOWN[0] <= installed < KNOWN[1], installed


def test_the_structure_key_ignores_values_and_sees_structure() -> None:
    def page(region: str, limit: int, *, by_segment: bool = False) -> Select[Any]:
        stmt = select(Participant.id).where(Participant.region_code.startswith(region))
        if by_segment:
            stmt = stmt.where(Participant.segment == "PU")
        return stmt.limit(limit)

    key_a, binds_a = page_structure(page("52.71", 10))
    key_b, binds_b = page_structure(page("52.03", 25))
    key_c, _ = page_structure(page("52.71", 10, by_segment=True))
    assert key_a == key_b
    hash(key_a)
    assert key_a != key_c
    assert [b.effective_value for b in binds_a] == ["52.71", 10]
    assert [b.effective_value for b in binds_b] == ["52.03", 25]
