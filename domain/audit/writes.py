"""The audit trail: append-only, hash-chained events for every write, and a log of personal-data reads.

Each event stores the hash of the one before it (``prev_hash``) and its own hash over a canonical
serialisation, and a gap-free sequence number, so ``jamsos audit verify`` can name the first edited, deleted
or reordered row. Appending takes the one-row ``audit_chain_head`` lock first (a row lock on PostgreSQL,
the write lock on SQLite), so concurrent writers extend the chain one after the other instead of forking it.

Personal data: an event records what was written, unmasked (a write function never masks what it
appends, or the trail could not tell which NIK was changed); reading the trail masks it like any other read
of personal data (``auth.policy.masked_changes``).

The tables and their append-only guards live in :mod:`domain.audit.models`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.models import AuditChainHead, AuditEvent
from domain.db import utcnow


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something, as the audit trail records it (the domain's view of a principal)."""

    subject: str
    kind: str  # user | client | system
    client_id: str | None = None


SYSTEM = Actor(subject="system", kind="system")


@dataclass(frozen=True, slots=True)
class RequestMeta:
    request_id: str | None = None
    source_ip: str | None = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable for the audit trail")


def normalise(value: Any) -> Any:
    """What a JSON column gives back for `value`: the form that is stored and hashed."""
    if value is None or type(value) in (str, int, bool):
        return value  # JSON gives these back as they are (the round trip below would too, slowly)
    return json.loads(json.dumps(value, default=_jsonable))


def _canonical(e: AuditEvent) -> bytes:
    fields = {
        "seq": e.seq,
        "occurred_at": e.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_subject": e.actor_subject,
        "actor_kind": e.actor_kind,
        "client_id": e.client_id,
        "action": e.action,
        "entity_type": e.entity_type,
        "entity_id": e.entity_id,
        "changes": e.changes,
        "reason_code": e.reason_code,
        "reason": e.reason,
        "request_id": e.request_id,
        "source_ip": e.source_ip,
        "prev_hash": e.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(e: AuditEvent) -> str:
    return hashlib.sha256(_canonical(e)).hexdigest()


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"field": {"before": …, "after": …}}`` for the fields whose values differ."""
    changed: dict[str, dict[str, Any]] = {}
    for k in sorted(set(before) | set(after)):
        was, now = normalise(before.get(k)), normalise(after.get(k))
        if was != now:
            changed[k] = {"before": was, "after": now}
    return changed


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str | int | None,
    changes: dict[str, Any] | None = None,
    reason: str | None = None,
    reason_code: str | None = None,
    meta: RequestMeta | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction (it commits or rolls back with it)."""
    # Take the chain lock first: UPDATE locks the head row (PostgreSQL) / takes the write lock (SQLite).
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
    entry = AuditEvent(
        seq=head.seq + 1,
        occurred_at=utcnow(),
        actor_subject=actor.subject,
        actor_kind=actor.kind,
        client_id=actor.client_id,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        changes=normalise(changes) if changes is not None else None,
        reason_code=reason_code,
        reason=reason,
        request_id=meta.request_id,
        source_ip=meta.source_ip,
        prev_hash=head.last_hash,
    )
    entry.hash = compute_hash(entry)
    head.seq = entry.seq
    head.last_hash = entry.hash
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class ChainReport:
    checked: int
    first_broken_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_links(events: Sequence[AuditEvent], previous: AuditEvent | None) -> tuple[str, int] | None:
    """The first broken link among `events` (in seq order) after `previous`, as (problem, seq)."""
    for e in events:
        expected_seq = (previous.seq if previous else 0) + 1
        if e.seq != expected_seq:
            return (f"event #{expected_seq} is missing (next is #{e.seq}): a row was deleted or reordered", e.seq)
        expected_prev = previous.hash if previous else None
        if e.prev_hash != expected_prev:
            return (f"event #{e.seq} does not follow #{expected_seq - 1}: the chain was reordered or cut", e.seq)
        if compute_hash(e) != e.hash:
            return (f"event #{e.seq} was edited after it was written (its hash does not match)", e.seq)
        previous = e
    return None


async def verify_chain(session: AsyncSession, batch: int = 5000) -> ChainReport:
    """Walk the whole chain in order and name the first broken link."""
    previous: AuditEvent | None = None
    checked = 0
    while True:
        after = previous.seq if previous else 0
        events = (
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not events:
            break
        broken = check_links(events, previous)
        if broken:
            return ChainReport(checked=checked, first_broken_seq=broken[1], problem=broken[0])
        checked += len(events)
        previous = events[-1]
    head = await session.get(AuditChainHead, 1)
    last = previous.seq if previous else 0
    if head is not None and head.seq != last:
        return ChainReport(checked, head.seq, f"the chain should end at #{head.seq} but ends at #{last}: rows deleted")
    return ChainReport(checked=checked)
