"""Recording a list of payments of any length, set-based, with the rules of ``recordContributions``.

:func:`domain.participants.ledger.record_contributions` takes at most a thousand payments and refuses the
whole call when one is wrong. A social affairs office's monthly list, a branch's import or the APBD run
(:mod:`domain.participants.apbd`) is longer, and its good rows should go in while the bad ones are reported.
This module runs the same rule functions over the list in chunks:

1. **Whose participants**: an item for a participant that does not exist for the caller (absent, or outside
   their region) is refused ``NOT_FOUND`` first and takes no further part — its reference counts for
   nothing, so a hidden participant cannot change what happens to the caller's own items (as the single
   path never sees it: the import leaves it out, a call naming it is refused whole).
2. **Each item on its own** and references repeated within the list (:func:`ledger.list_problems`, over the
   whole list at once, so a repeat in a later chunk is refused as it is in one call; ``earlier`` names the
   references an input used before this list, a job's earlier chunks of one file). Then, **per chunk, the
   state in sets**: participants, earlier payments by reference, paid months, programmes, employers and
   payer regions (:func:`ledger.load_state`, a thousand keys per statement), and every item in list order
   through :func:`ledger.decide` (an accepted payment's months count for the next payment of the same
   participant, a refused one's do not — as in the single path, where the refused rows are left out).
3. **Write the chunk**: the new ledger rows in one COPY or multi-row INSERTs (:func:`domain.db.copy_rows`), the
   derived figures recounted with the ledger's one UPDATE per thousand
   (:func:`ledger.recompute_participant_figures`), and one ``contribution.record`` event per participant
   changed, hash-chained in order and appended in bulk (:func:`domain.audit.writes.record_many`). The Monev
   rollups follow through their triggers, as for every write.

While the database recounts a thousand participants this process does the work that needs no statement: it
chains the events of the thousand before, and — when no checkpoint commits in between and the next chunk has
no participant in common with this one — decides the next chunk, whose state was read before the recount
(this chunk's writes touch only its own participants, and its references are new to the list, so the next
chunk reads what it would read after them). The events of such chunks are appended together, before the next
checkpoint or at the end (ADR 0018, amended 2026-12-08).

Everything happens in the caller's transaction, and ``written`` tells the caller whether to commit: with
``all_or_nothing`` one refusal anywhere means nothing is to be committed, a dry run never is (both do the
same work first, so their counts and cost are exactly what a real run gives at that moment). Otherwise a
refused item is left out and the rest go in.

For jobs: ``progress(done, refused_by_code)`` is called after each chunk, and ``checkpoint(cursor)`` is
awaited after each chunk written in earnest (not in a dry run or with ``all_or_nothing``), where a job runner
may commit and remember the cursor — the index of the next item. ``start=cursor`` resumes there. A chunk that
ran again after a crash writes nothing twice: its references are already recorded, so its items come back
unchanged (the ledger's idempotency by reference).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import writes as audit
from domain.audit.models import AuditChainHead
from domain.db import CopyRecords, bind_rows, copy_rows, one_of, read_rows, refresh_statistics
from domain.participants.bulk import CHUNK, Checkpoint, Progress, Refusals
from domain.participants.ledger import (
    ContributionItem,
    LedgerState,
    decide,
    list_problems,
    load_state,
    payment_changes,
    recompute_participant_figures,
)
from domain.participants.models import Contribution, Participant
from domain.participants.months import month_number
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.errors import NotFound, Problem
from domain.writes.transactions import open_write_transaction


@dataclass
class BulkRecorded(Refusals):
    """What recording a list did (or, when not ``written``, would do)."""

    created: int = 0
    #: Items whose reference is already recorded for the same payment (nothing to do).
    unchanged: int = 0
    #: Rupiah of the payments created.
    amount: Decimal = Decimal(0)
    written: bool = False
    #: The index of the next item not yet done (the list's length at the end).
    cursor: int = 0
    #: Each reference the list used (its visible items'), with the index of its first use: what the next list
    #: of the same input (a job's next chunk of one file) passes as ``earlier``.
    references: dict[str, int] = field(default_factory=dict)


async def record_contributions_bulk(
    session: AsyncSession,
    caller: Caller,
    items: Sequence[ContributionItem],
    *,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    start: int = 0,
    chunk_size: int = CHUNK,
    progress: Progress | None = None,
    checkpoint: Checkpoint | None = None,
    today: dt.date | None = None,
    earlier: Mapping[str, str] | None = None,
) -> BulkRecorded:
    """Record `items` from index `start` on (see the module docstring); the caller commits when ``written``.
    `earlier`: references used before `items` in the same input, each with the name of its first use
    (:func:`ledger.list_problems`)."""
    today = today or dt.date.today()
    current = month_number(today)
    outcome = BulkRecorded(cursor=start)
    if not items[start:]:
        outcome.written = not dry_run
        return outcome
    await open_write_transaction(session)
    hidden = await _not_visible(session, caller, items)
    shown = [i for i in range(len(items)) if i not in hidden]
    alone = {shown[j]: problems for j, problems in list_problems([items[i] for i in shown], earlier).items()}
    for i in reversed(shown):
        outcome.references[items[i].reference] = i
    earnest = not dry_run and not all_or_nothing
    dialect = session.get_bind().dialect

    async def read(begin: int) -> _Chunk:
        # The chain's lock before the chunk's reads (again after a checkpoint's commit): a concurrent run over
        # the same list then finds this one's payments recorded instead of colliding with them.
        await open_write_transaction(session)
        await refresh_statistics(session, Contribution, Participant)
        end = min(begin + chunk_size, len(items))
        good: list[int] = []
        refusals: list[tuple[int, list[Problem]]] = []
        for i in range(begin, end):
            if i in hidden:
                refusals.append((i, [Problem(f"input[{i}].participantId", WriteCode.NOT_FOUND, hidden[i])]))
            elif i in alone:
                refusals.append((i, [_renumbered(p, shown) for p in alone[i]]))
            else:
                good.append(i)
        return _Chunk(begin, end, good, await load_state(session, [items[i] for i in good]), refusals)

    async def decide_all(chunk: _Chunk) -> None:
        # In list order (an accepted payment's months count for the next payment of the same participant),
        # from the state read before the chunk's writes; a turn of the loop every so many items when this runs
        # beside the chunk before's recount.
        state = chunk.state
        for n, i in enumerate(chunk.good, 1):
            payee = state.payees.get(items[i].participant_id)
            if payee is None or not caller.sees(payee.region_code):  # moved away since the run began
                chunk.refusals.append(
                    (i, [Problem(f"input[{i}].participantId", WriteCode.NOT_FOUND, hidden_message(items[i]))])
                )
            else:
                values, problems = decide(i, items[i], state, caller, current)
                if problems:
                    chunk.refusals.append((i, problems))
                elif isinstance(values, dict):
                    chunk.new_rows.append(values)
                else:
                    chunk.unchanged += 1
            if n % _DECIDED_PER_TURN == 0:
                await asyncio.sleep(0)
        chunk.records = bind_rows(dialect, Contribution, chunk.new_rows)

    writer = _Writer(session, caller, today)
    following: _Chunk | None = await read(start)
    deciding: asyncio.Task[None] | None = None
    try:
        while following is not None:
            chunk, following = following, None
            if deciding is None:
                await decide_all(chunk)
            else:
                await deciding
                deciding = None
            for i, problems in chunk.refusals:
                outcome.refuse(i, problems)
            outcome.created += len(chunk.new_rows)
            outcome.unchanged += chunk.unchanged
            outcome.amount += sum((row["amount"] for row in chunk.new_rows), Decimal(0))
            after = chunk.end if chunk.end < len(items) else None
            # The next chunk read before this one's recount and decided while the database runs it, when nothing
            # is committed in between and the two chunks have no participant in common: then this chunk's writes
            # change nothing the next one reads (its payments' references are new to the list, see list_problems),
            # so it is decided as it would be after them.
            overlap = (
                after is not None
                and not (earnest and checkpoint is not None)
                and chunk.state.ranges.keys().isdisjoint(
                    items[i].participant_id for i in range(after, min(after + chunk_size, len(items)))
                )
            )

            async def read_next(begin: int = after or 0) -> None:
                nonlocal following, deciding
                following = await read(begin)
                deciding = asyncio.create_task(decide_all(following))

            if chunk.new_rows:
                await writer.write(
                    chunk.new_rows, chunk.records, chunk.state, before_recount=read_next if overlap else None
                )
            if not overlap:  # the chunk's events appended before a checkpoint's commit, or at the end
                await writer.flush()
            outcome.cursor = chunk.end
            if progress is not None:
                progress(chunk.end, dict(outcome.reasons))
            if earnest and checkpoint is not None:
                await checkpoint(chunk.end)
            if after is not None and following is None:
                following = await read(after)
    finally:
        if deciding is not None:  # a write failed while the next chunk was being decided
            deciding.cancel()
    outcome.written = not dry_run and not (all_or_nothing and outcome.refused)
    return outcome


@dataclass
class _Chunk:
    """One chunk of the list: its items' indexes, its state and what deciding them gave (merged into the
    outcome when the chunk's turn comes, in list order)."""

    begin: int
    end: int
    good: list[int]
    state: LedgerState
    refusals: list[tuple[int, list[Problem]]]
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    #: The new rows bound for the COPY (made as they are decided).
    records: CopyRecords | None = None


async def _not_visible(session: AsyncSession, caller: Caller, items: Sequence[ContributionItem]) -> dict[int, str]:
    """Items for a participant that does not exist for the caller, with the message of the single path's
    NotFound: refused first, they take no further part (their references count for nothing, so a hidden
    participant cannot change what happens to the caller's own items)."""
    ids = sorted({item.participant_id for item in items})
    seen: set[int] = set()
    for begin in range(0, len(ids), 1000):
        rows = await read_rows(
            session,
            select(Participant.id, Participant.region_code).where(
                one_of(session, Participant.id, ids[begin : begin + 1000])
            ),
        )
        seen.update(pid for pid, region in rows if caller.sees(region))
    return {i: hidden_message(item) for i, item in enumerate(items) if item.participant_id not in seen}


def hidden_message(item: ContributionItem) -> str:
    return str(NotFound("participant", item.participant_id))


def _renumbered(problem: Problem, shown: list[int]) -> Problem:
    """A problem found among the visible items, with the items it names by their index in the whole list."""

    def index(m: re.Match[str]) -> str:
        return f"input[{shown[int(m.group(1))]}]"

    return Problem(_INPUT.sub(index, problem.field or "") or None, problem.code, _INPUT.sub(index, problem.message))


_INPUT = re.compile(r"input\[(\d+)\]")


#: Participants recounted per statement, and events chained (items decided) between two turns of the event
#: loop (see _write).
_RECOUNT = 1000
_EVENTS_PER_TURN = 250
_DECIDED_PER_TURN = 250


class _Writer:
    """Writes the chunks of one list: each chunk's payments, the recount of their participants, and their
    events, chained in order and appended when :meth:`flush` is awaited (before a commit, and at the end).

    The database recounts a thousand participants while this process chains the events of the thousand
    before (a few hundred between two turns of the loop), across the chunks until the next flush; nothing
    else uses the session meanwhile."""

    def __init__(self, session: AsyncSession, caller: Caller, today: dt.date) -> None:
        self.session, self.caller, self.today = session, caller, today
        self.dialect = session.get_bind().dialect
        self.head: AuditChainHead | None = None
        self.position = audit.ChainPosition(0, None)
        self.events: list[dict[str, Any]] = []
        self.bound: list[tuple[Any, ...]] = []
        self.names: list[str] = []
        #: Recounted and not yet chained: participant ids, their figures after, their payments, the state.
        self.recounted: list[
            tuple[list[int], dict[int, tuple[Any, Any]], dict[int, list[dict[str, Any]]], LedgerState]
        ] = []

    async def write(
        self,
        rows: list[dict[str, Any]],
        records: CopyRecords | None,
        state: LedgerState,
        *,
        before_recount: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Append the chunk's payments and recount their participants. `before_recount` (the next chunk's
        reads) runs on the session after the payments are appended, before the recount; what it starts
        (deciding that chunk) then runs beside the recount's statements."""
        session = self.session
        await copy_rows(session, Contribution, rows, records=records)
        touched = sorted({row["participant_id"] for row in rows})
        mine: dict[int, list[dict[str, Any]]] = {pid: [] for pid in touched}
        for row in rows:
            mine[row["participant_id"]].append(row)
        if self.head is None:
            self.head = await audit.lock_chain(session)
            # Chained from a copy of the head's position: the head row (an ORM object) must not change while
            # the recounts flush the session.
            self.position = audit.ChainPosition(self.head.seq, self.head.last_hash)
        if before_recount is not None:
            await before_recount()
        for begin in range(0, len(touched), _RECOUNT):
            ids = touched[begin : begin + _RECOUNT]
            running = asyncio.create_task(self._recount(ids))
            try:
                await self._chain()
            finally:
                await asyncio.wait([running])
            self.recounted.append((ids, running.result(), mine, state))

    async def flush(self) -> None:
        """Chain the events not chained yet and append them all (and the head)."""
        await self._chain()
        if self.head is not None:
            records = CopyRecords(self.names, self.bound)
            await audit.append_rows(self.session, self.events, self.head, records=records)
        self.head, self.events, self.bound = None, [], []

    async def _recount(self, ids: list[int]) -> dict[int, tuple[Any, Any]]:
        session = self.session
        await recompute_participant_figures(session, ids, today=self.today, reload=False)
        figures = select(Participant.id, Participant.paid_through, Participant.contribution_months)
        return {
            pid: (paid, months)
            for pid, paid, months in await read_rows(session, figures.where(one_of(session, Participant.id, ids)))
        }

    async def _chain(self) -> None:
        # One event per participant changed, in participant order, as the single path appends them.
        recounted, self.recounted = self.recounted, []
        for ids, after, mine, state in recounted:
            for start in range(0, len(ids), _EVENTS_PER_TURN):
                batch = [
                    audit.NewEvent(
                        "contribution.record",
                        "Participant",
                        pid,
                        payment_changes(mine[pid], state.payees[pid], after[pid]),
                    )
                    for pid in ids[start : start + _EVENTS_PER_TURN]
                ]
                rows = audit.chained_rows(self.position, self.caller.actor, batch, self.caller.meta)
                bound = audit.bound_rows(self.dialect, rows)
                self.events += rows
                self.bound += bound.records
                self.names = bound.names
                await asyncio.sleep(0)
