"""A job's states and the transitions between them: one table, and a named error for an illegal move."""

from __future__ import annotations

import enum


class JobState(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


#: Where each state may go. RUNNING → RUNNING is a resume after a crash (the worker that held it died);
#: FAILED → QUEUED is an operator's retry, which continues from the cursor the failed chunk did not move.
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED}),
    JobState.RUNNING: frozenset({JobState.RUNNING, JobState.DONE, JobState.FAILED, JobState.CANCELLED}),
    JobState.FAILED: frozenset({JobState.QUEUED}),
    JobState.DONE: frozenset(),
    JobState.CANCELLED: frozenset(),
}

#: States a job no longer leaves by itself.
FINISHED = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


class IllegalTransition(Exception):
    def __init__(self, job_id: int, current: JobState, wanted: JobState) -> None:
        super().__init__(f"job {job_id} is {current.value}; it cannot become {wanted.value}")
        self.current = current
        self.wanted = wanted


def check_transition(job_id: int, current: JobState, wanted: JobState) -> None:
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(job_id, current, wanted)
