"""JAMSOS_DATABASE_READ_URL: queries read on the replica; mutations, the access log and tokens use the primary.

Two databases seeded alike stand in for a primary and its replica; the "replica" is then told apart by one
participant whose name differs there. Every read path (the resolvers, the compiled path, its fast lane)
must answer with the replica's name, and the personal-data access log must be written to the primary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from domain.audit.models import DataAccessEvent
from domain.db import make_engine
from domain.participants.models import Participant
from tests.conftest import AUDIENCE, ISSUER, Caller

LOOKUP = "query($m: String!) { participant(membershipNumber: $m) { fullName nik } }"


async def _scalar(url: str, statement: Any) -> Any:
    engine = make_engine(url, null_pool=True)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(statement)
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


@pytest.fixture
def primary_and_replica(backend: str, seeded_database: Callable[[str, str], str]) -> tuple[str, str]:
    """A primary and its "replica", seeded alike (copying runs its own event loop: a sync fixture)."""
    return seeded_database(backend, "replica_primary"), seeded_database(backend, "replica_copy")


async def test_queries_read_on_the_replica_and_the_access_log_goes_to_the_primary(
    primary_and_replica: tuple[str, str], key_path: Path, callers: dict[str, Caller]
) -> None:
    primary, replica = primary_and_replica
    number = await _scalar(primary, select(Participant.membership_number).order_by(Participant.id).limit(1))
    await _scalar(
        replica,
        update(Participant).where(Participant.membership_number == number).values(full_name="Nama Di Replika"),
    )
    original = await _scalar(primary, select(Participant.full_name).where(Participant.membership_number == number))
    assert original != "Nama Di Replika"
    logged = select(func.count()).select_from(DataAccessEvent)
    before_primary, before_replica = await _scalar(primary, logged), await _scalar(replica, logged)

    settings = Settings(
        env="test",
        database_url=primary,
        database_read_url=replica,
        signing_key_path=key_path,
        issuer=ISSUER,
        audience=AUDIENCE,
        # The compiled path and its fast lane on, whatever the environment says: the test follows them.
        compiled_reads=True,
        fast_reads=True,
    )
    app = create_app(settings)
    resolvers_app = create_app(settings.model_copy(update={"compiled_reads": False}))
    admin = callers["admin"]  # pii:read: every answer below is an unmasked read, logged

    async def ask(application: Starlette) -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as client:
            body = {"query": LOOKUP, "variables": {"m": number}}
            response = await client.post("/graphql", json=body, headers=admin.headers)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    try:
        by_resolvers = await ask(resolvers_app)
        counters = app.state.graphql.counters
        by_compiled = await ask(app)
        by_fast_lane = await ask(app)
        assert (counters.compiled, counters.fast_answered) == (2, 1)
    finally:
        for application in (app, resolvers_app):
            await application.state.engine.dispose()
            await application.state.read_engine.dispose()
    for body in (by_resolvers, by_compiled, by_fast_lane):
        assert body["data"]["participant"]["fullName"] == "Nama Di Replika", body
    assert await _scalar(primary, logged) == before_primary + 3
    assert await _scalar(replica, logged) == before_replica
