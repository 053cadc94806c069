"""The private library APIs the service keeps, pinned to the versions they are known to hold for.

- ``schema.compiled.run.page_structure`` reads SQLAlchemy's ``HasCacheKey._generate_cache_key()`` (it pays:
  ``bench/private_api.py``, bench/RESULTS.md "Private APIs"). A SQLAlchemy outside the range below may change
  it without notice, so widening the range in pyproject.toml fails here until this test (and the behaviour
  it checks) has been looked at again for the new versions.
- Strawberry's ``Schema._schema``, the graphql-core ``GraphQLSchema`` it executes against (the plan
  compiler, variable and argument coercion, the cost measure, ``jamsos documents`` validation read it).
  Not a matter of speed: Strawberry 0.341 has no public accessor (its maintainers point to ``_schema``,
  strawberry-graphql/strawberry#2590), and a schema rebuilt from the SDL would lack the custom scalars'
  coercion. Strawberry is pinned to one minor release (pyproject.toml); the test below fails when that pin
  is widened.

Everything else the service uses of its libraries is public API (the uvicorn protocol module is gone:
bench/RESULTS.md "Private APIs"; the cached path's hand-written pipeline steps too: "One pipeline").
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

from graphql import GraphQLSchema
from sqlalchemy import Select, select

from domain.participants.models import Participant
from schema.app import get_schema
from schema.compiled.run import page_structure

#: The SQLAlchemy releases ``_generate_cache_key`` was checked against (and pyproject.toml allows).
KNOWN = ((2, 1, 9), (2, 2))
#: The Strawberry releases ``Schema._schema`` was checked against (and pyproject.toml allows).
KNOWN_STRAWBERRY = ((0, 341), (0, 342))


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _pinned(distribution: str, package: str, known: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    [spec] = [d for d in pyproject["project"]["dependencies"] if d.startswith(distribution)]
    lower = re.search(r">=\s*([\d.]+)", spec)
    upper = re.search(r"<\s*([\d.]+)", spec)
    assert lower is not None
    assert upper is not None, "an upper bound: the private call holds for the releases checked"
    assert (_release(lower.group(1)), _release(upper.group(1))) == known, spec
    installed = _release(version(package))
    assert known[0] <= installed < known[1], installed


def test_sqlalchemy_is_pinned_to_the_checked_range() -> None:
    _pinned("sqlalchemy", "sqlalchemy", KNOWN)


def test_strawberry_is_pinned_and_its_schema_is_the_executed_one() -> None:
    _pinned("strawberry-graphql", "strawberry-graphql", KNOWN_STRAWBERRY)
    schema = get_schema()
    assert isinstance(schema._schema, GraphQLSchema)
    assert schema._schema.get_type("Participant") is not None
    # The very object Strawberry executes against (it links it back to itself).
    assert schema._schema._strawberry_schema is schema  # type: ignore[attr-defined]


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
