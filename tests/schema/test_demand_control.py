"""Demand control: every list a router must size carries ``@listSize``, with the server's own numbers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType, GraphQLType
from sqlalchemy import func, select
from strawberry.federation.schema_directives import Cost, ListSize

from demo.regions import region_rows
from domain.claims.models import ClaimBenefit, ClaimStatus
from domain.db import make_engine
from domain.monev.periods import MAX_RANGE_MONTHS
from domain.participants.models import FundingSource
from domain.participants.rules import Program, Segment
from domain.regions.rules import RegionLevel
from schema.app import schema
from schema.core.bounds import (
    CLAIM_BENEFITS_SIZE,
    CLAIM_HISTORY_SIZE,
    DEFAULT_PAGE_SIZE,
    FUNDING_SOURCES_SIZE,
    PROGRAMS_SIZE,
    REGION_ANCESTORS_SIZE,
    REGION_CHILDREN_SIZE,
    ROUTER_MAX_COST,
    SEGMENTS_SIZE,
    TOTAL_COUNT_COST,
    TREND_MONTHS_SIZE,
)


def _unwrap(graphql_type: GraphQLType) -> GraphQLType:
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    return graphql_type


def _is_list(graphql_type: GraphQLType) -> bool:
    inner = graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
    return isinstance(inner, GraphQLList)


def _directives(field: Any, kind: type) -> list[Any]:
    definition = field.extensions.get("strawberry-definition")
    return [d for d in (definition.directives if definition else []) if isinstance(d, kind)]


def _object_fields() -> list[tuple[str, str, Any]]:
    return [
        (type_name, field_name, field)
        for type_name, graphql_type in schema._schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType) and not type_name.startswith("__")
        for field_name, field in graphql_type.fields.items()
    ]


def _sized_by_parent() -> set[tuple[str, str]]:
    """(connection type, field) pairs a parent's @listSize(sizedFields:) already sizes."""
    sized = set()
    for _, _, field in _object_fields():
        for directive in _directives(field, ListSize):
            for name in directive.sized_fields or []:
                sized.add((_unwrap(field.type).name, name))
    return sized


def test_every_list_of_objects_is_sized() -> None:
    sized_by_parent = _sized_by_parent()
    unsized = [
        f"{type_name}.{field_name}"
        for type_name, field_name, field in _object_fields()
        if _is_list(field.type)
        and not isinstance(_unwrap(field.type), GraphQLScalarType)  # scalars cost nothing to a router
        and field_name != "_entities"  # the federation spec's; its size is the router's own batch
        and (type_name, field_name) not in sized_by_parent
        and not _directives(field, ListSize)
    ]
    assert unsized == [], (
        "give these list fields @listSize so a router can price them: directives=demand.page() for a "
        "connection with `first`, directives=demand.bounded(N) (N a constant in schema.core.limits) otherwise"
    )


def test_connections_are_sliced_by_first() -> None:
    connections = [
        (f"{type_name}.{field_name}", field)
        for type_name, field_name, field in _object_fields()
        if _unwrap(field.type).name.endswith("Connection")
    ]
    assert len(connections) >= 5
    for name, field in connections:
        assert _directives(field, ListSize), f"{name}: add directives=demand.page()"
        (directive,) = _directives(field, ListSize)
        assert directive.slicing_arguments == ["first"], name
        assert directive.sized_fields == ["edges"], name
        assert directive.assumed_size == DEFAULT_PAGE_SIZE, name
        assert "first" in field.args, name


def test_total_count_is_priced() -> None:
    counts = [field for _, field_name, field in _object_fields() if field_name == "totalCount"]
    assert counts
    assert all([d.weight for d in _directives(f, Cost)] == [TOTAL_COUNT_COST] for f in counts)


def test_sizes_match_the_domain() -> None:
    assert len(Program) == PROGRAMS_SIZE
    assert len(Segment) == SEGMENTS_SIZE
    assert len(FundingSource) == FUNDING_SOURCES_SIZE
    assert MAX_RANGE_MONTHS + 1 == TREND_MONTHS_SIZE
    assert len(ClaimStatus) == CLAIM_HISTORY_SIZE
    assert len(RegionLevel) - 1 == REGION_ANCESTORS_SIZE
    children = Counter(row[4] for row in region_rows())  # parent code of every Kemendagri region
    assert max(n for parent, n in children.items() if parent is not None) <= REGION_CHILDREN_SIZE


async def test_benefit_lines_fit_the_assumed_size(seeded_url: str) -> None:
    engine = make_engine(seeded_url, null_pool=True)
    async with engine.connect() as conn:
        per_claim = select(func.count().label("n")).select_from(ClaimBenefit).group_by(ClaimBenefit.claim_id).subquery()
        largest = (await conn.execute(select(func.max(per_claim.c.n)))).scalar_one()
    await engine.dispose()
    assert 0 < largest <= CLAIM_BENEFITS_SIZE


def test_sdl_advertises_the_directives() -> None:
    sdl = schema.as_str()
    assert '"@cost"' in sdl
    assert '"@listSize"' in sdl
    assert f"@listSize(assumedSize: {REGION_CHILDREN_SIZE}, requireOneSlicingArgument: false)" in sdl
    assert "null" not in "".join(line for line in sdl.splitlines() if "@listSize(" in line)  # composition rejects


def test_readme_router_config_quotes_the_limits() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"max: {ROUTER_MAX_COST}" in readme
    assert f"list_size: {DEFAULT_PAGE_SIZE}" in readme
