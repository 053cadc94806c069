"""Brute force: account lockout, the audit trail of sign-ins, and rate limits on the token and sign-in endpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from api.app import create_app
from auth import accounts
from domain.audit.models import AuditEvent
from domain.audit.writes import RequestMeta
from domain.identity.models import LockoutPolicy, User
from tests.auth.conftest import OPERATOR, PASSWORD, RegisterClient, authorize_params, oauth_app_settings, pkce, sign_in
from tests.conftest import ISSUER

META = RequestMeta(request_id="req-1", source_ip="192.0.2.7")


async def _events(sessions: Any, username: str | None, action: str) -> list[AuditEvent]:
    async with sessions() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        if username is not None:
            stmt = stmt.where(AuditEvent.entity_id == username)
        return list((await session.scalars(stmt)).all())


async def _sign_in(sessions: Any, username: str, password: str, policy: LockoutPolicy) -> User | None:
    async with sessions() as session:
        user = await accounts.authenticate_user(session, username, password, META, policy=policy)
        await session.commit()
        return user


async def test_lockout_after_repeated_failures(sessions: Any, register_user: Callable[..., Any]) -> None:
    username = await register_user()
    policy = LockoutPolicy(max_failures=3, lock_seconds=900)
    for _ in range(3):
        assert await _sign_in(sessions, username, "wrong password here", policy) is None
    assert await _sign_in(sessions, username, PASSWORD, policy) is None  # right password, but locked
    failures = await _events(sessions, username, "user.sign_in_failed")
    assert [e.reason_code for e in failures] == ["bad_password", "bad_password", "locked_now", "locked"]
    assert failures[0].source_ip == "192.0.2.7"
    assert failures[0].request_id == "req-1"
    assert failures[0].actor_subject == f"user:{username}"

    async with sessions() as session, session.begin():
        await accounts.set_password(session, username=username, password=PASSWORD + "!", actor=OPERATOR)
    user = await _sign_in(sessions, username, PASSWORD + "!", policy)
    assert user is not None
    assert user.failed_attempts == 0
    assert user.last_sign_in_at is not None
    assert len(await _events(sessions, username, "user.sign_in")) == 1


async def test_success_resets_the_failure_count(sessions: Any, register_user: Callable[..., Any]) -> None:
    username = await register_user()
    policy = LockoutPolicy(max_failures=3, lock_seconds=900)
    for _ in range(2):
        await _sign_in(sessions, username, "wrong password here", policy)
    assert await _sign_in(sessions, username, PASSWORD, policy) is not None
    for _ in range(2):
        await _sign_in(sessions, username, "wrong password here", policy)
    assert await _sign_in(sessions, username, PASSWORD, policy) is not None


async def test_unknown_and_disabled_accounts(sessions: Any, register_user: Callable[..., Any]) -> None:
    policy = LockoutPolicy()
    assert await _sign_in(sessions, "ghost-account", PASSWORD, policy) is None
    assert await _sign_in(sessions, "NOT A USERNAME!", PASSWORD, policy) is None
    unknown = [e for e in await _events(sessions, None, "user.sign_in_failed") if e.reason_code == "unknown_user"]
    assert {e.changes["username"] for e in unknown if e.changes} >= {"ghost-account", "NOT A USERNAME!"}
    assert all(e.entity_id is None and e.actor_kind == "anonymous" for e in unknown)

    username = await register_user()
    async with sessions() as session, session.begin():
        await accounts.disable_user(session, username=username, actor=OPERATOR)
    assert await _sign_in(sessions, username, PASSWORD, policy) is None
    assert (await _events(sessions, username, "user.sign_in_failed"))[-1].reason_code == "disabled"
    assert [e.actor_subject for e in await _events(sessions, username, "user.disable")] == ["cli:tests"]


async def test_sign_in_page_locks_out_after_five_failures(
    http: httpx.AsyncClient,
    register_app: Callable[..., Any],
    register_user: Callable[..., Any],
    sessions: Any,
) -> None:
    app = await register_app()
    username = await register_user()
    _, challenge = pkce()
    params = authorize_params(app.client_id, challenge)
    for _ in range(5):
        assert (await sign_in(http, params, username, password="guess guess guess")).status_code == 401
    assert (await sign_in(http, params, username)).status_code == 401
    async with sessions() as session:
        user = (await session.scalars(select(User).where(User.username == username))).one()
    assert user.locked_until is not None


async def test_token_and_sign_in_endpoints_are_rate_limited(
    oauth_url: str, key_path: Path, register_client: RegisterClient, register_app: Callable[..., Any]
) -> None:
    settings = oauth_app_settings(oauth_url, key_path, token_rate_limit_per_minute=3, signin_rate_limit_per_minute=2)
    app = create_app(settings)
    partner = await register_client()
    frontend = await register_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        statuses = []
        for _ in range(4):
            response = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=partner.basic)
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 429]
        assert response.json()["error"] == "slow_down"
        assert int(response.headers["retry-after"]) >= 1
        _, challenge = pkce()
        params = authorize_params(frontend.client_id, challenge)
        attempts = [(await sign_in(http, params, "someone", password="guess guess guess")) for _ in range(3)]
        assert [r.status_code for r in attempts] == [401, 401, 429]
        assert "Too many" in attempts[-1].text
    await app.state.engine.dispose()
