"""Shared fixtures: databases cloned from per-backend templates, apps made by one factory, tokens per caller.

Every test that takes ``backend`` (or a fixture built on it) runs on SQLite and, when
``JAMSOS_TEST_POSTGRES_URL`` is set, on PostgreSQL too: the same tests, parametrised. Databases come from
``tests.databases`` (built once per backend and process, then copied); apps come from :class:`AppFactory`
(one per distinct settings, never reconfigured), so no test changes what another one sees.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gc
import os
import tempfile
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
from api.settings import Settings
from auth.passwords import PARAMETERS, hash_with
from auth.scopes import ROLE_SCOPES, Role, Scope
from auth.tokens import TokenConfig, issue_access_token, load_or_create_key
from tests.databases import POSTGRES_URL, WORKER, Databases

REDIS_URL = os.environ.get("JAMSOS_TEST_REDIS_URL") or None
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
ISSUER = "http://jamsos.test"
AUDIENCE = "jamsos-graph"
#: Twelve hours: longer than any run of the suite (see ``mint``).
SESSION_TOKEN_LIFETIME = 12 * 3600
#: The argon2id parameters of the secrets the suite's own processes hash (users, client secrets, the dummy a
#: miss is checked against): about 0.4 ms of CPU a hash instead of the service's 0.2 s (auth.passwords); with
#: the service's, tests/auth and tests/admin took 124 CPU s on SQLite instead of 51. ``jamsos`` and uvicorn
#: processes of their own keep the service's; tests/auth/test_password_upgrade.py runs on the service's.
SUITE_HASHING = dataclasses.replace(PARAMETERS, time_cost=1, memory_cost=1024, parallelism=1)


#: The collector's first threshold in a pytest process: ten times Python's 700. A worker keeps every app it
#: made for the session (AppFactory) and so holds hundreds of thousands of objects; the default made it walk
#: all of them in a full collection every ~70,000 allocations. On tests/schema/test_scoping_matrix.py plus
#: tests/writes/test_claims.py the collector took 3.0 CPU s at the default and 1.6 s with this and
#: :func:`pytest_collection_finish` (of about 32 s). Cycles are still collected, in fewer, larger passes.
GC_FIRST_THRESHOLD = 7000


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    hash_with(SUITE_HASHING)
    _, second, third = gc.get_threshold()
    gc.set_threshold(GC_FIRST_THRESHOLD, second, third)
    if os.environ.get("CI") == "true" and not POSTGRES_URL:
        # In CI the PostgreSQL half of the suite is not optional.
        raise pytest.UsageError("CI=true but JAMSOS_TEST_POSTGRES_URL is not set: PostgreSQL tests would be skipped")
    if os.environ.get("CI") == "true" and not REDIS_URL:
        raise pytest.UsageError(
            "CI=true but JAMSOS_TEST_REDIS_URL is not set: the shared rate-limit tests would be skipped"
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    """What importing the tests built (the project's modules, SQLAlchemy's mappers, the test modules) lives as
    long as the process: frozen (as the app's lifespan does, api/app.py), full collections no longer walk it."""
    gc.collect()
    gc.freeze()


#: Markers of tests that need the whole machine (servers of their own, a PostgreSQL they restart, a browser).
WHOLE_MACHINE = ("whole_machine", "federation", "e2e")


#: One lock file per run, shared by its pytest-xdist workers (they share PYTEST_XDIST_TESTRUNUID).
_WHOLE_MACHINE_LOCK = Path(tempfile.gettempdir()) / (
    f"jamsos-whole-machine-{os.environ.get('PYTEST_XDIST_TESTRUNUID', os.getpid())}.lock"
)


def _needs_whole_machine(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in WHOLE_MACHINE)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that need the whole machine go first, in the (random) order they already have.

    After pytest-randomly's shuffle (``trylast``), so each worker still sees one order for a seed. pytest-xdist's
    ``load`` mode hands each worker a first run of consecutive tests (a quarter of its share), so all of these
    land on one worker and run one after another while the other worker runs the rest, instead of both
    waiting on the lock below in turn. The lock stays the guarantee when the distribution is other than that.
    """
    items.sort(key=lambda item: not _needs_whole_machine(item))  # sort is stable: the random order remains


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A test that needs the whole machine runs alone among them: its setup (the gateways, browser or
    PostgreSQL server it starts, ``npm ci``), call and teardown hold a lock the other workers wait for.

    Not xdist's ``xdist_group``: with pytest 9 (``Node.nodeid`` reads ``_id``) pytest-xdist 3.8's loadgroup
    renames ``item._nodeid``, which changes nothing, so the group silently does not exist.
    """
    if not _needs_whole_machine(item):
        return (yield)
    with _WHOLE_MACHINE_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return (yield)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def needs_redis() -> str:
    """The test Redis's URL; skips the test without one (``pytest_configure`` already refuses that in CI)."""
    if not REDIS_URL:
        pytest.skip("JAMSOS_TEST_REDIS_URL is not set (a Redis at 127.0.0.1:6379 will do)")
    return REDIS_URL


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Databases:
    # Under pytest-xdist each worker's base temporary directory is a folder of the run's: the SQLite templates
    # go there, built once for the run (tests/databases.py).
    shared = tmp_path_factory.getbasetemp().parent if WORKER != "main" else None
    return Databases(tmp_path_factory.mktemp("databases"), shared)


@pytest.fixture(scope="session")
def new_database(databases: Databases) -> Callable[[str, str], str]:
    """A new, empty database (not migrated): for the tests of the migrations themselves."""
    return databases.empty


@pytest.fixture(scope="session")
def migrated_database(databases: Databases) -> Callable[[str, str], str]:
    """A database at Alembic head with no rows, copied from the backend's template."""
    return databases.migrated


@pytest.fixture(scope="session")
def seeded_database(databases: Databases) -> Callable[[str, str], str]:
    """A database at head with the ``tiny`` demo, copied from the backend's template (each purpose its own)."""
    return databases.seeded


@pytest.fixture(scope="session")
def seeded_url(backend: str, databases: Databases) -> str:
    """The ``tiny`` database that read-only tests share."""
    return databases.seeded(backend, "tiny")


@pytest.fixture(scope="session")
def key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "signing-key.pem"


def suite_settings(database_url: str, key_path: Path, **overrides: Any) -> Settings:
    """The settings every in-process app of the suite starts from (test issuer and audience)."""
    return Settings(
        env="test",
        database_url=database_url,
        signing_key_path=key_path,
        issuer=ISSUER,
        audience=AUDIENCE,
        **overrides,
    )


@pytest.fixture(scope="session")
def settings(seeded_url: str, key_path: Path) -> Settings:
    return suite_settings(seeded_url, key_path)


GQL = Callable[..., Awaitable[dict[str, Any]]]


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    #: Tables each process re-reads on its own clock (revoked tokens every few seconds, signing keys, a
    #: client's trusted-documents flag every ``documents_cache_seconds``): a refresh that happens to fall
    #: inside a counted request is not a statement of that request.
    BACKGROUND = ("oauth_revoked_tokens", "signing_keys", "oauth_clients")

    def __call__(self, *args: Any) -> None:
        statement = str(args[2]) if len(args) > 2 else ""
        if any(table in statement for table in self.BACKGROUND):
            return
        self.count += 1


@dataclass
class Served:
    """An app of the suite with its HTTP client. Built once per settings by :class:`AppFactory`, never
    reconfigured afterwards: a test that needs other settings asks the factory for another app."""

    app: Starlette
    client: httpx.AsyncClient
    #: Send every read twice and answer with the second (the fast lane's path), checking both agree.
    repeat_reads: bool = False
    #: The statement counter of the test running now (``count_statements``), reset before a repeat.
    statement_counter: StatementCounter | None = None

    @property
    def engine(self) -> AsyncEngine:
        engine: AsyncEngine = self.app.state.engine
        return engine

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, caller: Caller | None = None, status: int = 200
    ) -> dict[str, Any]:
        headers = caller.headers if caller else {}
        payload = {"query": query, "variables": variables or {}}
        response = await self.client.post("/graphql", json=payload, headers=headers)
        if self.repeat_reads and not query.lstrip().startswith("mutation"):
            # The fast-lane read path: the same read again, answered before Strawberry's view when the
            # compiled path answered it the first time (api.fast_reads); both answers must agree.
            first = response
            if self.statement_counter is not None:
                self.statement_counter.count = 0  # statements per request: the counted request is the repeat
            response = await self.client.post("/graphql", json=payload, headers=headers)
            assert (response.status_code, response.content) == (first.status_code, first.content)
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body


def body_reads_counted(app: Any) -> tuple[Any, list[int]]:
    """`app` wrapped so that every body chunk it reads is counted: the wrapper and the list of chunk sizes
    (for the tests that prove a refused upload was not read)."""
    received: list[int] = []

    async def counting_app(scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            received.append(len(message.get("body", b"")))
            return message

        await app(scope, counted, send)

    return counting_app, received


class AppFactory:
    """The one way the suite makes in-process apps: one app per distinct settings, kept for the session."""

    def __init__(self) -> None:
        self._served: dict[tuple[str, bool], Served] = {}

    def __call__(self, settings: Settings, *, repeat_reads: bool = False) -> Served:
        key = (settings.model_dump_json(), repeat_reads)
        if key not in self._served:
            app = create_app(settings)
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jamsos.test")
            self._served[key] = Served(app, client, repeat_reads)
        return self._served[key]

    async def aclose(self) -> None:
        for served in self._served.values():
            await served.client.aclose()
            await served.app.state.engine.dispose()  # its connections, even when no test used the client
        self._served.clear()


@pytest.fixture(scope="session")
async def app_factory() -> AsyncIterator[AppFactory]:
    factory = AppFactory()
    yield factory
    await factory.aclose()


#: The compiled path and its fast lane on, whatever ``JAMSOS_COMPILED_READS`` and ``JAMSOS_FAST_READS`` say
#: (the rest of the suite may run without them).
COMPILED_PATH_ON = {"compiled_reads": True, "fast_reads": True}

#: The read paths a test marked with the ``read_path`` fixture runs on, as settings of its app: the
#: resolvers alone, the compiled read path (schema.compiled), and every read sent twice so that the
#: repeat takes the compiled path's fast lane (api.fast_reads).
READ_PATHS: dict[str, dict[str, bool]] = {
    "resolvers": {"compiled_reads": False},
    "compiled": {"compiled_reads": True},
    "fast_lane": {"compiled_reads": True, "fast_reads": True},
}


@pytest.fixture
def compiled_path_on() -> None:
    """Asked for by the tests about the compiled path itself: their app has every part of it on."""


@pytest.fixture(params=list(READ_PATHS))
def read_path(request: pytest.FixtureRequest) -> str:
    """Runs a test once per read path (see READ_PATHS); the test's app is built with that path's settings."""
    return str(request.param)


@pytest.fixture
def served(request: pytest.FixtureRequest, settings: Settings, app_factory: AppFactory) -> Served:
    """The app of this test over the shared ``tiny`` database, with the read path the test asked for."""
    overrides: dict[str, bool] = {}
    if "compiled_path_on" in request.fixturenames:
        overrides |= COMPILED_PATH_ON
    path = request.getfixturevalue("read_path") if "read_path" in request.fixturenames else None
    if path is not None:
        overrides |= READ_PATHS[path]
    return app_factory(settings.model_copy(update=overrides), repeat_reads=path == "fast_lane")


@pytest.fixture
def app(served: Served) -> Starlette:
    return served.app


@pytest.fixture
def client(served: Served) -> httpx.AsyncClient:
    return served.client


@pytest.fixture
def engine(served: Served) -> AsyncEngine:
    return served.engine


@pytest.fixture
def gql(served: Served) -> GQL:
    return served.gql


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
    # The suite's tokens are minted once per session and must outlive the slowest run (a loaded CI machine
    # took 25 minutes; the production default of 15 minutes expired half-way): tests of expiry mint their own.
    config = TokenConfig(ISSUER, AUDIENCE, lifetime_seconds=SESSION_TOKEN_LIFETIME)

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


@pytest.fixture
def count_statements(served: Served) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(served.engine.sync_engine, "before_cursor_execute", counter)
    served.statement_counter = counter
    yield counter
    served.statement_counter = None
    event.remove(served.engine.sync_engine, "before_cursor_execute", counter)


@dataclass
class WriteEnv:
    """A separately seeded database and app for tests that write (the shared ``tiny`` one stays read-only)."""

    gql: GQL
    engine: AsyncEngine
    client: httpx.AsyncClient


@pytest.fixture(scope="session")
def writes_url(backend: str, databases: Databases) -> str:
    return databases.seeded(backend, "writes")


@pytest.fixture(scope="session")
def writes(writes_url: str, key_path: Path, app_factory: AppFactory) -> WriteEnv:
    served = app_factory(suite_settings(writes_url, key_path))
    return WriteEnv(gql=served.gql, engine=served.engine, client=served.client)


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
