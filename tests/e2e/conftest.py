"""A real browser against the real service: Debian's Chromium driven by Playwright, uvicorn on a loopback port.

Playwright never downloads a browser here: it launches the system's ``/usr/bin/chromium`` (``apt-get install
chromium``). Without it the browser tests are skipped on a developer's machine and fail in CI (``CI=true``),
where a skipped browser test is not a pass. Screenshots go to ``artifacts/e2e/`` (git-ignored).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.databases import Databases
from tests.live import ROOT, free_port, jamsos, live_server, service_env

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "e2e"
PASSWORD = "kopi-tubruk-lombok-2026"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: username -> (role, region)
PEOPLE = {
    "admin.e2e": ("admin", None),
    "officer.mataram": ("officer", "52.71"),
    "officer.lotim": ("officer", "52.03"),
    "analyst.lotim": ("analyst", "52.03"),
}


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install -y chromium (Debian's package; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class Service:
    base_url: str
    database: Path

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the service's SQLite database directly (the test's own view of the data)."""
        with sqlite3.connect(self.database) as db:
            return db.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[Service]:
    _require_chromium()
    data = tmp_path_factory.mktemp("e2e")
    database = data / "console.db"
    url = databases.seeded_file(database)
    port = free_port()
    env = service_env(
        url,
        data,
        issuer=f"http://127.0.0.1:{port}",
        signing_key_path=str(data / "signing-key.pem"),
        secret_key="e2e-console-secret-not-for-production",
    )
    for username, (role, region) in PEOPLE.items():
        args = ["users", "create", "--username", username, "--role", role]
        done = jamsos(env, *args, *(["--region", region] if region else []), stdin=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
    with live_server(env, port) as base:
        yield Service(base, database)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Any:
    """``shots(page, "name")`` saves ``artifacts/e2e/<test>-NN-name.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))
    test = request.node.name.replace("[", "-").replace("]", "")

    def take(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{test}-{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
