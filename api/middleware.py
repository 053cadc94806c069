"""HTTP middleware: request ids, security headers, body size limit, bearer-token authentication."""

from __future__ import annotations

import re
import uuid

from prometheus_client import Counter
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import request_id_var
from auth.principal import ANONYMOUS, Principal
from auth.tokens import InvalidToken
from auth.verifier import TokenVerifier
from domain.codes import ErrorCode
from schema.core.errors import INTERNAL_MESSAGE, UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER, is_outage

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

TOKEN_FAILURES = Counter("jamsos_token_failures_total", "Bearer tokens refused (401)")


class RequestId:
    """Takes a well-formed ``X-Request-ID`` from the caller or makes one; echoes it and puts it in the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(_SECURITY_HEADERS)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


BEARER_FORMAT = "the Authorization header must be 'Bearer <access token>'"


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (HTTP header or WebSocket
    ``connection_init`` payload), or None when the value is not that."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class PrincipalUser(BaseUser):
    """Starlette's view of our Principal (``request.user``)."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return self.principal.is_authenticated

    @property
    def display_name(self) -> str:
        return self.principal.subject


class BearerTokenBackend(AuthenticationBackend):
    """No Authorization header: anonymous. A bearer token: it must verify, or the request is refused."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        # The path from the ASGI scope: ``conn.url`` would build the whole URL of every request for it.
        if header is None or conn.scope["path"].startswith("/oauth/"):
            # The OAuth endpoints authenticate clients themselves (HTTP Basic), not with bearer tokens.
            return AuthCredentials([]), PrincipalUser(ANONYMOUS)
        token = bearer_token(header)
        if token is None:
            TOKEN_FAILURES.inc()
            raise AuthenticationError(BEARER_FORMAT)
        try:
            principal = await self.verifier.verify(token)
        except InvalidToken as exc:
            TOKEN_FAILURES.inc()
            raise AuthenticationError(str(exc)) from None
        return AuthCredentials([s.value for s in principal.scopes]), PrincipalUser(principal)


def authentication_error(conn: HTTPConnection, exc: Exception) -> Response:
    """A refused token: 401 with a GraphQL-shaped body and an RFC 6750 challenge."""
    message = str(exc)
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": ErrorCode.UNAUTHENTICATED.value}}]},
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'},
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """Anything that escaped every handler: a masked JSON error with the request id, never a traceback.

    A database outage (schema.core.errors.is_outage) is 503 with ``Retry-After``; anything else is 500. Starlette
    re-raises after this response, so the server logs the traceback.
    """
    request_id = getattr(request.state, "request_id", None) or ""
    outage = is_outage(exc)
    code, message, status = (
        (ErrorCode.SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE, 503)
        if outage
        else (ErrorCode.INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE, 500)
    )
    headers = {"X-Request-ID": request_id, **({"Retry-After": str(UNAVAILABLE_RETRY_AFTER)} if outage else {})}
    extensions = {"code": code.value, "requestId": request_id}
    return JSONResponse({"data": None, "errors": [{"message": message, "extensions": extensions}]}, status, headers)


def principal_of(conn: HTTPConnection) -> Principal:
    user = conn.scope.get("user")
    return user.principal if isinstance(user, PrincipalUser) else ANONYMOUS
