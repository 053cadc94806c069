"""The OAuth2 protocol on authlib: grants, PKCE, token generation, revocation and introspection.

authlib's hooks are synchronous, so nothing here touches the database. ``auth.server`` loads what a request
needs first (the client, the code or refresh token, the user) into an :class:`Exchange`, runs authlib, and
afterwards writes what authlib decided (a new code, a used code, a rotated refresh token, a revocation),
with compare-and-set checks so that two requests racing with one code or refresh token cannot both win.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer, InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import ECKey, KeySet

from auth.oauth_models import (
    AccessView,
    ClientView,
    CodeView,
    PendingCode,
    RefreshView,
    UserView,
    decide_scope,
    describe,
)
from auth.revocation import Revoked
from auth.scopes import ROLE_SCOPES, Scope, format_scopes, parse_scopes
from auth.tokens import ALGORITHM, TokenConfig
from domain.regions.rules import InvalidRegionCode, RegionCode

CONFIDENTIAL = ["client_secret_basic", "client_secret_post"]
ANY_CLIENT = [*CONFIDENTIAL, "none"]


@dataclass
class Exchange:
    """What one OAuth request needs (loaded before authlib runs) and what authlib decided (written after)."""

    signing_key: ECKey | None = None
    client: ClientView | None = None
    #: At the token, revocation and introspection endpoints an unknown client id gets a stand-in that fails
    #: authentication like a wrong secret does, so the answers cannot tell the two apart.
    stand_in_unknown_clients: bool = True
    user: UserView | None = None
    code: CodeView | None = None
    refresh: RefreshView | None = None
    token: AccessView | RefreshView | None = None
    requested_region: str | None = None
    explicit_scope: bool = False
    # decisions
    region: str | None = None
    issued: Revoked | None = None
    new_refresh: str | None = None
    new_code: PendingCode | None = None
    used_code: CodeView | None = None
    rotated: RefreshView | None = None
    revoke: AccessView | RefreshView | None = None


_exchange: ContextVar[Exchange] = ContextVar("oauth_exchange")


def current() -> Exchange:
    return _exchange.get()


def run(exchange: Exchange, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call `func` (an authlib entry point) with `exchange` as the current one."""
    token = _exchange.set(exchange)
    try:
        return func(*args, **kwargs)
    finally:
        _exchange.reset(token)


def allowance(client: ClientView, user: UserView | None) -> frozenset[Scope]:
    """The most a token may carry: the client's scopes, and for a person also their role's."""
    return client.scopes & ROLE_SCOPES[user.role] if user else client.scopes


def decide_region(allowed: RegionCode | None, requested: str | None, whose: str) -> str | None:
    """The region a token is bound to: the allowed one, or a region inside it if one was asked for."""
    if not requested:
        return allowed.code if allowed else None
    try:
        code = RegionCode.parse(requested).code
    except InvalidRegionCode:
        raise InvalidRequestError(describe(f"region {requested[:40]} is not a Kemendagri code such as 52.03")) from None
    if allowed is None or allowed.contains(code):
        return code
    raise InvalidScopeError(describe(f"region {code} is outside {whose} region {allowed.code}"))


def region_ceiling(client: ClientView, user: UserView) -> RegionCode | None:
    """The most a person signing in through `client` may see: the narrower of the client's and their own region.

    A client's region is a ceiling for every grant, like its scopes: a national administrator signing in
    through a partner app bound to 52.71 gets a 52.71 token. Regions that do not nest (a 52.03 officer
    through a 52.71 app) leave nothing in common, and the sign-in is refused.
    """
    if client.region is None:
        return user.region
    if user.region is None or user.region.contains(client.region.code):
        return client.region
    if client.region.contains(user.region.code):
        return user.region
    raise InvalidScopeError(
        describe(
            f"your region {user.region.code} is outside this application's region {client.region.code}; "
            "it cannot act for you"
        )
    )


class RequireS256(CodeChallenge):  # type: ignore[misc]
    """PKCE on every authorization request, with S256 only (a missing method would mean 'plain')."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge and code_challenge_method=S256")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256; plain is not accepted")
        super().validate_code_challenge(grant, redirect_uri)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL

    def validate_token_request(self) -> None:
        super().validate_token_request()
        ex = current()
        ex.region = decide_region(self.client.region, ex.requested_region, "the client's")


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_CLIENT

    def create_authorization_response(self, redirect_uri: str, grant_user: Any) -> Any:
        if grant_user is not None:
            ex = current()
            try:
                self.request.scope = decide_scope(
                    self.request.payload.scope, allowance(self.client, grant_user), "this sign-in"
                )
                ex.region = decide_region(
                    region_ceiling(self.client, grant_user), ex.requested_region, "this sign-in's"
                )
            except OAuth2Error as error:
                error.redirect_uri = redirect_uri
                raise
        return super().create_authorization_response(redirect_uri, grant_user)

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        current().new_code = PendingCode(
            value=code,
            client_id=request.client.client_id,
            user_id=request.user.id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            region=current().region,
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
        )

    def query_authorization_code(self, code: str, client: ClientView) -> CodeView | None:
        found = current().code
        if found is None or not found.matches(code) or found.client_id != client.client_id or found.is_expired():
            return None
        return found

    def delete_authorization_code(self, authorization_code: CodeView) -> None:
        current().used_code = authorization_code

    def authenticate_user(self, authorization_code: CodeView) -> UserView | None:
        ex = current()
        user = ex.user
        if user is None or not user.active or user.id != authorization_code.user_id:
            return None
        ex.region = authorization_code.region
        return user


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_CLIENT
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshView | None:
        found = current().refresh
        if found is None or not found.matches(refresh_token) or found.is_revoked() or found.is_expired():
            return None
        return found

    def authenticate_user(self, refresh_token: RefreshView) -> UserView | None:
        ex = current()
        user = ex.user
        if user is None or not user.active or user.id != refresh_token.user_id:
            return None
        if user.region is not None and not (refresh_token.region and user.region.contains(refresh_token.region)):
            raise InvalidGrantError("your region has changed since you signed in; sign in again")
        ceiling = self.request.client.region
        if ceiling is not None and not (refresh_token.region and ceiling.contains(refresh_token.region)):
            raise InvalidGrantError("this application's region has changed since you signed in; sign in again")
        ex.region = refresh_token.region
        return user

    def revoke_old_credential(self, refresh_token: RefreshView) -> None:
        current().rotated = refresh_token


class AccessTokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 JWTs signed with the active key, carrying ``scope``, ``region`` and (for people) ``roles``."""

    def __init__(self, config: TokenConfig) -> None:
        super().__init__(
            config.issuer, alg=ALGORITHM, refresh_token_generator=self._refresh, expires_generator=self._lifetime
        )
        self.config = config

    def _lifetime(self, client: ClientView, grant_type: str) -> int:
        return client.token_lifetime or self.config.lifetime_seconds

    def _refresh(self, **_: Any) -> str:
        value = secrets.token_urlsafe(48)
        current().new_refresh = value
        return value

    def generate(self, grant_type: str, client: ClientView, user: UserView | None = None, scope: Any = None,
                 expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:  # fmt: skip
        allowed = allowance(client, user)
        if grant_type == "client_credentials" or current().explicit_scope:
            scope = decide_scope(scope, allowed, "this client" if user is None else "this sign-in")
        else:  # carried over from the sign-in: narrowed to what the client and role allow today
            scope = format_scopes(parse_scopes(scope or "") & allowed)
            if not scope:
                raise InvalidGrantError("nothing of the original grant is still allowed; sign in again")
        return dict(super().generate(grant_type, client, user, scope, expires_in, include_refresh_token))

    def get_jwks(self) -> KeySet:
        key = current().signing_key
        assert key is not None, "the signing key is loaded before authlib runs"
        return KeySet([key])

    def get_audiences(self, client: ClientView, user: UserView | None, scope: str) -> str:
        return self.config.audience

    def get_jti(self, client: ClientView, grant_type: str, user: UserView | None, scope: str) -> str:
        jti = secrets.token_urlsafe(24)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._lifetime(client, grant_type))
        current().issued = Revoked(jti, expires)
        return jti

    def get_extra_claims(
        self, client: ClientView, grant_type: str, user: UserView | None, scope: str
    ) -> dict[str, Any]:
        claims: dict[str, Any] = {"nbf": int(time.time())}
        region = current().region
        if region:
            claims["region"] = region
        if user is not None:
            claims["roles"] = [user.role.value]
        return claims


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ANY_CLIENT

    def query_token(self, token_string: str, token_type_hint: str | None) -> AccessView | RefreshView | None:
        return current().token

    def revoke_token(self, token: AccessView | RefreshView, request: Any) -> None:
        current().revoke = token


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CONFIDENTIAL

    def query_token(self, token_string: str, token_type_hint: str | None) -> AccessView | RefreshView | None:
        return current().token

    def check_permission(self, token: Any, client: ClientView, request: Any) -> bool:
        # Any registered confidential client may introspect (resource servers hold one of their own).
        return client.active and not client.public

    def introspect_token(self, token: AccessView | RefreshView) -> dict[str, Any]:
        return token.introspection()


class Server(AuthorizationServer):  # type: ignore[misc]
    """authlib's AuthorizationServer over an :class:`Exchange`; responses are (status, body, headers)."""

    def __init__(self, config: TokenConfig) -> None:
        super().__init__(scopes_supported=[s.value for s in Scope])
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(AuthorizationCodeGrant, [RequireS256(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_token_generator("default", AccessTokenGenerator(config))
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    def query_client(self, client_id: str) -> ClientView | None:
        ex = current()
        if ex.client is not None and ex.client.client_id == client_id:
            return ex.client
        return ClientView.unknown(client_id) if ex.stand_in_unknown_clients else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        pass  # access tokens are stateless; what must be stored is in the Exchange

    def create_oauth2_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)

    def handle_error_response(self, request: Any, error: OAuth2Error) -> tuple[int, Any, list[tuple[str, str]]]:
        if error.error == "invalid_client":
            error.description = "client authentication failed"  # one answer for unknown, disabled, wrong secret
        return super().handle_error_response(request, error)  # type: ignore[no-any-return]

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass
