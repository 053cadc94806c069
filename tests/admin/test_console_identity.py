"""Users and partner clients in the console (admins only): created, disabled and rotated through
``auth.accounts``; no hash and no stored secret is ever shown, a new secret only once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.passwords import verify_secret
from domain.audit.models import AuditEvent
from domain.identity.models import OAuthClient, User
from tests.admin.conftest import Browser, submit


async def test_users_never_show_password_hashes(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("admin.nasional")
    async with sessions() as session:
        user = (await session.scalars(select(User).where(User.username == "officer.dewi"))).one()
    for path in ("/admin/user/list", f"/admin/user/details/{user.id}", "/admin/user/export/csv"):
        page = await b.get(path)
        assert page.status_code == 200, path
        assert "officer.dewi" in page.text
        assert "argon2" not in page.text
        assert user.password_hash not in page.text
        assert "password_hash" not in page.text.lower().replace(" ", "_")


async def test_create_and_disable_a_user(
    signed_in: Callable[[str], Any], browser: Callable[[], Browser], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("admin.nasional")
    weak = await submit(
        b,
        "/admin/user/create",
        {"username": "officer.baru", "password": "short", "role": "officer", "region_code": "52.71"},
    )
    assert weak.status_code == 400
    unbound = await submit(
        b,
        "/admin/user/create",
        {"username": "officer.baru", "password": "a-long-enough-password", "role": "officer", "region_code": ""},
    )
    assert unbound.status_code == 400
    assert "bound to a region" in unbound.text
    created = await submit(
        b,
        "/admin/user/create",
        {"username": "officer.baru", "password": "a-long-enough-password", "role": "officer", "region_code": "52.71"},
    )
    assert created.status_code == 303, created.text
    details = await b.get(created.headers["location"])
    assert "User officer.baru created." in details.text
    new_user = browser()
    assert (await new_user.sign_in("officer.baru", "a-long-enough-password")).status_code == 303
    assert (await new_user.get("/admin/participant/list")).status_code == 200

    await b.get(created.headers["location"])
    disabled = await b.post(created.headers["location"].replace("/details/", "/disable/"), {})
    assert disabled.status_code == 303
    assert (await new_user.get("/admin/participant/list")).status_code == 302
    async with sessions() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.entity_id == "officer.baru").order_by(AuditEvent.seq)
            )
        ).all()
    assert actions[0] == "user.create"
    assert "user.disable" in actions


async def test_an_admin_cannot_disable_themselves(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("admin.kedua")
    async with sessions() as session:
        me = (await session.scalars(select(User).where(User.username == "admin.kedua"))).one()
    page = await b.get(f"/admin/user/details/{me.id}")
    assert "Disable user" not in page.text
    response = await b.post(f"/admin/user/disable/{me.id}", {})
    assert response.status_code == 303
    assert "cannot disable the account you are signed in with" in (await b.get(response.headers["location"])).text
    assert (await b.get("/admin/")).status_code == 200


def _secret_on(page: str) -> str:
    match = re.search(r'<code id="client-secret">([^<]+)</code>', page)
    assert match, "no secret on the page"
    return match.group(1)


async def test_partner_client_secret_is_shown_once(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession], console_app: Any
) -> None:
    b: Browser = await signed_in("admin.nasional")
    created = await submit(
        b,
        "/admin/o-auth-client/create",
        {
            "name": "Dinas Sosial Kota Mataram",
            "scopes": ["beneficiaries:read", "beneficiaries:write"],
            "region_code": "52.71",
        },
    )
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    secret = _secret_on(created.text)
    client_id = re.search(r'<code id="client-id">([^<]+)</code>', created.text).group(1)  # type: ignore[union-attr]
    async with sessions() as session:
        client = (await session.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id))).one()
    assert client.secret_hash is not None
    assert verify_secret(client.secret_hash, secret)
    assert client.scopes == "beneficiaries:read beneficiaries:write"

    for path in (
        "/admin/o-auth-client/list",
        f"/admin/o-auth-client/details/{client.id}",
        "/admin/o-auth-client/export/csv",
    ):
        page = await b.get(path)
        assert client_id in page.text, path
        assert secret not in page.text, path
        assert client.secret_hash not in page.text, path
        assert "argon2" not in page.text, path

    transport = httpx.ASGITransport(app=console_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://jamsos.test") as partner:
        token = await partner.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=httpx.BasicAuth(client_id, secret)
        )
        assert token.status_code == 200, token.text

        await b.get(f"/admin/o-auth-client/details/{client.id}")
        rotated = await b.post(f"/admin/o-auth-client/rotate/{client.id}", {})
        assert rotated.status_code == 200
        new_secret = _secret_on(rotated.text)
        assert new_secret != secret
        old = await partner.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=httpx.BasicAuth(client_id, secret)
        )
        assert old.status_code == 401
        fresh = await partner.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=httpx.BasicAuth(client_id, new_secret)
        )
        assert fresh.status_code == 200

        await b.get(f"/admin/o-auth-client/details/{client.id}")
        disabled = await b.post(f"/admin/o-auth-client/disable/{client.id}", {})
        assert disabled.status_code == 303
        assert "is disabled" in (await b.get(disabled.headers["location"])).text
        after = await partner.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=httpx.BasicAuth(client_id, new_secret)
        )
        assert after.status_code == 401
    async with sessions() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.entity_id == client_id).order_by(AuditEvent.seq)
            )
        ).all()
    assert list(actions) == ["client.create", "client.secret_rotate", "client.disable"]


async def test_officers_cannot_manage_identities(signed_in: Callable[[str], Any]) -> None:
    b: Browser = await signed_in("officer.rina")
    for path in ("/admin/user/create", "/admin/o-auth-client/create", "/admin/user/details/1"):
        assert (await b.get(path)).status_code == 403, path
    for path in ("/admin/o-auth-client/rotate/1", "/admin/user/disable/1"):
        await b.get("/admin/")
        assert (await b.post(path, {})).status_code == 403, path
