"""Every kind of bad bearer token is refused over HTTP with 401, a GraphQL-shaped body and an RFC 6750 challenge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from auth.scopes import Role
from auth.tokens import load_or_create_key

QUERY = {"query": "{ me { subject } }"}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    decode = lambda p: json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))  # noqa: E731
    return decode(head), decode(body)


@pytest.fixture(scope="module")
def forgeries(mint: Callable[..., str], key_path: Path) -> dict[str, str]:
    key = load_or_create_key(key_path)
    good = mint(Role.ANALYST, "52.03")
    header, claims = _parts(good)
    public_pem = key.as_pem(private=False)
    hs_input = f"{_b64({**header, 'alg': 'HS256'})}.{_b64(claims)}"
    hs_mac = base64.urlsafe_b64encode(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest()).decode()
    impostor = ECKey.generate_key("P-256", {"alg": "ES256"}, private=True)
    impostor.ensure_kid()
    jku_header = {**header, "kid": impostor.kid, "jku": "https://evil.example/jwks.json"}
    return {
        "signed elsewhere, with a jku to follow": jwt.encode(jku_header, claims, impostor),
        "expired": mint(Role.ANALYST, "52.03", now=int(time.time()) - 7200, lifetime_seconds=60),
        "wrong audience": jwt.encode(header, {**claims, "aud": "another-api"}, key),
        "wrong issuer": jwt.encode(header, {**claims, "iss": "https://evil.example"}, key),
        "alg none": f"{_b64({**header, 'alg': 'none'})}.{_b64(claims)}.",
        "HS256 with the public key": f"{hs_input}.{hs_mac.rstrip('=')}",
        "ID token (typ JWT)": jwt.encode({**header, "typ": "JWT"}, claims, key),
        "not yet valid": jwt.encode(header, {**claims, "nbf": int(time.time()) + 3600}, key),
        "tampered claims": f"{good.split('.')[0]}.{_b64({**claims, 'region': None})}.{good.split('.')[2]}",
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "signed elsewhere, with a jku to follow",
        "expired",
        "wrong audience",
        "wrong issuer",
        "alg none",
        "HS256 with the public key",
        "ID token (typ JWT)",
        "not yet valid",
        "tampered claims",
        "garbage",
    ],
)
async def test_bad_tokens_are_refused(http: httpx.AsyncClient, forgeries: dict[str, str], kind: str) -> None:
    response = await http.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {forgeries[kind]}"})
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_good_minted_token_still_works(http: httpx.AsyncClient, mint: Callable[..., str]) -> None:
    response = await http.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {mint(Role.ADMIN)}"})
    assert response.status_code == 200
    assert response.json()["data"]["me"]["subject"] == "test-admin"
