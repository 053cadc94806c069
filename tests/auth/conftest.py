"""An authorization server over its own seeded database, and helpers to register clients and users in it."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from api.settings import Settings
from auth import accounts
from auth.scopes import Role, Scope, parse_scopes
from domain.audit.writes import Actor
from tests.conftest import AUDIENCE, ISSUER, AppFactory, Served

OPERATOR = Actor(subject="cli:tests", kind="system")
PASSWORD = "kopi-tubruk-lombok-2026"
CALLBACK = "https://app.jamsos.test/callback"


@pytest.fixture(scope="session")
def oauth_url(backend: str, seeded_database: Callable[[str, str], str]) -> str:
    return seeded_database(backend, "oauth")


def oauth_app_settings(url: str, key_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": url,
        "signing_key_path": key_path,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        # The suite makes many requests from one address; the limits have tests of their own.
        "token_rate_limit_per_minute": 100_000,
        "signin_rate_limit_per_minute": 100_000,
        # Read the revoked list on every request, so revocations made directly in the database show at once.
        "revocation_refresh_seconds": 0,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture(scope="session")
def oauth_served(oauth_url: str, key_path: Path, app_factory: AppFactory) -> Served:
    return app_factory(oauth_app_settings(oauth_url, key_path))


@pytest.fixture(scope="session")
def oauth_app(oauth_served: Served) -> Starlette:
    return oauth_served.app


@pytest.fixture(scope="session")
def http(oauth_served: Served) -> httpx.AsyncClient:
    return oauth_served.client  # base URL http://jamsos.test, the tokens' issuer


@pytest.fixture(scope="session")
def sessions(oauth_app: Starlette) -> async_sessionmaker[AsyncSession]:
    result: async_sessionmaker[AsyncSession] = oauth_app.state.sessions
    return result


@dataclass(frozen=True)
class Registered:
    client_id: str
    secret: str | None

    @property
    def basic(self) -> httpx.BasicAuth:
        assert self.secret is not None
        return httpx.BasicAuth(self.client_id, self.secret)


RegisterClient = Callable[..., Any]


@pytest.fixture(scope="session")
def register_client(sessions: async_sessionmaker[AsyncSession]) -> RegisterClient:
    async def make(
        name: str = "Dinas Sosial Lombok Timur",
        scopes: str = "beneficiaries:read stats:read",
        region: str | None = "52.03",
        **kwargs: Any,
    ) -> Registered:
        async with sessions() as session, session.begin():
            created = await accounts.create_client(
                session, name=name, scopes=parse_scopes(scopes), region=region, actor=OPERATOR, **kwargs
            )
        return Registered(created.client.client_id, created.secret)

    return make


@pytest.fixture(scope="session")
def register_app(register_client: RegisterClient) -> Callable[..., Any]:
    """A frontend app: authorization code with PKCE and refresh tokens."""

    async def make(public: bool = False, scopes: str | None = None, **kwargs: Any) -> Registered:
        return await register_client(  # type: ignore[no-any-return]
            name="Monev Dashboard",
            scopes=scopes or " ".join(s.value for s in Scope),
            region=None,
            grant_types=frozenset({"authorization_code", "refresh_token"}),
            redirect_uris=[CALLBACK],
            public=public,
            **kwargs,
        )

    return make


@pytest.fixture(scope="session")
def register_user(sessions: async_sessionmaker[AsyncSession]) -> Callable[..., Any]:
    async def make(role: Role = Role.OFFICER, region: str | None = "52.71", password: str = PASSWORD) -> str:
        username = f"{role.value}-{secrets.token_hex(3)}"
        async with sessions() as session, session.begin():
            await accounts.create_user(
                session, username=username, password=password, role=role, region=region, actor=OPERATOR
            )
        return username

    return make


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize_params(client_id: str, challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "state": "st-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != ""}


def hidden_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))


async def sign_in(
    http: httpx.AsyncClient,
    params: dict[str, str],
    username: str,
    password: str = PASSWORD,
    action: str = "allow",
) -> httpx.Response:
    """Open the sign-in page for `params` and submit it the way a browser would."""
    page = await http.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    form = {**hidden_fields(page.text), "username": username, "password": password, "action": action}
    return await http.post("/oauth/authorize", data=form)  # the client's jar sends the page's cookie


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def code_flow(
    http: httpx.AsyncClient, app: Registered, username: str, **overrides: str
) -> tuple[dict[str, Any], str]:
    """Sign in and exchange the code; returns the token response and the PKCE verifier."""
    verifier, challenge = pkce()
    params = authorize_params(app.client_id, challenge, **overrides)
    query = redirect_query(await sign_in(http, params, username))
    assert query["state"] == params["state"]
    data = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": CALLBACK}
    data["code_verifier"] = verifier
    auth = app.basic if app.secret else None
    if auth is None:
        data["client_id"] = app.client_id
    response = await http.post("/oauth/token", data=data, auth=auth or httpx.USE_CLIENT_DEFAULT)
    assert response.status_code == 200, response.text
    return response.json(), verifier
