"""What the set-based writes of participants and payments share: a refusal of one item, and the hooks a job
runner gives them (progress after each chunk, a checkpoint after each chunk written)."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from domain.codes import UserErrorCode
from domain.writes.errors import Problem

#: Items per chunk: the unit of a statement set, of a progress report and of a checkpoint.
CHUNK = 5000

#: ``progress(done, refused_by_code)``: items done so far (from the list's start) and refusals by reason.
Progress = Callable[[int, dict[str, int]], None]
#: ``checkpoint(cursor)``: awaited after a chunk was written in earnest; the cursor is where to resume.
Checkpoint = Callable[[int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A problem of the item at `index` (its position in the list), with the field and code the single write
    reports."""

    index: int
    field: str | None
    code: UserErrorCode
    message: str


@dataclass
class Refusals:
    """Refused items: how many, by the code of their first problem, and every problem."""

    refused: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    refusals: list[Refusal] = field(default_factory=list)

    def refuse(self, index: int, problems: Sequence[Problem]) -> None:
        self.refused += 1
        self.reasons[problems[0].code] += 1
        self.refusals.extend(Refusal(index, p.field, p.code, p.message) for p in problems)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for one chunk's work, and on again after (if it was on).

    A chunk makes tens of thousands of rows, events and their dicts and lists, which all live until it is
    written: the collector's passes over them found nothing to free and took a fifth of the participant
    import's CPU (bench/README.md, "Set-based writes"). What a chunk leaves behind is freed by reference
    counting; cycles wait for the next collection after the chunk.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
