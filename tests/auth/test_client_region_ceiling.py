"""A client's region is a ceiling for every grant: people signing in through a regional app get at most its region."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import update

from auth.scopes import Role, Scope
from domain.identity.models import OAuthClient
from tests.auth.conftest import CALLBACK, authorize_params, code_flow, pkce, redirect_query, sign_in


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


async def _regional_app(register_client: Callable[..., Any], region: str) -> Any:
    return await register_client(
        name=f"Portal {region}",
        scopes=" ".join(s.value for s in Scope),
        region=region,
        grant_types=frozenset({"authorization_code", "refresh_token"}),
        redirect_uris=[CALLBACK],
    )


async def test_a_national_admin_through_a_5271_app_gets_5271(
    http: httpx.AsyncClient, register_client: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await _regional_app(register_client, "52.71")
    admin = await register_user(Role.ADMIN, None)
    tokens, _ = await code_flow(http, app, admin)
    assert _claims(tokens["access_token"])["region"] == "52.71"
    me = await http.post(
        "/graphql",
        json={"query": "{ me { regionCode } }"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert me.json()["data"]["me"]["regionCode"] == "52.71"
    # The refreshed token keeps the ceiling.
    refreshed = await http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=app.basic
    )
    assert refreshed.status_code == 200, refreshed.text
    assert _claims(refreshed.json()["access_token"])["region"] == "52.71"


async def test_a_narrower_person_keeps_their_own_region(
    http: httpx.AsyncClient, register_client: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await _regional_app(register_client, "52.71")
    officer = await register_user(Role.OFFICER, "52.71.01")
    tokens, _ = await code_flow(http, app, officer)
    assert _claims(tokens["access_token"])["region"] == "52.71.01"


async def test_a_person_outside_the_apps_region_is_refused(
    http: httpx.AsyncClient, register_client: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await _regional_app(register_client, "52.71")
    officer = await register_user(Role.OFFICER, "52.03")
    _, challenge = pkce()
    query = redirect_query(await sign_in(http, authorize_params(app.client_id, challenge), officer))
    assert query["error"] == "invalid_scope"
    assert "outside this application's region 52.71" in query["error_description"]


async def test_asking_for_a_region_above_the_ceiling_is_refused(
    http: httpx.AsyncClient, register_client: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await _regional_app(register_client, "52.71")
    admin = await register_user(Role.ADMIN, None)
    _, challenge = pkce()
    params = authorize_params(app.client_id, challenge, region="52.03")
    query = redirect_query(await sign_in(http, params, admin))
    assert query["error"] == "invalid_scope"


async def test_narrowing_the_client_later_stops_its_old_refresh_tokens(
    http: httpx.AsyncClient,
    register_client: Callable[..., Any],
    register_user: Callable[..., Any],
    sessions: Any,
) -> None:
    app = await _regional_app(register_client, "52.71")
    admin = await register_user(Role.ADMIN, None)
    tokens, _ = await code_flow(http, app, admin)
    async with sessions() as session, session.begin():
        await session.execute(
            update(OAuthClient).where(OAuthClient.client_id == app.client_id).values(region_code="52.71.01")
        )
    refreshed = await http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=app.basic
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
