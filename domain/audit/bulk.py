"""Appending many audit events at once: the same chain, hashes computed in order, one INSERT for all.

A set-based write changes many records in one statement per table, and still leaves one event per record
changed, exactly as if each had been written alone: the same fields, the same canonical form, each event's
``prev_hash`` the hash of the one before. The chain lock is taken once for the whole set, so a concurrent
writer's events come before or after it, never inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.models import AuditChainHead, AuditEvent
from domain.audit.writes import Actor, RequestMeta, compute_hash, normalise
from domain.db import utcnow


@dataclass(frozen=True, slots=True)
class Entry:
    """One event to append, as :func:`domain.audit.writes.record` takes it."""

    action: str
    entity_type: str
    entity_id: str | int | None
    changes: dict[str, Any] | None = None
    reason: str | None = None
    reason_code: str | None = None


async def record_many(
    session: AsyncSession, *, actor: Actor, entries: Sequence[Entry], meta: RequestMeta | None = None
) -> int:
    """Append `entries` to the chain in their order, in the caller's transaction; the number appended."""
    if not entries:
        return 0
    result = await session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(seq=AuditChainHead.seq))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(AuditChainHead(id=1, seq=0, last_hash=None))
        await session.flush()
    head = (
        await session.execute(
            select(AuditChainHead).where(AuditChainHead.id == 1).execution_options(populate_existing=True)
        )
    ).scalar_one()
    meta = meta or RequestMeta()
    seq, last_hash = head.seq, head.last_hash
    rows: list[dict[str, Any]] = []
    for entry in entries:
        seq += 1
        # A transient event, only to compute its hash by the one canonical form (never added to the session).
        event = AuditEvent(
            seq=seq,
            occurred_at=utcnow(),
            actor_subject=actor.subject,
            actor_kind=actor.kind,
            client_id=actor.client_id,
            action=entry.action,
            entity_type=entry.entity_type,
            entity_id=None if entry.entity_id is None else str(entry.entity_id),
            changes=normalise(entry.changes) if entry.changes is not None else None,
            reason_code=entry.reason_code,
            reason=entry.reason,
            request_id=meta.request_id,
            source_ip=meta.source_ip,
            prev_hash=last_hash,
        )
        event.hash = compute_hash(event)
        last_hash = event.hash
        rows.append({c: getattr(event, c) for c in _COLUMNS})
    await session.execute(insert(AuditEvent), rows)
    head.seq, head.last_hash = seq, last_hash
    await session.flush()
    return len(rows)


_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_subject",
    "actor_kind",
    "client_id",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "reason_code",
    "reason",
    "request_id",
    "source_ip",
    "prev_hash",
    "hash",
)
