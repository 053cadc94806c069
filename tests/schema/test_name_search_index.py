"""nameContains is served by an index on PostgreSQL (pg_trgm GIN); SQLite has none that fits and scans.

The plan is read for the predicate the resolver builds (``schema.core.filters.name_search``). On the tiny test
data the planner would rather scan the table, or walk the whole (full_name, id) sort index and filter each
entry; so inside a transaction that is rolled back, sequential scans are switched off and the sort index is
dropped. What the plan must then show is the ILIKE evaluated *by* the trigram index ("Index Cond"), which
no B-tree can do for a pattern with a leading ``%``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.participants.models import Participant
from schema.core.filters import name_search
from tests.conftest import GQL, Caller


async def _plan(engine: AsyncEngine, needle: str) -> str:
    condition = name_search(Participant.full_name, needle, "filter.nameContains")
    assert condition is not None
    stmt = select(Participant.id).where(condition)
    compiled = stmt.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SET LOCAL enable_seqscan = off"))
            await conn.execute(text("DROP INDEX ix_participants_full_name_id"))
            rows = await conn.execute(text(f"EXPLAIN {compiled}"))
        else:
            rows = await conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
        plan = "\n".join(str(r[-1]) for r in rows)
        await conn.rollback()
        return plan


async def test_name_search_uses_the_trigram_index_on_postgresql(engine: AsyncEngine) -> None:
    plan = await _plan(engine, "udi")
    if engine.dialect.name == "postgresql":
        assert "Bitmap Index Scan on ix_participants_full_name_search" in plan, plan
        assert "Index Cond: ((full_name)::text ~~* '%udi%'::text)" in plan, plan
    else:
        # SQLite: no index type serves '%text%'; the search scans (the region scope narrows it first).
        assert "SCAN" in plan, plan


async def test_name_search_still_finds_names(gql: GQL, callers: dict[str, Caller]) -> None:
    body = await gql(
        '{ participants(first: 5, filter: {nameContains: "a"}) { totalCount } }',
        caller=callers["admin"],
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # under 3 characters: refused
    body = await gql(
        '{ participants(first: 5, filter: {nameContains: "ari"}) { totalCount } }', caller=callers["admin"]
    )
    assert "errors" not in body, body


@pytest.mark.parametrize("needle", ["100%", "a_b", "back\\slash"])
async def test_wildcards_are_literal(gql: GQL, callers: dict[str, Caller], needle: str) -> None:
    body = await gql(
        "query($n: String!) { participants(filter: {nameContains: $n}) { totalCount } }",
        {"n": needle},
        callers["admin"],
    )
    assert body["data"]["participants"]["totalCount"] == 0
