"""importParticipants, importContributions and bookApbdMonth: up to a page in the request, over a page as a job
that writes exactly the good rows, resumes after a crash doing nothing twice, and exists only for its region."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from strawberry.relay import from_base64

from api.app import create_app
from auth.scopes import Role, Scope
from domain.audit.models import AuditEvent
from domain.audit.writes import Actor, verify_chain
from domain.db import make_sessionmaker
from domain.jobs import files
from domain.jobs.models import Job, JobKey
from domain.jobs.queue import InProcessQueue
from domain.jobs.registry import Chunk, job_kind
from domain.jobs.rules import JobState
from domain.jobs.runner import create_job, run_job
from domain.nik import Sex, build_nik
from domain.participants.apbd import apbd_reference
from domain.participants.bulk_jobs import (
    CONTRIBUTION_IMPORT_KIND,
    PARTICIPANT_IMPORT_KIND,
    apbd_month_chunk,
    apbd_month_params,
    import_file_chunk,
    import_params,
)
from domain.participants.imports import RowImportOptions, import_contributions
from domain.participants.models import Contribution, Participant
from domain.regions.rules import RegionCode
from domain.writes.caller import Caller as DomainCaller
from tests.conftest import AppFactory, Caller, Served, WriteEnv, body_reads_counted, suite_settings
from tests.databases import Databases
from tests.live import jamsos_here, service_env
from tests.rollup_check import rollup_drift
from tests.writes.conftest import first_of_month

PARTICIPANTS = """mutation($file: Upload!, $dryRun: Boolean) { importParticipants(file: $file, dryRun: $dryRun) {
  read imported unchanged rejected written dryRun sha256 errorCount errors { row column code message }
  job { id state kind total region } } }"""
CONTRIBUTIONS = PARTICIPANTS.replace("importParticipants", "importContributions")
APBD = """mutation($payer: String!, $month: String!, $dryRun: Boolean) {
  bookApbdMonth(payer: $payer, month: $month, dryRun: $dryRun) {
    payer month dryRun workers booked alreadyBooked alreadyPaid refused amount reasons { code count }
    job { id state kind payer } } }"""
JOB = """query($id: ID!) { job(id: $id) { id state kind total processed counts { name count }
  refusals { name count } costs { payer monthlyCost } report error } }"""

HEADER = "nik,nama,tanggal_lahir,jenis_kelamin,segmen,sumber_dana,kode_wilayah,program"
OFFICER = DomainCaller(Actor("officer.dewi@52.03", "user"), RegionCode.parse("52.03"), sees_personal_data=True)
NEXT_MONTH = first_of_month(-1)
_serials = itertools.count(7001)


def participant_rows(count: int, *, funding: str = "SELF") -> tuple[list[str], set[int]]:
    """`count` rows of new BPU workers of Lombok Timur with every tenth bad (in turn: a NIK that is not one, a
    village of another regency, a child); the lines and the file rows (header = 1) that are bad."""
    lines, bad = [], set()
    for i in range(count):
        n = next(_serials)
        birth = dt.date(1980, 1, 1) + dt.timedelta(days=n % 5000)
        nik, village = build_nik("52.03.01", birth, Sex.F, n % 9999 + 1), "52.03.01.2001"
        if i % 10 == 9:
            bad.add(i + 2)
            kind = (i // 10) % 3
            if kind == 0:
                nik = "52030112345"  # too short
            elif kind == 1:
                village = "52.71.01.1004"  # another regency: outside the officer's region
            else:
                birth = dt.date.today() - dt.timedelta(days=365 * 10)
                nik = build_nik("52.03.01", birth, Sex.F, n % 9999 + 1)
        lines.append(f"{nik},Baiq Uji {n},{birth.isoformat()},P,BPU,{funding},{village},JKK JKM")
    return lines, bad


def csv_file(lines: list[str], header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


@pytest.fixture(scope="session")
def bulk_url(backend: str, databases: Databases) -> str:
    return databases.seeded(backend, "bulk_jobs")


@pytest.fixture(scope="session")
def served(bulk_url: str, key_path: Path, app_factory: AppFactory, tmp_path_factory: pytest.TempPathFactory) -> Served:
    """A database of these tests' own, with an app that runs its jobs itself (as the SQLite default does)."""
    data = tmp_path_factory.mktemp("bulk-jobs-data")
    return app_factory(suite_settings(bulk_url, key_path, jobs_runner="web", data_dir=data))


@pytest.fixture(scope="session")
def writes(served: Served) -> WriteEnv:
    return WriteEnv(gql=served.gql, engine=served.engine, client=served.client)


@pytest.fixture
def drain(served: Served) -> Callable[[], Awaitable[None]]:
    queue = served.app.state.jobs
    assert isinstance(queue, InProcessQueue)
    return queue.drain


async def upload(
    client: httpx.AsyncClient,
    query: str,
    content: str | bytes,
    caller: Caller,
    *,
    filename: str = "rows.csv",
    dry_run: Any = False,
    status: int = 200,
) -> dict[str, Any]:
    data = content.encode() if isinstance(content, str) else content
    operations = {"query": query, "variables": {"file": None, "dryRun": dry_run}}
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, data, "text/csv")},
        headers=caller.headers,
    )
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def _scalar(engine: AsyncEngine, stmt: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def _check_consistent(engine: AsyncEngine) -> None:
    assert await rollup_drift(engine) == {}, "the Monev rollups differ from a recount"
    async with AsyncSession(engine) as session:
        report = await verify_chain(session)
    assert report.ok, report.problem


def _job_id(node_id: str) -> int:
    return int(from_base64(node_id)[1])


def _niks(lines: list[str], rows: set[int]) -> set[str]:
    return {line.split(",")[0] for i, line in enumerate(lines) if i + 2 in rows}


async def test_a_participant_file_over_a_page_is_a_job_that_writes_exactly_the_good_rows(
    writes: WriteEnv, staff: dict[str, Caller], drain: Callable[[], Awaitable[None]], served: Served
) -> None:
    lines, bad = participant_rows(150)
    good = set(range(2, 152)) - bad
    officer = staff["officer_5203"]
    before = await _scalar(writes.engine, select(func.count()).select_from(Participant))
    payload = (await upload(writes.client, PARTICIPANTS, csv_file(lines), officer))["data"]["importParticipants"]
    job = payload["job"]
    assert job is not None
    assert (job["state"], job["kind"], job["total"], job["region"]) == ("QUEUED", PARTICIPANT_IMPORT_KIND, 150, "52.03")
    assert (payload["read"], payload["written"]) == (150, False)
    await drain()
    seen = (await writes.gql(JOB, {"id": job["id"]}, officer))["data"]["job"]
    assert (seen["state"], seen["processed"]) == ("DONE", 150)
    assert {c["name"]: c["count"] for c in seen["counts"]} == {"imported": 135, "rejected": 15}
    assert {r["name"]: r["count"] for r in seen["refusals"]} == {
        "INVALID_NIK": 5, "OUT_OF_REGION": 5, "BELOW_WORKING_AGE": 5
    }  # fmt: skip
    report = seen["report"].splitlines()
    assert report[0] == "row,column,value,code,message"
    assert {int(line.split(",")[0]) for line in report[1:]} == bad  # rows numbered as in the file
    stored = set(await _rows(writes.engine, select(Participant.nik).where(Participant.nik.in_(_niks(lines, good)))))
    assert stored == _niks(lines, good)
    assert await _scalar(writes.engine, select(func.count()).select_from(Participant)) == before + 135
    registered = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.request_id == f"job:{_job_id(job['id'])}", AuditEvent.action == "participant.register")
    )
    assert await _scalar(writes.engine, registered) == 135  # one event per person, carrying the job
    staged = served.app.state.settings.data_dir / "job-files"
    assert list(staged.iterdir()) == []  # the file goes with the finished job

    # The same file again: every good NIK is registered (unchanged), nothing is written twice.
    again = (await upload(writes.client, PARTICIPANTS, csv_file(lines), officer))["data"]["importParticipants"]
    await drain()
    second = (await writes.gql(JOB, {"id": again["job"]["id"]}, officer))["data"]["job"]
    assert {c["name"]: c["count"] for c in second["counts"]} == {"unchanged": 135, "rejected": 15}
    assert await _scalar(writes.engine, select(func.count()).select_from(Participant)) == before + 135

    # Another region's officer, and a caller without participants:write: the job does not exist for them.
    for caller in (staff["verifier"], staff["analyst_5203"]):
        assert (await writes.gql(JOB, {"id": job["id"]}, caller))["data"]["job"] is None
    await _check_consistent(writes.engine)


async def _rows(engine: AsyncEngine, stmt: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(stmt)).scalars())


async def test_a_small_file_is_imported_in_the_request_writing_exactly_the_good_rows(
    writes: WriteEnv, staff: dict[str, Caller]
) -> None:
    lines, bad = participant_rows(20)
    officer = staff["officer_5203"]
    before = await _scalar(writes.engine, select(func.count()).select_from(Participant))
    dry = (await upload(writes.client, PARTICIPANTS, csv_file(lines), officer, dry_run=True))["data"]
    assert (dry["importParticipants"]["imported"], dry["importParticipants"]["written"]) == (18, False)
    assert await _scalar(writes.engine, select(func.count()).select_from(Participant)) == before
    payload = (await upload(writes.client, PARTICIPANTS, csv_file(lines), officer))["data"]["importParticipants"]
    assert (payload["imported"], payload["rejected"], payload["written"], payload["job"]) == (18, 2, True, None)
    assert {e["row"] for e in payload["errors"]} == bad
    assert await _scalar(writes.engine, select(func.count()).select_from(Participant)) == before + 18
    await _check_consistent(writes.engine)


async def test_a_contribution_file_over_a_page_is_a_job_idempotent_by_reference(
    writes: WriteEnv, staff: dict[str, Caller], drain: Callable[[], Awaitable[None]]
) -> None:
    officer = staff["officer_5203"]
    lines, bad = participant_rows(130)
    registered = (await upload(writes.client, PARTICIPANTS, csv_file(lines), officer))["data"]["importParticipants"]
    await drain()
    niks = sorted(_niks(lines, set(range(2, 132)) - bad))[:110]
    month = NEXT_MONTH.strftime("%Y-%m-%d")
    rows, wrong = [], set()
    for i, nik in enumerate(niks):
        amount, who = "16800", nik
        if i % 10 == 3:
            wrong.add(i + 2)
            amount = "16000"  # not the month's price
        elif i % 10 == 7:
            wrong.add(i + 2)
            who = build_nik("52.71.01", dt.date(1990, 1, 1), Sex.M, 9000 + i)  # nobody of the officer's region
        rows.append(f"{who},1,{amount},SELF,JOBTEST-{registered['sha256'][:8]}-{i},{month}")
    text = csv_file(rows, "nik,jumlah_bulan,jumlah,pembayar,referensi,bulan_mulai")
    payload = (await upload(writes.client, CONTRIBUTIONS, text, officer))["data"]["importContributions"]
    assert payload["job"] is not None
    await drain()
    seen = (await writes.gql(JOB, {"id": payload["job"]["id"]}, officer))["data"]["job"]
    assert seen["state"] == "DONE", seen["error"]
    assert {c["name"]: c["count"] for c in seen["counts"]} == {"imported": 88, "rejected": 22}
    assert {int(line.split(",")[0]) for line in seen["report"].splitlines()[1:]} == wrong
    recorded = select(func.count()).select_from(Contribution).where(Contribution.reference.like("JOBTEST-%"))
    assert await _scalar(writes.engine, recorded) == 88
    again = (await upload(writes.client, CONTRIBUTIONS, text, officer))["data"]["importContributions"]
    await drain()
    second = (await writes.gql(JOB, {"id": again["job"]["id"]}, officer))["data"]["job"]
    assert {c["name"]: c["count"] for c in second["counts"]} == {"unchanged": 88, "rejected": 22}
    assert await _scalar(writes.engine, recorded) == 88
    await _check_consistent(writes.engine)


async def test_bad_uploads(writes: WriteEnv, staff: dict[str, Caller]) -> None:
    officer = staff["officer_5203"]
    wrong_type = await upload(writes.client, PARTICIPANTS, csv_file([]), officer, dry_run="yes")
    assert "Boolean" in wrong_type["errors"][0]["message"]
    not_a_file = await writes.gql(PARTICIPANTS, {"file": "rows.csv"}, officer)
    assert not_a_file["errors"]
    missing = (await upload(writes.client, PARTICIPANTS, "nik,nama\n1,2\n", officer))["data"]["importParticipants"]
    assert (missing["written"], missing["job"], missing["errors"][0]["code"]) == (False, None, "MISSING_COLUMN")
    empty = (await upload(writes.client, PARTICIPANTS, csv_file([]), officer))["data"]["importParticipants"]
    assert [e["code"] for e in empty["errors"]] == ["NO_ROWS"]
    binary = await upload(writes.client, CONTRIBUTIONS, b"\x00\x01PK", officer, filename="rows.exe")
    assert binary["data"]["importContributions"]["errors"][0]["code"] == "UNSUPPORTED_FILE_TYPE"
    refused = await upload(writes.client, PARTICIPANTS, csv_file(participant_rows(2)[0]), staff["analyst_5203"])
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_upload_over_the_limit_is_refused_before_it_is_read(
    bulk_url: str, key_path: Path, mint: Callable[..., str], tmp_path: Path
) -> None:
    settings = suite_settings(bulk_url, key_path, import_max_upload_bytes=4_000, data_dir=tmp_path)
    app = create_app(settings)
    scopes = frozenset({Scope.PARTICIPANTS_READ, Scope.PARTICIPANTS_WRITE})  # no beneficiaries:write
    caller = Caller("registrar", mint(Role.OFFICER, "52.03", scopes, subject="registrar"), "52.03", scopes)
    counting_app, received = body_reads_counted(app)

    try:
        transport = httpx.ASGITransport(app=counting_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://jamsos.test") as client:
            big = csv_file(participant_rows(80)[0])
            assert len(big) > 4_000
            body = await upload(client, PARTICIPANTS, big, caller, status=413)
            assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            assert received == []  # refused from Content-Length: not one body chunk was read
            small = await upload(client, PARTICIPANTS, csv_file(participant_rows(3)[0]), caller, dry_run=True)
            assert small["data"]["importParticipants"]["read"] == 3
    finally:
        await app.state.engine.dispose()


async def test_book_apbd_month_refuses_bad_input_and_another_regions_budget_before_reading_a_row(
    writes: WriteEnv, staff: dict[str, Caller], served: Served
) -> None:
    officer = staff["officer_5203"]
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = served.app.state.engine
    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        month = NEXT_MONTH.strftime("%Y-%m")
        other = await writes.gql(APBD, {"payer": "52.71", "month": month}, officer)
        assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        district = await writes.gql(APBD, {"payer": "52.03.01", "month": month}, officer)
        assert district["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "FROM participants" in s or "contributions" in s], statements
    for bad in ("2027-13", "January", "2027-1", ""):
        answer = await writes.gql(APBD, {"payer": "52.03", "month": bad}, officer)
        assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", bad
    typed = await writes.gql(APBD, {"payer": 5203, "month": NEXT_MONTH.strftime("%Y-%m")}, officer)
    assert "String" in typed["errors"][0]["message"]
    ahead = await writes.gql(APBD, {"payer": "52.03", "month": first_of_month(-14).strftime("%Y-%m")}, officer)
    assert ahead["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    no_scope = await writes.gql(APBD, {"payer": "52.03", "month": NEXT_MONTH.strftime("%Y-%m")}, staff["analyst_5203"])
    assert no_scope["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_book_apbd_month_over_a_page_is_a_job_and_a_second_run_books_nothing(
    writes: WriteEnv, staff: dict[str, Caller], drain: Callable[[], Awaitable[None]]
) -> None:
    officer = staff["officer_5203"]
    lines, _ = participant_rows(120, funding="APBD")
    await upload(writes.client, PARTICIPANTS, csv_file(lines), officer)
    await drain()
    month = first_of_month(-2)
    variables = {"payer": "52.03", "month": month.strftime("%Y-%m")}
    jobs_before = await _scalar(writes.engine, select(func.count()).select_from(Job))
    ahead = await writes.gql(APBD, {**variables, "month": first_of_month(-14).strftime("%Y-%m")}, officer)
    assert ahead["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # refused now, not by a failing job
    assert await _scalar(writes.engine, select(func.count()).select_from(Job)) == jobs_before
    dry = (await writes.gql(APBD, {**variables, "dryRun": True}, officer))["data"]["bookApbdMonth"]
    assert dry["job"] is not None
    assert (dry["job"]["kind"], dry["job"]["payer"]) == ("contributions.apbd_month", "52.03")
    await drain()
    priced = (await writes.gql(JOB, {"id": dry["job"]["id"]}, officer))["data"]["job"]
    counts = {c["name"]: c["count"] for c in priced["counts"]}
    assert priced["state"] == "DONE"
    assert counts["booked"] >= 108
    booked = (
        select(func.count()).select_from(Contribution).where(Contribution.reference.like(f"APBD-52.03-{month:%Y%m}-%"))
    )
    assert await _scalar(writes.engine, booked) == 0  # a dry run

    real = (await writes.gql(APBD, variables, officer))["data"]["bookApbdMonth"]
    await drain()
    done = (await writes.gql(JOB, {"id": real["job"]["id"]}, officer))["data"]["job"]
    assert {c["name"]: c["count"] for c in done["counts"]} == counts  # the dry run said what the run did
    assert done["costs"] == priced["costs"]
    assert done["costs"][0]["payer"] == "52.03"
    assert await _scalar(writes.engine, booked) == counts["booked"]
    again = (await writes.gql(APBD, variables, officer))["data"]["bookApbdMonth"]
    await drain()
    second = (await writes.gql(JOB, {"id": again["job"]["id"]}, officer))["data"]["job"]
    second_counts = {c["name"]: c["count"] for c in second["counts"]}
    assert second_counts.get("booked", 0) == 0
    assert second_counts["already_booked"] == counts["booked"]
    assert await _scalar(writes.engine, booked) == counts["booked"]
    assert (await writes.gql(JOB, {"id": real["job"]["id"]}, staff["verifier"]))["data"]["job"] is None
    await _check_consistent(writes.engine)


class _Crash(BaseException):
    """What ``kill -9`` does to a chunk in flight: it never returns, and nothing of it commits."""


_crashed: set[int] = set()


async def _crash_once_in_the_second_chunk(
    real: Callable[..., Awaitable[Chunk]], session: AsyncSession, caller: DomainCaller, job: Job, params: Any
) -> Chunk:
    chunk = await real(session, caller, job, params)  # the chunk's work is done, in its transaction...
    if job.processed > 0 and job.id not in _crashed:
        _crashed.add(job.id)
        raise _Crash  # ...and is lost with the process
    return chunk


@job_kind("tests.import_then_crash")
async def _import_then_crash(session: AsyncSession, caller: DomainCaller, job: Job, params: dict[str, Any]) -> Chunk:
    return await _crash_once_in_the_second_chunk(import_file_chunk, session, caller, job, params)


@job_kind("tests.apbd_then_crash")
async def _apbd_then_crash(session: AsyncSession, caller: DomainCaller, job: Job, params: dict[str, Any]) -> Chunk:
    return await _crash_once_in_the_second_chunk(apbd_month_chunk, session, caller, job, params)


async def _crash_and_resume(engine: AsyncEngine, kind: str, params: dict[str, Any], total: int) -> Job:
    sessions = make_sessionmaker(engine)
    _crashed.clear()  # job ids start again in each database
    async with sessions() as session, session.begin():
        job_id = (await create_job(session, OFFICER, kind, params, total=total)).id
    with pytest.raises(_Crash):
        await run_job(sessions, job_id)
    async with sessions() as session:
        stopped = await session.get(Job, job_id)
        assert stopped is not None
        assert stopped.state is JobState.RUNNING
        assert stopped.cursor is not None
    assert await run_job(sessions, job_id) is JobState.DONE  # the next start resumes it at its cursor
    async with sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def test_an_import_job_killed_mid_chunk_resumes_and_registers_nobody_twice(
    writes: WriteEnv, tmp_path: Path
) -> None:
    lines, bad = participant_rows(60)
    source = tmp_path / "rows.csv"
    source.write_text(csv_file(lines))
    with source.open("rb") as stream:
        path, sha256 = files.stage(stream, tmp_path / "staged", "rows.csv")
    params = import_params(PARTICIPANT_IMPORT_KIND, str(path), sha256, "rows.csv", dry_run=False, chunk_size=20)
    job = await _crash_and_resume(writes.engine, "tests.import_then_crash", params, 60)
    assert (job.processed, job.counts) == (60, {"imported": 54, "rejected": 6})
    assert {int(line.split(",")[0]) for line in job.report.splitlines()} == bad  # each bad row reported once
    good = _niks(lines, set(range(2, 62)) - bad)
    per_nik = select(Participant.nik, func.count()).where(Participant.nik.in_(good)).group_by(Participant.nik)
    async with writes.engine.connect() as conn:
        assert dict((await conn.execute(per_nik)).all()) == dict.fromkeys(good, 1)
        events = select(func.count()).select_from(AuditEvent).where(AuditEvent.request_id == job.audit_request_id)
        assert (await conn.execute(events)).scalar_one() == 54
    assert not path.exists()
    await _check_consistent(writes.engine)


async def test_an_apbd_job_killed_mid_chunk_resumes_and_books_nobody_twice(writes: WriteEnv) -> None:
    month = first_of_month(-3)
    job = await _crash_and_resume(
        writes.engine, "tests.apbd_then_crash", apbd_month_params("52.03", month, dry_run=False, chunk_size=3), 0
    )
    booked = job.counts["booked"]
    assert booked > 3  # more than the chunk that was lost
    references = select(Contribution.participant_id, Contribution.reference).where(
        Contribution.reference.like(f"APBD-52.03-{month:%Y%m}-%")
    )
    async with writes.engine.connect() as conn:
        rows = (await conn.execute(references)).all()
    assert len(rows) == booked == len({pid for pid, _ in rows})
    assert all(ref == apbd_reference("52.03", month, pid) for pid, ref in rows)
    await _check_consistent(writes.engine)


@job_kind("tests.import_then_crash_again")
async def _import_then_crash_again(
    session: AsyncSession, caller: DomainCaller, job: Job, params: dict[str, Any]
) -> Chunk:
    return await _crash_once_in_the_second_chunk(import_file_chunk, session, caller, job, params)


def _report_lines(report: str) -> list[tuple[int, str, str]]:
    """A job's report (with or without its header) as (row, code, message), in file order."""
    lines = [line for line in csv.reader(io.StringIO(report)) if line and line[0] != "row"]
    return sorted((int(row), code, message) for row, _column, _value, code, message in lines)


async def _run_import_job(engine: AsyncEngine, kind: str, params: dict[str, Any], total: int) -> Job:
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        job_id = (await create_job(session, OFFICER, kind, params, total=total)).id
    assert await run_job(sessions, job_id) is JobState.DONE
    async with sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def test_a_reference_repeated_in_another_chunk_is_a_duplicate_whatever_the_chunks(
    writes: WriteEnv, staff: dict[str, Caller], tmp_path: Path
) -> None:
    """A file's repeated references are DUPLICATE_REFERENCE on the later row, naming the earlier one, as the
    synchronous import says, however the job cuts the file into chunks, and when a job killed mid-chunk
    resumes; nothing is booked twice, and a job's references are forgotten when it is done."""
    lines, bad = participant_rows(14)
    registered = (await upload(writes.client, PARTICIPANTS, csv_file(lines), staff["officer_5203"]))["data"]
    assert registered["importParticipants"]["imported"] == 13
    p = sorted(_niks(lines, set(range(2, 16)) - bad))
    month = NEXT_MONTH.strftime("%Y-%m-%d")
    tag = registered["importParticipants"]["sha256"][:8]
    nobody = build_nik("52.71.01", dt.date(1990, 1, 1), Sex.M, 9100)  # nobody of the officer's region

    def pay(nik: str, ref: str, amount: str = "16800") -> str:
        return f"{nik},1,{amount},SELF,DUP-{tag}-{ref},{month}"

    rows = [
        pay(p[0], "A"),  # row 2
        pay(p[1], "B"),  # row 3
        pay(p[2], "C", amount="16000"),  # row 4: not the price (refused), its reference still used
        pay(nobody, "D"),  # row 5: nobody the officer can see: its reference counts for nothing
        pay(p[3], "E"),  # row 6
        pay(p[0], "A"),  # row 7: row 2 again, the same payment
        pay(p[4], "B"),  # row 8: row 3's reference, another payment
        pay(p[5], "C"),  # row 9: the reference of the refused row 4
        pay(p[6], "D"),  # row 10: recorded (row 5 does not count)
        pay(p[7], "E"),  # row 11: right after row 6's reference
        pay(p[8], "F"),  # row 12
        pay(p[9], "A"),  # row 13: a third use of row 2's reference
    ]
    text = csv_file(rows, "nik,jumlah_bulan,jumlah,pembayar,referensi,bulan_mulai")
    duplicates = {7: 2, 8: 3, 9: 4, 11: 6, 13: 2}

    async with AsyncSession(writes.engine) as session:
        options = RowImportOptions(dry_run=True, skip_invalid=True)
        synchronous = await import_contributions(session, OFFICER, io.BytesIO(text.encode()), "pay.csv", options)
        await session.rollback()
    expected = sorted((e.row, str(e.code), e.message) for e in synchronous.errors)
    assert {row: code for row, code, _ in expected} == {4: "AMOUNT_MISMATCH", 5: "NOT_FOUND"} | dict.fromkeys(
        duplicates, "DUPLICATE_REFERENCE"
    )
    for row, code, message in expected:
        if code == "DUPLICATE_REFERENCE":
            assert f"also used by row {duplicates[row]};" in message, message

    def staged() -> dict[str, Any]:
        source = tmp_path / "pay.csv"
        source.write_text(text)
        with source.open("rb") as stream:
            path, sha256 = files.stage(stream, tmp_path / "staged", "pay.csv")
        return import_params(CONTRIBUTION_IMPORT_KIND, str(path), sha256, "pay.csv", dry_run=False, chunk_size=2)

    recorded = select(func.count()).select_from(Contribution).where(Contribution.reference.like(f"DUP-{tag}-%"))
    keys = select(func.count()).select_from(JobKey)
    # Chunks of two rows, the second killed after its work and resumed: every duplicate is in another chunk.
    crashed = await _crash_and_resume(writes.engine, "tests.import_then_crash_again", staged(), len(rows))
    assert _report_lines(crashed.report) == expected
    assert (crashed.processed, crashed.counts) == (12, {"imported": 5, "rejected": 7})
    assert await _scalar(writes.engine, recorded) == 5  # A, B, D, E, F: once each
    assert await _scalar(writes.engine, keys) == 0
    for size in (1, 3, 5, 100):  # the same report however the file is cut; the second run books nothing
        params = {**staged(), "chunk_size": size}
        again = await _run_import_job(writes.engine, CONTRIBUTION_IMPORT_KIND, params, len(rows))
        assert _report_lines(again.report) == expected, size
        assert again.counts == {"unchanged": 5, "rejected": 7}, size
    dry = await _run_import_job(writes.engine, CONTRIBUTION_IMPORT_KIND, {**staged(), "dry_run": True}, len(rows))
    assert _report_lines(dry.report) == expected
    assert await _scalar(writes.engine, recorded) == 5
    assert await _scalar(writes.engine, keys) == 0
    await _check_consistent(writes.engine)


def test_cli_apbd_month_as_a_job(backend: str, databases: Databases, tmp_path: Path) -> None:
    env = service_env(databases.seeded(backend, "apbd_cli_job"), tmp_path, jobs_runner="web")

    month = f"{first_of_month(-3):%Y-%m}"
    args = ("contributions", "apbd-month", "--payer", "52.03", "--month", month, "--as-job")
    done = jamsos_here(env, *args, "--region", "52.03")
    assert done.returncode == 0, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("job ")
    assert " DONE: " in first
    assert "booked " in done.stdout
    assert "cost of the month for 52.03: Rp" in done.stdout
    shown = jamsos_here(env, "jobs", "show", first.split()[1])
    assert shown.returncode == 0, shown.stderr
    assert '"kind": "contributions.apbd_month"' in shown.stdout
    again = jamsos_here(env, *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already_booked" in again.stdout
    assert "booked " not in again.stdout.replace("already_booked", "")
    refused = jamsos_here(env, *args, "--region", "52.71")
    assert (refused.returncode, "PAYER_OUT_OF_REGION" in refused.stderr) == (2, True)
