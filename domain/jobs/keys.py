"""The keys earlier chunks of a job used, for a rule that spans the job's whole input.

A job commits chunk by chunk, but some rules are over the whole input: a payment reference used twice in one
file is refused at its second use (``DUPLICATE_REFERENCE``), as within one call, whichever chunks the two rows
fall in. Each chunk looks its keys up here (where each was first used, e.g. a file row) and adds the ones it
used first, in the chunk's own transaction: a chunk lost in a crash leaves none of its keys behind, so the
chunk done again judges its rows exactly as the first time, and an uninterrupted job and a resumed one give
the same report. The keys are stored as their SHA-256 (a file's cell can be any length) and removed when the
job is done (and with the job).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.db import insert_rows, one_of, read_rows
from domain.jobs.models import JobKey

_PER_STATEMENT = 1000


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def first_uses(session: AsyncSession, job_id: int, keys: Iterable[str]) -> dict[str, int]:
    """Where earlier chunks of job `job_id` first used each of `keys` (absent: not used before)."""
    by_digest = {_digest(key): key for key in keys}
    digests = sorted(by_digest)
    found: dict[str, int] = {}
    for begin in range(0, len(digests), _PER_STATEMENT):
        page = digests[begin : begin + _PER_STATEMENT]
        mine = select(JobKey.digest, JobKey.first_use).where(JobKey.job_id == job_id)
        rows = await read_rows(session, mine.where(one_of(session, JobKey.digest, page)))
        found.update((by_digest[digest], first) for digest, first in rows)
    return found


async def remember(session: AsyncSession, job_id: int, uses: Mapping[str, int]) -> None:
    """Add the keys a chunk used first (none of them known yet: look them up with :func:`first_uses` first)."""
    rows = [{"job_id": job_id, "digest": _digest(key), "first_use": first} for key, first in uses.items()]
    await insert_rows(session, JobKey, rows)


async def forget(session: AsyncSession, job_id: int) -> None:
    """The job is done: its keys are needed no more."""
    await session.execute(delete(JobKey).where(JobKey.job_id == job_id))
