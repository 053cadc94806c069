"""The ``jobs`` table: one row per bulk write, the one place its state, progress and report live.

The queue library (Procrastinate on PostgreSQL, the web process on SQLite: ADR 0015) only delivers "run job
N"; what the job has done is here, committed in the same transaction as each chunk of its rows, so a job
killed at any moment resumes at the cursor of its last committed chunk and does nothing twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, PortableJSON, UTCDateTime, utcnow
from domain.jobs.rules import JobState


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: What the job does: a key of the kind registry (domain.jobs.registry), e.g. ``beneficiaries.enrol``.
    kind: Mapped[str] = mapped_column(String(60))
    state: Mapped[JobState] = mapped_column(
        Enum(JobState, native_enum=False, length=10, validate_strings=True), default=JobState.QUEUED
    )
    #: The kind's arguments (a filter, the funding, the payer…), as JSON.
    params: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    #: Rows the job will go through (counted when it was created; the progress bar's 100 %).
    total: Mapped[int] = mapped_column(Integer, default=0)
    #: Rows gone through so far, committed.
    processed: Mapped[int] = mapped_column(Integer, default=0)
    #: Outcomes so far by name (created, linked, unchanged, refused…).
    counts: Mapped[dict[str, int]] = mapped_column(PortableJSON)
    #: Refusals so far by reason code.
    refusals: Mapped[dict[str, int]] = mapped_column(PortableJSON)
    #: What the job commits per month, per paying budget: {"52.03": "7392000"} (rupiah as text: exact).
    costs: Mapped[dict[str, str]] = mapped_column(PortableJSON)
    #: The report CSV (row, column, value, code, message), as the imports write it; grows chunk by chunk.
    report: Mapped[str] = mapped_column(Text, default="")
    #: Where the next chunk starts (the kind's own key, e.g. the last beneficiary id done); None: the start.
    cursor: Mapped[str | None] = mapped_column(String(100))
    #: Who created it and as whom it runs (the audit actor and the region they are bound to; None: national).
    created_by: Mapped[str] = mapped_column(String(200))
    actor_kind: Mapped[str] = mapped_column(String(10))
    client_id: Mapped[str | None] = mapped_column(String(100))
    region_code: Mapped[str | None] = mapped_column(String(20), index=True)
    sees_personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The request that created the job (its audit events carry ``job:<id>`` as their request id).
    request_id: Mapped[str | None] = mapped_column(String(64))
    #: Whose budget (APBD) the job commits: a province or regency code.
    payer_region_code: Mapped[str | None] = mapped_column(String(20))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Why a FAILED job failed, in words.
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_jobs_state", "state"),)

    @property
    def audit_request_id(self) -> str:
        """The request id the job's audit events carry: the trail of job N is ``request_id = 'job:N'``."""
        return f"job:{self.id}"


class JobKey(Base):
    """A key an earlier chunk of a job used, where a rule spans the job's whole input: a payment reference
    used twice in one file is refused at its second use whichever chunks the two rows fall in
    (:mod:`domain.jobs.keys`). Written in the chunk's transaction, so a chunk lost in a crash leaves none of its
    keys; removed when the job is done."""

    __tablename__ = "job_keys"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    #: The SHA-256 of the key, in hex: any length of key (a file's cell) fits, and the index stays small.
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Where the key was first used: the kind's own position (a file row).
    first_use: Mapped[int] = mapped_column(Integer)
