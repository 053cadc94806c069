"""Access-token verification: what is accepted and every way a token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from auth.principal import PrincipalKind
from auth.scopes import Role, Scope
from auth.tokens import (
    InvalidToken,
    TokenConfig,
    issue_access_token,
    key_set,
    load_or_create_key,
    public_jwks,
    verify_access_token,
)

CONFIG = TokenConfig(issuer="http://issuer.test", audience="jamsos-graph")


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> ECKey:
    return load_or_create_key(tmp_path_factory.mktemp("k") / "key.pem")


def _token(key: ECKey, **overrides: object) -> str:
    return issue_access_token(
        key,
        CONFIG,
        subject=str(overrides.pop("subject", "alice")),
        client_id=str(overrides.pop("client_id", "frontend")),
        scopes=frozenset({Scope.PARTICIPANTS_READ, Scope.PII_READ}),
        roles=frozenset({Role.OFFICER}),
        region="52.71",
        **overrides,  # type: ignore[arg-type]
    )


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_valid_token_gives_principal(key: ECKey) -> None:
    principal = verify_access_token(_token(key), key_set(key), CONFIG)
    assert principal.subject == "alice"
    assert principal.kind is PrincipalKind.USER
    assert principal.scopes == {Scope.PARTICIPANTS_READ, Scope.PII_READ}
    assert principal.roles == {Role.OFFICER}
    assert principal.region is not None
    assert principal.region.code == "52.71"
    assert principal.client_id == "frontend"


def test_client_token_is_client_kind(key: ECKey) -> None:
    principal = verify_access_token(_token(key, subject="dinsos-ntb", client_id="dinsos-ntb"), key_set(key), CONFIG)
    assert principal.kind is PrincipalKind.CLIENT


def test_key_file_is_reused_and_private(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    first = load_or_create_key(path)
    second = load_or_create_key(path)
    assert first.kid == second.kid
    assert path.stat().st_mode & 0o077 == 0
    assert all("d" not in k for k in public_jwks(key_set(first))["keys"])


def test_expired_token_refused(key: ECKey) -> None:
    old = int(time.time()) - 3600
    with pytest.raises(InvalidToken, match="expired"):
        verify_access_token(_token(key, now=old, lifetime_seconds=60), key_set(key), CONFIG)


def test_not_yet_valid_token_refused(key: ECKey) -> None:
    with pytest.raises(InvalidToken):
        verify_access_token(_token(key, now=int(time.time()) + 3600), key_set(key), CONFIG)


def test_wrong_issuer_and_audience_refused(key: ECKey) -> None:
    token = _token(key)
    with pytest.raises(InvalidToken):
        verify_access_token(token, key_set(key), TokenConfig("http://other", CONFIG.audience))
    with pytest.raises(InvalidToken):
        verify_access_token(token, key_set(key), TokenConfig(CONFIG.issuer, "someone-else"))


def test_token_signed_by_another_key_refused(key: ECKey, tmp_path: Path) -> None:
    other = load_or_create_key(tmp_path / "other.pem")
    with pytest.raises(InvalidToken, match="not signed by a key of this service"):
        verify_access_token(_token(other), key_set(key), CONFIG)


def test_another_key_with_our_kid_refused(key: ECKey) -> None:
    impostor = ECKey.generate_key("P-256", {"kid": key.kid}, private=True)
    claims = jwt.decode(_token(key), key_set(key)).claims
    forged = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, claims, impostor)
    with pytest.raises(InvalidToken, match="signature"):
        verify_access_token(forged, key_set(key), CONFIG)


def test_alg_none_refused(key: ECKey) -> None:
    claims = jwt.decode(_token(key), key_set(key)).claims
    unsigned = f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': key.kid})}.{_b64(claims)}."
    with pytest.raises(InvalidToken, match="algorithm"):
        verify_access_token(unsigned, key_set(key), CONFIG)


def test_hmac_with_public_key_refused(key: ECKey) -> None:
    # The classic confusion attack: HS256 keyed with the published public key.
    # joserfc itself refuses to build such a key, so the token is forged by hand.
    public_pem = key.as_pem(private=False)
    claims = jwt.decode(_token(key), key_set(key)).claims
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': key.kid})}.{_b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    with pytest.raises(InvalidToken, match="algorithm"):
        verify_access_token(forged, key_set(key), CONFIG)


def test_rs256_token_from_unknown_key_refused(key: ECKey) -> None:
    rsa = RSAKey.generate_key(2048, private=True)
    claims = jwt.decode(_token(key), key_set(key)).claims
    forged = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": key.kid}, claims, rsa)
    with pytest.raises(InvalidToken):
        verify_access_token(forged, key_set(key), CONFIG)


def test_other_jwt_type_refused(key: ECKey) -> None:
    # An ID token (typ JWT) signed by our own key is still not an access token.
    claims = jwt.decode(_token(key), key_set(key)).claims
    id_token = jwt.encode({"alg": "ES256", "typ": "JWT", "kid": key.kid}, claims, key)
    with pytest.raises(InvalidToken, match="at\\+jwt"):
        verify_access_token(id_token, key_set(key), CONFIG)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", "eyJhbGciOiJFUzI1NiJ9.e30.", "ünïcode.x.y"])
def test_garbage_refused(key: ECKey, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        verify_access_token(garbage, key_set(key), CONFIG)


def test_unknown_scope_or_bad_region_in_claims_refused(key: ECKey) -> None:
    claims = jwt.decode(_token(key), key_set(key)).claims
    header = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    for bad in ({"scope": "participants:read everything:write"}, {"region": "not-a-region"}):
        token = jwt.encode(header, {**claims, **bad}, key)
        with pytest.raises(InvalidToken, match="claims"):
            verify_access_token(token, key_set(key), CONFIG)
