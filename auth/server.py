"""The OAuth2 endpoints on Starlette: authlib's AuthorizationServer behind a small async adapter.

For each request: read a bounded form, load what authlib will ask about (``auth.oauth.Exchange``), run
authlib in a worker thread (its hooks are synchronous and argon2 is slow), then store its decisions in one
transaction. Endpoints: ``POST /oauth/token``, ``POST /oauth/revoke`` (RFC 7009), ``POST /oauth/introspect``
(RFC 7662), ``GET /.well-known/oauth-authorization-server`` (RFC 8414), ``GET /.well-known/jwks.json``;
the authorization endpoint and its sign-in page are in ``auth.signin``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from auth.credentials import (
    consume_code,
    expiry,
    find_code,
    find_refresh,
    revoke_code_grant,
    revoke_family,
    rotate_refresh,
)
from auth.keys import KeyRing
from auth.oauth import Exchange, Server, run
from auth.oauth_models import AccessView, ClientView, CodeView, RefreshView, UserView
from auth.passwords import in_hashing_thread, token_digest
from auth.ratelimit import Buckets, Rate
from auth.requests import request_meta
from auth.revocation import RevocationList, Revoked, record_revocations
from auth.scopes import Scope
from auth.tokens import InvalidToken, TokenConfig, public_jwks, unverified_header_and_issuer, verify_claims
from domain.audit.writes import Actor, record
from domain.identity.models import AuthorizationCode, LockoutPolicy, OAuthClient, RefreshToken, User

Pairs = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class OAuthSettings:
    token: TokenConfig
    secret_key: bytes
    refresh_token_seconds: int = 43_200
    code_seconds: int = 300
    max_form_bytes: int = 16_384
    token_rate_per_minute: int = 60
    signin_rate_per_minute: int = 10
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)


class BadForm(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_form(request: Request, limit: int) -> list[tuple[str, str]]:
    """The url-encoded body as pairs, refusing bodies over `limit` bytes without reading them whole."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadForm("send the parameters as application/x-www-form-urlencoded", 415)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadForm(f"the request body is larger than {limit} bytes", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadForm(f"the request body is larger than {limit} bytes", 413)
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise BadForm("the form is not valid UTF-8 url-encoding, or has too many fields") from None


def repeated(pairs: Pairs) -> str | None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return None


class Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: Pairs) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class OAuthRequest(OAuth2Request):  # type: ignore[misc]
    """authlib's view of a Starlette request whose body has already been read."""

    def __init__(self, request: Request, params: Pairs) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._params = ImmutableMultiDict(params)
        self.payload = Payload(params)

    @property
    def args(self) -> ImmutableMultiDict[str, str]:
        return self._params if self.method == "GET" else ImmutableMultiDict()

    @property
    def form(self) -> ImmutableMultiDict[str, str]:
        return self._params if self.method == "POST" else ImmutableMultiDict()


def oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Conflict(Exception):
    """Someone else used this code or refresh token between our read and our write."""


class OAuthEndpoints:
    def __init__(
        self,
        settings: OAuthSettings,
        sessions: async_sessionmaker[AsyncSession],
        keyring: KeyRing,
        revocations: RevocationList,
        buckets: Buckets,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.keyring = keyring
        self.revocations = revocations
        self.server = Server(settings.token)
        #: Requests per address at /oauth/token, /oauth/revoke, /oauth/introspect (shared through Redis when set).
        self.buckets = buckets
        self.token_rate = Rate(settings.token_rate_per_minute)

    # -- loading ---------------------------------------------------------------------------------------
    async def load_client(self, session: AsyncSession, client_id: str | None) -> ClientView | None:
        if not client_id or len(client_id) > 64:
            return None
        row = (await session.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id))).first()
        return ClientView.from_row(row) if row else None

    async def load_user(self, session: AsyncSession, user_id: int) -> UserView | None:
        row = await session.get(User, user_id)
        return UserView.from_row(row) if row else None

    async def load_token(self, session: AsyncSession, value: str) -> AccessView | RefreshView | None:
        """The token a client names at the revocation or introspection endpoint, if it is one of ours."""
        if value.count(".") == 2:
            try:
                header, _ = unverified_header_and_issuer(value)
                kid = header.get("kid")
                keys = await self.keyring.verification_keys(kid if isinstance(kid, str) else None)
                claims = verify_claims(value, keys, self.settings.token)
            except InvalidToken:
                return None
            revoked = await self.revocations.is_revoked(
                str(claims.get("jti")), client_id=str(claims["client_id"]), subject=str(claims["sub"])
            )
            return AccessView(claims, revoked)
        row = await find_refresh(session, value)
        user = await self.load_user(session, row.user_id) if row else None
        return RefreshView.from_row(row, user.subject) if row and user else None

    # -- endpoints -------------------------------------------------------------------------------------
    async def _form(self, request: Request) -> list[tuple[str, str]] | Response:
        retry = await self.buckets.take("token", client_ip(request), 1, self.token_rate)
        if retry is not None:
            return oauth_error(429, "slow_down", "too many requests; retry later", {"Retry-After": str(retry)})
        try:
            form = await read_form(request, self.settings.max_form_bytes)
        except BadForm as exc:
            return oauth_error(exc.status, "invalid_request", str(exc))
        if dup := repeated(form):
            return oauth_error(400, "invalid_request", f"the parameter {dup[:40]} is repeated")
        if request.headers.get("authorization") and any(k == "client_secret" for k, _ in form):
            return oauth_error(400, "invalid_request", "authenticate the client one way: HTTP Basic or the form")
        return form

    def _request(self, request: Request, form: Pairs) -> OAuthRequest | Response:
        try:
            return OAuthRequest(request, form)
        except InsecureTransportError:
            return oauth_error(400, "invalid_request", "OAuth requests must use https")

    async def _authlib(self, exchange: Exchange, func: Any, *args: Any) -> Response:
        # A worker thread: authlib is synchronous and verifies client secrets with argon2.
        status, body, headers = await in_hashing_thread(run, exchange, func, *args)
        if status == 302:
            return Response(status_code=302, headers=dict(headers))
        return JSONResponse(body, status_code=status, headers=dict(headers))

    async def token(self, request: Request) -> Response:
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        oauth_request = self._request(request, form)
        if isinstance(oauth_request, Response):
            return oauth_request
        params = dict(form)
        exchange = Exchange(requested_region=params.get("region"), explicit_scope=bool(params.get("scope")))
        basic_id, _ = extract_basic_authorization(request.headers)
        async with self.sessions() as session:
            exchange.signing_key = await self.keyring.signing_key()
            exchange.client = await self.load_client(session, basic_id or params.get("client_id"))
            refused = await self._load_grant(session, exchange, params, request)
        if refused is not None:
            return refused
        response = await self._authlib(exchange, self.server.create_token_response, oauth_request)
        if response.status_code == 200:
            try:
                await self._store_token_decisions(exchange)
            except Conflict:
                return await self._refuse_reuse(exchange, request)
        return response

    async def _load_grant(
        self, session: AsyncSession, exchange: Exchange, params: dict[str, str], request: Request
    ) -> Response | None:
        grant_type = params.get("grant_type")
        if grant_type == "authorization_code" and params.get("code"):
            code = await find_code(session, params["code"])
            if code is not None and code.used_at is not None:
                revoked = await revoke_code_grant(session, code, "code_reused")
                await self._reuse_event(session, "authorization_code", code.family_id or str(code.id), request)
                await session.commit()
                self.revocations.note(revoked)
                return oauth_error(400, "invalid_grant", "this code was already used; what it granted is revoked")
            if code is not None:
                exchange.code = CodeView.from_row(code)
                exchange.user = await self.load_user(session, code.user_id)
        elif grant_type == "refresh_token" and params.get("refresh_token"):
            token = await find_refresh(session, params["refresh_token"])
            if token is not None and token.rotated_at is not None and token.revoked_at is None:
                revoked = await revoke_family(session, token.family_id, "refresh_token_reused")
                await self._reuse_event(session, "refresh_token", token.family_id, request)
                await session.commit()
                self.revocations.note(revoked)
                return oauth_error(400, "invalid_grant", "this refresh token was already used; the session is revoked")
            user = await self.load_user(session, token.user_id) if token else None
            if token is not None and user is not None:
                exchange.refresh = RefreshView.from_row(token, user.subject)
                exchange.user = user
        return None

    async def _reuse_event(self, session: AsyncSession, kind: str, family: str, request: Request) -> None:
        await record(
            session,
            actor=Actor(subject="anonymous", kind="anonymous"),
            action=f"oauth.{kind}_reused",
            entity_type="oauth_grant",
            entity_id=family,
            reason_code="reuse_detected",
            reason=f"a used {kind.replace('_', ' ')} was presented again; everything issued from it was revoked",
            meta=request_meta(request),
        )

    async def _store_token_decisions(self, ex: Exchange) -> None:
        async with self.sessions() as session, session.begin():
            family, family_expires = uuid.uuid4().hex, expiry(self.settings.refresh_token_seconds)
            if ex.used_code is not None and not await consume_code(
                session, ex.used_code.id, family_id=family if ex.new_refresh else None, access=ex.issued
            ):
                raise Conflict
            if ex.rotated is not None:
                if not await rotate_refresh(session, ex.rotated.id):
                    raise Conflict
                family, family_expires = ex.rotated.family_id, ex.rotated.expires_at
            if ex.new_refresh is not None:
                origin = ex.rotated or ex.used_code
                assert ex.user is not None
                assert ex.client is not None
                assert origin is not None
                session.add(
                    RefreshToken(
                        token_hash=token_digest(ex.new_refresh),
                        family_id=family,
                        client_id=ex.client.client_id,
                        user_id=ex.user.id,
                        scope=origin.scope,  # RFC 6749 §6: a rotated refresh token keeps the original scope
                        region_code=ex.region,
                        access_jti=ex.issued.jti if ex.issued else None,
                        access_expires_at=ex.issued.expires_at if ex.issued else None,
                        expires_at=family_expires,
                    )
                )

    async def _refuse_reuse(self, ex: Exchange, request: Request) -> Response:
        """Lost a race for a code or refresh token: treat it as reuse and revoke what was issued from it."""
        async with self.sessions() as session, session.begin():
            if ex.rotated is not None:
                revoked = await revoke_family(session, ex.rotated.family_id, "refresh_token_reused")
            else:
                assert ex.used_code is not None
                code = await session.get(AuthorizationCode, ex.used_code.id)
                revoked = await revoke_code_grant(session, code, "code_reused") if code else []
        self.revocations.note(revoked)
        return oauth_error(400, "invalid_grant", "this grant was used concurrently; what it granted is revoked")

    async def revoke(self, request: Request) -> Response:
        return await self._token_endpoint(request, "revocation")

    async def introspect(self, request: Request) -> Response:
        return await self._token_endpoint(request, "introspection")

    async def _token_endpoint(self, request: Request, name: str) -> Response:
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        oauth_request = self._request(request, form)
        if isinstance(oauth_request, Response):
            return oauth_request
        params = dict(form)
        exchange = Exchange()
        basic_id, _ = extract_basic_authorization(request.headers)
        async with self.sessions() as session:
            exchange.client = await self.load_client(session, basic_id or params.get("client_id"))
            if params.get("token"):
                exchange.token = await self.load_token(session, params["token"][:4096])
        response = await self._authlib(exchange, self.server.create_endpoint_response, name, oauth_request)
        if response.status_code == 200 and exchange.revoke is not None:
            await self._revoke(exchange.revoke)
        return response

    async def _revoke(self, token: AccessView | RefreshView) -> None:
        async with self.sessions() as session, session.begin():
            if isinstance(token, AccessView):
                revoked = [Revoked(token.jti, token.expires_at)]
                await record_revocations(session, revoked, "revoked_by_client")
            else:
                revoked = await revoke_family(session, token.family_id, "revoked_by_client")
        self.revocations.note(revoked)

    async def metadata(self, request: Request) -> Response:
        base = self.settings.token.issuer.rstrip("/")
        body = {
            "issuer": self.settings.token.issuer,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "introspection_endpoint": f"{base}/oauth/introspect",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "scopes_supported": sorted(s.value for s in Scope),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        }
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})

    async def jwks(self, request: Request) -> Response:
        keys = await self.keyring.verification_keys()
        return JSONResponse(public_jwks(keys), headers={"Cache-Control": "public, max-age=60"})
