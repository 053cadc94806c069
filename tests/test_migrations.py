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


def test_the_ledger_migration_keeps_the_figures_of_a_database_with_data(
    backend: str, seeded_database: Callable[[str, str], str]
) -> None:
    """Down to before the ledger and up again on a seeded database: the opening balances it writes recount to
    the participants' figures (and neither direction recreates the participants table, which others reference).

    The database is a copy of the seeded template (migrated from zero and seeded once for the run), the same
    rows as migrating and seeding here again."""
    from alembic import command

    from api.migrate import alembic_config

    url = seeded_database(backend, "ledger_migration")
    before = asyncio.run(_figures(url))
    command.downgrade(alembic_config(url), "0003")
    upgrade(url)
    after = asyncio.run(_figures(url))
    assert after == before
    assert any(months for _, months, _ in after)


async def _figures(url: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import func, select

    from domain.participants.models import Contribution, Participant

    engine = make_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            stored = (
                await conn.execute(
                    select(Participant.paid_through, Participant.contribution_months, Participant.id).order_by(
                        Participant.id
                    )
                )
            ).all()
            counted = dict(
                (await conn.execute(select(Contribution.participant_id, func.sum(Contribution.months)).group_by(
                    Contribution.participant_id
                ))).all()
            )  # fmt: skip
    finally:
        await engine.dispose()
    assert all(counted.get(pid, 0) == months for _, months, pid in stored)
    return [tuple(row) for row in stored]
