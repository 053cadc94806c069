"""Jobs: a list enrolment over a page runs as one, readable and cancellable within the caller's region only,
and two jobs over one list enrol each person once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.relay import from_base64, to_base64

from auth.scopes import ROLE_SCOPES, Role
from domain.audit.models import AuditEvent
from domain.audit.writes import Actor, verify_chain
from domain.beneficiaries.batch_enrolment import ENROL_KIND, ListFilter, enrolment_chunk, enrolment_params
from domain.db import make_sessionmaker
from domain.jobs.models import Job
from domain.jobs.queue import InProcessQueue
from domain.jobs.registry import Chunk, job_kind
from domain.jobs.rules import JobState
from domain.jobs.runner import cancel_job, create_job, run_job
from domain.participants.models import FundingSource, Participant
from domain.regions.rules import RegionCode
from domain.writes.caller import Caller as DomainCaller
from tests.conftest import AppFactory, Caller, Served, WriteEnv, suite_settings
from tests.databases import Databases
from tests.writes.test_batch_enrolment import make_mix

ENROL = """mutation($filter: EnrollBeneficiariesFilter!, $dryRun: Boolean, $payer: String) {
  enrollBeneficiaries(filter: $filter, dryRun: $dryRun, payer: $payer) {
    matched created refused dryRun monthlyCost costs { payer monthlyCost }
    job { id state total kind payer region } } }"""

JOB = """query($id: ID!) { job(id: $id) { id state kind total processed progress createdBy region payer
  counts { name count } refusals { name count } costs { payer monthlyCost } report startedAt finishedAt } }"""
JOBS = "{ jobs(first: 10) { totalCount edges { node { id state } } } }"
NODE = "query($id: ID!) { node(id: $id) { ... on Job { id state } } }"
CANCEL = "mutation($id: ID!) { cancelJob(id: $id) { job { id state } errors { code message } } }"

OFFICER = DomainCaller(Actor("officer.dewi@52.03", "user"), RegionCode.parse("52.03"), sees_personal_data=True)
EVERYONE = ListFilter(region_code="52.03")


@pytest.fixture(scope="session")
def served(backend: str, databases: Databases, key_path: Path, app_factory: AppFactory) -> Served:
    """A database of these tests' own, with an app that runs its jobs itself (as the SQLite default does)."""
    return app_factory(suite_settings(databases.seeded(backend, "jobs"), key_path, jobs_runner="web"))


@pytest.fixture(scope="session")
def writes(served: Served) -> WriteEnv:
    return WriteEnv(gql=served.gql, engine=served.engine, client=served.client)


@pytest.fixture
def drain(served: Served) -> Callable[[], Awaitable[None]]:
    """Wait for the jobs the app runs in its own process."""
    queue = served.app.state.jobs
    assert isinstance(queue, InProcessQueue)
    return queue.drain


@pytest.fixture(scope="session")
def admin(mint: Callable[..., str]) -> Caller:
    return Caller("admin", mint(Role.ADMIN, subject="admin.nasional"), None, ROLE_SCOPES[Role.ADMIN])


async def _count(writes: WriteEnv, stmt: Any) -> int:
    async with writes.engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def test_a_list_longer_than_a_page_runs_as_a_job(
    writes: WriteEnv, staff: dict[str, Caller], admin: Caller, drain: Callable[[], Awaitable[None]]
) -> None:
    await make_mix(writes.engine, 11, 160)
    where = {"regionCode": "52.03", "extremePoor": True, "enrolled": False}
    dry = (await writes.gql(ENROL, {"filter": where, "dryRun": True}, staff["officer_5203"]))["data"]
    job = dry["enrollBeneficiaries"]["job"]
    assert job is not None
    assert (job["kind"], job["payer"], job["region"]) == (ENROL_KIND, "52.03", "52.03")
    participants = await _count(writes, select(func.count()).select_from(Participant))
    await drain()
    seen = (await writes.gql(JOB, {"id": job["id"]}, staff["officer_5203"]))["data"]["job"]
    assert (seen["state"], seen["progress"]) == ("DONE", 1.0)
    counts = {c["name"]: c["count"] for c in seen["counts"]}
    assert counts["created"] > 0
    assert sum(counts.values()) == seen["total"] == seen["processed"]  # everyone matched was gone through
    assert seen["total"] > 100
    assert [c["payer"] for c in seen["costs"]] == ["52.03"]
    assert await _count(writes, select(func.count()).select_from(Participant)) == participants  # a dry run

    done = (await writes.gql(ENROL, {"filter": where}, staff["officer_5203"]))["data"]["enrollBeneficiaries"]
    assert (done["job"]["state"], done["matched"]) == ("QUEUED", seen["total"])
    await drain()
    real = (await writes.gql(JOB, {"id": done["job"]["id"]}, staff["officer_5203"]))["data"]["job"]
    assert {c["name"]: c["count"] for c in real["counts"]} == counts  # the dry run said what the run did
    assert real["refusals"] == seen["refusals"]
    assert sum(c["count"] for c in real["refusals"]) == counts["refused"]
    lines = real["report"].splitlines()
    assert lines[0] == "row,column,value,code,message"
    assert len(lines) == 1 + counts["refused"]
    enrolments = (
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.request_id == f"job:{from_base64(done['job']['id'])[1]}",
            AuditEvent.action == "beneficiary.enroll",
        )
    )
    assert await _count(writes, enrolments) == counts["created"] + counts.get("linked", 0)  # the job's events
    assert await _count(writes, select(func.count()).select_from(Participant)) == participants + counts["created"]
    async with make_sessionmaker(writes.engine)() as session:
        assert (await verify_chain(session)).ok

    # Another region's officer, and a caller without the kind's scope: the job does not exist for them.
    other = staff["verifier"]
    for caller in (other, staff["analyst_5203"]):
        assert (await writes.gql(JOB, {"id": done["job"]["id"]}, caller))["data"]["job"] is None
        assert (await writes.gql(NODE, {"id": done["job"]["id"]}, caller))["data"]["node"] is None
        listed = (await writes.gql(JOBS, None, caller))["data"]["jobs"]
        assert done["job"]["id"] not in {e["node"]["id"] for e in listed["edges"]}
    refused = await writes.gql(CANCEL, {"id": done["job"]["id"]}, other)
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    national = (await writes.gql(JOBS, None, admin))["data"]["jobs"]
    assert done["job"]["id"] in {e["node"]["id"] for e in national["edges"]}
    finished = (await writes.gql(CANCEL, {"id": done["job"]["id"]}, staff["officer_5203"]))["data"]["cancelJob"]
    assert [e["code"] for e in finished["errors"]] == ["JOB_FINISHED"]


async def test_the_payer_is_checked_before_any_row_is_read(
    writes: WriteEnv, staff: dict[str, Caller], admin: Caller
) -> None:
    where = {"extremePoor": True, "enrolled": False}
    jobs = await _count(writes, select(func.count()).select_from(Job))
    outside = await writes.gql(ENROL, {"filter": where, "payer": "52.71"}, staff["officer_5203"])
    assert outside["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "52.71" in outside["errors"][0]["message"]
    for payer, words in (("52.03.01", "only a province or a regency"), ("99", "not in the Kemendagri list"),
                         ("52.x", "")):  # fmt: skip
        body = await writes.gql(ENROL, {"filter": where, "payer": payer}, admin)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
        assert words in body["errors"][0]["message"]
    national = await writes.gql(ENROL, {"filter": where}, admin)
    assert "name the province or regency" in national["errors"][0]["message"]
    assert await _count(writes, select(func.count()).select_from(Job)) == jobs  # no job for any of them
    # A national dry run without a payer gives the cost per regency (small enough here to answer at once).
    dry = await writes.gql(ENROL, {"filter": {**where, "regionCode": "52.71.01"}, "dryRun": True}, admin)
    costs = dry["data"]["enrollBeneficiaries"]["costs"]
    assert {c["payer"] for c in costs} <= {"52.71"}


async def _enrolment_job(writes: WriteEnv, chunk_size: int) -> int:
    params = enrolment_params(
        EVERYONE, programs=None, funding=FundingSource.APBD, payer="52.03", dry_run=False, chunk_size=chunk_size
    )
    async with make_sessionmaker(writes.engine)() as session, session.begin():
        job = await create_job(session, OFFICER, ENROL_KIND, params, total=0, payer_region_code="52.03")
    return job.id


@job_kind("tests.enrol_then_cancel")
async def _enrol_then_cancel(session: AsyncSession, caller: DomainCaller, job: Job, params: dict[str, Any]) -> Chunk:
    """A list enrolment whose creator cancels it while its first chunk runs (the same public cancel_job)."""
    chunk = await enrolment_chunk(session, caller, job, params)
    if job.processed == 0:
        await cancel_job(session, caller, job.id)
    return chunk


async def test_cancel_keeps_what_was_committed_and_says_where_it_stopped(writes: WriteEnv) -> None:
    await make_mix(writes.engine, 12, 240)
    sessions = make_sessionmaker(writes.engine)
    params = enrolment_params(
        EVERYONE, programs=None, funding=FundingSource.APBD, payer="52.03", dry_run=False, chunk_size=5
    )
    async with sessions() as session, session.begin():
        job_id = (await create_job(session, OFFICER, "tests.enrol_then_cancel", params, total=100)).id
    assert await run_job(sessions, job_id) == JobState.CANCELLED
    async with sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        enrolled = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.request_id == job.audit_request_id, AuditEvent.action == "beneficiary.enroll")
        )
    assert job.state is JobState.CANCELLED
    assert job.finished_at is not None
    assert job.processed == 5  # the chunk that ran when the cancel came, and no other
    assert enrolled == job.counts.get("created", 0) + job.counts.get("linked", 0)  # committed chunks stay
    last = job.report.splitlines()[-1]
    assert last.startswith(f"0,cursor,{job.cursor},CANCELLED,")
    assert f"after {job.cursor}" in last
    # Nothing is left for the rest of the list to be done twice: a new job picks up exactly the rest.
    rest = await _enrolment_job(writes, chunk_size=50)
    assert await run_job(sessions, rest) == JobState.DONE


async def test_two_jobs_over_the_same_list_enrol_each_person_once(writes: WriteEnv) -> None:
    await make_mix(writes.engine, 13, 120)
    sessions = make_sessionmaker(writes.engine)
    head = await _count(writes, select(func.coalesce(func.max(AuditEvent.seq), 0)))
    first, second = await _enrolment_job(writes, 7), await _enrolment_job(writes, 11)
    states = await asyncio.gather(run_job(sessions, first), run_job(sessions, second))
    assert states == [JobState.DONE, JobState.DONE]
    async with sessions() as session:
        jobs = [await session.get(Job, i) for i in (first, second)]
        per_person = (
            await session.execute(
                select(AuditEvent.entity_id, func.count())
                .where(AuditEvent.seq > head, AuditEvent.action == "beneficiary.enroll")
                .group_by(AuditEvent.entity_id)
            )
        ).all()
        niks = (await session.execute(select(Participant.nik, func.count()).group_by(Participant.nik))).all()
    created = sum(j.counts.get("created", 0) for j in jobs if j is not None)
    assert created > 0
    assert all(n == 1 for _, n in per_person)
    assert all(n == 1 for _, n in niks)
    assert created == sum(1 for _ in per_person) - sum(j.counts.get("linked", 0) for j in jobs if j is not None)


async def test_bad_job_ids_and_pages(writes: WriteEnv, staff: dict[str, Caller]) -> None:
    officer = staff["officer_5203"]
    for bogus in ("", "garbage", to_base64("Job", "x"), to_base64("Job", 10**30), to_base64("Participant", 1)):
        assert (await writes.gql(JOB, {"id": bogus}, officer))["data"]["job"] is None
        refused = await writes.gql(CANCEL, {"id": bogus}, officer)
        assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    for args in ("first: 101", 'after: "not-a-cursor"', "first: -1"):
        body = await writes.gql(f"{{ jobs({args}) {{ edges {{ node {{ id }} }} }} }}", None, officer)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    anonymous = await writes.gql(JOBS, None, None)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
