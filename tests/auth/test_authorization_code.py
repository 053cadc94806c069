"""Authorization code with PKCE: the sign-in page, the code exchange, refresh rotation and reuse detection."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update

from auth.scopes import ROLE_SCOPES, Role
from domain.identity.models import AuthorizationCode
from tests.auth.conftest import (
    CALLBACK,
    authorize_params,
    code_flow,
    hidden_fields,
    pkce,
    redirect_query,
    sign_in,
)

ME = "{ me { subject kind roles scopes regionCode clientId } }"


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


async def _me(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"})


async def _refresh(http: httpx.AsyncClient, app: Any, refresh_token: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return await http.post("/oauth/token", data=data, auth=app.basic)


async def test_sign_in_page_is_self_contained_and_csrf_protected(
    http: httpx.AsyncClient, register_app: Callable[..., Any]
) -> None:
    app = await register_app()
    _, challenge = pkce()
    page = await http.get("/oauth/authorize", params=authorize_params(app.client_id, challenge))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Monev Dashboard" in page.text
    assert "csrf_token" in hidden_fields(page.text)
    assert "src=" not in page.text
    assert "<link" not in page.text
    assert "http" not in page.text.replace(CALLBACK.replace("/", "&#x2F;"), "").split("<form")[0].split("</style>")[1]
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


async def test_person_signs_in_with_pkce_and_gets_their_role(
    http: httpx.AsyncClient, register_app: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await register_app()
    username = await register_user(Role.OFFICER, "52.71")
    tokens, _ = await code_flow(http, app, username)
    assert tokens["refresh_token"]
    claims = _claims(tokens["access_token"])
    assert claims["sub"] == f"user:{username}"
    assert claims["client_id"] == app.client_id
    assert claims["roles"] == ["officer"]
    assert claims["region"] == "52.71"
    assert set(claims["scope"].split()) == {s.value for s in ROLE_SCOPES[Role.OFFICER]}
    me = (await _me(http, tokens["access_token"])).json()["data"]["me"]
    assert me["kind"] == "user"
    assert me["subject"] == f"user:{username}"
    assert me["regionCode"] == "52.71"


async def test_public_client_uses_pkce_without_a_secret(
    http: httpx.AsyncClient, register_app: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await register_app(public=True)
    assert app.secret is None
    username = await register_user(Role.ANALYST, "52.03")
    tokens, _ = await code_flow(http, app, username, scope="beneficiaries:read")
    assert _claims(tokens["access_token"])["scope"] == "beneficiaries:read"
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": app.client_id}
    refreshed = await http.post("/oauth/token", data=data)
    assert refreshed.status_code == 200, refreshed.text


async def test_refresh_rotates_and_reuse_revokes_the_family(
    http: httpx.AsyncClient, register_app: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await register_app()
    username = await register_user()
    first, _ = await code_flow(http, app, username)
    second = await _refresh(http, app, first["refresh_token"])
    assert second.status_code == 200, second.text
    second_tokens = second.json()
    assert second_tokens["refresh_token"] != first["refresh_token"]
    assert _claims(second_tokens["access_token"])["sub"] == f"user:{username}"
    third = await _refresh(http, app, second_tokens["refresh_token"])
    assert third.status_code == 200
    latest = third.json()
    assert (await _me(http, latest["access_token"])).status_code == 200

    # An attacker replays the first (already rotated) refresh token: the whole family dies.
    replay = await _refresh(http, app, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert (await _refresh(http, app, latest["refresh_token"])).json()["error"] == "invalid_grant"
    refused = await _me(http, latest["access_token"])
    assert refused.status_code == 401
    assert "revoked" in refused.json()["errors"][0]["message"]


async def test_refresh_may_narrow_but_not_widen(
    http: httpx.AsyncClient, register_app: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await register_app()
    username = await register_user(Role.ANALYST, "52.03")
    tokens, _ = await code_flow(http, app, username, scope="beneficiaries:read stats:read")
    wider = await _refresh(http, app, tokens["refresh_token"], scope="beneficiaries:read claims:read")
    assert wider.json()["error"] == "invalid_scope"
    narrower = await _refresh(http, app, tokens["refresh_token"], scope="stats:read")
    assert narrower.status_code == 200, narrower.text
    assert narrower.json()["scope"] == "stats:read"


async def test_code_is_single_use_and_reuse_revokes_what_it_gave(
    http: httpx.AsyncClient, register_app: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await register_app()
    username = await register_user()
    verifier, challenge = pkce()
    query = redirect_query(await sign_in(http, authorize_params(app.client_id, challenge), username))
    data = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": CALLBACK}
    data["code_verifier"] = verifier
    first = await http.post("/oauth/token", data=data, auth=app.basic)
    assert first.status_code == 200
    again = await http.post("/oauth/token", data=data, auth=app.basic)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert (await _me(http, first.json()["access_token"])).status_code == 401
    assert (await _refresh(http, app, first.json()["refresh_token"])).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": None}, "invalid_request"),
        ({"code_verifier": "w" * 50}, "invalid_grant"),
        ({"code_verifier": "short"}, "invalid_request"),
        ({"redirect_uri": "https://app.jamsos.test/other"}, "invalid_grant"),
        ({"code": "not-a-code-we-issued"}, "invalid_grant"),
    ],
)
async def test_code_exchange_refusals(
    http: httpx.AsyncClient,
    register_app: Callable[..., Any],
    register_user: Callable[..., Any],
    change: dict[str, str | None],
    error: str,
) -> None:
    app = await register_app()
    username = await register_user()
    verifier, challenge = pkce()
    query = redirect_query(await sign_in(http, authorize_params(app.client_id, challenge), username))
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
        **change,
    }
    response = await http.post("/oauth/token", data={k: v for k, v in data.items() if v is not None}, auth=app.basic)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error


async def test_code_of_another_client_and_expired_code_are_refused(
    http: httpx.AsyncClient,
    register_app: Callable[..., Any],
    register_user: Callable[..., Any],
    sessions: Any,
) -> None:
    app, other = await register_app(), await register_app()
    username = await register_user()
    verifier, challenge = pkce()
    query = redirect_query(await sign_in(http, authorize_params(app.client_id, challenge), username))
    data = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": CALLBACK}
    data["code_verifier"] = verifier
    stolen = await http.post("/oauth/token", data=data, auth=other.basic)
    assert stolen.json()["error"] == "invalid_grant"
    async with sessions() as session, session.begin():
        from domain.db import utcnow

        await session.execute(update(AuthorizationCode).values(expires_at=utcnow()))
    expired = await http.post("/oauth/token", data=data, auth=app.basic)
    assert expired.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge": "", "code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"scope": "claims:approve nonsense:read"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
async def test_bad_authorization_requests_go_back_to_the_client_with_an_error(
    http: httpx.AsyncClient, register_app: Callable[..., Any], change: dict[str, str], error: str
) -> None:
    app = await register_app()
    _, challenge = pkce()
    params = authorize_params(app.client_id, challenge, **change)
    response = await http.get("/oauth/authorize", params=params)
    query = redirect_query(response)
    assert query["error"] == error
    assert query["state"] == params["state"]


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        CALLBACK + "/../evil",
        CALLBACK + "?next=https://evil.example",
        "https://app.jamsos.test.evil.example/callback",
        "//evil.example/callback",
    ],
)
async def test_unregistered_redirect_uri_is_never_followed(
    http: httpx.AsyncClient, register_app: Callable[..., Any], redirect_uri: str
) -> None:
    app = await register_app()
    _, challenge = pkce()
    params = authorize_params(app.client_id, challenge, redirect_uri=redirect_uri, scope="nonsense")
    response = await http.get("/oauth/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "not valid" in response.text


async def test_unknown_client_and_missing_redirect_show_an_error_page(
    http: httpx.AsyncClient, register_app: Callable[..., Any]
) -> None:
    _, challenge = pkce()
    unknown = await http.get("/oauth/authorize", params=authorize_params("no-such-app-1234", challenge))
    assert unknown.status_code == 400
    assert "location" not in unknown.headers
    app = await register_app()
    missing = await http.get("/oauth/authorize", params=authorize_params(app.client_id, challenge, redirect_uri=""))
    assert missing.status_code == 400
    assert "location" not in missing.headers


async def test_sign_in_failures(
    http: httpx.AsyncClient, register_app: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await register_app()
    username = await register_user()
    _, challenge = pkce()
    params = authorize_params(app.client_id, challenge)
    wrong = await sign_in(http, params, username, password="not the password at all")
    assert wrong.status_code == 401
    assert "wrong" in wrong.text
    assert "location" not in wrong.headers
    unknown = await sign_in(http, params, "nobody-here", password="not the password at all")
    assert unknown.status_code == 401
    problem = re.compile(r'<p class="error"[^>]*>[^<]*</p>')
    assert problem.findall(unknown.text) == problem.findall(wrong.text) != []

    page = await http.get("/oauth/authorize", params=params)
    form = {**hidden_fields(page.text), "username": username, "password": "kopi-tubruk-lombok-2026"}
    async with httpx.AsyncClient(transport=http._transport, base_url=str(http.base_url)) as cookieless:
        no_cookie = await cookieless.post("/oauth/authorize", data=form)  # a cross-site form post
    assert no_cookie.status_code == 400
    assert "expired" in no_cookie.text
    forged = await http.post("/oauth/authorize", data={**form, "csrf_token": form["csrf_token"][:-2] + "00"})
    assert forged.status_code == 400
    tampered = {**form, "redirect_uri": "https://evil.example/cb"}
    evil = await http.post("/oauth/authorize", data=tampered)
    assert evil.status_code == 400
    assert "location" not in evil.headers


async def test_cancel_returns_access_denied(
    http: httpx.AsyncClient, register_app: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await register_app()
    username = await register_user()
    _, challenge = pkce()
    response = await sign_in(http, authorize_params(app.client_id, challenge), username, action="cancel")
    assert redirect_query(response)["error"] == "access_denied"


async def test_scope_beyond_the_role_is_invalid_scope_after_sign_in(
    http: httpx.AsyncClient, register_app: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await register_app()
    username = await register_user(Role.ANALYST, "52.03")
    _, challenge = pkce()
    response = await sign_in(http, authorize_params(app.client_id, challenge, scope="claims:approve"), username)
    query = redirect_query(response)
    assert query["error"] == "invalid_scope"
    assert "code" not in query


async def test_region_narrowing_for_a_person(
    http: httpx.AsyncClient, register_app: Callable[..., Any], register_user: Callable[..., Any]
) -> None:
    app = await register_app()
    username = await register_user(Role.OFFICER, "52.71")
    tokens, _ = await code_flow(http, app, username, region="52.71.01")
    assert _claims(tokens["access_token"])["region"] == "52.71.01"
    _, challenge = pkce()
    outside = await sign_in(http, authorize_params(app.client_id, challenge, region="52.03"), username)
    assert redirect_query(outside)["error"] == "invalid_scope"


async def test_disabled_user_cannot_refresh_and_their_tokens_die(
    http: httpx.AsyncClient,
    register_app: Callable[..., Any],
    register_user: Callable[..., Any],
    sessions: Any,
) -> None:
    from auth import accounts
    from tests.auth.conftest import OPERATOR

    app = await register_app()
    username = await register_user()
    tokens, _ = await code_flow(http, app, username)
    async with sessions() as session, session.begin():
        await accounts.disable_user(session, username=username, actor=OPERATOR)
    assert (await _refresh(http, app, tokens["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await _me(http, tokens["access_token"])).status_code == 401
    _, challenge = pkce()
    again = await sign_in(http, authorize_params(app.client_id, challenge), username)
    assert again.status_code == 401


def test_redirect_query_helper_parses() -> None:
    parsed = parse_qs(urlsplit(CALLBACK + "?code=a&state=b").query)
    assert parsed == {"code": ["a"], "state": ["b"]}


async def test_oversized_or_malformed_sign_in_forms_are_refused(
    http: httpx.AsyncClient, register_app: Callable[..., Any]
) -> None:
    app = await register_app()
    _, challenge = pkce()
    params = authorize_params(app.client_id, challenge)
    huge = await http.post("/oauth/authorize", data={**params, "password": "x" * 20_000})
    assert huge.status_code == 413
    as_json = await http.post("/oauth/authorize", json=params)
    assert as_json.status_code == 415
    repeated = await http.get("/oauth/authorize", params=[*params.items(), ("scope", "a"), ("scope", "b")])
    assert repeated.status_code == 400
    assert "location" not in repeated.headers
