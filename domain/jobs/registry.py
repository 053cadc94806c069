"""The job kinds: a registry of kind → the async function that does one chunk of such a job.

A kind's function gets the session of the chunk's transaction, the caller the job runs as, the job row (its
cursor says where to start) and its parameters, does at most one chunk of rows and says what it did as a
:class:`Chunk`. The runner (:mod:`domain.jobs.runner`) owns the transaction: it commits the chunk's rows
together with the job's new cursor and counts, so a job stopped anywhere resumes exactly after its last
committed chunk. Any bulk write becomes a job by registering its chunk function here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.writes.caller import Caller

if TYPE_CHECKING:
    from domain.jobs.models import Job


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One line of a job's report CSV, in the columns the imports use (row, column, value, code, message)."""

    row: int
    column: str | None
    value: str | None
    code: str
    message: str


@dataclass
class Chunk:
    """What one chunk did. `cursor` is where the next chunk starts; `done` when there is no next chunk."""

    processed: int
    cursor: str | None
    done: bool
    counts: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    report: list[ReportLine] = field(default_factory=list)
    #: Money committed per month by this chunk, per paying budget (a region code, or a funding source).
    costs: dict[str, Decimal] = field(default_factory=dict)


ChunkFunction = Callable[[AsyncSession, Caller, "Job", dict[str, Any]], Awaitable[Chunk]]

_KINDS: dict[str, ChunkFunction] = {}


class UnknownKind(LookupError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"no job kind {kind!r} is registered (known: {', '.join(sorted(_KINDS)) or 'none'})")


def job_kind(name: str) -> Callable[[ChunkFunction], ChunkFunction]:
    """Register the decorated chunk function as the job kind `name` (once: a second registration is a bug)."""

    def register(function: ChunkFunction) -> ChunkFunction:
        if name in _KINDS and _KINDS[name] is not function:
            raise ValueError(f"job kind {name!r} is registered twice")
        _KINDS[name] = function
        return function

    return register


def chunk_function(kind: str) -> ChunkFunction:
    try:
        return _KINDS[kind]
    except KeyError:
        raise UnknownKind(kind) from None


def known_kinds() -> list[str]:
    return sorted(_KINDS)
