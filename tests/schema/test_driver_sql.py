"""Compiled SQL text on the driver's connection (schema.core.driver_sql): seen by the engine's listeners, safe on
failure.

On PostgreSQL the fast lane's JSON statement goes to asyncpg directly. The statement counter of the
query-count tests and the scoping guard listen to SQLAlchemy's ``before_cursor_execute``; they must still see
it. A connection the driver finds broken must not go back to the pool, and the request it failed is handed
to the full pipeline, which answers it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from auth.scopes import Role, Scope
from domain.claims.models import Claim
from domain.participants.models import Participant
from schema.core.context import ConnectionReader
from schema.core.driver_sql import DRIVER_SQL
from tests.conftest import COMPILED_PATH_ON

S2 = (Path(__file__).parents[2] / "bench" / "queries" / "S2.graphql").read_text()
# These tests are about the statements the compiled path sends: it is on for them whatever the environment says.
pytestmark = pytest.mark.usefixtures("compiled_path_on")


def national_without_pii(mint: Any, admin_scopes: frozenset[Scope]) -> dict[str, str]:
    """Every region, NIKs masked: the caller whose lookups PostgreSQL answers with one JSON statement."""
    scopes = frozenset(s for s in admin_scopes if s is not Scope.PII_READ)
    return {"Authorization": f"Bearer {mint(Role.ANALYST, None, scopes)}"}


async def claimant(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        number = await conn.scalar(
            select(Participant.membership_number)
            .join(Claim, Claim.participant_id == Participant.id)
            .group_by(Participant.id, Participant.membership_number)
            .having(func.count(Claim.id) >= 1)
            .order_by(Participant.id)
            .limit(1)
        )
    assert number is not None
    return str(number)


async def test_the_engines_listeners_see_the_fast_lanes_statement(
    app: Starlette, client: httpx.AsyncClient, engine: AsyncEngine, callers: Any, mint: Any, count_statements: Any
) -> None:
    headers = national_without_pii(mint, callers["admin"].scopes)
    payload = {"query": S2, "variables": {"m": await claimant(engine)}}
    app.state.graphql.ready.clear()
    count_statements.count = 0
    # The full pipeline's compiled path: SQLAlchemy executes the statements (and keeps their text).
    first = await client.post("/graphql", json=payload, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["participant"]["claims"]["edges"], first.text
    through_sqlalchemy = count_statements.count
    answered, driver, count_statements.count = app.state.graphql.counters.fast_answered, DRIVER_SQL.driver, 0
    repeat = await client.post("/graphql", json=payload, headers=headers)
    assert repeat.content == first.content
    assert app.state.graphql.counters.fast_answered == answered + 1
    assert count_statements.count == through_sqlalchemy >= 1, "the listener must see the fast lane's statements"
    if engine.dialect.name == "postgresql":
        assert count_statements.count == 1, "one JSON statement"
        assert DRIVER_SQL.driver == driver + 1, "on PostgreSQL the statement goes to asyncpg directly"
    else:
        assert DRIVER_SQL.driver == driver, "SQLite keeps SQLAlchemy's execution"


@pytest.fixture
async def one_connection_app(settings: Settings) -> AsyncIterator[Starlette]:
    """The suite's database behind an app whose pool holds exactly one connection (so its backend is known)."""
    application = create_app(settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0, **COMPILED_PATH_ON}))
    yield application
    await application.state.engine.dispose()


async def test_a_connection_lost_under_the_fast_lane_is_dropped_and_the_pipeline_answers(
    one_connection_app: Starlette, engine: AsyncEngine, callers: Any, mint: Any
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver's own connection is used on PostgreSQL only")
    app = one_connection_app
    own: AsyncEngine = app.state.engine
    headers = national_without_pii(mint, callers["admin"].scopes)
    payload = {"query": S2, "variables": {"m": await claimant(engine)}}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jamsos.test") as client:
        first = await client.post("/graphql", json=payload, headers=headers)
        assert first.status_code == 200, first.text
        answered = app.state.graphql.counters.fast_answered
        assert (await client.post("/graphql", json=payload, headers=headers)).content == first.content
        assert app.state.graphql.counters.fast_answered == answered + 1
        async with own.connect() as conn:  # the pool's only connection
            backend = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as other:  # the suite's own pool, another backend of the same database
            assert await other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})

        handed_on, driver = app.state.graphql.counters.fast_handed_on, DRIVER_SQL.driver
        after = await client.post("/graphql", json=payload, headers=headers)
        # The fast lane met the dead connection on the driver, dropped it and handed the request on; the
        # pipeline got a new connection from the pool (the dead one would have failed it with a 503).
        assert DRIVER_SQL.driver > driver
        assert app.state.graphql.counters.fast_handed_on == handed_on + 1
        assert (after.status_code, after.content) == (200, first.content)
        answered = app.state.graphql.counters.fast_answered
        assert (await client.post("/graphql", json=payload, headers=headers)).content == first.content
        assert app.state.graphql.counters.fast_answered == answered + 1


async def test_an_invalidated_connection_is_left_to_sqlalchemy(engine: AsyncEngine) -> None:
    """After an invalidation the connection is SQLAlchemy's to reconnect: the driver path steps aside."""
    reader = ConnectionReader(engine, autocommit=True)
    try:
        connection = await reader._open()  # checked out, nothing run on it yet (no transaction begun)
        await connection.invalidate()
        sqlalchemy = DRIVER_SQL.sqlalchemy
        assert [tuple(r) for r in await reader.text_rows("SELECT 2", ())] == [(2,)]
        assert DRIVER_SQL.sqlalchemy == sqlalchemy + 1
    finally:
        await reader.close()
