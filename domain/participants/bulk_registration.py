"""Registering a list of participants, set-based, with the rules of ``registerParticipant``.

The rules are :func:`domain.participants.writes.registration_problems`, the one function
:func:`~domain.participants.writes.register_participant` applies too; what differs is how their inputs are
read and how the rows are written:

1. **Look up in sets** what the rules read: the regions the rows name (exists, is a village), the districts
   of their NIKs, the employers of wage earners, and the NIKs already registered — one query per thousand
   keys instead of four per row.
2. **Each row in list order**: a NIK already registered (before, or by an earlier row of the list) is
   counted unchanged — a correction is ``updateParticipant``'s, with a reason — as the row-by-row import
   always did; otherwise the row's problems, or ``OUT_OF_REGION`` for a village outside the caller's region.
3. **Write the chunk**: membership numbers drawn as the single write draws them and checked free in sets,
   the participants and their programmes appended in bulk (on PostgreSQL a ``COPY`` each, with ids drawn
   from the sequence first; on SQLite a multi-row INSERT with RETURNING, ids matched back by NIK, and an
   executemany), the registry records with the same NIK linked in one UPDATE per thousand, and one
   ``participant.register`` audit event per participant with the same changes the single write records,
   hash-chained in row order and appended in bulk. The Monev rollups follow through their triggers (on
   PostgreSQL once per ``COPY``). The cyclic garbage collector is paused for each chunk
   (:func:`~domain.participants.bulk.collector_paused`).
4. **Beside the database** (PostgreSQL, :class:`ChunkWriter`): a chunk's ids and membership numbers are drawn
   right after its lookups — one for each NIK not registered yet, so a refused row's is left unused, as a
   rolled-back insert leaves its id — and then its checks, events and COPY records are made while the database
   writes the chunk before, whose NIKs and numbers count as taken meanwhile.

Transactions, ``written``, ``all_or_nothing``, ``dry_run``, ``start``, ``progress`` and ``checkpoint`` work
as in :mod:`domain.participants.bulk_ledger` (a chunk is written before its checkpoint, which may commit;
``progress`` counts the rows checked); a chunk run again after a crash finds its NIKs registered and
registers nobody twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import writes as audit
from domain.audit.models import AuditChainHead
from domain.db import CopyRecords, bind_rows, copy_rows, insert_rows, new_ids, one_of, refresh_statistics, utcnow
from domain.participants.bulk import CHUNK, Checkpoint, Progress, Refusals, collector_paused
from domain.participants.models import Employer, Participant, ParticipantProgram, ParticipantStatus
from domain.participants.rules import Segment
from domain.participants.writes import (
    Lookups,
    Registration,
    link_beneficiaries_by_nik,
    membership_number_candidate,
    registration_problems,
    snapshot_of,
)
from domain.regions.codes import RegionErrorCode
from domain.regions.models import Region
from domain.regions.rules import InvalidRegionCode, RegionCode, RegionLevel, placement
from domain.writes.caller import Caller
from domain.writes.errors import Problem
from domain.writes.placement import OutOfRegion

_KEYS = 1000


@dataclass
class BulkRegistered(Refusals):
    """What registering a list did (or, when not ``written``, would do)."""

    created: int = 0
    #: Rows whose NIK is already registered (nothing to do).
    unchanged: int = 0
    written: bool = False
    #: The index of the next item not yet done (the list's length at the end).
    cursor: int = 0


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _KEYS] for i in range(0, len(values), _KEYS)]


async def _lookups(session: AsyncSession, rows: Sequence[Registration]) -> Lookups:
    codes: set[str] = set()
    districts: set[str] = set()
    # Each distinct value parsed once (a list names a few villages and districts, many times each).
    for raw in {r.region_code for r in rows}:
        with contextlib.suppress(InvalidRegionCode):
            codes.add(RegionCode.parse(raw).code)
    # A NIK's district is its first six digits (what parse_nik reads); the NIK is checked by the rules, which
    # read the district only of a NIK that parses, so a code from a NIK they refuse is looked up for nothing.
    for nik in {r.nik.strip() for r in rows}:
        if nik[:6].isdigit() and nik.isascii():
            districts.add(f"{nik[0:2]}.{nik[2:4]}.{nik[4:6]}")
    numbers = {
        r.employer_registration_number for r in rows if r.segment is Segment.PU and r.employer_registration_number
    }
    levels: dict[str, RegionLevel] = {}
    for chunk in _chunks(sorted(codes)):
        levels.update((code, level) for code, level in await session.execute(
            select(Region.code, Region.level).where(Region.code.in_(chunk))
        ))  # fmt: skip
    known: set[str] = set()
    for chunk in _chunks(sorted(districts)):
        known.update(
            (
                await session.scalars(
                    select(Region.code).where(Region.code.in_(chunk), Region.level == RegionLevel.DISTRICT)
                )
            ).all()
        )
    employers: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(sorted(numbers)):
        for number, eid, region in await session.execute(
            select(Employer.registration_number, Employer.id, Employer.region_code).where(
                Employer.registration_number.in_(chunk)
            )
        ):
            employers[number] = (eid, region)
    return Lookups(levels, known, employers)


async def _registered(session: AsyncSession, niks: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(niks))):
        found.update(
            (await session.scalars(select(Participant.nik).where(one_of(session, Participant.nik, chunk)))).all()
        )
    return found


async def _free_membership_numbers(session: AsyncSession, count: int, today: dt.date, pending: set[str]) -> list[str]:
    """`count` KPJs not yet taken, drawn like :func:`membership_number_candidate` draws one (`pending`: taken
    by rows not yet written)."""
    chosen: set[str] = set()
    for _ in range(20):
        wanted = count - len(chosen)
        if wanted == 0:
            break
        fresh = {membership_number_candidate(today) for _ in range(wanted)} - chosen - pending
        for chunk in _chunks(sorted(fresh)):
            taken = await session.scalars(
                select(Participant.membership_number).where(one_of(session, Participant.membership_number, chunk))
            )
            fresh -= set(taken.all())
        chosen |= fresh
    if len(chosen) < count:
        raise RuntimeError("could not find free membership numbers")
    return sorted(chosen)


async def register_participants_bulk(
    session: AsyncSession,
    caller: Caller,
    registrations: Sequence[Registration],
    *,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    start: int = 0,
    chunk_size: int = CHUNK,
    progress: Progress | None = None,
    checkpoint: Checkpoint | None = None,
) -> BulkRegistered:
    """Register `registrations` from index `start` on (see the module docstring); the caller commits when
    ``written``."""
    outcome = BulkRegistered(cursor=start)
    earnest = not dry_run and not all_or_nothing
    writer = ChunkWriter(session, caller)
    for begin in range(start, len(registrations), chunk_size):
        end = min(begin + chunk_size, len(registrations))
        with collector_paused():
            await writer.add(registrations[begin:end], begin, outcome)
            if (earnest and checkpoint is not None) or end == len(registrations):
                await writer.flush()  # a checkpoint commits: every chunk checked so far is written first
        if progress is not None:
            progress(end, dict(outcome.reasons))
        if earnest and checkpoint is not None:
            await checkpoint(end)
    outcome.written = not dry_run and not (all_or_nothing and outcome.refused)
    return outcome


@dataclass
class _Ready:
    """A chunk checked and made ready to be written: its rows (participants, programmes, audit events) and
    their COPY records, and what its rows take that the database does not show until it is written."""

    rows: list[dict[str, Any]]
    programs: list[dict[str, Any]]
    events: list[dict[str, Any]]
    records: dict[str, CopyRecords | None]
    niks: set[str]
    numbers: set[str]
    #: The chain after this chunk's events (the next chunk's events follow them).
    after: audit.ChainPosition
    #: The participants are in the table already (SQLite: inserted for their ids).
    inserted: bool = False


class ChunkWriter:
    """Registers a list chunk by chunk, in order, in the session's transaction (see the module docstring).

    On PostgreSQL the ids are drawn from the sequence before anything is written, so a chunk's checks, its
    events, rows and COPY records are made while the database writes the chunk before (:meth:`add`); a chunk
    is then left pending until the next :meth:`add` or :meth:`flush`. What a pending chunk changes is known
    here, not yet in the tables: its NIKs count as registered and its membership numbers as taken for the next
    chunk, and its last event is where the next chunk's events chain on — exactly what the next chunk would
    read after it was written, as no one else writes participants or events while this transaction holds the
    chain's lock. On SQLite (ids from the insert) each chunk is written before :meth:`add` returns.
    """

    def __init__(self, session: AsyncSession, caller: Caller) -> None:
        self.session = session
        self.caller = caller
        self.today = dt.date.today()
        self.pending: _Ready | None = None

    async def add(self, chunk: Sequence[Registration], begin: int, outcome: BulkRegistered) -> None:
        """Check the items of `chunk` (list indexes from `begin` on) into `outcome` and write the chunk before."""
        session = self.session
        # The chain's lock before the chunk's reads (again after a checkpoint's commit): a concurrent run over
        # the same list then finds this one's participants registered instead of colliding with them.
        head = await audit.lock_chain(session)
        await refresh_statistics(session, Participant, ParticipantProgram)
        pending = self.pending
        lookups = await _lookups(session, chunk)
        taken = await _registered(session, [r.nik for r in chunk])
        if pending is not None:
            taken |= pending.niks
        if self.session.get_bind().dialect.name != "postgresql":
            # SQLite: the ids come from the insert, so the chunk is checked, inserted and written at once.
            accepted = _accepted(self.caller, chunk, begin, lookups, taken, outcome, self.today)
            outcome.cursor, outcome.created = begin + len(chunk), outcome.created + len(accepted)
            if accepted:
                numbers = await _free_membership_numbers(session, len(accepted), self.today, set())
                rows = [{**v, "membership_number": n} for (_, v), n in zip(accepted, numbers, strict=True)]
                by_nik = dict(await insert_rows(session, Participant, rows, Participant.nik, Participant.id))
                position = audit.ChainPosition(head.seq, head.last_hash)
                ids = [by_nik[row["nik"]] for row in rows]
                await self._write(await self._ready(accepted, rows, ids, position, True), head)
            return
        # PostgreSQL: ids and membership numbers for every NIK not registered yet are drawn before the checks
        # (one of a row the checks refuse is left unused, as a rolled-back insert leaves its id), so that the
        # checks too run while the chunk before is written.
        wanted = len({r.nik for r in chunk} - taken)
        numbers = await _free_membership_numbers(
            session, wanted, self.today, set() if pending is None else pending.numbers
        )
        ids = await new_ids(session, Participant, wanted) or []
        after = pending.after if pending is not None else audit.ChainPosition(head.seq, head.last_hash)
        # The events are chained from a copy of the chain's position: the head row (an ORM object) must not
        # change while the statements writing the chunk before flush the session.
        position = audit.ChainPosition(after.seq, after.last_hash)
        # The chunk before is written (the database working) while this process checks this one and makes its
        # events and records, yielding every few hundred rows so that the statements go on; nothing else uses
        # the session meanwhile.
        writing = None if pending is None else asyncio.create_task(self._write(pending, head))
        try:
            accepted = []
            for start in range(0, len(chunk), _EVENTS_PER_TURN):
                await asyncio.sleep(0)
                part = chunk[start : start + _EVENTS_PER_TURN]
                accepted += _accepted(self.caller, part, begin + start, lookups, taken, outcome, self.today)
            rows = [{**v, "membership_number": n} for (_, v), n in zip(accepted, numbers, strict=False)]
            for row, pid in zip(rows, ids, strict=False):
                row["id"] = pid
            ready = await self._ready(accepted, rows, ids[: len(rows)], position, False) if accepted else None
        finally:
            if writing is not None:
                await asyncio.wait([writing])
                failed = writing.exception()  # taken here, so that it is raised once (below, or after _ready's)
        if writing is not None and failed is not None:
            raise failed
        outcome.cursor, outcome.created = begin + len(chunk), outcome.created + len(accepted)
        self.pending = ready

    async def flush(self) -> None:
        """Write the pending chunk, if any."""
        if self.pending is not None:
            ready, self.pending = self.pending, None
            await self._write(ready, await audit.lock_chain(self.session))

    async def _ready(
        self,
        accepted: list[tuple[Registration, dict[str, Any]]],
        rows: list[dict[str, Any]],
        ids: list[int],
        position: audit.ChainPosition,
        inserted: bool,
    ) -> _Ready:
        caller, dialect = self.caller, self.session.get_bind().dialect
        programs = [
            {"participant_id": pid, "program": p, "segment": data.segment, "since": self.today}
            for pid, (data, _) in zip(ids, accepted, strict=True)
            for p in sorted(data.programs)
        ]
        events: list[dict[str, Any]] = []
        for start in range(0, len(rows), _EVENTS_PER_TURN):
            batch = [
                audit.NewEvent(
                    "participant.register", "Participant", pid, audit.created(snapshot_of(row, data.programs))
                )
                for pid, row, (data, _) in zip(
                    ids[start : start + _EVENTS_PER_TURN],
                    rows[start : start + _EVENTS_PER_TURN],
                    accepted[start : start + _EVENTS_PER_TURN],
                    strict=True,
                )
            ]
            events += audit.chained_rows(position, caller.actor, batch, caller.meta, normalised=True)
            await asyncio.sleep(0)
        records: dict[str, CopyRecords | None] = {"participants": None, "programs": None, "events": None}
        if not inserted:
            records["participants"] = bind_rows(dialect, Participant, rows)
            await asyncio.sleep(0)
            records["programs"] = bind_rows(dialect, ParticipantProgram, programs)
            await asyncio.sleep(0)
            records["events"] = audit.bound_rows(dialect, events)
        return _Ready(
            rows, programs, events, records, {row["nik"] for row in rows},
            {row["membership_number"] for row in rows}, position, inserted,
        )  # fmt: skip

    async def _write(self, ready: _Ready, head: AuditChainHead) -> None:
        session = self.session
        if not ready.inserted:
            await copy_rows(session, Participant, ready.rows, records=ready.records["participants"])
        await copy_rows(session, ParticipantProgram, ready.programs, records=ready.records["programs"])
        await link_beneficiaries_by_nik(session, [row["nik"] for row in ready.rows])
        await audit.append_rows(session, ready.events, head, records=ready.records["events"])


def _accepted(
    caller: Caller,
    chunk: Sequence[Registration],
    begin: int,
    lookups: Lookups,
    taken: set[str],
    outcome: BulkRegistered,
    today: dt.date,
) -> list[tuple[Registration, dict[str, Any]]]:
    """The items of `chunk` to register, with their column values, in order; the others counted in `outcome`."""
    accepted: list[tuple[Registration, dict[str, Any]]] = []
    for i, data in enumerate(chunk, start=begin):
        if data.nik in taken:
            outcome.unchanged += 1
            continue
        try:
            checked, problems = registration_problems(caller, data, lookups, today)
        except OutOfRegion as exc:
            outcome.refuse(i, [Problem("regionCode", RegionErrorCode.OUT_OF_REGION, str(exc))])
            continue
        if problems:
            outcome.refuse(i, problems)
            continue
        taken.add(data.nik)
        accepted.append(
            (
                data,
                {
                    "nik": checked.nik,
                    "full_name": checked.full_name,
                    "birth_date": data.birth_date,
                    "sex": data.sex,
                    "segment": data.segment,
                    # Nothing is paid yet: status follows the ledger, as for a single registration.
                    "status": ParticipantStatus.INACTIVE,
                    "funding_source": data.funding_source,
                    "employer_id": checked.employer_id,
                    "monthly_wage": data.monthly_wage,
                    "phone_number": checked.phone_number,
                    "paid_through": None,
                    "contribution_months": 0,
                    "recent_contribution_months": 0,
                    "registered_at": utcnow(),
                    "version": 1,
                    **placement(checked.region_code),
                },
            )
        )
    return accepted


#: Rows checked, or events made, between two turns of the event loop while the chunk before is written (see
#: ChunkWriter.add).
_EVENTS_PER_TURN = 500
