"""Client credentials: what a partner gets, and every way a request is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from tests.auth.conftest import RegisterClient
from tests.conftest import AUDIENCE, ISSUER


def _claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(head), decode(body)


async def test_partner_gets_a_scoped_regional_token(http: httpx.AsyncClient, register_client: RegisterClient) -> None:
    partner = await register_client()
    response = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=partner.basic)
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["cache-control"] == "no-store"
    assert "refresh_token" not in body
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    header, claims = _claims(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"]
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == claims["client_id"] == partner.client_id
    assert claims["scope"] == "beneficiaries:read stats:read"
    assert claims["region"] == "52.03"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]
    assert "roles" not in claims


async def test_client_secret_post_works_too(http: httpx.AsyncClient, register_client: RegisterClient) -> None:
    partner = await register_client()
    data = {"grant_type": "client_credentials", "client_id": partner.client_id, "client_secret": partner.secret}
    response = await http.post("/oauth/token", data=data)
    assert response.status_code == 200, response.text


async def test_asking_for_less_is_fine(http: httpx.AsyncClient, register_client: RegisterClient) -> None:
    partner = await register_client()
    data = {"grant_type": "client_credentials", "scope": "stats:read", "region": "52.03.01"}
    response = await http.post("/oauth/token", data=data, auth=partner.basic)
    assert response.status_code == 200, response.text
    _, claims = _claims(response.json()["access_token"])
    assert claims["scope"] == "stats:read"
    assert claims["region"] == "52.03.01"
    assert response.json()["scope"] == "stats:read"


async def test_asking_for_more_is_invalid_scope(http: httpx.AsyncClient, register_client: RegisterClient) -> None:
    partner = await register_client()
    for scope in ("beneficiaries:read pii:read", "participants:read", "everything:write"):
        data = {"grant_type": "client_credentials", "scope": scope}
        response = await http.post("/oauth/token", data=data, auth=partner.basic)
        assert response.status_code == 400, scope
        assert response.json()["error"] == "invalid_scope", scope


async def test_region_outside_the_clients_is_refused(http: httpx.AsyncClient, register_client: RegisterClient) -> None:
    partner = await register_client()
    for region in ("52.71", "52", "51.01"):
        data = {"grant_type": "client_credentials", "region": region}
        response = await http.post("/oauth/token", data=data, auth=partner.basic)
        assert response.status_code == 400, region
        assert response.json()["error"] == "invalid_scope"
        assert "outside" in response.json()["error_description"]
    bad = await http.post("/oauth/token", data={"grant_type": "client_credentials", "region": "x"}, auth=partner.basic)
    assert bad.json()["error"] == "invalid_request"


async def test_national_client_may_narrow_to_any_region(
    http: httpx.AsyncClient, register_client: RegisterClient
) -> None:
    ministry = await register_client(name="Kemensos", region=None)
    data = {"grant_type": "client_credentials", "region": "52.71"}
    response = await http.post("/oauth/token", data=data, auth=ministry.basic)
    assert _claims(response.json()["access_token"])[1]["region"] == "52.71"
    plain = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=ministry.basic)
    assert "region" not in _claims(plain.json()["access_token"])[1]


async def test_wrong_secret_unknown_and_disabled_clients_get_the_same_answer(
    http: httpx.AsyncClient, register_client: RegisterClient, sessions: Any
) -> None:
    from auth import accounts
    from tests.auth.conftest import OPERATOR

    partner = await register_client()
    disabled = await register_client()
    async with sessions() as session, session.begin():
        await accounts.disable_client(session, client_id=disabled.client_id, actor=OPERATOR)
    attempts = [
        httpx.BasicAuth(partner.client_id, "not-the-secret"),
        httpx.BasicAuth("no-such-client-1234", "whatever"),
        disabled.basic,
    ]
    answers = []
    for auth in attempts:
        response = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=auth)
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 401
    assert answers[0][1]["error"] == "invalid_client"
    posted = []
    for client_id, secret in ((partner.client_id, "nope"), ("no-such-client-1234", "nope")):
        data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        response = await http.post("/oauth/token", data=data)
        posted.append((response.status_code, response.json()))
    assert posted[0] == posted[1]
    assert posted[0][1]["error"] == "invalid_client"


async def test_no_credentials_is_invalid_client(http: httpx.AsyncClient) -> None:
    response = await http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert response.json()["error"] == "invalid_client"


async def test_grant_types(http: httpx.AsyncClient, register_client: RegisterClient) -> None:
    partner = await register_client()
    unknown = await http.post("/oauth/token", data={"grant_type": "password"}, auth=partner.basic)
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unsupported_grant_type"
    missing = await http.post("/oauth/token", data={"scope": "stats:read"}, auth=partner.basic)
    assert missing.json()["error"] == "unsupported_grant_type"
    not_allowed = await http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x" * 40}, auth=partner.basic
    )
    assert not_allowed.json()["error"] == "unauthorized_client"


async def test_secret_rotation(http: httpx.AsyncClient, register_client: RegisterClient, sessions: Any) -> None:
    from auth import accounts
    from tests.auth.conftest import OPERATOR

    partner = await register_client()
    async with sessions() as session, session.begin():
        new_secret = await accounts.rotate_client_secret(session, client_id=partner.client_id, actor=OPERATOR)
    old = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=partner.basic)
    assert old.json()["error"] == "invalid_client"
    new = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=httpx.BasicAuth(partner.client_id, new_secret),
    )
    assert new.status_code == 200


async def test_malformed_requests(http: httpx.AsyncClient, register_client: RegisterClient) -> None:
    partner = await register_client()
    huge = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials", "scope": "x" * 20_000}, auth=partner.basic
    )
    assert huge.status_code == 413
    assert huge.json()["error"] == "invalid_request"
    as_json = await http.post("/oauth/token", json={"grant_type": "client_credentials"}, auth=partner.basic)
    assert as_json.status_code == 415
    repeated = await http.post(
        "/oauth/token",
        content="grant_type=client_credentials&scope=stats:read&scope=beneficiaries:read",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=partner.basic,
    )
    assert repeated.status_code == 400
    assert "repeated" in repeated.json()["error_description"]
    not_utf8 = await http.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&scope=%FF%FE",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=partner.basic,
    )
    assert not_utf8.status_code in (200, 400)  # percent-escapes decode leniently; nothing crashes
    get = await http.get("/oauth/token")
    assert get.status_code == 405


async def test_client_and_user_subjects_cannot_collide(register_client: RegisterClient) -> None:
    from domain.identity.models import USER_SUBJECT_PREFIX

    for name in ("user", "User: Admin", "user:admin"):
        partner = await register_client(name=name)
        assert ":" not in partner.client_id
    assert USER_SUBJECT_PREFIX.endswith(":")


async def test_two_client_authentication_methods_at_once_are_refused(
    http: httpx.AsyncClient, register_client: RegisterClient
) -> None:
    partner = await register_client()
    data = {"grant_type": "client_credentials", "client_id": partner.client_id, "client_secret": partner.secret}
    response = await http.post("/oauth/token", data=data, auth=partner.basic)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
