"""The console over its own seeded database, people who sign in to it, and a browser-like HTTP client.

The client keeps the session cookie, reads the CSRF token from the last page's forms (as a browser submits
it) and follows no redirects, so tests see the console's answers as they are.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from api.settings import Settings
from auth import accounts
from auth.scopes import Role
from domain.audit.writes import Actor
from tests.conftest import AUDIENCE, ISSUER, AppFactory
from tests.rollup_check import rollup_drift

OPERATOR = Actor(subject="cli:tests", kind="system")
PASSWORD = "kopi-tubruk-lombok-2026"
BASE = "http://jamsos.test"

#: username -> (role, region)
PEOPLE: dict[str, tuple[Role, str | None]] = {
    "admin.nasional": (Role.ADMIN, None),
    "admin.kedua": (Role.ADMIN, None),
    "officer.rina": (Role.OFFICER, "52.71"),
    "officer.dewi": (Role.OFFICER, "52.03"),
    "analyst.budi": (Role.ANALYST, "52.03"),
    "auditor.bpk": (Role.AUDITOR, None),
    "locked.out": (Role.OFFICER, "52.71"),
}

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


async def create_people(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        for username, (role, region) in PEOPLE.items():
            await accounts.create_user(
                session, username=username, password=PASSWORD, role=role, region=region, actor=OPERATOR
            )


def console_settings(url: str, key_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": url,
        "signing_key_path": key_path,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "signin_rate_limit_per_minute": 100_000,  # many sign-ins from one address; the limit has its own test
    }
    return Settings(**{**values, **overrides})


@pytest.fixture(scope="session")
def console_url(backend: str, seeded_database: Callable[[str, str], str]) -> str:
    return seeded_database(backend, "console")


@pytest.fixture(scope="session")
async def console_app(console_url: str, key_path: Path, app_factory: AppFactory) -> Starlette:
    app = app_factory(console_settings(console_url, key_path)).app
    await create_people(app.state.sessions)
    return app


@pytest.fixture(autouse=True)
async def rollups_stay_right(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After every console test: the Monev rollups, kept by triggers in each write, equal a recount."""
    yield
    if "console_app" not in request.fixturenames:
        return
    drift = await rollup_drift(request.getfixturevalue("console_app").state.engine)
    assert drift == {}, f"Monev rollups differ from a recount after {request.node.name}: {drift}"


@pytest.fixture(scope="session")
def sessions(console_app: Starlette) -> async_sessionmaker[AsyncSession]:
    result: async_sessionmaker[AsyncSession] = console_app.state.sessions
    return result


@dataclass
class Browser:
    """An HTTP client that behaves like a browser on the console's forms."""

    http: httpx.AsyncClient
    last: httpx.Response | None = None

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        self.last = await self.http.get(path, **kwargs)
        return self.last

    def token(self) -> str:
        assert self.last is not None, "open a page before submitting a form"
        match = _CSRF.search(self.last.text)
        assert match, "the page has no CSRF token"
        return html.unescape(match.group(1) or match.group(2))

    async def post(
        self, path: str, data: dict[str, Any] | list[tuple[str, str]], *, token: bool = True
    ) -> httpx.Response:
        items = list(data.items()) if isinstance(data, dict) else list(data)
        if token:
            items.append(("csrf_token", self.token()))
        form: dict[str, list[str]] = {}
        for key, value in items:
            form.setdefault(key, []).append(value)
        self.last = await self.http.post(path, data=form)
        return self.last

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/admin/login")
        return await self.post("/admin/login", {"username": username, "password": password})


@pytest.fixture
async def browser(console_app: Starlette) -> AsyncIterator[Callable[[], Browser]]:
    clients: list[httpx.AsyncClient] = []

    def make() -> Browser:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=console_app), base_url=BASE)
        clients.append(client)
        return Browser(client)

    yield make
    await asyncio.gather(*(c.aclose() for c in clients))


@pytest.fixture
async def signed_in(browser: Callable[[], Browser]) -> Callable[[str], Any]:
    async def make(username: str) -> Browser:
        b = browser()
        response = await b.sign_in(username)
        assert response.status_code == 303, response.text
        return b

    return make


class _FormFields(HTMLParser):
    """The fields of the page's form whose action contains `action`, as a browser would submit them."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: tuple[str, list[str]] | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = self.action in a.get("action", "")
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") != "submit":
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields.append((a["name"], a.get("value", "y" if a.get("type") == "checkbox" else "")))
        elif tag == "select":
            self._select = (a.get("name", ""), [])
        elif tag == "option" and self._select is not None and "selected" in a:
            self._select[1].append(a.get("value", ""))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name", ""), []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            self.fields.extend((self._select[0], v) for v in self._select[1])
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text).strip("\n")))
            self._textarea = None


def form_fields(page: str, action: str) -> dict[str, Any]:
    """Form values by name (a list for a multiple select); includes the CSRF token and the version."""
    parser = _FormFields(action)
    parser.feed(page)
    values: dict[str, Any] = {}
    for name, value in parser.fields:
        if name in values:
            values[name] = [*values[name], value] if isinstance(values[name], list) else [values[name], value]
        else:
            values[name] = value
    return values


async def submit(b: Browser, path: str, changes: dict[str, Any], *, action: str | None = None) -> httpx.Response:
    """Open the form at `path`, change some fields, submit it as a browser would (token included)."""
    page = await b.get(path)
    assert page.status_code == 200, page.text
    values = form_fields(page.text, action or path)
    values.update(changes)
    items: list[tuple[str, str]] = []
    for name, value in values.items():
        items.extend((name, v) for v in (value if isinstance(value, list) else [value]))
    return await b.post(path, items, token=False)
