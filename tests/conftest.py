"""Shared fixtures: one migrated, seeded database per backend, the app over it, and tokens per caller kind.

Every test that takes ``backend`` (or a fixture built on it) runs on SQLite and, when
``JAMSOS_TEST_POSTGRES_URL`` is set, on PostgreSQL too: the same tests, parametrised.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from api.migrate import upgrade
from api.settings import Settings
from auth.scopes import ROLE_SCOPES, Role, Scope
from auth.tokens import TokenConfig, issue_access_token, load_or_create_key

POSTGRES_URL = os.environ.get("JAMSOS_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("JAMSOS_TEST_REDIS_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
ISSUER = "http://jamsos.test"
AUDIENCE = "jamsos-graph"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    if os.environ.get("CI") == "true" and not POSTGRES_URL:
        # In CI the PostgreSQL half of the suite is not optional.
        raise pytest.UsageError("CI=true but JAMSOS_TEST_POSTGRES_URL is not set: PostgreSQL tests would be skipped")
    if os.environ.get("CI") == "true" and not REDIS_URL:
        raise pytest.UsageError(
            "CI=true but JAMSOS_TEST_REDIS_URL is not set: the shared rate-limit tests would be skipped"
        )


def needs_redis() -> str:
    """The test Redis's URL; skips the test without one (``pytest_configure`` already refuses that in CI)."""
    if not REDIS_URL:
        pytest.skip("JAMSOS_TEST_REDIS_URL is not set (a Redis at 127.0.0.1:6379 will do)")
    return REDIS_URL


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _recreate_pg_database(url: str) -> None:
    import asyncpg

    base, _, name = url.rpartition("/")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"unexpected test database name {name!r}")
    dsn = base.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def fresh_database_url(backend: str, purpose: str, tmp_dir: Path) -> str:
    """A new, empty database for `purpose` on `backend` (not migrated)."""
    if backend == "sqlite":
        path = tmp_dir / f"{purpose}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    assert POSTGRES_URL, "PostgreSQL backend without JAMSOS_TEST_POSTGRES_URL"
    url = f"{POSTGRES_URL}_{purpose}"
    asyncio.run(_recreate_pg_database(url))
    return url


@pytest.fixture(scope="session")
def new_database(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], str]:
    tmp_dir = tmp_path_factory.mktemp("databases")
    return lambda backend, purpose: fresh_database_url(backend, purpose, tmp_dir)


@pytest.fixture(scope="session")
def seeded_url(backend: str, new_database: Callable[[str, str], str]) -> str:
    """A database migrated to head and seeded with the ``tiny`` dataset (read-only for tests)."""
    return migrated_and_seeded(new_database(backend, "tiny"))


def migrated_and_seeded(url: str) -> str:
    upgrade(url)
    from demo.load import seed
    from domain.db import make_engine

    async def run() -> None:
        engine = make_engine(url, null_pool=True)
        try:
            await seed(engine, "tiny", seed=7)
        finally:
            await engine.dispose()

    asyncio.run(run())
    return url


@pytest.fixture(scope="session")
def key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "signing-key.pem"


@pytest.fixture(scope="session")
def settings(seeded_url: str, key_path: Path) -> Settings:
    return Settings(env="test", database_url=seeded_url, signing_key_path=key_path, issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()  # closes its connections even when no test used the client


@pytest.fixture(scope="session")
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://jamsos.test") as c:
        yield c


@pytest.fixture(scope="session")
def engine(app: Starlette) -> AsyncEngine:
    result: AsyncEngine = app.state.engine
    return result


@dataclass(frozen=True)
class Caller:
    """A kind of caller in the access matrix."""

    name: str
    token: str | None
    region: str | None  # None = national
    scopes: frozenset[Scope]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def sees(self, region_code: str) -> bool:
        # The test's own oracle for "inside the caller's region", written independently of auth.policy.
        return self.region is None or region_code == self.region or region_code.startswith(self.region + ".")


@pytest.fixture(scope="session")
def mint(key_path: Path) -> Callable[..., str]:
    key = load_or_create_key(key_path)
    config = TokenConfig(ISSUER, AUDIENCE)

    def _mint(role: Role, region: str | None = None, scopes: frozenset[Scope] | None = None, **kwargs: Any) -> str:
        return issue_access_token(
            key,
            config,
            subject=kwargs.pop("subject", f"test-{role.value}"),
            client_id=kwargs.pop("client_id", "jamsos-tests"),
            scopes=ROLE_SCOPES[role] if scopes is None else scopes,
            roles=frozenset({role}),
            region=region,
            **kwargs,
        )

    return _mint


@pytest.fixture(scope="session")
def callers(mint: Callable[..., str]) -> dict[str, Caller]:
    analyst = ROLE_SCOPES[Role.ANALYST]
    officer = ROLE_SCOPES[Role.OFFICER]
    return {
        "anonymous": Caller("anonymous", None, None, frozenset()),
        "analyst_5203": Caller("analyst_5203", mint(Role.ANALYST, "52.03", analyst), "52.03", analyst),
        "officer_5271": Caller("officer_5271", mint(Role.OFFICER, "52.71", officer), "52.71", officer),
        "admin": Caller("admin", mint(Role.ADMIN), None, ROLE_SCOPES[Role.ADMIN]),
    }


GQL = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture(scope="session")
def gql(client: httpx.AsyncClient, app: Starlette) -> GQL:
    async def _gql(
        query: str, variables: dict[str, Any] | None = None, caller: Caller | None = None, status: int = 200
    ) -> dict[str, Any]:
        headers = caller.headers if caller else {}
        payload = {"query": query, "variables": variables or {}}
        response = await client.post("/graphql", json=payload, headers=headers)
        if getattr(app.state, "repeat_reads", False) and not query.lstrip().startswith("mutation"):
            # The fast-lane read path: the same read again, answered before Strawberry's view when the
            # compiled path answered it the first time (api.fast_reads); both answers must agree.
            first = response
            counter = getattr(app.state, "statement_counter", None)
            if counter is not None:
                counter.count = 0  # statements per request: the counted request is the repeat
            response = await client.post("/graphql", json=payload, headers=headers)
            assert (response.status_code, response.content) == (first.status_code, first.content)
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    return _gql


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    #: Tables each process re-reads on its own clock (revoked tokens every few seconds, signing keys): a
    #: refresh that happens to fall inside a counted request is not a statement of that request.
    BACKGROUND = ("oauth_revoked_tokens", "signing_keys")

    def __call__(self, *args: Any) -> None:
        statement = str(args[2]) if len(args) > 2 else ""
        if any(table in statement for table in self.BACKGROUND):
            return
        self.count += 1


@pytest.fixture
def count_statements(engine: AsyncEngine, app: Starlette) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    app.state.statement_counter = counter
    yield counter
    app.state.statement_counter = None
    event.remove(engine.sync_engine, "before_cursor_execute", counter)


@dataclass
class WriteEnv:
    """A separately seeded database and app for tests that write (the shared ``tiny`` one stays read-only)."""

    gql: GQL
    engine: AsyncEngine
    client: httpx.AsyncClient


@pytest.fixture(scope="session")
def writes_url(backend: str, new_database: Callable[[str, str], str]) -> str:
    return migrated_and_seeded(new_database(backend, "writes"))


@pytest.fixture(scope="session")
async def writes(writes_url: str, key_path: Path) -> AsyncIterator[WriteEnv]:
    settings = Settings(
        env="test", database_url=writes_url, signing_key_path=key_path, issuer=ISSUER, audience=AUDIENCE
    )
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jamsos.test") as client:

        async def _gql(
            query: str, variables: dict[str, Any] | None = None, caller: Caller | None = None, status: int = 200
        ) -> dict[str, Any]:
            headers = caller.headers if caller else {}
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
            assert response.status_code == status, response.text
            body: dict[str, Any] = response.json()
            return body

        yield WriteEnv(gql=_gql, engine=app.state.engine, client=client)
    await app.state.engine.dispose()


@pytest.fixture(scope="session")
def staff(mint: Callable[..., str]) -> dict[str, Caller]:
    """People of a branch office and beyond, for the write tests (distinct subjects matter: separation of duties)."""
    officer = ROLE_SCOPES[Role.OFFICER]

    def person(name: str, role: Role, region: str | None, scopes: frozenset[Scope] | None = None) -> Caller:
        granted = ROLE_SCOPES[role] if scopes is None else scopes
        return Caller(name, mint(role, region, granted, subject=name), region, granted)

    return {
        "verifier": person("officer.rina@52.71", Role.OFFICER, "52.71"),
        "supervisor": person("supervisor.agus@52.71", Role.OFFICER, "52.71"),
        "officer_5203": person("officer.dewi@52.03", Role.OFFICER, "52.03"),
        "supervisor_5203": person("supervisor.lalu@52.03", Role.OFFICER, "52.03"),
        "dinsos_5203": person(
            "dinsos-lombok-timur",
            Role.ANALYST,
            "52.03",
            frozenset({Scope.BENEFICIARIES_READ, Scope.BENEFICIARIES_WRITE}),
        ),
        "analyst_5203": person("analyst.budi@52.03", Role.ANALYST, "52.03"),
        "no_approve": person("clerk.sari@52.71", Role.OFFICER, "52.71", officer - {Scope.CLAIMS_APPROVE}),
        "writer_no_pii": person("registrar-app", Role.OFFICER, "52.71", officer - {Scope.PII_READ}),
        "admin": person("admin.nasional", Role.ADMIN, None),
        "auditor": person("auditor.bpk", Role.AUDITOR, None),
        "trail_reader": person("compliance-bot", Role.AUDITOR, None, frozenset({Scope.AUDIT_READ})),
    }


#: The compiled path with its JSON statements and fast lane on, whatever ``JAMSOS_COMPILED_READS``,
#: ``JAMSOS_JSON_STATEMENTS`` and ``JAMSOS_FAST_READS`` say (the rest of the suite may run without them).
COMPILED_PATH_ON = {"compiled_reads": True, "json_statements": True, "fast_reads": True}


@pytest.fixture
def compiled_path_on(app: Starlette) -> Iterator[None]:
    """For the tests about the compiled path itself: every part of it on for the test, then as before."""
    graphql_app = app.state.graphql
    before = {name: getattr(graphql_app, name) for name in COMPILED_PATH_ON}
    for name, value in COMPILED_PATH_ON.items():
        setattr(graphql_app, name, value)
    yield
    for name, value in before.items():
        setattr(graphql_app, name, value)


READ_PATHS = ["resolvers", "compiled", "fast_lane"]


@pytest.fixture(params=READ_PATHS)
def read_path(request: pytest.FixtureRequest, app: Starlette) -> Iterator[str]:
    """Runs a test with the resolvers alone, with the compiled read path (schema.compiled), and with every
    read sent twice so that the repeat takes the compiled path's fast lane (api.fast_reads)."""
    graphql_app = app.state.graphql
    before = graphql_app.compiled_reads, graphql_app.fast_reads
    graphql_app.compiled_reads = request.param != "resolvers"
    if request.param == "fast_lane":  # on here even when the environment turned it off for the rest
        graphql_app.fast_reads = True
    app.state.repeat_reads = request.param == "fast_lane"
    yield str(request.param)
    graphql_app.compiled_reads, graphql_app.fast_reads = before
    app.state.repeat_reads = False
