"""RFC 7009 revocation, RFC 7662 introspection, and how fast a revocation reaches every process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx

from auth.revocation import RevocationList, Revoked, record_revocations
from domain.db import utcnow
from tests.auth.conftest import RegisterClient, code_flow

QUERY = {"query": "{ me { subject } }"}


async def _token(http: httpx.AsyncClient, partner: Any) -> str:
    response = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=partner.basic)
    return str(response.json()["access_token"])


async def _graphql_status(http: httpx.AsyncClient, token: str) -> int:
    return (await http.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {token}"})).status_code


async def test_revoked_access_token_stops_working(http: httpx.AsyncClient, register_client: RegisterClient) -> None:
    partner = await register_client()
    token = await _token(http, partner)
    assert await _graphql_status(http, token) == 200
    revoked = await http.post("/oauth/revoke", data={"token": token}, auth=partner.basic)
    assert revoked.status_code == 200
    assert revoked.json() == {}
    assert await _graphql_status(http, token) == 401
    assert (await http.post("/oauth/revoke", data={"token": token}, auth=partner.basic)).status_code == 200


async def test_revocation_answers_200_for_unknown_tokens(
    http: httpx.AsyncClient, register_client: RegisterClient
) -> None:
    partner = await register_client()
    for token in ("garbage", "a.b.c", "x" * 5000):
        response = await http.post("/oauth/revoke", data={"token": token}, auth=partner.basic)
        assert response.status_code == 200, token


async def test_a_client_cannot_revoke_another_clients_token(
    http: httpx.AsyncClient, register_client: RegisterClient
) -> None:
    owner, other = await register_client(), await register_client()
    token = await _token(http, owner)
    response = await http.post("/oauth/revoke", data={"token": token}, auth=other.basic)
    assert response.status_code == 400
    assert await _graphql_status(http, token) == 200


async def test_revocation_needs_client_authentication(http: httpx.AsyncClient, register_client: RegisterClient) -> None:
    partner = await register_client()
    token = await _token(http, partner)
    response = await http.post("/oauth/revoke", data={"token": token}, auth=httpx.BasicAuth(partner.client_id, "x"))
    assert response.json()["error"] == "invalid_client"
    missing = await http.post("/oauth/revoke", data={}, auth=partner.basic)
    assert missing.json()["error"] == "invalid_request"
    hint = await http.post("/oauth/revoke", data={"token": token, "token_type_hint": "id_token"}, auth=partner.basic)
    assert hint.json()["error"] == "unsupported_token_type"


async def test_revoking_a_refresh_token_ends_the_session(
    http: httpx.AsyncClient, register_app: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await register_app()
    tokens, _ = await code_flow(http, app, await register_user())
    response = await http.post("/oauth/revoke", data={"token": tokens["refresh_token"]}, auth=app.basic)
    assert response.status_code == 200
    refresh = await http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=app.basic
    )
    assert refresh.json()["error"] == "invalid_grant"
    assert await _graphql_status(http, tokens["access_token"]) == 401


async def test_introspection(
    http: httpx.AsyncClient,
    register_client: RegisterClient,
    register_app: Callable[..., Any],
    register_user: Callable[..., Any],
) -> None:
    partner = await register_client()
    resource_server = await register_client(name="Bappeda NTB resource server", region=None)
    token = await _token(http, partner)
    active = (await http.post("/oauth/introspect", data={"token": token}, auth=resource_server.basic)).json()
    assert active["active"] is True
    assert active["client_id"] == partner.client_id
    assert active["scope"] == "beneficiaries:read stats:read"
    assert active["region"] == "52.03"
    assert active["token_type"] == "Bearer"
    assert active["exp"] > active["iat"]
    for unknown in ("garbage", "a.b.c"):
        inactive = await http.post("/oauth/introspect", data={"token": unknown}, auth=resource_server.basic)
        assert inactive.json() == {"active": False}
    await http.post("/oauth/revoke", data={"token": token}, auth=partner.basic)
    after = await http.post("/oauth/introspect", data={"token": token}, auth=resource_server.basic)
    assert after.json() == {"active": False}

    app = await register_app()
    tokens, _ = await code_flow(http, app, await register_user())
    refresh = await http.post("/oauth/introspect", data={"token": tokens["refresh_token"]}, auth=resource_server.basic)
    assert refresh.json()["active"] is True
    assert refresh.json()["sub"].startswith("user:")

    nobody = await http.post("/oauth/introspect", data={"token": token})
    assert nobody.json()["error"] == "invalid_client"
    public = await register_app(public=True)
    as_public = await http.post("/oauth/introspect", data={"token": token, "client_id": public.client_id})
    assert as_public.json()["error"] == "invalid_client"


async def test_disabled_client_is_cut_off(
    http: httpx.AsyncClient, register_client: RegisterClient, sessions: Any
) -> None:
    from auth import accounts
    from tests.auth.conftest import OPERATOR

    partner = await register_client()
    token = await _token(http, partner)
    async with sessions() as session, session.begin():
        await accounts.disable_client(session, client_id=partner.client_id, actor=OPERATOR)
    assert await _graphql_status(http, token) == 401
    again = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=partner.basic)
    assert again.json()["error"] == "invalid_client"


async def test_revocation_reaches_other_processes_at_their_next_read(sessions: Any) -> None:
    """Two processes: one revokes, the other sees it once its refresh interval has passed (a fake clock)."""
    now = [0.0]
    other_process = RevocationList(sessions, refresh_seconds=5.0, clock=lambda: now[0])
    assert not await other_process.is_revoked("jti-cross-process")
    async with sessions() as session, session.begin():
        await record_revocations(session, [Revoked("jti-cross-process", utcnow() + dt.timedelta(minutes=5))], "test")
    now[0] = 4.0
    assert not await other_process.is_revoked("jti-cross-process")  # cached for up to refresh_seconds
    now[0] = 5.0
    assert await other_process.is_revoked("jti-cross-process")


async def test_expired_revocations_are_forgotten(sessions: Any) -> None:
    now = [0.0]
    revocations = RevocationList(sessions, refresh_seconds=1.0, clock=lambda: now[0])
    async with sessions() as session, session.begin():
        await record_revocations(session, [Revoked("jti-long-gone", utcnow() - dt.timedelta(seconds=1))], "test")
        await record_revocations(session, [Revoked("jti-markers", utcnow() + dt.timedelta(minutes=1))], "test")
    assert not await revocations.is_revoked("jti-long-gone")
    assert await revocations.is_revoked("jti-markers")


async def test_stale_rows_are_pruned(sessions: Any, register_user: Callable[..., Any]) -> None:
    from sqlalchemy import select

    from auth.credentials import prune
    from domain.identity.models import AuthorizationCode, RefreshToken, RevokedToken, User

    username = await register_user()
    long_ago = utcnow() - dt.timedelta(days=3)
    async with sessions() as session, session.begin():
        user_id = (await session.scalars(select(User.id).where(User.username == username))).one()
        session.add(RevokedToken(jti="jti-stale", expires_at=long_ago, revoked_at=long_ago, reason="test"))
        common = {"client_id": "c", "user_id": user_id, "scope": "stats:read", "expires_at": long_ago}
        session.add(AuthorizationCode(code_hash="h" * 64, redirect_uri="https://x/cb", code_challenge="c" * 43,
                                      code_challenge_method="S256", **common))  # fmt: skip
        session.add(RefreshToken(token_hash="r" * 64, family_id="f-stale", **common))
    async with sessions() as session, session.begin():
        await record_revocations(session, [Revoked("jti-fresh", utcnow() + dt.timedelta(minutes=5))], "test")
        await prune(session)
    async with sessions() as session:
        assert await session.get(RevokedToken, "jti-stale") is None
        assert await session.get(RevokedToken, "jti-fresh") is not None
        assert (
            await session.scalars(select(AuthorizationCode).where(AuthorizationCode.code_hash == "h" * 64))
        ).first() is None
        assert (await session.scalars(select(RefreshToken).where(RefreshToken.family_id == "f-stale"))).first() is None
