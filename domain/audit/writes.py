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

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.models import AuditChainHead, AuditEvent
from domain.db import copy_rows, utcnow


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


#: Types a JSON column gives back as they are (exactly these types: a str enum comes back as a str).
_JSON_SCALARS = (str, int, bool, type(None))


def normalise(value: Any) -> Any:
    """What a JSON column gives back for `value`: the form that is stored and hashed.

    That is ``json.loads(json.dumps(value, default=_jsonable))``; the types the writes put in their events
    (dicts with string keys, lists, decimals, dates, enums) are converted as that round trip converts them,
    without it (a set-based write appends thousands of events); anything else takes the round trip."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if kind is dict and all(type(k) is str for k in value):
        return {k: normalise(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [normalise(v) for v in value]
    if kind is decimal.Decimal or kind is dt.date or kind is dt.datetime:
        return _jsonable(value)
    if isinstance(value, enum.Enum):  # as JSON writes a str or int enum: its value
        return normalise(value.value)
    return json.loads(json.dumps(value, default=_jsonable))


#: The columns an event's hash covers (all but its id and the hash itself).
_HASHED = (
    "seq", "occurred_at", "actor_subject", "actor_kind", "client_id", "action", "entity_type", "entity_id",
    "changes", "reason_code", "reason", "request_id", "source_ip", "prev_hash",
)  # fmt: skip


def _canonical_values(values: dict[str, Any]) -> bytes:
    fields = {name: values[name] for name in _HASHED}
    fields["occurred_at"] = values["occurred_at"].astimezone(dt.UTC).isoformat(timespec="microseconds")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _canonical(e: AuditEvent) -> bytes:
    return _canonical_values({name: getattr(e, name) for name in _HASHED})


def compute_hash(e: AuditEvent) -> str:
    return hashlib.sha256(_canonical(e)).hexdigest()


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"field": {"before": …, "after": …}}`` for the fields whose values differ."""
    changed = {}
    for k in sorted(set(before) | set(after)):
        was, now = normalise(before.get(k)), normalise(after.get(k))
        if was != now:
            changed[k] = {"before": was, "after": now}
    return changed


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One event to append with :func:`record_many` (the actor and request are the batch's)."""

    action: str
    entity_type: str
    entity_id: str | int | None
    changes: dict[str, Any] | None = None
    reason: str | None = None
    reason_code: str | None = None


async def lock_chain(session: AsyncSession) -> AuditChainHead:
    """Take the chain's lock for this transaction (making the head row on a database's first write) and
    return the head: appends, and the set-based writes' reads, then follow the transactions before."""
    # Take the chain lock first: UPDATE locks the head row (PostgreSQL) / takes the write lock (SQLite).
    lock = update(AuditChainHead).where(AuditChainHead.id == 1).values(seq=AuditChainHead.seq)
    if (await session.execute(lock)).rowcount == 0:  # type: ignore[attr-defined]
        try:
            async with session.begin_nested():
                session.add(AuditChainHead(id=1, seq=0, last_hash=None))
        except IntegrityError:  # a concurrent first write made it (we waited for its commit): lock that one
            await session.execute(lock)
    return (
        await session.execute(
            select(AuditChainHead).where(AuditChainHead.id == 1).execution_options(populate_existing=True)
        )
    ).scalar_one()


def _chained(head: AuditChainHead, actor: Actor, meta: RequestMeta, event: NewEvent) -> dict[str, Any]:
    """The column values of the next event after `head`, hashed, and `head` moved on to it (the one place an
    event is made: :func:`record` makes an object of them, :func:`record_many` inserts them as they are)."""
    values: dict[str, Any] = {
        "seq": head.seq + 1,
        "occurred_at": utcnow(),
        "actor_subject": actor.subject,
        "actor_kind": actor.kind,
        "client_id": actor.client_id,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": None if event.entity_id is None else str(event.entity_id),
        "changes": normalise(event.changes) if event.changes is not None else None,
        "reason_code": event.reason_code,
        "reason": event.reason,
        "request_id": meta.request_id,
        "source_ip": meta.source_ip,
        "prev_hash": head.last_hash,
    }
    values["hash"] = hashlib.sha256(_canonical_values(values)).hexdigest()
    head.seq = values["seq"]
    head.last_hash = values["hash"]
    return values


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
    head = await lock_chain(session)
    entry = AuditEvent(
        **_chained(
            head, actor, meta or RequestMeta(), NewEvent(action, entity_type, entity_id, changes, reason, reason_code)
        )
    )
    session.add(entry)
    await session.flush()
    return entry


#: Events per INSERT of :func:`record_many` (an executemany; the driver batches it further).
_EVENTS_PER_STATEMENT = 5000


async def record_many(
    session: AsyncSession, *, actor: Actor, events: Sequence[NewEvent], meta: RequestMeta | None = None
) -> int:
    """Append `events` in order, as :func:`record` would one after the other, with one lock of the chain and
    a bulk INSERT (for the set-based writes: thousands of events without an ORM object each; ``COPY`` on
    PostgreSQL, :func:`domain.db.copy_rows`). Returns the last sequence number."""
    head = await lock_chain(session)
    if not events:
        return head.seq
    meta = meta or RequestMeta()
    for start in range(0, len(events), _EVENTS_PER_STATEMENT):
        rows = [_chained(head, actor, meta, event) for event in events[start : start + _EVENTS_PER_STATEMENT]]
        await copy_rows(session, AuditEvent, rows)
    await session.flush()  # the head row's new seq and hash
    return head.seq


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
