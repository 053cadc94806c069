"""``kill -9`` of the worker in the middle of an enrolment job: a new worker resumes it, and it ends with the
same rows, counts, report and audit events as the same job run without interruption on a copy of the data."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from api.cli_jobs import apply_queue_schema
from domain.beneficiaries.batch_enrolment import ENROL_KIND, ListFilter, enrolment_params
from domain.db import make_engine, make_sessionmaker
from domain.jobs.models import Job
from domain.jobs.queue import ProcrastinateQueue, queue_app
from domain.jobs.rules import JobState
from domain.jobs.runner import create_job, run_job
from domain.participants.models import FundingSource
from tests.databases import POSTGRES_URL, Databases
from tests.live import jamsos_worker
from tests.rollup_check import rollup_drift
from tests.writes.test_batch_enrolment import OFFICER_5203, make_mix, state

pytestmark = [
    pytest.mark.whole_machine,
    pytest.mark.skipif(not POSTGRES_URL, reason="the worker runs on PostgreSQL (JAMSOS_TEST_POSTGRES_URL)"),
]

STALLED_AFTER = 2.0


async def _prepare(url: str) -> tuple[int, int]:
    """The mix of beneficiaries and a queued enrolment job over them (small chunks: many commits to cut)."""
    engine = make_engine(url, null_pool=True)
    try:
        await make_mix(engine, 21, 240)
        async with engine.connect() as conn:
            head = int((await conn.exec_driver_sql("SELECT coalesce(max(seq), 0) FROM audit_events")).scalar_one())
        params = enrolment_params(
            ListFilter(region_code="52.03"),
            programs=None,
            funding=FundingSource.APBD,
            payer="52.03",
            dry_run=False,
            chunk_size=20,
        )
        async with make_sessionmaker(engine)() as session, session.begin():
            job = await create_job(session, OFFICER_5203, ENROL_KIND, params, total=0, payer_region_code="52.03")
        return job.id, head
    finally:
        await engine.dispose()


async def _job(url: str, job_id: int) -> Job:
    engine = make_engine(url, null_pool=True)
    try:
        async with make_sessionmaker(engine)() as session:
            job = await session.get(Job, job_id)
            assert job is not None
            return job
    finally:
        await engine.dispose()


async def _run_here(url: str, job_id: int) -> None:
    engine = make_engine(url, null_pool=True)
    try:
        assert await run_job(make_sessionmaker(engine), job_id) == JobState.DONE
    finally:
        await engine.dispose()


async def _enqueue(url: str, job_id: int) -> None:
    queue = ProcrastinateQueue(queue_app(url))
    await queue.open()
    try:
        await queue.enqueue(job_id)
    finally:
        await queue.close()


async def _left(url: str, head: int) -> dict[str, Any]:
    engine = make_engine(url, null_pool=True)
    try:
        assert await rollup_drift(engine) == {}
        return await state(engine, head)
    finally:
        await engine.dispose()


def _worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JAMSOS_DATABASE_URL": url, "JAMSOS_ENV": "test"}
    return jamsos_worker(env, log, "--stalled-after", str(STALLED_AFTER))


def _wait_for(url: str, job_id: int, done: Any, timeout: float) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = asyncio.run(_job(url, job_id))
        if done(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not get there in {timeout} s")


def test_a_job_killed_mid_run_resumes_and_ends_as_an_uninterrupted_one(databases: Databases, tmp_path: Path) -> None:
    crashed = databases.seeded("postgresql", "job_crash")
    reference = databases.seeded("postgresql", "job_crash_reference")
    job_id, head = asyncio.run(_prepare(crashed))
    assert asyncio.run(_prepare(reference)) == (job_id, head), "both copies hold the same rows and job"
    asyncio.run(_run_here(reference, job_id))

    asyncio.run(apply_queue_schema(crashed))
    asyncio.run(_enqueue(crashed, job_id))
    log = tmp_path / "worker.log"
    first = _worker(crashed, log)
    try:
        cut = _wait_for(crashed, job_id, lambda j: j.processed >= 60, timeout=60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert cut.state is JobState.RUNNING, log.read_text()

    # A worker is known dead once its heartbeat is older than --stalled-after: the next one starting after
    # that hands the dead one's job back to the queue at once.
    time.sleep(STALLED_AFTER + 0.5)
    second = _worker(crashed, log)
    try:
        finished = _wait_for(crashed, job_id, lambda j: j.state is not JobState.RUNNING, timeout=120)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    expected = asyncio.run(_job(reference, job_id))
    assert cut.processed < expected.processed, "the job was cut before its end"
    assert finished.state is JobState.DONE, finished.error or log.read_text()
    assert (finished.processed, finished.counts, finished.refusals, finished.costs) == (
        expected.processed,
        expected.counts,
        expected.refusals,
        expected.costs,
    )
    assert sorted(finished.report.splitlines()) == sorted(expected.report.splitlines())
    assert asyncio.run(_left(crashed, head)) == asyncio.run(_left(reference, head))


def test_a_worker_delivers_a_job_that_lost_its_delivery(databases: Databases, tmp_path: Path) -> None:
    """A job queued or running with no delivery (a worker's graceful-shutdown timeout aborts its job, a
    deferral lost with a connection) is run by the next worker that starts."""
    url = databases.seeded("postgresql", "job_orphan")
    job_id, _ = asyncio.run(_prepare(url))  # created, never handed to the queue
    asyncio.run(apply_queue_schema(url))
    worker = _worker(url, tmp_path / "worker.log")
    try:
        finished = _wait_for(url, job_id, lambda j: j.state is not JobState.QUEUED and j.state is not JobState.RUNNING,
                             timeout=120)  # fmt: skip
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    assert finished.state is JobState.DONE, finished.error
