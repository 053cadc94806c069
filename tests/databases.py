"""Test databases: each kind is built once per backend and test process, and every fixture gets a copy.

Two templates per backend: ``migrated`` (Alembic head, no rows) and ``tiny`` (head plus the ``tiny`` demo
seed). A fixture's database is a clone of one of them — ``CREATE DATABASE … TEMPLATE …`` on PostgreSQL, a
file copy on SQLite — so a run migrates from revision zero once per backend instead of once per fixture
(``tiny`` is itself a copy of ``migrated``, then seeded).
Only ``tests/test_migrations.py`` (and the fault test's own PostgreSQL server) migrate from zero on purpose.

Names carry the pytest-xdist worker (``gw0``, ``gw1``; ``main`` without xdist), so two workers never share
a database; SQLite files live in the worker's own temporary directory.

The SQLite templates are the exception: the run's workers share them (built by the first worker to ask, under
a file lock, in the run's temporary directory; the others wait and copy). Seeding ``tiny`` is mostly loading the
~91,600 regions, several seconds of CPU a worker. A copy is a read of the file, so any number may copy at once.
PostgreSQL's templates stay one per worker: ``CREATE DATABASE … TEMPLATE`` needs the template to itself, and
two workers cloning one at the same moment would fail.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import shutil
from pathlib import Path

from api.migrate import upgrade

POSTGRES_URL = os.environ.get("JAMSOS_TEST_POSTGRES_URL") or None
#: The pytest-xdist worker this process is ("gw0", …), or "main" when the suite runs in one process.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
SEED = 7  # the tiny dataset's seed: every test reads the same people


def _admin_dsn(url: str) -> tuple[str, str]:
    """(a DSN of the server's ``postgres`` database, the database name of `url`) for asyncpg."""
    base, _, name = url.rpartition("/")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"unexpected test database name {name!r}")
    return base.replace("postgresql+asyncpg://", "postgresql://") + "/postgres", name


async def _pg_create(url: str, template: str | None = None) -> None:
    import asyncpg

    dsn, name = _admin_dsn(url)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{_admin_dsn(template)[1]}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await conn.close()


def seed_tiny(url: str) -> None:
    """Seed the ``tiny`` demo into a migrated database (its own event loop: call from synchronous code)."""
    from demo.load import seed
    from domain.db import make_engine

    async def run() -> None:
        engine = make_engine(url, null_pool=True)
        try:
            await seed(engine, "tiny", seed=SEED)
        finally:
            await engine.dispose()  # no connection may stay open on a PostgreSQL template

    asyncio.run(run())


def migrated_and_seeded(url: str) -> str:
    """Migrate `url` from zero and seed ``tiny``: the slow way, for a server the templates do not live on."""
    upgrade(url)
    seed_tiny(url)
    return url


class Databases:
    """Fresh, migrated and seeded databases for one test process, cloned from templates built on first use."""

    KINDS = ("migrated", "tiny")

    def __init__(self, tmp_dir: Path, shared_dir: Path | None = None) -> None:
        """Databases in `tmp_dir` (this process's); the SQLite templates in `shared_dir` (the run's, shared by
        its pytest-xdist workers; `tmp_dir` by default)."""
        self.tmp_dir = tmp_dir
        self.shared_dir = shared_dir or tmp_dir
        self._templates: dict[tuple[str, str], str] = {}

    def url(self, backend: str, purpose: str) -> str:
        if not re.fullmatch(r"[a-z0-9_]+", purpose):
            raise ValueError(f"a database purpose is lower-case letters, digits and _: {purpose!r}")
        if backend == "sqlite":
            return f"sqlite+aiosqlite:///{self.tmp_dir / f'{purpose}.db'}"
        assert POSTGRES_URL, "PostgreSQL backend without JAMSOS_TEST_POSTGRES_URL"
        return f"{POSTGRES_URL}_{WORKER}_{purpose}"

    def empty(self, backend: str, purpose: str, template: str | None = None) -> str:
        """A new database for `purpose` on `backend`: empty, or a copy of `template` (a URL of this class's)."""
        url = self.url(backend, purpose)
        if backend == "sqlite":
            path = Path(url.removeprefix("sqlite+aiosqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            if template:
                shutil.copyfile(template.removeprefix("sqlite+aiosqlite:///"), path)
        else:
            asyncio.run(_pg_create(url, template))
        return url

    def template(self, backend: str, kind: str) -> str:
        """The template of `kind` on `backend`, built the first time it is asked for."""
        if kind not in self.KINDS:
            raise ValueError(f"no template {kind!r}; there are {self.KINDS}")
        key = (backend, kind)
        if key not in self._templates:
            self._templates[key] = self._shared_sqlite(kind) if backend == "sqlite" else self._build(backend, kind)
        return self._templates[key]

    def _build(self, backend: str, kind: str) -> str:
        if kind == "tiny":
            # A copy of the migrated template is a database at head: migrating from zero again would give the
            # same schema for a second full run of the migrations (SQLite's table rebuilds alone cost seconds).
            url = self.empty(backend, "template_tiny", self.template(backend, "migrated"))
            seed_tiny(url)
            return url
        url = self.empty(backend, f"template_{kind}")
        upgrade(url)
        return url

    def _shared_sqlite(self, kind: str) -> str:
        """The run's SQLite template of `kind`: built here if no worker has built it yet, else theirs."""
        shared = self.shared_dir / f"template_{kind}.db"
        with (self.shared_dir / f"template_{kind}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not shared.exists():
                built = Path(self._build("sqlite", kind).removeprefix("sqlite+aiosqlite:///"))
                os.replace(built, shared)  # the engine is disposed: no -wal or -shm file is left beside it
        return f"sqlite+aiosqlite:///{shared}"

    def migrated(self, backend: str, purpose: str) -> str:
        """A database at Alembic head with no rows."""
        return self.empty(backend, purpose, self.template(backend, "migrated"))

    def seeded(self, backend: str, purpose: str) -> str:
        """A database at head with the ``tiny`` demo (the same rows in every copy)."""
        return self.empty(backend, purpose, self.template(backend, "tiny"))

    def seeded_file(self, path: Path) -> str:
        """A copy of the SQLite ``tiny`` template at `path` (for a server that reads the file itself)."""
        shutil.copyfile(self.template("sqlite", "tiny").removeprefix("sqlite+aiosqlite:///"), path)
        return f"sqlite+aiosqlite:///{path}"


__all__ = ["POSTGRES_URL", "WORKER", "Databases", "migrated_and_seeded", "seed_tiny"]
