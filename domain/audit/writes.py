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
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.models import AuditChainHead, AuditEvent
from domain.db import CopyRecords, bind_rows, copy_rows, utcnow


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

    That is ``json.loads(json.dumps(value, default=_jsonable))``; the types the writes record (scalars, dates,
    decimals, enums, dicts with text keys, lists) are converted directly, as that round trip converts them
    (tests/domain/test_audit_normalise.py compares the two), anything else goes the round trip.
    """
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    direct = _DIRECT.get(kind)
    if direct is not None:
        return direct(value)
    if isinstance(value, enum.Enum) and not isinstance(value, float):
        # The encoder writes a str or int enum as the str or int it is, and any other through _jsonable.
        if isinstance(value, str):
            _DIRECT[kind] = str.__str__
        elif isinstance(value, int):
            _DIRECT[kind] = int
        else:
            _DIRECT[kind] = _enum_value
        return _DIRECT[kind](value)
    return json.loads(json.dumps(value, default=_jsonable))


def _enum_value(value: enum.Enum) -> Any:
    return normalise(value.value)


def _normalise_dict(value: dict[Any, Any]) -> Any:
    if all(type(k) is str for k in value):
        return {k: v if type(v) in _JSON_SCALARS else normalise(v) for k, v in value.items()}
    return json.loads(json.dumps(value, default=_jsonable))  # keys the encoder converts (and may merge)


def _normalise_list(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [v if type(v) in _JSON_SCALARS else normalise(v) for v in value]


_DIRECT: dict[type, Any] = {
    float: float,  # a float comes back as itself (inf and nan too)
    decimal.Decimal: str,
    dt.datetime: lambda v: v.astimezone(dt.UTC).isoformat(),
    dt.date: dt.date.isoformat,
    dict: _normalise_dict,
    list: _normalise_list,
    tuple: _normalise_list,
}


#: The columns an event's hash covers (all but its id and the hash itself).
_HASHED = (
    "seq", "occurred_at", "actor_subject", "actor_kind", "client_id", "action", "entity_type", "entity_id",
    "changes", "reason_code", "reason", "request_id", "source_ip", "prev_hash",
)  # fmt: skip


#: The canonical serialisation: keys sorted, no spaces, UTF-8 as it is.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
#: The hashed columns sorted, on either side of "changes" (so the serialisation of the changes, the one large
#: value, can be made once and spliced in: the set-based writes store that same text).
_BEFORE_CHANGES = ("action", "actor_kind", "actor_subject")
_AFTER_CHANGES = tuple(sorted(set(_HASHED) - {*_BEFORE_CHANGES, "changes"}))
assert sorted(_HASHED) == [*_BEFORE_CHANGES, "changes", *_AFTER_CHANGES]


def changes_json(changes: Any) -> str:
    """The canonical serialisation of an event's (normalised) changes, as its hash covers them."""
    return _CANONICAL.encode(changes)


def _canonical_values(values: dict[str, Any], changes_text: str | None = None) -> bytes:
    """``json.dumps`` of the hashed columns with sorted keys, with `changes_text` (the changes' own
    :func:`changes_json`, when it was made already) in the place of the changes."""
    before = {name: values[name] for name in _BEFORE_CHANGES}
    after = {name: values[name] for name in _AFTER_CHANGES}
    after["occurred_at"] = values["occurred_at"].astimezone(dt.UTC).isoformat(timespec="microseconds")
    text = changes_json(values["changes"]) if changes_text is None else changes_text
    return f'{_CANONICAL.encode(before)[:-1]},"changes":{text},{_CANONICAL.encode(after)[1:]}'.encode()


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


def created(after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``diff({}, after)`` (the changes of a row that did not exist), without comparing each value to nothing:
    for the set-based writes, which make one per row."""
    changed = {}
    for k in sorted(after):
        now = normalise(after[k])
        if now is not None:
            changed[k] = {"before": None, "after": now}
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


def _chained(
    head: AuditChainHead | ChainPosition, actor: Actor, meta: RequestMeta, event: NewEvent, *, normalised: bool = False
) -> tuple[dict[str, Any], str]:
    """The column values of the next event after `head`, hashed, and `head` moved on to it, and the canonical
    text of its changes (the one place an event is made: :func:`record` makes an object of the values,
    :func:`record_many` appends them as they are, with that text for the changes)."""
    values: dict[str, Any] = {
        "seq": head.seq + 1,
        "occurred_at": utcnow(),
        "actor_subject": actor.subject,
        "actor_kind": actor.kind,
        "client_id": actor.client_id,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": None if event.entity_id is None else str(event.entity_id),
        "changes": event.changes if normalised or event.changes is None else normalise(event.changes),
        "reason_code": event.reason_code,
        "reason": event.reason,
        "request_id": meta.request_id,
        "source_ip": meta.source_ip,
        "prev_hash": head.last_hash,
    }
    text = changes_json(values["changes"])
    values["hash"] = hashlib.sha256(_canonical_values(values, text)).hexdigest()
    head.seq = values["seq"]
    head.last_hash = values["hash"]
    return values, text


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
    values, _ = _chained(
        head, actor, meta or RequestMeta(), NewEvent(action, entity_type, entity_id, changes, reason, reason_code)
    )
    entry = AuditEvent(**values)
    session.add(entry)
    await session.flush()
    return entry


#: Events per statement of :func:`record_many` (a COPY on PostgreSQL, an executemany on SQLite).
_EVENTS_PER_STATEMENT = 20_000


async def record_many(
    session: AsyncSession,
    *,
    actor: Actor,
    events: Sequence[NewEvent],
    meta: RequestMeta | None = None,
    normalised: bool = False,
) -> int:
    """Append `events` in order, as :func:`record` would one after the other, with one lock of the chain and
    a bulk append (for the set-based writes: thousands of events without an ORM object each; the changes are
    stored as the canonical text the hash was computed over). Returns the last sequence number.

    `normalised`: every event's changes are :func:`diff`'s output as it was returned (already what
    :func:`normalise` gives), so they are not normalised again."""
    head = await lock_chain(session)
    if events:
        await append_rows(session, chained_rows(head, actor, events, meta, normalised=normalised))
    return head.seq


@dataclass(slots=True)
class ChainPosition:
    """Where the chain stands (the head's sequence number and hash), for :func:`chained_rows` to move on
    while the session is busy elsewhere: the head row itself is only changed once the rows are appended."""

    seq: int
    last_hash: str | None


def chained_rows(
    head: AuditChainHead | ChainPosition,
    actor: Actor,
    events: Sequence[NewEvent],
    meta: RequestMeta | None = None,
    *,
    normalised: bool = False,
) -> list[dict[str, Any]]:
    """:func:`record_many`'s first half, for a set-based write that makes its events while its other
    statements run: the rows of `events` after `head` (from :func:`lock_chain`, moved on to the last of
    them), for :func:`append_rows`. Called again with the same head, it goes on where it stopped."""
    meta = meta or RequestMeta()
    rows = []
    for event in events:
        values, text = _chained(head, actor, meta, event, normalised=normalised)
        values["changes"] = text if event.changes is not None else None
        rows.append(values)
    return rows


#: The columns of :func:`chained_rows`' rows that are already what the driver takes (the changes' text).
_PREPARED = ("changes",)


def bound_rows(dialect: Dialect, rows: list[dict[str, Any]]) -> CopyRecords:
    """Rows of :func:`chained_rows` bound for the append (:func:`domain.db.bind_rows`), for a set-based write
    that binds them while its other statements run and passes them to :func:`append_rows`."""
    return bind_rows(dialect, AuditEvent, rows, prepared=_PREPARED)


async def append_rows(
    session: AsyncSession,
    rows: list[dict[str, Any]],
    head: AuditChainHead | None = None,
    *,
    records: CopyRecords | None = None,
) -> None:
    """:func:`record_many`'s second half: append the rows of :func:`chained_rows` in bulk, and the head
    (`head` moved on to the last row when the rows were made from a :class:`ChainPosition`). `records`: the
    rows bound already (:func:`bound_rows`)."""
    if head is not None and rows:
        head.seq, head.last_hash = rows[-1]["seq"], rows[-1]["hash"]
    for start in range(0, len(rows), _EVENTS_PER_STATEMENT):
        end = start + _EVENTS_PER_STATEMENT
        part = None if records is None else CopyRecords(records.names, records.records[start:end])
        await copy_rows(session, AuditEvent, rows[start:end], prepared=_PREPARED, records=part)
    await session.flush()  # the head row's new seq and hash


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
