"""Fixtures of the gateway tests: our subgraph under uvicorn (twice: default SDL, and with the security
directives on), the disnaker subgraph, a stock Apollo gateway and Hive Gateway under Node.

Every server gets a listening socket that this process opened on a free loopback port and hands down
(``pass_fds``), so there is no window in which another process can take the port. Servers are
stopped (terminate, then kill) when the session ends; their output goes to log files that a failure
quotes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.settings import Settings
from domain.claims.models import Claim
from domain.db import make_engine
from domain.participants.models import Employer, Participant
from tests.live import npm_installed

HERE = Path(__file__).resolve().parent
STARTUP_DEADLINE_SECONDS = 120  # a deadline to give up waiting, not a timing assertion


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/federation/node_modules, installed with `npm ci` from the lockfile when missing or stale."""
    return npm_installed(HERE, "the federation test")


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _start(name: str, command: list[str], log_dir: Path, *, env: dict[str, str], path: str = "/") -> Server:
    """Start `command` with a listening socket as `{fd}`; return once it answers HTTP (any status)."""
    sock = _listening_socket()
    port = sock.getsockname()[1]
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  # fixed arguments
            [part.replace("{fd}", str(sock.fileno())) for part in command],
            pass_fds=[sock.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=HERE,
        )
    sock.close()  # the child holds it now; when the child dies, connections are refused
    server = Server(name, f"http://127.0.0.1:{port}{path}", process, log)
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with status {process.returncode}:\n{server.log_tail()}", pytrace=False)
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            return server
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"{name} did not answer within {STARTUP_DEADLINE_SECONDS}s:\n{server.log_tail()}")
        time.sleep(0.2)


def _clean_environment() -> dict[str, str]:
    """This process's environment without JAMSOS_* settings (the test sets those it means)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("JAMSOS_")}


def _jamsos(settings: Settings, data_dir: Path, name: str, extra: dict[str, str]) -> Server:
    env = _clean_environment() | {
        "JAMSOS_ENV": "test",
        "JAMSOS_DATA_DIR": str(data_dir),
        "JAMSOS_DATABASE_URL": settings.resolved_database_url,
        "JAMSOS_SIGNING_KEY_PATH": str(settings.resolved_signing_key_path),
        "JAMSOS_ISSUER": settings.issuer,
        "JAMSOS_AUDIENCE": settings.audience,
        "JAMSOS_LOG_LEVEL": "WARNING",
        **extra,
    }
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--fd", "{fd}"]
    return _start(name, [*command, "--log-level", "warning"], data_dir, env=env, path="/graphql")


@pytest.fixture(scope="session")
def jamsos_subgraph(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Our service under uvicorn over the migrated, seeded database; it verifies the tests' tokens."""
    server = _jamsos(settings, tmp_path_factory.mktemp("jamsos-subgraph"), "jamsos", {})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def jamsos_secured_subgraph(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same service serving the SDL with @authenticated/@requiresScopes (for a gateway that enforces them)."""
    data_dir = tmp_path_factory.mktemp("jamsos-secured")
    server = _jamsos(settings, data_dir, "jamsos-secured", {"JAMSOS_FEDERATION_SECURITY_DIRECTIVES": "true"})
    yield server
    server.stop()


@dataclass(frozen=True)
class AgencyData:
    """Rows of ours the disnaker subgraph refers to, and what it says about them."""

    inside: dict[str, Any]  # a participant of 52.71 with a claim and an employer
    outside: dict[str, Any]  # a participant of 52.03 with a claim
    file: Path


async def _pick_rows(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    from strawberry.relay import to_base64

    engine = make_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        Participant.membership_number,
                        Participant.region_code,
                        Claim.id,
                        Claim.claim_number,
                        Employer.registration_number,
                    )
                    .join(Claim, Claim.participant_id == Participant.id)
                    .outerjoin(Employer, Employer.id == Participant.employer_id)
                    .order_by(Participant.id, Claim.id)
                )
            ).all()
    finally:
        await engine.dispose()

    def first(prefix: str, with_employer: bool) -> dict[str, Any]:
        row = next(r for r in rows if r.region_code.startswith(prefix) and (r[4] is not None or not with_employer))
        return {
            "membershipNumber": row[0],
            "regionCode": row[1],
            "claimId": to_base64("Claim", row[2]),
            "claimNumber": row[3],
            "employerNumber": row[4],
        }

    return first("52.71.", True), first("52.03.", False)


@pytest.fixture(scope="session")
def agency_data(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AgencyData:
    inside, outside = asyncio.run(_pick_rows(settings.resolved_database_url))
    seekers = [
        {
            "id": "js-1",
            "cardNumber": "AK1-5271-000001",
            "registeredOn": "2026-02-02",
            "skills": ["welding"],
            "membershipNumber": inside["membershipNumber"],
            "claimId": inside["claimId"],
            "regionCode": "52.71",
            "trainings": [{"title": "Las listrik dasar", "completedOn": "2026-04-30"}],
        },
        {
            "id": "js-2",
            "cardNumber": "AK1-5203-000002",
            "registeredOn": "2026-03-03",
            "skills": ["tailoring"],
            "membershipNumber": outside["membershipNumber"],
            "claimId": outside["claimId"],
            "regionCode": "52.03",
            "trainings": [],
        },
        {  # someone who never was a participant: their key matches no row of ours
            "id": "js-3",
            "cardNumber": "AK1-5271-000003",
            "registeredOn": "2026-04-04",
            "skills": [],
            "membershipNumber": "00000000000",
            "claimId": None,
            "regionCode": "52.71",
            "trainings": [],
        },
    ]
    data = {
        "seekers": seekers,
        "regions": {
            "52.71": {"openVacancies": 42, "manpowerOffice": "Disnaker Kota Mataram"},
            "52.03": {"openVacancies": 17, "manpowerOffice": "Disnakertrans Lombok Timur"},
        },
        "companies": {inside["employerNumber"]: {"wlkpNumber": "WLKP-5271-0099", "reportedWorkers": 120}},
    }
    file = tmp_path_factory.mktemp("disnaker") / "data.json"
    file.write_text(json.dumps(data))
    return AgencyData(inside=inside, outside=outside, file=file)


@pytest.fixture(scope="session")
def disnaker_subgraph(node_modules: Path, agency_data: AgencyData) -> Iterator[Server]:
    command = ["node", "disnaker.mjs", "--data", str(agency_data.file), "--fd", "{fd}"]
    server = _start("disnaker", command, agency_data.file.parent, env=_clean_environment())
    yield server
    server.stop()


@dataclass(frozen=True)
class Gateway:
    url: str
    supergraph: str


@pytest.fixture(scope="session")
def gateway(
    node_modules: Path,
    jamsos_subgraph: Server,
    disnaker_subgraph: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    """An Apollo gateway that composed both subgraphs (it exits with the errors when composition fails)."""
    log_dir = tmp_path_factory.mktemp("gateway")
    supergraph = log_dir / "supergraph.graphql"
    command = [
        "node",
        "gateway.mjs",
        "--jamsos",
        jamsos_subgraph.url,
        "--disnaker",
        disnaker_subgraph.url,
        "--fd",
        "{fd}",
        "--supergraph-out",
        str(supergraph),
    ]
    server = _start("gateway", command, log_dir, env=_clean_environment() | {"NODE_ENV": "production"})
    yield Gateway(server.url, supergraph.read_text())
    server.stop()


@pytest.fixture(scope="session")
def hive_gateway(
    node_modules: Path,
    settings: Settings,
    jamsos_secured_subgraph: Server,
    disnaker_subgraph: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    """Hive Gateway over our secured SDL and disnaker's, composed by The Guild's composer, enforcing the directives."""
    log_dir = tmp_path_factory.mktemp("hive")
    supergraph = log_dir / "supergraph.graphql"
    jwks = jamsos_secured_subgraph.url.removesuffix("/graphql") + "/.well-known/jwks.json"
    command = [
        "node",
        "hive.mjs",
        "--jamsos",
        jamsos_secured_subgraph.url,
        "--disnaker",
        disnaker_subgraph.url,
        "--jwks",
        jwks,
        "--issuer",
        settings.issuer,
        "--audience",
        settings.audience,
        "--fd",
        "{fd}",
        "--supergraph-out",
        str(supergraph),
    ]
    server = _start("hive", command, log_dir, env=_clean_environment() | {"NODE_ENV": "production"}, path="/graphql")
    yield Gateway(server.url, supergraph.read_text())
    server.stop()
