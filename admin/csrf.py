"""CSRF protection for the console: a per-session token that every state-changing request must echo.

SQLAdmin's forms carry no CSRF token. The console keeps a random token in the (signed, HttpOnly,
SameSite=Strict) session cookie and puts it in every form as a hidden ``csrf_token`` field; the
:class:`CSRFMiddleware` refuses any POST, PUT, PATCH or DELETE under ``/admin`` whose body field or
``X-CSRF-Token`` header does not match, before SQLAdmin or a view sees the request. A page from another site
cannot read the token, so it cannot forge a request that carries it. The token is replaced at sign-in
(a token planted before sign-in is worthless after it) and dropped at sign-out.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_KEY = "csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_token(session: MutableMapping[str, Any]) -> str:
    """The session's token, created on first use."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def rotate(session: MutableMapping[str, Any]) -> str:
    """A new token (at sign-in): whatever was planted in the session before is no longer accepted."""
    session[SESSION_KEY] = secrets.token_urlsafe(32)
    return str(session[SESSION_KEY])


def hidden_input(request: Request) -> Markup:
    """The hidden form field carrying the token, for templates."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, escape(session_token(request.session)))


def token_matches(expected: object, given: str | None) -> bool:
    if not isinstance(expected, str) or not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


_REFUSAL = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Request refused - Jamsos console</title>'
    '</head><body><main><h1>Request refused</h1><p role="alert">This form has expired or did not come from this '
    'console, so nothing was changed. <a href="{url}">Reload the console</a>, sign in again if asked, and repeat '
    "what you were doing.</p></main></body></html>"
)


class CSRFMiddleware:
    """Refuses state-changing requests without the session's token. Must run inside the session middleware."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 2 * 1024 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        body = await self._read_body(receive)
        if body is None:
            await HTMLResponse("Request body too large", status_code=413)(scope, receive, send)
            return
        replay = _replaying(body, receive)
        expected = scope.get("session", {}).get(SESSION_KEY)
        given = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1") or await _form_token(scope, replay())
        if not token_matches(expected, given):
            root = scope.get("root_path", "") or "/admin"
            page = _REFUSAL.format(url=escape(root + "/"))
            await HTMLResponse(page, status_code=403, headers={"Cache-Control": "no-store"})(scope, receive, send)
            return
        await self.app(scope, replay(), send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Any:
    """A factory of `receive` callables that hand out `body` once, then defer to the real one."""

    def make() -> Receive:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    return make


async def _form_token(scope: Scope, receive: Receive) -> str | None:
    content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    request = Request(scope, receive)
    try:
        form = await request.form(max_files=1, max_fields=200)  # one file: the list-upload page
    except Exception:  # a malformed body has no token; the refusal says what to do
        return None
    try:
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    finally:
        await form.close()
