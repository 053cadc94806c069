"""What the service shows a stranger: no introspection outside development, no internals in errors."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.app import create_app
from api.migrate import upgrade
from api.settings import Settings
from domain.db import make_engine
from tests.conftest import AUDIENCE, GQL, ISSUER, Caller

INTROSPECTION = ["{ __schema { types { name } } }", '{ __type(name: "Participant") { fields { name } } }']


@pytest.mark.parametrize("query", INTROSPECTION)
async def test_no_introspection_outside_development(gql: GQL, callers: dict[str, Caller], query: str) -> None:
    for caller in (callers["anonymous"], callers["admin"]):
        body = await gql(query, caller=caller)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "introspection" in body["errors"][0]["message"]


async def test_the_federation_sdl_stays_public(gql: GQL) -> None:
    body = await gql("{ _service { sdl } }")
    assert "type Participant" in body["data"]["_service"]["sdl"]


async def _app_client(settings: Settings) -> tuple[Any, httpx.AsyncClient]:
    app = create_app(settings)
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jamsos.test")


async def test_development_has_introspection_and_graphiql(seeded_url: str, key_path: Path) -> None:
    settings = Settings(
        env="development", database_url=seeded_url, signing_key_path=key_path, issuer=ISSUER, audience=AUDIENCE
    )
    app, client = await _app_client(settings)
    async with client:
        body = (await client.post("/graphql", json={"query": INTROSPECTION[0]})).json()
        assert any(t["name"] == "Participant" for t in body["data"]["__schema"]["types"])
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
    await app.state.engine.dispose()


async def test_no_graphiql_outside_development(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in page.text.lower()


@pytest.mark.parametrize("node_id", ["Tm9wZTox", "Tm9wZQ==", "bm90aGluZw=="])  # "Nope:1", "Nope", "nothing"
async def test_node_with_an_unknown_type_is_bad_input(
    gql: GQL, callers: dict[str, Caller], node_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        for caller in (callers["anonymous"], callers["admin"]):
            body = await gql(f'{{ node(id: "{node_id}") {{ id }} }}', caller=caller)
            assert body["data"] is None or body["data"]["node"] is None
            codes = {e["extensions"]["code"] for e in body.get("errors", [])}
            assert codes <= {"BAD_USER_INPUT", "UNAUTHENTICATED"}, body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def broken_url(tmp_path: Path) -> str:
    """A migrated SQLite database that lost its regions table."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'broken.db'}"
    upgrade(url)

    async def drop() -> None:
        engine = make_engine(url, null_pool=True)
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE regions"))
        await engine.dispose()

    asyncio.run(drop())
    return url


async def test_an_unexpected_error_is_masked_with_the_request_id(
    broken_url: str, key_path: Path, caplog: pytest.LogCaptureFixture, mint: Any
) -> None:
    """A database that lost its regions table: a bug to the service, masked to the caller, logged in full."""
    from auth.scopes import Role

    url = broken_url
    settings = Settings(env="test", database_url=url, signing_key_path=key_path, issuer=ISSUER, audience=AUDIENCE)
    app, client = await _app_client(settings)
    async with client:
        with caplog.at_level(logging.ERROR, logger="jamsos.errors"):
            response = await client.post(
                "/graphql",
                json={"query": '{ region(code: "52") { name } }'},
                headers={"Authorization": f"Bearer {mint(Role.ADMIN)}", "X-Request-ID": "req-test-123"},
            )
    await app.state.engine.dispose()
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-test-123"}
    assert "regions" not in error["message"]
    assert "Traceback" not in response.text
    logged = [r for r in caplog.records if r.name == "jamsos.errors"]
    assert logged
    assert logged[0].exc_info is not None


async def test_an_error_outside_graphql_is_masked_json_too(tmp_path: Path, key_path: Path, mint: Any) -> None:
    """A database without any table fails token verification itself: still JSON, a code and the request id."""
    from auth.scopes import Role

    settings = Settings(
        env="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",
        signing_key_path=key_path,
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://jamsos.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ me { subject } }"},
            headers={"Authorization": f"Bearer {mint(Role.ADMIN)}", "X-Request-ID": "req-test-456"},
        )
    await app.state.engine.dispose()
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-test-456"
    assert response.json()["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-test-456"}
    assert "signing_keys" not in response.text
