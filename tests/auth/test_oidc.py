"""External OpenID Connect provider mode, against a second instance of this service as the provider.

The provider is a real HTTP issuer: ``uvicorn`` on another loopback port with its own database, managed with
the ``jamsos`` command line. This service discovers it, fetches and caches its keys, follows its key rotation,
and maps roles, scopes and region from its tokens' claims.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from api.app import create_app
from auth.oidc import ExternalIssuer, ExternalIssuerConfig, principal_from_external
from auth.principal import PrincipalKind
from auth.scopes import ROLE_SCOPES, Role, Scope
from auth.tokens import InvalidToken, load_or_create_key
from tests.auth.conftest import CALLBACK, PASSWORD, Registered, code_flow, oauth_app_settings
from tests.conftest import AUDIENCE, ISSUER
from tests.live import free_port, jamsos, jamsos_here, json_out, live_server, service_env

ME = "{ me { subject kind roles scopes regionCode clientId } }"


@dataclass(frozen=True)
class Provider:
    issuer: str
    env: dict[str, str]
    partner: Registered
    frontend: Registered
    username: str


@pytest.fixture(scope="module")
def provider(
    backend: str, seeded_database: Callable[[str, str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Provider]:
    with _running_provider(seeded_database(backend, "idp"), tmp_path_factory) as running:
        yield running


@pytest.fixture
def rotating_provider(
    backend: str, seeded_database: Callable[[str, str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Provider]:
    """A provider of the rotation test's own: after a rotation it signs with a key that a verifier which
    fetched the keys less than ``refetch_seconds`` ago refuses for that long (the other tests share one)."""
    with _running_provider(seeded_database(backend, "idp_rotation"), tmp_path_factory) as running:
        yield running


@contextlib.contextmanager
def _running_provider(url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    home = tmp_path_factory.mktemp("idp")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    # key_refresh_seconds=0: the provider signs with a rotated key from its next token on.
    env = service_env(url, home, issuer=issuer, key_refresh_seconds="0", signing_key_path=str(home / "idp.pem"))
    partner = json_out(
        jamsos_here(
            env,
            "clients",
            "create",
            "--name",
            "Dinsos via IdP",
            "--scopes",
            "beneficiaries:read",
            "--region",
            "52.03",
            "--json",
        )
    )
    frontend = json_out(
        jamsos_here(
            env,
            "clients",
            "create",
            "--name",
            "Monev via IdP",
            "--scopes",
            " ".join(s.value for s in Scope),
            "--grant-types",
            "authorization_code refresh_token",
            "--redirect-uri",
            CALLBACK,
            "--json",
        )
    )
    made = jamsos_here(
        env, "users", "create", "--username", "officer.idp", "--role", "officer", "--region", "52.71", stdin=PASSWORD
    )
    assert made.returncode == 0, made.stderr
    with live_server(env, port):
        yield Provider(
            issuer,
            env,
            Registered(partner["client_id"], partner["client_secret"]),
            Registered(frontend["client_id"], frontend["client_secret"]),
            "officer.idp",
        )


@pytest.fixture(scope="module")
async def service(provider: Provider, oauth_url: str, key_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """This service, trusting the provider; its roles claim is the top-level ``roles`` our tokens carry."""
    settings = oauth_app_settings(oauth_url, key_path, oidc_issuer=provider.issuer, oidc_roles_claim="roles")
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as client:
        yield client
    await app.state.engine.dispose()


async def _provider_token(provider: Provider) -> str:
    async with httpx.AsyncClient(base_url=provider.issuer) as idp:
        response = await idp.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=provider.partner.basic
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _me(service: httpx.AsyncClient, token: str) -> httpx.Response:
    return await service.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"})


def _config(provider: Provider, **overrides: Any) -> ExternalIssuerConfig:
    return ExternalIssuerConfig(
        **{"issuer": provider.issuer, "audience": AUDIENCE, "roles_claim": "roles", **overrides}
    )


async def test_partner_token_from_the_provider_is_accepted(provider: Provider, service: httpx.AsyncClient) -> None:
    token = await _provider_token(provider)
    response = await _me(service, token)
    assert response.status_code == 200, response.text
    me = response.json()["data"]["me"]
    assert me == {
        "subject": f"{provider.issuer}#{provider.partner.client_id}",
        "kind": "client",
        "roles": [],
        "scopes": ["beneficiaries:read"],
        "regionCode": "52.03",
        "clientId": f"{provider.issuer}#{provider.partner.client_id}",
    }
    bearer = {"Authorization": f"Bearer {token}"}
    seen = await service.post("/graphql", json={"query": "{ beneficiaries(first: 1) { totalCount } }"}, headers=bearer)
    assert seen.json()["data"]["beneficiaries"]["totalCount"] > 0
    hidden = await service.post("/graphql", json={"query": "{ participants(first: 1) { totalCount } }"}, headers=bearer)
    assert hidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_person_signed_in_at_the_provider_gets_their_roles_scopes(
    provider: Provider, service: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=provider.issuer) as idp:
        tokens, _ = await code_flow(idp, provider.frontend, provider.username)
    me = (await _me(service, tokens["access_token"])).json()["data"]["me"]
    assert me["kind"] == "user"
    assert me["subject"] == f"{provider.issuer}#user:officer.idp"  # never equal to a local subject
    assert me["roles"] == ["officer"]
    assert set(me["scopes"]) == {s.value for s in ROLE_SCOPES[Role.OFFICER]}
    assert me["regionCode"] == "52.71"


async def test_provider_tokens_that_are_refused(provider: Provider, service: httpx.AsyncClient, tmp_path: Path) -> None:
    token = await _provider_token(provider)
    header = _header(token)
    other_audience = ExternalIssuer(_config(provider, audience="another-api"))
    with pytest.raises(InvalidToken):
        await other_audience.verify(token, header)
    only_keycloak_typ = ExternalIssuer(_config(provider, token_types=("JWT",)))
    with pytest.raises(InvalidToken, match="typ"):
        await only_keycloak_typ.verify(token, header)

    claims = json.loads(_b64decode(token.split(".")[1]))
    unsigned = f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': header['kid']})}.{_b64(claims)}."
    assert (await _me(service, unsigned)).status_code == 401
    impostor = load_or_create_key(tmp_path / "impostor.pem")
    forged = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": header["kid"]}, claims, impostor)
    refused = await _me(service, forged)
    assert refused.status_code == 401
    assert "signature" in refused.json()["errors"][0]["message"]

    unreachable = ExternalIssuer(ExternalIssuerConfig(issuer=f"http://127.0.0.1:{free_port()}", audience=AUDIENCE))
    with pytest.raises(InvalidToken, match="could not be fetched"):
        await unreachable.verify(token, header)


def test_keycloak_style_claims_are_mapped() -> None:
    config = ExternalIssuerConfig(issuer="https://sso.example/realms/jamsos", audience=AUDIENCE)
    claims: dict[str, Any] = {
        "sub": "5c1f-officer",
        "azp": "monev-frontend",
        "realm_access": {"roles": ["officer", "offline_access", "uma_authorization"]},
        "scope": "openid profile email",
        "region": "52.71",
        "jti": "abc",
    }
    person = principal_from_external(claims, config)
    assert person.kind is PrincipalKind.USER
    assert person.roles == {Role.OFFICER}
    assert person.scopes == ROLE_SCOPES[Role.OFFICER]
    assert person.region is not None
    assert person.region.code == "52.71"
    assert person.client_id == f"{config.issuer}#monev-frontend"
    assert person.extra["issuer"] == config.issuer

    narrowed = principal_from_external({**claims, "scope": "openid claims:read"}, config)
    assert narrowed.scopes == {Scope.CLAIMS_READ}

    with pytest.raises(InvalidToken, match="region"):
        principal_from_external({k: v for k, v in claims.items() if k != "region"}, config)
    with pytest.raises(InvalidToken):
        principal_from_external({**claims, "region": "not-a-region"}, config)

    service_account = {"sub": "svc-bappeda", "client_id": "svc-bappeda", "scope": "stats:read admin:everything"}
    with pytest.raises(InvalidToken, match="names no region"):
        principal_from_external(service_account, config)  # national only when configured so
    national = ExternalIssuerConfig(
        issuer=config.issuer, audience=AUDIENCE, national_clients=frozenset({"svc-bappeda"})
    )
    client = principal_from_external(service_account, national)
    assert client.kind is PrincipalKind.CLIENT
    assert client.scopes == {Scope.STATS_READ}
    assert client.region is None
    assert client.subject == f"{config.issuer}#svc-bappeda"


async def test_key_rotation_at_the_provider_is_followed(rotating_provider: Provider) -> None:
    provider = rotating_provider
    now = [0.0]
    issuer = ExternalIssuer(_config(provider), clock=lambda: now[0])
    before = await _provider_token(provider)
    assert (await issuer.verify(before, _header(before))).subject == f"{provider.issuer}#{provider.partner.client_id}"
    rotated = jamsos(provider.env, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    after = await _provider_token(provider)
    assert _header(after)["kid"] != _header(before)["kid"]
    now[0] = 5.0  # an unknown kid re-fetches the provider's keys (at most every 5 s)
    assert (await issuer.verify(after, _header(after))).subject == f"{provider.issuer}#{provider.partner.client_id}"
    assert (await issuer.verify(before, _header(before))).subject == f"{provider.issuer}#{provider.partner.client_id}"


def _header(token: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_b64decode(token.split(".")[0]))
    return result


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_an_unreachable_provider_is_not_asked_again_on_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    issuer = ExternalIssuer(
        ExternalIssuerConfig(issuer="https://sso.example", audience=AUDIENCE, cache_seconds=600, refetch_seconds=5),
        clock=lambda: now[0],
    )
    calls: list[float] = []

    async def fetch() -> None:
        calls.append(now[0])
        if len(calls) > 1:
            raise httpx.ConnectError("provider down")
        issuer._keys = KeySet([])
        issuer._fetched_at = now[0]

    monkeypatch.setattr(issuer, "_fetch", fetch)
    await issuer.keys(None)
    now[0] = 700.0  # the cache is stale and the provider is down: the cached keys are served
    for _ in range(20):
        await issuer.keys(None)
    assert calls == [0.0, 700.0]
    now[0] = 706.0  # after the back-off, one more attempt
    await issuer.keys(None)
    assert calls == [0.0, 700.0, 706.0]
