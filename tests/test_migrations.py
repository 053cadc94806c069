"""Migrations build the schema the models describe, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from api.migrate import current_revision, head_revision, upgrade
from domain.db import in_migrations_for, make_engine
from domain.models import Base


def test_upgrade_head_matches_models(backend: str, new_database: Callable[[str, str], str]) -> None:
    # Synchronous on purpose: Alembic runs its own event loop (asyncio.run) for the async env.
    url = new_database(backend, "migrations")
    upgrade(url)
    asyncio.run(_compare(url))


async def _compare(url: str) -> None:
    engine = make_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Any) -> list[Any]:
                opts = {"compare_type": True, "include_object": in_migrations_for(sync_conn.dialect.name)}
                context = MigrationContext.configure(sync_conn, opts=opts)
                return list(compare_metadata(context, Base.metadata))

            differences = await conn.run_sync(diff)
        assert differences == [], f"models and migrations disagree: {differences}"
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
