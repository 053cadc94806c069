"""Wires the authorization server and token verification from the settings (see ``auth/``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Route

from api.settings import Settings
from auth.keys import KeyRing
from auth.oidc import ExternalIssuer, ExternalIssuerConfig
from auth.ratelimit import Buckets, MemoryBuckets
from auth.revocation import RevocationList
from auth.routes import oauth_routes
from auth.server import OAuthEndpoints, OAuthSettings
from auth.tokens import TokenConfig
from auth.verifier import TokenVerifier
from domain.identity.models import LockoutPolicy


def token_config(settings: Settings) -> TokenConfig:
    return TokenConfig(
        issuer=settings.issuer, audience=settings.audience, lifetime_seconds=settings.token_lifetime_seconds
    )


def oauth_settings(settings: Settings) -> OAuthSettings:
    return OAuthSettings(
        token=token_config(settings),
        secret_key=settings.resolved_secret_key,
        refresh_token_seconds=settings.refresh_token_lifetime_seconds,
        code_seconds=settings.authorization_code_lifetime_seconds,
        max_form_bytes=settings.oauth_max_form_bytes,
        token_rate_per_minute=settings.token_rate_limit_per_minute,
        signin_rate_per_minute=settings.signin_rate_limit_per_minute,
        lockout=LockoutPolicy(settings.signin_max_failures, settings.signin_lockout_seconds),
    )


def external_issuer(settings: Settings) -> ExternalIssuer | None:
    if not settings.oidc_issuer:
        return None
    return ExternalIssuer(
        ExternalIssuerConfig(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience or settings.audience,
            roles_claim=settings.oidc_roles_claim,
            scope_claim=settings.oidc_scope_claim,
            region_claim=settings.oidc_region_claim,
            algorithms=tuple(settings.oidc_algorithms.split()),
            token_types=tuple(settings.oidc_token_types.split()),
            cache_seconds=settings.oidc_jwks_cache_seconds,
            national_clients=frozenset(settings.oidc_national_clients.split()),
        )
    )


@dataclass(frozen=True)
class Identity:
    keyring: KeyRing
    revocations: RevocationList
    verifier: TokenVerifier
    endpoints: OAuthEndpoints
    routes: list[Route]


def build_identity(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], buckets: Buckets | None = None
) -> Identity:
    keyring = KeyRing(sessions, settings.resolved_signing_key_path, refresh_seconds=settings.key_refresh_seconds)
    revocations = RevocationList(sessions, refresh_seconds=settings.revocation_refresh_seconds)
    config = token_config(settings)
    verifier = TokenVerifier(
        keyring, config, revocations, external_issuer(settings), cache_size=settings.token_cache_size
    )
    endpoints = OAuthEndpoints(oauth_settings(settings), sessions, keyring, revocations, buckets or MemoryBuckets())
    return Identity(keyring, revocations, verifier, endpoints, oauth_routes(endpoints))
