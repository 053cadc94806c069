"""Signing keys in the database: bootstrap from the key file, rotation, retirement, and other processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from auth import keys
from auth.revocation import RevocationList
from auth.scopes import Scope
from auth.tokens import InvalidToken, TokenConfig, issue_access_token, load_or_create_key
from auth.verifier import TokenVerifier
from domain.db import make_engine, make_sessionmaker, utcnow
from domain.identity.models import SigningKey
from tests.auth.conftest import oauth_app_settings
from tests.conftest import AUDIENCE, ISSUER

CONFIG = TokenConfig(ISSUER, AUDIENCE)


@pytest.fixture
def key_db_url(backend: str, migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database(backend, "keys")


@pytest.fixture
async def key_db(key_db_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession], Path]]:
    url = key_db_url
    engine = make_engine(url, null_pool=True)
    try:
        yield url, make_sessionmaker(engine), tmp_path / "bootstrap.pem"
    finally:
        await engine.dispose()


def _sign(key: object) -> str:
    return issue_access_token(key, CONFIG, subject="c", client_id="c", scopes=frozenset({Scope.STATS_READ}))  # type: ignore[arg-type]


async def test_first_key_is_the_key_file(key_db: tuple[str, async_sessionmaker[AsyncSession], Path]) -> None:
    _, sessions, path = key_db
    ring = keys.KeyRing(sessions, path)
    active = await ring.signing_key()
    assert active.kid == load_or_create_key(path).kid
    assert [k.kid for k in (await ring.verification_keys()).keys] == [active.kid]
    again = keys.KeyRing(sessions, path)
    assert (await again.signing_key()).kid == active.kid


async def test_rotation_keeps_old_tokens_valid_until_the_old_key_expires(
    key_db: tuple[str, async_sessionmaker[AsyncSession], Path],
) -> None:
    _, sessions, path = key_db
    now = [0.0]
    ring = keys.KeyRing(sessions, path, refresh_seconds=60, clock=lambda: now[0])
    verifier = TokenVerifier(ring, CONFIG, RevocationList(sessions))
    old_key = await ring.signing_key()
    old_token = _sign(old_key)

    async with sessions() as session, session.begin():
        fresh, retired = await keys.rotate(session, default_lifetime_seconds=900)
    assert [r.kid for r in retired] == [old_key.kid]
    assert retired[0].expires_at is not None
    assert retired[0].expires_at > utcnow()

    # A token signed with the new key: its kid is unknown to this process, which re-reads the table long
    # before its regular 60 s refresh (unknown kids may trigger a read every 5 s).
    now[0] = 5.0
    new_token = _sign(keys.import_pem(fresh.private_pem))
    assert (await verifier.verify(new_token)).subject == "c"
    assert (await verifier.verify(old_token)).subject == "c"
    now[0] = 61.0
    assert (await ring.signing_key()).kid == fresh.kid
    published = {k.kid for k in (await ring.verification_keys()).keys}
    assert published == {fresh.kid, old_key.kid}

    async with sessions() as session, session.begin():
        await session.execute(update(SigningKey).where(SigningKey.kid == old_key.kid).values(expires_at=utcnow()))
    now[0] = 200.0
    with pytest.raises(InvalidToken, match="not signed by a key of this service"):
        await verifier.verify(old_token)
    assert {k.kid for k in (await ring.verification_keys()).keys} == {fresh.kid}


async def test_jwks_and_metadata_over_http(
    key_db: tuple[str, async_sessionmaker[AsyncSession], Path],
) -> None:
    url, sessions, path = key_db
    app = create_app(oauth_app_settings(url, path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        before = (await http.get("/.well-known/jwks.json")).json()["keys"]
        async with sessions() as session, session.begin():
            await keys.rotate(session, default_lifetime_seconds=900)
        await app.state.identity.keyring.refresh()
        after = (await http.get("/.well-known/jwks.json")).json()["keys"]
        assert len(before) == 1
        assert len(after) == 2
        assert {before[0]["kid"]} < {k["kid"] for k in after}
        assert all("d" not in k and k["alg"] == "ES256" and k["use"] == "sig" for k in after)
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    await app.state.engine.dispose()
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert metadata["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert metadata["revocation_endpoint"] == f"{ISSUER}/oauth/revoke"
    assert metadata["introspection_endpoint"] == f"{ISSUER}/oauth/introspect"
    assert metadata["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
    assert set(metadata["scopes_supported"]) == {s.value for s in Scope}
