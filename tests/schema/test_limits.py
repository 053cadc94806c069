"""Limits that hold: every document is measured before it runs and refused with QUERY_TOO_COMPLEX above a limit.

The cost is the one the SDL advertises to a router (@listSize/@cost, schema.core.cost), so the region-tree
query that took seconds of CPU is refused with its measured cost, while ordinary pages pass.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLError, parse
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.app import schema
from schema.core.bounds import (
    MAX_ALIASES,
    MAX_COST,
    MAX_DIRECTIVES,
    MAX_DIRECTIVES_PER_LOCATION,
    MAX_FRAGMENT_NESTING,
    MAX_PAGE_SIZE,
    MAX_QUERY_DEPTH,
    MAX_TOKENS,
)
from schema.core.cost import DirectiveCount, FragmentProblem, count_directives, fragment_nesting, measure, price_table
from schema.core.errors import format_errors
from tests.conftest import GQL, Caller

REGION_TREE = (
    "{ regions(first: 100, level: PROVINCE) { edges { node { children { children { children { code name } } } } } } }"
)
PRICES = price_table(schema._schema)


def cost_of(query: str, variables: dict[str, Any] | None = None) -> int:
    figures = measure(
        schema._schema,
        PRICES,
        parse(query),
        operation_name=None,
        variables=variables,
        max_fragment_nesting=MAX_FRAGMENT_NESTING,
        max_depth=MAX_QUERY_DEPTH,
        max_list_size=MAX_PAGE_SIZE,
    )
    return figures.cost


def test_cost_follows_the_advertised_numbers() -> None:
    # regions 1 + edges sized by first=3: 3 x (edge 1 + node 1 + children: 110 regions x 1).
    assert cost_of("{ regions(first: 3) { edges { node { code children { code } } } } }") == 1 + 3 * (1 + 1 + 110)
    # totalCount carries @cost(weight: 10).
    assert cost_of("{ regions(first: 3) { totalCount } }") == 1 + 10
    # Without first, the connection is assumed to hold its default page (20).
    assert cost_of("{ regions { edges { node { code } } } }") == 1 + 20 * 2
    # A variable slices like a literal; fragments cost what they would cost written out.
    assert cost_of("query($n: Int) { regions(first: $n) { edges { node { code } } } }", {"n": 5}) == 1 + 5 * 2
    written = cost_of("{ regions(first: 5) { edges { node { code parent { code } } } } }")
    spread = "{ regions(first: 5) { edges { node { ...R } } } } fragment R on Region { code parent { code } }"
    assert cost_of(spread) == written


def test_the_region_tree_costs_far_above_the_limit() -> None:
    one = cost_of(REGION_TREE)
    four = cost_of("{ " + " ".join(f"a{i}: {REGION_TREE[2:-2]}" for i in range(4)) + " }")
    assert one > 40 * MAX_COST
    assert four == 4 * one


async def test_the_region_tree_is_refused_before_execution(
    gql: GQL, callers: dict[str, Caller], engine: AsyncEngine
) -> None:
    query = "{ " + " ".join(f"a{i}: {REGION_TREE[2:-2]}" for i in range(4)) + " }"
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        body = await gql(query, caller=callers["admin"])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == "cost"
    assert error["extensions"]["measured"] == cost_of(query)
    assert error["extensions"]["maximum"] == MAX_COST
    assert f"{cost_of(query):,}" in error["message"]
    assert not [s for s in statements if "regions" in s]  # no resolver ran (token checks may read their tables)


async def test_an_ordinary_page_passes(gql: GQL, callers: dict[str, Caller]) -> None:
    body = await gql(
        "{ participants(first: 100) { totalCount edges { node { fullName region { code } programs { program } } } } }",
        caller=callers["admin"],
    )
    assert "errors" not in body, body


@pytest.mark.parametrize(
    ("query", "limit", "maximum"),
    [
        ("{ " + " ".join(f"a{i}: me {{ subject }}" for i in range(MAX_ALIASES + 1)) + " }", "aliases", MAX_ALIASES),
        ("{ " + 'region(code: "52") { parent { ' * 7 + "code" + " } }" * 7 + " }", "depth", MAX_QUERY_DEPTH),
        ("{ me { " + "subject " * (MAX_TOKENS + 10) + "} }", "tokens", MAX_TOKENS),
        ("{ me { " + "subject @skip(if: false) " * (MAX_DIRECTIVES + 1) + "} }", "directives", MAX_DIRECTIVES),
        # Directives nobody defined: refused by the count, before validation would visit each one.
        ("{ me { " + "subject @x " * (MAX_DIRECTIVES + 1) + "} }", "directives", MAX_DIRECTIVES),
        (
            "{ me { subject " + "@skip(if: false) " * (MAX_DIRECTIVES_PER_LOCATION + 1) + "} }",
            "directivesPerLocation",
            MAX_DIRECTIVES_PER_LOCATION,
        ),
        (
            "query Q" + " @x" * (MAX_DIRECTIVES_PER_LOCATION + 1) + " { me { subject } }",
            "directivesPerLocation",
            MAX_DIRECTIVES_PER_LOCATION,
        ),
        (
            "{ me { ...F" + " @x" * (MAX_DIRECTIVES_PER_LOCATION + 1) + " } } fragment F on Me { subject }",
            "directivesPerLocation",
            MAX_DIRECTIVES_PER_LOCATION,
        ),
    ],
    ids=[
        "aliases",
        "depth",
        "tokens",
        "directives",
        "unknown-directives",
        "on-a-field",
        "on-an-operation",
        "on-a-spread",
    ],
)
async def test_shape_limits_are_query_too_complex(
    gql: GQL, callers: dict[str, Caller], query: str, limit: str, maximum: int
) -> None:
    body = await gql(query, caller=callers["admin"])
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert error["extensions"]["limit"] == limit
    assert error["extensions"]["maximum"] == maximum
    assert error["extensions"]["measured"] > maximum
    assert str(maximum) in error["message"].replace(",", "")


def test_directives_are_counted_wherever_they_are_written() -> None:
    document = parse(
        "query Q($a: Boolean! @x) @y { me { subject @include(if: $a) @skip(if: false) ... on Me @z { subject } "
        "...F @w } } fragment F on Me @v { subject @include(if: $a) }"
    )
    assert count_directives(document) == DirectiveCount(total=8, most_in_one_place=2)
    assert count_directives(parse("{ me { subject } }")) == DirectiveCount(0, 0)


async def test_directives_within_the_limits_pass(gql: GQL, callers: dict[str, Caller]) -> None:
    fields = "subject @include(if: $a) @skip(if: false) " * (MAX_DIRECTIVES // 2)
    body = await gql(f"query($a: Boolean!) {{ me {{ {fields} }} }}", {"a": True}, caller=callers["admin"])
    assert "errors" not in body, body
    assert body["data"]["me"]["subject"]


async def test_depth_counts_through_fragments(gql: GQL, callers: dict[str, Caller]) -> None:
    # Each fragment is shallow; spread into each other they nest 14 levels of `parent`.
    fragments = (
        " ".join(f"fragment F{i} on Region {{ parent {{ ...F{i + 1} }} }}" for i in range(13))
        + " fragment F13 on Region { code }"
    )
    body = await gql('{ region(code: "52.71.01.1001") { ...F0 } } ' + fragments, caller=callers["admin"])
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] in {"depth", "fragments"}


async def test_cyclic_fragments_are_refused_without_recursion(gql: GQL, callers: dict[str, Caller]) -> None:
    body = await gql(
        "{ ...A } fragment A on Query { ...B } fragment B on Query { me { subject } ...A }", caller=callers["admin"]
    )
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "cycle" in error["message"]


async def test_a_long_fragment_chain_is_refused_without_recursion(gql: GQL, callers: dict[str, Caller]) -> None:
    """550 fragments spreading the next (within the token limit): deeper than Python recursion would go."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(550))
    body = await gql("{ ...F0 } " + chain + " fragment F550 on Query { me { subject } }", caller=callers["admin"])
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert error["extensions"]["limit"] == "fragments"


def test_fragment_nesting_is_iterative() -> None:
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(5000))
    with pytest.raises(FragmentProblem):
        fragment_nesting(parse("{ ...F0 } " + chain + " fragment F5000 on Query { __typename }"), 10)
    assert fragment_nesting(parse("{ ...A } fragment A on Query { ...B } fragment B on Query { __typename }"), 10) == 2


async def test_mutations_are_measured_too(gql: GQL, callers: dict[str, Caller]) -> None:
    aliases = " ".join(
        f'm{i}: rejectClaim(id: "x", expectedVersion: 1, reason: "r") {{ errors {{ code }} }}' for i in range(31)
    )
    body = await gql(f"mutation {{ {aliases} }}", caller=callers["admin"])
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_the_parsers_token_error_is_query_too_complex_wherever_it_fires() -> None:
    """A parser cache parses before schema.core.limits sees the document; the error keeps its code all the same."""
    with pytest.raises(GraphQLError) as raised:
        parse("{ me { subject } }", max_tokens=3)
    (formatted,) = format_errors([raised.value])
    assert formatted.extensions == {"code": "QUERY_TOO_COMPLEX", "limit": "tokens", "maximum": 3}
