"""The audit trail: append-only in the ORM and the database, tamper-evident, atomic with its write."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.audit import writes as audit
from domain.audit.models import AuditAppendOnly, AuditEvent
from domain.audit.writes import SYSTEM, verify_chain
from domain.claims.models import Claim
from domain.db import make_engine

TODAY = dt.date.today()


async def _append(engine: AsyncEngine, n: int) -> None:
    for i in range(n):
        async with AsyncSession(engine) as session, session.begin():
            await audit.record(
                session,
                actor=SYSTEM,
                action="test.event",
                entity_type="Thing",
                entity_id=i,
                changes={"n": {"before": i, "after": i + 1}},
                reason="because",
            )


async def _disable_guards(engine: AsyncEngine) -> None:
    """What an attacker with database rights would do first."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            await conn.execute(text("DROP TRIGGER audit_events_no_update"))
            await conn.execute(text("DROP TRIGGER audit_events_no_delete"))


@pytest.fixture
def chain_db(backend: str, migrated_database: Callable[[str, str], str]) -> Callable[[str], str]:
    return lambda purpose: migrated_database(backend, purpose)


async def _report(engine: AsyncEngine) -> audit.ChainReport:
    async with AsyncSession(engine) as session:
        return await verify_chain(session)


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder", "delete_last"])
async def test_verify_names_the_first_broken_link(chain_db: Callable[[str], str], tamper: str) -> None:
    url = await asyncio.to_thread(chain_db, f"chain_{tamper}")
    engine = make_engine(url, null_pool=True)
    try:
        await _append(engine, 6)
        assert (await _report(engine)).ok
        await _disable_guards(engine)
        async with engine.begin() as conn:
            table = AuditEvent.__table__
            if tamper == "edit":
                await conn.execute(update(table).where(table.c.seq == 3).values(reason="nothing to see"))
            elif tamper == "delete":
                await conn.execute(delete(table).where(table.c.seq == 3))
            elif tamper == "delete_last":
                await conn.execute(delete(table).where(table.c.seq == 6))
            else:  # swap the contents of #3 and #4 but keep the sequence numbers in place
                rows = {r.seq: r for r in (await conn.execute(select(table).where(table.c.seq.in_([3, 4])))).all()}
                for seq, other in ((3, 4), (4, 3)):
                    values = {k: v for k, v in rows[other]._mapping.items() if k not in ("id", "seq")}
                    await conn.execute(update(table).where(table.c.seq == seq).values(**values))
        report = await _report(engine)
        assert not report.ok
        expected = {"edit": 3, "delete": 4, "reorder": 3, "delete_last": 6}[tamper]
        assert report.first_broken_seq == expected, report
    finally:
        await engine.dispose()


async def test_orm_refuses_update_and_delete(writes: Any) -> None:
    await _append(writes.engine, 1)
    async with AsyncSession(writes.engine) as session:
        event = (await session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))).scalar_one()
        event.reason = "rewritten"
        with pytest.raises(AuditAppendOnly):
            await session.flush()
        await session.rollback()
        event = (await session.execute(select(AuditEvent).limit(1))).scalar_one()
        await session.delete(event)
        with pytest.raises(AuditAppendOnly):
            await session.flush()
        await session.rollback()
        with pytest.raises(AuditAppendOnly):
            await session.execute(update(AuditEvent).values(reason="x"))
        with pytest.raises(AuditAppendOnly):
            await session.execute(delete(AuditEvent))


async def test_database_refuses_update_and_delete(writes: Any) -> None:
    await _append(writes.engine, 1)
    for statement in ("UPDATE audit_events SET reason = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with writes.engine.begin() as conn:
                await conn.execute(text(statement))
    assert (await _report(writes.engine)).ok


async def test_crash_between_write_and_audit_leaves_neither(
    writes: Any,
    staff: dict[str, Any],
    register: Any,
    pay: Any,
    new_nik: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def counts() -> tuple[int, int]:
        async with writes.engine.connect() as conn:
            claims = (await conn.execute(select(func.count()).select_from(Claim))).scalar_one()
            events = (await conn.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        return claims, events

    p = (await register(new_nik()))["participant"]
    await pay(p["id"], 2)
    before = await counts()

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut between the claim insert and its audit record")

    monkeypatch.setattr(audit, "record", crash)
    body = await writes.gql(
        "mutation($input: SubmitClaimInput!) { submitClaim(input: $input) { claim { id } errors { code } } }",
        {
            "input": {
                "participantId": p["id"],
                "program": "JKM",
                "cause": "DEATH",
                "incidentDate": TODAY.isoformat(),
                "recipients": [{"name": "Ani", "nik": "5271024403920001", "relationship": "SPOUSE"}],
            }
        },
        staff["verifier"],
    )
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "power cut" not in body["errors"][0]["message"]
    assert await counts() == before
