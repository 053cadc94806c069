"""Signing in to the console: who may, the session cookie, lockout, CSRF on sign-in and sign-out, expiry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from api.app import create_app
from api.console import console_config
from api.settings import Settings
from auth import accounts
from auth.scopes import Role
from domain.audit.models import AuditEvent
from tests.admin.conftest import BASE, OPERATOR, PASSWORD, Browser, console_settings


async def test_sign_in_sets_a_short_strict_http_only_cookie(browser: Callable[[], Browser]) -> None:
    b = browser()
    page = await b.get("/admin/login")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text
    response = await b.post("/admin/login", {"username": "officer.rina", "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"].endswith("/admin/")
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("jamsos_console=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/admin" in cookie
    assert "max-age=28800" in cookie  # 8 hours at most; the idle timeout is checked on every request
    assert "secure" not in cookie  # JAMSOS_ENV=test serves plain http on 127.0.0.1
    home = await b.get("/admin/")
    assert home.status_code == 200
    assert "officer.rina" in home.text
    assert "region 52.71" in home.text


def test_cookie_is_secure_outside_development_and_test() -> None:
    for env, secure in (("production", True), ("development", False), ("test", False)):
        settings = Settings(env=env, secret_key="s" * 40)  # type: ignore[arg-type]
        assert console_config(settings).secure_cookie is secure


async def test_pages_need_a_session(browser: Callable[[], Browser]) -> None:
    b = browser()
    for path in ("/admin/", "/admin/participant/list", "/admin/participant/details/1", "/admin/claim/list"):
        response = await b.get(path)
        assert response.status_code == 302, path
        assert response.headers["location"].endswith("/admin/login")


async def test_wrong_password_is_refused_and_audited(
    browser: Callable[[], Browser], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b = browser()
    response = await b.sign_in("officer.rina", "not-the-password")
    assert response.status_code == 401
    assert "The username or password is wrong" in response.text
    assert "jamsos_console" not in (await b.get("/admin/")).text
    async with sessions() as session:
        failures = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "user.sign_in_failed", AuditEvent.entity_id == "officer.rina"
                )
            )
        ).all()
    assert failures
    assert failures[-1].reason_code == "bad_password"


async def test_lockout_after_repeated_wrong_passwords(browser: Callable[[], Browser]) -> None:
    b = browser()
    for _ in range(5):
        assert (await b.sign_in("locked.out", "wrong-password-again")).status_code == 401
    locked = await b.sign_in("locked.out", PASSWORD)
    assert locked.status_code == 401  # the right password does not help while the account is locked
    assert "locked" in locked.text


async def test_roles_without_console_access_are_refused(browser: Callable[[], Browser]) -> None:
    b = browser()
    response = await b.sign_in("auditor.bpk")
    assert response.status_code == 403
    assert "cannot use the console" in response.text
    assert (await b.get("/admin/")).status_code == 302


async def test_analysts_sign_in_to_the_monev_dashboard_only(browser: Callable[[], Browser]) -> None:
    b = browser()
    response = await b.sign_in("analyst.budi")
    assert response.status_code == 303
    assert response.headers["location"].endswith("/admin/monev")
    page = await b.get("/admin/monev")
    assert page.status_code == 200
    assert page.text.count("<svg") == 6
    for path in (
        "/admin/participant/list",
        "/admin/poverty-beneficiary/list",
        "/admin/claim/list",
        "/admin/region/list",
    ):
        assert (await b.get(path)).status_code == 403, path
    home = await b.get("/admin/")
    assert "/admin/participant/list" not in home.text
    assert "/admin/monev" in home.text
    report = await b.get("/admin/monev/report?kind=inpres-4-2022&region=52.71&period=2025-Q4")
    assert report.status_code == 400  # another region's report: refused like the API
    own = await b.get("/admin/monev/report?kind=inpres-4-2022&region=52.03&period=2025-Q4&format=csv")
    assert own.status_code == 200
    assert own.text.lstrip("\ufeff").startswith("Lembar;Kode;Wilayah")


async def test_sign_in_without_or_with_a_forged_csrf_token_is_refused(browser: Callable[[], Browser]) -> None:
    b = browser()
    await b.get("/admin/login")
    missing = await b.post("/admin/login", {"username": "officer.rina", "password": PASSWORD}, token=False)
    assert missing.status_code == 403
    assert "nothing was changed" in missing.text
    forged = await b.post(
        "/admin/login", {"username": "officer.rina", "password": PASSWORD, "csrf_token": "x" * 43}, token=False
    )
    assert forged.status_code == 403
    stranger = browser()  # no session at all: a cross-site form post
    response = await stranger.http.post(
        "/admin/login", data={"username": "officer.rina", "password": PASSWORD, "csrf_token": "x" * 43}
    )
    assert response.status_code == 403


async def test_sign_in_replaces_the_csrf_token(browser: Callable[[], Browser]) -> None:
    b = browser()
    await b.get("/admin/login")
    before = b.token()
    await b.post("/admin/login", {"username": "officer.rina", "password": PASSWORD})
    await b.get("/admin/")
    assert b.token() != before  # a token planted before sign-in is worthless after it


async def test_sign_out_is_a_post_with_the_token(signed_in: Callable[[str], Any]) -> None:
    b: Browser = await signed_in("officer.rina")
    assert (await b.get("/admin/logout")).status_code == 405
    await b.get("/admin/")
    refused = await b.post("/admin/logout", {}, token=False)
    assert refused.status_code == 403
    assert (await b.get("/admin/")).status_code == 200  # still signed in
    done = await b.post("/admin/logout", {})
    assert done.status_code == 303
    assert done.headers["location"].endswith("/admin/login")
    assert (await b.get("/admin/")).status_code == 302


async def test_idle_and_absolute_expiry(
    signed_in: Callable[[str], Any], console_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = console_app.state.console.backend
    now = [backend.clock()]
    monkeypatch.setattr(backend, "clock", lambda: now[0])

    b: Browser = await signed_in("officer.rina")
    now[0] += backend.config.idle_seconds - 5
    assert (await b.get("/admin/")).status_code == 200  # activity keeps the session alive …
    now[0] += backend.config.idle_seconds - 5
    assert (await b.get("/admin/")).status_code == 200
    now[0] += backend.config.idle_seconds + 1  # … and idleness ends it
    expired = await b.get("/admin/participant/list")
    assert expired.status_code == 303
    assert expired.headers["location"].endswith("/admin/login?expired=1")
    notice = await b.get(expired.headers["location"])
    assert "Your session ended" in notice.text
    assert (await b.get("/admin/")).status_code == 302

    c: Browser = await signed_in("officer.rina")
    for _ in range(backend.config.max_seconds // (backend.config.idle_seconds - 5) + 1):
        now[0] += backend.config.idle_seconds - 5
        response = await c.get("/admin/")
        if response.status_code != 200:
            break
    assert response.status_code == 303  # however active, the session ends max_seconds after sign-in
    assert "expired=1" in response.headers["location"]


async def test_disabling_a_user_ends_their_session(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        await accounts.create_user(
            session,
            username="officer.temp",
            password=PASSWORD,
            role=Role.OFFICER,
            region="52.71",
            actor=OPERATOR,
        )
    b: Browser = await signed_in("officer.temp")
    assert (await b.get("/admin/participant/list")).status_code == 200
    async with sessions() as session, session.begin():
        await accounts.disable_user(session, username="officer.temp", actor=OPERATOR)
    assert (await b.get("/admin/participant/list")).status_code == 302


async def test_console_pages_are_not_cached_and_run_no_inline_script(signed_in: Callable[[str], Any]) -> None:
    b: Browser = await signed_in("officer.rina")
    page = await b.get("/admin/participant/list")
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "<script>" not in page.text  # every script is a file of the console's own


async def test_sign_in_attempts_are_rate_limited(console_url: str, key_path: Path) -> None:
    app = create_app(console_settings(console_url, key_path, signin_rate_limit_per_minute=2))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            b = Browser(http)
            assert (await b.sign_in("officer.rina", "wrong-password-1")).status_code == 401
            assert (await b.sign_in("officer.rina", "wrong-password-2")).status_code == 401
            limited = await b.sign_in("officer.rina")
            assert limited.status_code == 429
            assert "Too many sign-in attempts" in limited.text
    finally:
        await app.state.engine.dispose()
