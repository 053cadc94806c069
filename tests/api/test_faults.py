"""Faults against a real PostgreSQL: restarted while requests run, and read-only.

The suite must not restart the machine's shared PostgreSQL, so these start a throwaway server of their own
(initdb + pg_ctl from /usr/lib/postgresql/*/bin, in a temporary directory, as the ``postgres`` user when run
as root) and restart that. Without those binaries the tests skip, and under CI=true they fail.

What must hold: a request that meets the outage gets 503 SERVICE_UNAVAILABLE with Retry-After (never an
internal error), the service recovers without being restarted, every registration that answered is whole
(participant and audit event, the audit chain verifies), and a read-only database refuses writes clearly
while reads go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from auth.scopes import Role
from domain.audit.models import AuditEvent
from domain.audit.writes import verify_chain
from domain.db import make_engine, make_sessionmaker
from domain.nik import Sex, build_nik
from domain.participants.models import Participant
from tests.conftest import AUDIENCE, ISSUER
from tests.databases import migrated_and_seeded
from tests.writes.conftest import REGISTER, registration

pytestmark = pytest.mark.whole_machine  # starts, stops and restarts a PostgreSQL server of its own

DEADLINE_SECONDS = 120  # a bound on waiting for recovery, not a timing assertion
_serials = itertools.count(7001)


def new_nik() -> str:
    """A valid NIK the tiny seed never generates (serials 7001+), for this module's own database."""
    return build_nik("52.71.01", dt.date(1990, 5, 17), Sex.M, next(_serials))


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        reason = "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (initdb, pg_ctl)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the fault tests", pytrace=False)
        pytest.skip(reason)
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Throwaway:
    """A PostgreSQL server of this test module's own."""

    bin: Path
    data: Path
    port: int
    as_postgres: bool

    def run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603 - fixed arguments

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.data / "server.log")
        self.run("pg_ctl", action, "-D", str(self.data / "db"), "-o", options, "-l", log, "-w", *extra)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/jamsos_faults"

    def sql(self, statement: str, database: str = "postgres") -> None:
        psql = str(self.bin / "psql")
        command = [psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-qc", statement]
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603 - fixed arguments


@pytest.fixture(scope="module")
def throwaway() -> Iterator[Throwaway]:
    binaries = _binaries()
    as_postgres = os.geteuid() == 0
    if as_postgres and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
    root = Path(tempfile.mkdtemp(prefix="jamsos-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    server = Throwaway(binaries, root, _free_port(), as_postgres)
    try:
        server.run("initdb", "-D", str(root / "db"), "-A", "trust", "-U", "postgres", "--no-sync")
        server.pg_ctl("start")
        server.sql("CREATE DATABASE jamsos_faults")
        migrated_and_seeded(server.url)
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
async def fault_app(throwaway: Throwaway, key_path: Path) -> AsyncIterator[Starlette]:
    settings = Settings(
        env="test", database_url=throwaway.url, signing_key_path=key_path, issuer=ISSUER, audience=AUDIENCE
    )
    app = create_app(settings)
    # A deployment's first start imports the signing key into its (writable) database; do it here, before
    # any test makes the database read-only or stops it (the tests run in any order).
    await app.state.identity.keyring.signing_key()
    yield app
    await app.state.engine.dispose()


READ = "{ regions(first: 5, level: PROVINCE) { edges { node { code name } } } }"


def _check(response: httpx.Response) -> str:
    """'ok' or 'unavailable'; anything else fails the test with the response."""
    body = response.json()
    codes = {e.get("extensions", {}).get("code") for e in body.get("errors", [])}
    if response.status_code == 200 and not codes:
        return "ok"
    assert response.status_code == 503, response.text
    assert codes == {"SERVICE_UNAVAILABLE"}, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert "Traceback" not in response.text
    return "unavailable"


async def test_a_restart_under_load_is_503_then_recovers(fault_app: Starlette, throwaway: Throwaway, mint: Any) -> None:
    headers = {"Authorization": f"Bearer {mint(Role.OFFICER, '52.71', subject='fault.officer@52.71')}"}
    outcomes: list[str] = []
    registered: list[str] = []
    stop, warmed, recovered = asyncio.Event(), asyncio.Event(), asyncio.Event()
    restarted_at: list[int] = []
    transport = httpx.ASGITransport(app=fault_app)

    def note(outcome: str) -> str:
        outcomes.append(outcome)
        if len(outcomes) >= 10:
            warmed.set()
        if restarted_at and outcomes[restarted_at[0] :].count("ok") >= 20:
            recovered.set()
        return outcome

    async def reader(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            note(_check(await client.post("/graphql", json={"query": READ}, headers=headers)))
            await asyncio.sleep(0)

    async def writer(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            nik = new_nik()
            variables = {"input": registration(nik, fullName="Fault Test")}
            response = await client.post("/graphql", json={"query": REGISTER, "variables": variables}, headers=headers)
            outcome = note(_check(response))
            if outcome == "ok":
                payload = response.json()["data"]["registerParticipant"]
                assert payload["errors"] == [], payload
                registered.append(payload["participant"]["membershipNumber"])
            await asyncio.sleep(0)

    async with httpx.AsyncClient(transport=transport, base_url="http://jamsos.test", timeout=60) as client:
        assert _check(await client.post("/graphql", json={"query": READ}, headers=headers)) == "ok"
        workers = [asyncio.create_task(reader(client)) for _ in range(3)] + [asyncio.create_task(writer(client))]
        await warmed.wait()
        await asyncio.to_thread(throwaway.pg_ctl, "restart", "-m", "fast")
        # Keep going until requests succeed again after the restart (recovery without restarting us).
        restarted_at.append(len(outcomes))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recovered.wait(), DEADLINE_SECONDS)
        stop.set()
        await asyncio.gather(*workers)

    assert "unavailable" in outcomes  # the outage was met (as 503s), and
    assert recovered.is_set(), outcomes[-30:]  # the same app recovered
    # Every registration that answered is whole: its participant row and its audit event, chain intact.
    engine = make_engine(throwaway.url, null_pool=True)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (
                await session.execute(
                    select(Participant.id, Participant.membership_number).where(Participant.full_name == "Fault Test")
                )
            ).all()
            assert set(registered) <= {r.membership_number for r in rows}
            events = (
                await session.execute(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.entity_type == "Participant", AuditEvent.entity_id.in_([str(r.id) for r in rows]))
                )
            ).scalar_one()
            assert events >= len(rows)  # no participant without its audit event
            report = await verify_chain(session)
            assert report.ok, report
    finally:
        await engine.dispose()


async def test_a_read_only_database_refuses_writes_clearly(
    fault_app: Starlette, throwaway: Throwaway, mint: Any
) -> None:
    headers = {"Authorization": f"Bearer {mint(Role.OFFICER, '52.71', subject='readonly.officer@52.71')}"}
    throwaway.sql("ALTER DATABASE jamsos_faults SET default_transaction_read_only = on")
    await fault_app.state.engine.dispose()  # new connections pick the setting up
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fault_app), base_url="http://jamsos.test"
        ) as client:
            read = await client.post("/graphql", json={"query": READ}, headers=headers)
            assert _check(read) == "ok"
            variables = {"input": registration(new_nik(), fullName="Read Only")}
            write = await client.post("/graphql", json={"query": REGISTER, "variables": variables}, headers=headers)
            assert _check(write) == "unavailable"
            assert "read-only" in write.json()["errors"][0]["message"]
            assert _check(await client.post("/graphql", json={"query": READ}, headers=headers)) == "ok"
    finally:
        throwaway.sql("ALTER DATABASE jamsos_faults SET default_transaction_read_only = off")
        await fault_app.state.engine.dispose()
