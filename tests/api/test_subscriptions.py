"""Subscriptions end to end: ``claimChanged`` over graphql-transport-ws (graphql-ws's own client, under Node)
and SSE (httpx streaming), against the service under uvicorn.

SQLite in one process; PostgreSQL across two web processes (a claim moved through one reaches a subscriber
of the other: ``LISTEN/NOTIFY``), and ``jobProgress`` of a job run by a separate ``jamsos worker`` process.
Bad input: no token, a malformed or foreign one, another region, past the per-connection and per-client
bounds, a token revoked mid-subscription, a rolled-back write, a query over the socket, a subscriber that
never reads.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import to_base64

import domain.audit.access
from api.app import create_app
from api.cli_jobs import apply_queue_schema
from auth import accounts
from auth.revocation import Revoked, record_revocations
from auth.scopes import ROLE_SCOPES, Role, Scope
from domain.audit.models import DataAccessEvent
from domain.audit.writes import Actor
from domain.beneficiaries.batch_enrolment import ENROL_KIND, ListFilter, enrolment_params
from domain.claims.models import Claim, ClaimStatus
from domain.db import make_engine, make_sessionmaker
from domain.documents.models import document_id
from domain.documents.writes import NewDocument, push_documents
from domain.jobs.models import Job
from domain.jobs.queue import ProcrastinateQueue
from domain.jobs.rules import JobState
from domain.jobs.runner import create_job, run_job
from domain.participants.models import FundingSource
from domain.regions.rules import RegionCode
from domain.writes.caller import Caller as DomainCaller
from tests.conftest import AUDIENCE, ISSUER, Caller, suite_settings
from tests.databases import POSTGRES_URL, Databases
from tests.live import free_port, jamsos_worker, live_server, npm_installed, service_env, until
from tests.writes.test_batch_enrolment import make_mix

HERE = Path(__file__).resolve().parent.parent / "subscriptions"
SCRIPT = HERE / "subscribe.mjs"
#: A deadline to give up waiting, not a timing assertion (the cross-process test asserts its latency itself).
WAIT = 15.0

CLAIM_CHANGED = """
subscription($filter: ClaimChangeFilter) {
  claimChanged(filter: $filter) {
    status version
    claim { id claimNumber status program version benefits { recipientNik } region { code } }
  }
}"""
VERIFY = (
    'mutation($id: ID!, $v: Int!) { verifyClaim(id: $id, expectedVersion: $v, note: "documents complete") '
    "{ claim { id version status } errors { code } } }"
)
#: Settings of the services under test: token checks and revocation reads often, small bounds.
SERVICE_SETTINGS = {
    "issuer": ISSUER,
    "audience": AUDIENCE,
    "subscription_token_check_seconds": "0.3",
    "revocation_refresh_seconds": "0.2",
    "subscriptions_per_connection": "3",
    "subscriptions_per_client": "4",
}


@pytest.fixture(scope="session", autouse=True)
def node_modules() -> Path:
    """tests/subscriptions/node_modules (graphql-ws's client), for every test here: each starts Node clients."""
    return npm_installed(HERE, "the subscription tests")


@dataclass
class Subscriber:
    """graphql-ws's client in a Node process; its events are JSON lines (tests/subscriptions/subscribe.mjs)."""

    process: asyncio.subprocess.Process
    lines: list[dict[str, Any]] = field(default_factory=list)

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], within: float = WAIT) -> dict[str, Any]:
        for line in self.lines:
            if predicate(line):
                return line
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            while True:
                raw = await self.process.stdout.readline()
                assert raw, f"the client exited; it printed {self.lines}"
                line = json.loads(raw)
                self.lines.append(line)
                if predicate(line):
                    return line

    async def results(self, sub: int = 0, wait: float = 0.0) -> list[dict[str, Any]]:
        """Every ``next`` of subscription `sub` so far, after reading for `wait` seconds more."""
        with contextlib.suppress(TimeoutError):
            await self.wait_for(lambda _line: False, within=wait)
        return [line["payload"] for line in self.lines if line["event"] == "next" and line["sub"] == sub]


@contextlib.asynccontextmanager
async def subscribe(
    base: str, token: str | None, *operations: tuple[str, dict[str, Any]], connected: bool = True
) -> AsyncIterator[Subscriber]:
    config = {
        "url": base.replace("http://", "ws://") + "/graphql",
        "token": token,
        "subscriptions": [{"query": q, "variables": v} for q, v in operations],
    }
    process = await asyncio.create_subprocess_exec(
        "node", str(SCRIPT), json.dumps(config), stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=HERE
    )
    subscriber = Subscriber(process)
    try:
        if connected:
            await subscriber.wait_for(lambda line: line["event"] == "connected")
            await asyncio.sleep(0.3)  # the subscribe messages follow connection_ack; let the server register them
        yield subscriber
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


def person(mint: Callable[..., str], name: str, region: str | None, role: Role = Role.OFFICER, **kw: Any) -> Caller:
    scopes = kw.pop("scopes", ROLE_SCOPES[role])
    return Caller(name, mint(role, region, scopes, subject=name, **kw), region, scopes)


@dataclass(frozen=True)
class Service:
    base: str
    engine: AsyncEngine

    async def reset(self, claim_id: int) -> int:
        """Test set-up: put a claim back to SUBMITTED (directly in the database: no event); its version."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(Claim)
                .where(Claim.id == claim_id)
                .values(
                    status=ClaimStatus.SUBMITTED,
                    verified_by=None,
                    approved_by=None,
                    amount_approved=None,
                    paid_at=None,
                    payment_reference=None,
                    rejection_reason=None,
                    version=Claim.version + 1,
                )
            )
            version: int = (await conn.execute(select(Claim.version).where(Claim.id == claim_id))).scalar_one()
        return version

    async def claim_in(self, region: str, index: int = 0) -> int:
        async with self.engine.connect() as conn:
            ids = (
                await conn.execute(
                    select(Claim.id).where(Claim.region_code.startswith(region + ".")).order_by(Claim.id)
                )
            ).scalars()
            return list(ids)[index]

    async def verify(self, claim_id: int, caller: Caller, version: int | None = None) -> dict[str, Any]:
        """Reset the claim, then verify it through the API (one claimChanged event)."""
        current = await self.reset(claim_id)
        return await self.verify_as_is(claim_id, caller, current if version is None else version)

    async def verify_as_is(self, claim_id: int, caller: Caller, version: int) -> dict[str, Any]:
        global_id = base64.b64encode(f"Claim:{claim_id}".encode()).decode()
        async with httpx.AsyncClient(base_url=self.base, timeout=WAIT) as client:
            response = await client.post(
                "/graphql", json={"query": VERIFY, "variables": {"id": global_id, "v": version}}, headers=caller.headers
            )
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def sqlite_service(tmp_path_factory: pytest.TempPathFactory, databases: Databases, key_path: Path) -> Iterator[str]:
    data = tmp_path_factory.mktemp("subscriptions")
    url = databases.seeded_file(data / "subscriptions.db")
    env = service_env(url, data, signing_key_path=str(key_path), **SERVICE_SETTINGS)
    with live_server(env, free_port()) as base:
        yield f"{base}|{url}"


@pytest.fixture
async def service(sqlite_service: str) -> AsyncIterator[Service]:
    base, url = sqlite_service.split("|")
    engine = make_engine(url)
    try:
        yield Service(base, engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def people(mint: Callable[..., str]) -> dict[str, Caller]:
    officer = ROLE_SCOPES[Role.OFFICER]
    return {
        "verifier": person(mint, "officer.rina@52.71", "52.71"),
        "watcher": person(mint, "officer.watch@52.71", "52.71"),
        "masked": person(mint, "registrar-app@52.71", "52.71", scopes=officer - {Scope.PII_READ}),
        "lotim": person(mint, "officer.dewi@52.03", "52.03"),
        "no_claims": person(mint, "stats@52.71", "52.71", scopes=frozenset({Scope.STATS_READ})),
    }


def _claims(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["data"]["claimChanged"]["claim"]["id"], r["data"]["claimChanged"]["status"]) for r in results]


async def test_a_verified_claim_reaches_subscribers_as_reads_show_it(
    service: Service, people: dict[str, Caller], node_modules: Path
) -> None:
    claim_id = await service.claim_in("52.71")
    async with (
        subscribe(service.base, people["watcher"].token, (CLAIM_CHANGED, {})) as watcher,
        subscribe(service.base, people["masked"].token, (CLAIM_CHANGED, {})) as masked,
    ):
        started = dt.datetime.now(dt.UTC)
        body = await service.verify(claim_id, people["verifier"])
        assert body["data"]["verifyClaim"]["errors"] == [], body
        version = body["data"]["verifyClaim"]["claim"]["version"]
        seen = (await watcher.wait_for(lambda line: line["event"] == "next"))["payload"]
        hidden = (await masked.wait_for(lambda line: line["event"] == "next"))["payload"]
    change = seen["data"]["claimChanged"]
    assert change["status"] == "VERIFIED"
    assert change["version"] == version
    assert change["claim"]["status"] == "VERIFIED"
    assert change["claim"]["region"]["code"].startswith("52.71")
    niks = [b["recipientNik"] for b in change["claim"]["benefits"]]
    assert niks
    assert all(n is not None and "*" not in n for n in niks)
    masked_niks = [b["recipientNik"] for b in hidden["data"]["claimChanged"]["claim"]["benefits"]]
    assert masked_niks
    assert all("*" in n for n in masked_niks if n is not None)
    assert masked_niks != niks
    # The unmasked NIKs sent on the subscription are in the access log, under the subscriber's name.
    async with service.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(DataAccessEvent.entity_type, DataAccessEvent.entity_ids, DataAccessEvent.fields).where(
                    DataAccessEvent.actor_subject == "officer.watch@52.71", DataAccessEvent.occurred_at >= started
                )
            )
        ).all()
        masked_rows = (
            await conn.execute(
                select(DataAccessEvent.id).where(
                    DataAccessEvent.actor_subject == "registrar-app@52.71", DataAccessEvent.occurred_at >= started
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [("Claim", [str(claim_id)], ["recipientNik"])]
    assert masked_rows == []


async def test_another_region_sees_nothing_and_filters_apply(
    service: Service, people: dict[str, Caller], node_modules: Path
) -> None:
    mataram, lotim = await service.claim_in("52.71", 1), await service.claim_in("52.03")
    lotim_gid = base64.b64encode(f"Claim:{lotim}".encode()).decode()
    officer = people["lotim"].token
    async with (
        subscribe(
            service.base,
            officer,
            (CLAIM_CHANGED, {}),
            (CLAIM_CHANGED, {"filter": {"regionCode": "52.71"}}),  # outside 52.03: nothing, as a list
            (CLAIM_CHANGED, {"filter": {"status": "PAID"}}),
        ) as lotim_sub,
        subscribe(service.base, people["watcher"].token, (CLAIM_CHANGED, {"filter": {"program": "JHT"}})) as jht,
    ):
        await service.verify(mataram, people["verifier"])
        await service.verify(lotim, people["lotim"])
        first = (await lotim_sub.wait_for(lambda line: line["event"] == "next"))["payload"]
        assert _claims([first]) == [(lotim_gid, "VERIFIED")]  # the 52.71 claim, moved first, never came
        assert await lotim_sub.results(sub=1, wait=1.0) == []
        assert await lotim_sub.results(sub=2) == []
        programs = {r["data"]["claimChanged"]["claim"]["program"] for r in await jht.results(wait=0.5)}
        assert programs <= {"JHT"}


async def test_a_rolled_back_write_announces_nothing(
    service: Service, people: dict[str, Caller], node_modules: Path
) -> None:
    claim_id = await service.claim_in("52.71", 2)
    gid = base64.b64encode(f"Claim:{claim_id}".encode()).decode()
    async with subscribe(service.base, people["watcher"].token, (CLAIM_CHANGED, {})) as watcher:
        stale = await service.verify(claim_id, people["verifier"], version=1)
        assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
        assert await watcher.results(wait=1.0) == []
        await service.verify(claim_id, people["verifier"])
        await watcher.wait_for(lambda line: line["event"] == "next")
        assert _claims(await watcher.results()) == [(gid, "VERIFIED")]


@pytest.mark.parametrize(
    ("token", "reason"),
    [(None, "no token"), ("not-a-jwt", "malformed"), ("e30.e30.e30", "unsigned")],
)
async def test_connection_init_without_a_valid_token_is_refused(
    service: Service, node_modules: Path, token: str | None, reason: str
) -> None:
    async with subscribe(service.base, token, (CLAIM_CHANGED, {}), connected=False) as refused:
        closed = await refused.wait_for(lambda line: line["event"] == "closed")
    assert closed["code"] == 4403, reason
    assert not any(line["event"] in ("connected", "next") for line in refused.lines)


async def test_a_token_without_claims_read_gets_an_error(people: dict[str, Caller], service: Service) -> None:
    async with subscribe(service.base, people["no_claims"].token, (CLAIM_CHANGED, {})) as stats:
        error = await stats.wait_for(lambda line: line["event"] == "error")
    assert error["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_queries_do_not_run_over_the_socket(people: dict[str, Caller], service: Service) -> None:
    async with subscribe(service.base, people["watcher"].token, ('{ region(code: "52") { name } }', {})) as query:
        result = await query.wait_for(lambda line: line["event"] in ("next", "error"))
    errors = result["payload"]["errors"] if result["event"] == "next" else result["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_past_the_bound_per_connection(people: dict[str, Caller], service: Service, node_modules: Path) -> None:
    operations = [(CLAIM_CHANGED, {})] * 4  # the service allows 3 per connection
    async with subscribe(service.base, people["watcher"].token, *operations) as many:
        error = await many.wait_for(lambda line: line["event"] == "error")
        assert error["sub"] == 3
        assert "limit" in error["errors"][0]["message"].lower()
        claim_id = await service.claim_in("52.71", 3)
        await service.verify(claim_id, people["verifier"])
        for sub in range(3):  # the three within the bound still run
            await many.wait_for(lambda line, sub=sub: line["event"] == "next" and line["sub"] == sub)


async def test_past_the_bound_per_client(mint: Callable[..., str], service: Service, node_modules: Path) -> None:
    token = person(mint, "dashboard@52.71", "52.71").token
    async with (
        subscribe(service.base, token, (CLAIM_CHANGED, {}), (CLAIM_CHANGED, {}), (CLAIM_CHANGED, {})) as first,
        subscribe(service.base, token, (CLAIM_CHANGED, {}), (CLAIM_CHANGED, {})) as second,
    ):
        # 4 per client and user, over any connections: the fifth (the second connection's last) is refused.
        refused = await second.wait_for(lambda line: line["event"] == "next")
        assert refused["sub"] == 1
        assert refused["payload"]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        await second.wait_for(lambda line: line["event"] == "complete" and line["sub"] == 1)
        await service.verify(await service.claim_in("52.71", 6), people_verifier(mint))
        for subscriber, subs in ((first, 3), (second, 1)):
            for sub in range(subs):
                line = await subscriber.wait_for(lambda line, sub=sub: line["event"] == "next" and line["sub"] == sub)
                assert "errors" not in line["payload"]


def people_verifier(mint: Callable[..., str]) -> Caller:
    return person(mint, "officer.rina@52.71", "52.71")


async def test_a_revoked_token_ends_the_subscription(
    mint: Callable[..., str], service: Service, people: dict[str, Caller], node_modules: Path
) -> None:
    caller = person(mint, "officer.revoked@52.71", "52.71")
    assert caller.token is not None
    claims = json.loads(base64.urlsafe_b64decode(caller.token.split(".")[1] + "=="))
    async with subscribe(service.base, caller.token, (CLAIM_CHANGED, {})) as doomed:
        sessions = make_sessionmaker(service.engine)
        async with sessions() as session, session.begin():
            expires = dt.datetime.fromtimestamp(claims["exp"], dt.UTC)
            await record_revocations(session, [Revoked(claims["jti"], expires)], "test: revoked mid-subscription")
        ended = await doomed.wait_for(lambda line: line["event"] == "next", within=5)
        assert ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "revoked" in ended["payload"]["errors"][0]["message"]
        await doomed.wait_for(lambda line: line["event"] == "complete", within=5)
        # Nothing after the end, though claims keep moving.
        await service.verify(await service.claim_in("52.71", 4), people["verifier"])
        assert len(await doomed.results(wait=1.0)) == 1


async def test_an_expired_token_ends_the_subscription(mint: Callable[..., str], service: Service) -> None:
    # Issued 60 s ago for 33 s: with the verifier's 30 s leeway for clock skew it expires 3 s from now.
    token = person(mint, "officer.brief@52.71", "52.71", lifetime_seconds=33, now=int(time.time()) - 60).token
    async with subscribe(service.base, token, (CLAIM_CHANGED, {})) as brief:
        ended = await brief.wait_for(lambda line: line["event"] == "next", within=WAIT)
        assert ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "expired" in ended["payload"]["errors"][0]["message"]
        await brief.wait_for(lambda line: line["event"] == "complete")


async def _sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    event = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event is not None:
            data = line.removeprefix("data: ")
            yield event, json.loads(data) if data else None
            event = None


async def test_sse_delivers_the_same_events(service: Service, people: dict[str, Caller]) -> None:
    claim_id = await service.claim_in("52.71", 5)
    gid = base64.b64encode(f"Claim:{claim_id}".encode()).decode()
    headers = {"Accept": "text/event-stream", **people["masked"].headers}
    body = {"query": CLAIM_CHANGED, "variables": {}}
    async with (
        httpx.AsyncClient(base_url=service.base, timeout=WAIT) as client,
        client.stream("POST", "/graphql", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        await asyncio.sleep(0.3)
        await service.verify(claim_id, people["verifier"])
        async with asyncio.timeout(WAIT):
            kind, data = await anext(_sse_events(response))
    assert kind == "next"
    assert "errors" not in data
    change = data["data"]["claimChanged"]
    assert (change["claim"]["id"], change["status"]) == (gid, "VERIFIED")
    assert all("*" in b["recipientNik"] for b in change["claim"]["benefits"] if b["recipientNik"])


@pytest.mark.parametrize("token", [None, "foreign"])
async def test_sse_without_a_valid_token(service: Service, mint: Callable[..., str], token: str | None) -> None:
    headers = {"Accept": "text/event-stream"}
    if token == "foreign":  # signed by a key that is not the service's
        headers["Authorization"] = "Bearer " + base64.urlsafe_b64encode(b'{"alg":"none"}').decode() + ".e30."
    async with (
        httpx.AsyncClient(base_url=service.base, timeout=WAIT) as client,
        client.stream("POST", "/graphql", json={"query": CLAIM_CHANGED}, headers=headers) as response,
    ):
        if token is None:
            assert response.status_code == 200
            kind, data = await anext(_sse_events(response))
            assert kind == "next"
            assert data["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        else:
            assert response.status_code == 401


# -- a subscriber that never reads: the service in this process, to see its bus --


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """`app` under uvicorn in this process and event loop. The listening socket's small send buffer is
    inherited by the connections it accepts (Linux), so a client that stops reading blocks the server's
    sends after a few kilobytes instead of the megabytes loopback autotuning would buffer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # No keepalive pings: a client that never reads would miss their pongs and be closed by uvicorn after
    # ping interval and timeout, which under load can come before the bus drops it.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2, ws_ping_interval=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it
                await asyncio.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def slow_db(databases: Databases, tmp_path: Path) -> str:
    return databases.seeded_file(tmp_path / "slow.db")  # outside the event loop: a first template migrates


async def test_a_subscriber_that_never_reads_is_dropped(slow_db: str, key_path: Path, mint: Callable[..., str]) -> None:
    url = slow_db
    app = create_app(suite_settings(url, key_path, subscription_queue_size=8))
    token = person(mint, "officer.slow@52.71", "52.71").token
    # Many aliases of the claim's history, which grows by one step per event: events grow, and the socket's
    # buffers fill after about a dozen (the silent client takes them uncompressed).
    fields = " ".join(f"h{i}: history {{ status at actor note }}" for i in range(25))
    query = f"subscription {{ claimChanged {{ status claim {{ id {fields} }} }} }}"
    async with serving(app) as address:
        bus = app.state.events
        stuck = await _raw_subscriber(address, token, query)  # never reads after the handshake
        await until(lambda: bus.active == 1, "the silent subscriber on the bus")
        async with subscribe(f"http://{address}", token, (CLAIM_CHANGED, {}), connected=False) as reading:
            await until(lambda: bus.active == 2, "the reading subscriber on the bus")
            service = Service(f"http://{address}", app.state.engine)
            claim_id = await service.claim_in("52.71")
            verifier = person(mint, "officer.rina@52.71", "52.71")
            for n in range(1, 200):
                await service.verify(claim_id, verifier)
                await reading.wait_for(lambda _line, n=n: len(_nexts(reading)) >= n)  # a reader keeps up
                assert bus.queued <= bus.active * bus.queue_size  # memory stays bounded throughout
                if bus.dropped:
                    break
            assert bus.dropped == 1
            assert bus.active == 1
        stuck.transport.abort()


async def test_an_event_is_withheld_when_the_access_log_cannot_be_written(
    slow_db: str, key_path: Path, mint: Callable[..., str], node_modules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(suite_settings(slow_db, key_path))
    async with serving(app) as address:
        service = Service(f"http://{address}", app.state.engine)
        claim_id = await service.claim_in("52.71")
        async with subscribe(
            service.base, person(mint, "officer.watch@52.71", "52.71").token, (CLAIM_CHANGED, {})
        ) as s:

            async def broken(*_: Any) -> None:
                raise OSError("the database went away")

            monkeypatch.setattr(domain.audit.access, "write_rows", broken)
            await service.verify(claim_id, person(mint, "officer.rina@52.71", "52.71"))
            withheld = (await s.wait_for(lambda line: line["event"] == "next"))["payload"]
            monkeypatch.undo()
            await service.verify(claim_id, person(mint, "officer.rina@52.71", "52.71"))
            shown = (await s.wait_for(lambda line: len(_nexts(s)) == 2))["payload"]
    assert withheld["data"] is None
    assert [e["extensions"]["code"] for e in withheld["errors"]] == ["SERVICE_UNAVAILABLE"]
    niks = [b["recipientNik"] for b in shown["data"]["claimChanged"]["claim"]["benefits"]]
    assert niks
    assert not any(nik in json.dumps(withheld) for nik in niks)  # the subscription went on; nothing leaked


def _nexts(subscriber: Subscriber) -> list[dict[str, Any]]:
    return [line for line in subscriber.lines if line["event"] == "next"]


async def _raw_subscriber(address: str, token: str | None, query: str) -> Any:
    """A graphql-transport-ws client that subscribes, then never reads again (a small receive buffer, no
    compression: the buffers fill after a few events, not dozens)."""
    import websockets.asyncio.client as ws_client

    host, port = address.split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    connection = await ws_client.connect(
        f"ws://{address}/graphql",
        sock=sock,
        subprotocols=["graphql-transport-ws"],
        max_queue=1,
        ping_interval=None,
        compression=None,
    )
    await connection.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await connection.recv())["type"] == "connection_ack"
    await connection.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    # From here on nothing reads: the client's queue holds one message, then the socket's buffers fill.
    connection.transport.pause_reading()
    return connection


# -- two web processes on PostgreSQL --


def _postgres_seeded(databases: Databases, purpose: str) -> str:
    """A seeded PostgreSQL database of `purpose`; skips without one. Called from a synchronous fixture,
    outside the event loop: a first template migrates."""
    if not POSTGRES_URL:
        pytest.skip("JAMSOS_TEST_POSTGRES_URL is not set")
    return databases.seeded("postgres", purpose)


@pytest.fixture
def postgres_db(databases: Databases) -> str:
    return _postgres_seeded(databases, "subscriptions")


@pytest.mark.whole_machine
async def test_across_two_processes_within_a_second(
    postgres_db: str, key_path: Path, tmp_path: Path, people: dict[str, Caller], node_modules: Path
) -> None:
    url = postgres_db
    env = service_env(url, tmp_path, signing_key_path=str(key_path), **SERVICE_SETTINGS)
    with live_server(env, free_port()) as writer_base, live_server(env, free_port()) as subscriber_base:
        engine = make_engine(url)
        try:
            writes = Service(writer_base, engine)
            async with subscribe(subscriber_base, people["watcher"].token, (CLAIM_CHANGED, {})) as watcher:
                latencies = []  # ms from sending the mutation (an upper bound: it includes the write itself)
                for n in range(1, 11):
                    claim_id = await writes.claim_in("52.71", n % 5)
                    version = await writes.reset(claim_id)
                    sent = time.time() * 1000
                    body = await writes.verify_as_is(claim_id, people["verifier"], version)
                    assert body["data"]["verifyClaim"]["errors"] == [], body
                    await watcher.wait_for(lambda _line, n=n: len(_nexts(watcher)) >= n)
                    line = _nexts(watcher)[n - 1]
                    change = line["payload"]["data"]["claimChanged"]
                    assert change["claim"]["version"] == body["data"]["verifyClaim"]["claim"]["version"]
                    latencies.append(round(line["at"] - sent, 1))
        finally:
            await engine.dispose()
    worst = max(latencies)
    print(f"\ncross-process claimChanged latency, mutation sent -> event received, ms: {sorted(latencies)}")
    assert worst < 1000


async def test_a_trusted_documents_only_client_subscribes_only_with_a_registered_text(
    mint: Callable[..., str], service: Service, node_modules: Path
) -> None:
    """No documentId travels over graphql-transport-ws: a trusted-documents-only client's subscription must be
    the exact text of a document registered for it (SSE goes by HTTP, where the documentId rule applies)."""
    registered = CLAIM_CHANGED
    other = CLAIM_CHANGED.replace("status version", "version status")
    actor = Actor(subject="cli:test", kind="system")
    async with make_sessionmaker(service.engine)() as session:
        created = await accounts.create_client(
            session,
            name="Monev app (trusted documents only)",
            scopes=ROLE_SCOPES[Role.ANALYST],
            region="52.71",
            trusted_documents_only=True,
            actor=actor,
        )
        client_id = created.client.client_id
        new = [NewDocument(document_id(registered), registered, None)]
        await push_documents(session, client_id=client_id, documents=new, actor=actor)
        await session.commit()
    token = mint(Role.ANALYST, "52.71", client_id=client_id, subject=client_id)
    async with subscribe(service.base, token, (other, {})) as refused:
        result = await refused.wait_for(lambda line: line["event"] in ("next", "error"))
    errors = result["payload"]["errors"] if result["event"] == "next" else result["errors"]
    assert errors[0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
    assert result["event"] == "error" or result["payload"].get("data") is None

    claim_id = await service.claim_in("52.71", 6)
    gid = base64.b64encode(f"Claim:{claim_id}".encode()).decode()
    async with subscribe(service.base, token, (registered, {})) as admitted:
        await service.verify(claim_id, person(mint, "officer.trusted@52.71", "52.71"))
        change = await admitted.wait_for(lambda line: line["event"] in ("next", "error"))
    assert change["event"] == "next", change
    assert change["payload"]["data"]["claimChanged"]["claim"]["id"] == gid


# -- jobProgress: a job's state and progress, as its chunks commit --

JOB_PROGRESS = "subscription($id: ID!) { jobProgress(id: $id) { id state processed total progress } }"


async def test_job_progress_follows_each_chunk_until_the_job_ends(
    slow_db: str, key_path: Path, mint: Callable[..., str], node_modules: Path
) -> None:
    app = create_app(suite_settings(slow_db, key_path))
    engine = app.state.engine
    await make_mix(engine, 21, 30)
    sessions = make_sessionmaker(engine)
    officer = DomainCaller(Actor("officer.dewi@52.03", "user"), RegionCode.parse("52.03"), sees_personal_data=True)
    params = enrolment_params(
        ListFilter(region_code="52.03"), programs=None, funding=FundingSource.APBD, payer="52.03", dry_run=False,
        chunk_size=10,
    )  # fmt: skip
    async with serving(app) as address:
        async with sessions() as session, session.begin():
            job = await create_job(session, officer, ENROL_KIND, params, total=30, payer_region_code="52.03")
        gid = to_base64("Job", job.id)
        lotim = person(mint, "officer.dewi@52.03", "52.03").token
        other = person(mint, "officer.watch@52.71", "52.71").token  # another region: the job does not exist
        async with (
            subscribe(f"http://{address}", lotim, (JOB_PROGRESS, {"id": gid})) as watcher,
            subscribe(f"http://{address}", other, (JOB_PROGRESS, {"id": gid})) as outsider,
        ):
            first = await watcher.wait_for(lambda line: line["event"] == "next")
            assert first["payload"]["data"]["jobProgress"]["state"] == "QUEUED"
            assert await run_job(sessions, job.id) is JobState.DONE
            await watcher.wait_for(lambda line: line["event"] == "complete")
            refused = await outsider.wait_for(lambda line: line["event"] in ("next", "error"))
        seen = [line["payload"]["data"]["jobProgress"] for line in watcher.lines if line["event"] == "next"]
    states = [s["state"] for s in seen]
    assert states[0] == "QUEUED", states
    assert states[-1] == "DONE", states
    assert "RUNNING" in states
    processed = [s["processed"] for s in seen]
    assert processed == sorted(processed)  # every committed chunk, in order
    assert processed[-1] == 30
    assert len([s for s in seen if s["state"] == "RUNNING"]) >= 3  # one event per chunk of 10
    assert seen[-1]["progress"] == 1.0
    errors = refused["payload"]["errors"] if refused["event"] == "next" else refused["errors"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


@pytest.fixture
def worker_db(databases: Databases) -> str:
    return _postgres_seeded(databases, "job_progress_worker")  # the worker runs on PostgreSQL


@pytest.mark.whole_machine
async def test_job_progress_of_a_job_run_by_a_separate_worker_process(
    worker_db: str, key_path: Path, tmp_path: Path, mint: Callable[..., str], node_modules: Path
) -> None:
    """The Procfile's deployment on PostgreSQL: the web process hands the job to the queue, a separate
    ``jamsos worker`` process runs it, and a subscriber of the web process sees each committed chunk and the
    final state (the worker's ``NOTIFY``, the web process's ``LISTEN``)."""
    url = worker_db
    await apply_queue_schema(url)
    app = create_app(suite_settings(url, key_path, jobs_runner="worker"))
    assert isinstance(app.state.jobs, ProcrastinateQueue)  # this process runs no job
    engine = app.state.engine
    await make_mix(engine, 22, 30)
    sessions = make_sessionmaker(engine)
    officer = DomainCaller(Actor("officer.dewi@52.03", "user"), RegionCode.parse("52.03"), sees_personal_data=True)
    params = enrolment_params(
        ListFilter(region_code="52.03"), programs=None, funding=FundingSource.APBD, payer="52.03", dry_run=False,
        chunk_size=10,
    )  # fmt: skip
    log = tmp_path / "worker.log"
    async with serving(app) as address:
        async with sessions() as session, session.begin():
            job = await create_job(session, officer, ENROL_KIND, params, total=30, payer_region_code="52.03")
        token = person(mint, "officer.dewi@52.03", "52.03").token
        async with subscribe(f"http://{address}", token, (JOB_PROGRESS, {"id": to_base64("Job", job.id)})) as watcher:
            first = await watcher.wait_for(lambda line: line["event"] == "next")
            assert first["payload"]["data"]["jobProgress"]["state"] == "QUEUED"
            await app.state.jobs.enqueue(job.id)  # what enrollBeneficiaries does over a page
            env = service_env(url, tmp_path, signing_key_path=str(key_path))
            worker = jamsos_worker(env, log)
            try:
                await watcher.wait_for(lambda line: line["event"] == "complete", within=60)
            finally:
                worker.send_signal(signal.SIGTERM)
                await asyncio.to_thread(worker.wait, 30)
    seen = [line["payload"]["data"]["jobProgress"] for line in watcher.lines if line["event"] == "next"]
    states = [s["state"] for s in seen]
    assert (states[0], states[-1]) == ("QUEUED", "DONE"), (states, log.read_text())
    assert "RUNNING" in states
    processed = [s["processed"] for s in seen]
    assert processed == sorted(processed)  # every committed chunk, in order
    assert len([s for s in seen if s["state"] == "RUNNING"]) >= 3  # one event per chunk of 10
    assert (processed[-1], seen[-1]["progress"]) == (30, 1.0)
    async with sessions() as session:
        done = await session.get(Job, job.id)
        assert done is not None
        assert (done.state, done.processed) == (JobState.DONE, 30)
    await engine.dispose()
