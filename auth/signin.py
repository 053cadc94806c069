"""The authorization endpoint (``GET/POST /oauth/authorize``): a server-rendered sign-in page.

GET validates the authorization request with authlib (client, exact redirect URI, scope, PKCE S256) and shows
the page; POST checks the CSRF token, validates the same request again, signs the person in through
``auth.accounts.authenticate_user`` (lockout, audit) and redirects back with a code. Errors go back to the
client only once its redirect URI has been matched against the registered ones; otherwise the page shows
them, so the endpoint can never be used as an open redirect. The page loads nothing from elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.errors import InsecureTransportError, OAuth2Error
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from auth.accounts import authenticate_user
from auth.credentials import expiry, prune
from auth.oauth import Exchange, run
from auth.oauth_models import ClientView, UserView
from auth.passwords import token_digest
from auth.ratelimit import Rate
from auth.requests import request_meta
from auth.server import BadForm, OAuthEndpoints, OAuthRequest, client_ip, read_form, repeated
from domain.identity.models import AuthorizationCode

#: Form fields of the page itself; everything else is the authorization request, passed through.
PAGE_FIELDS = frozenset({"username", "password", "csrf_token", "action"})
CSRF_MAX_AGE = 900

_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0}"
    "main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;"
    "box-shadow:0 1px 4px #0002}h1{font-size:1.3rem}label{display:block;margin-top:1rem}"
    "input{width:100%;padding:.5rem;box-sizing:border-box}.error{color:#a40000}"
    "button{margin-top:1.5rem;padding:.6rem 1.2rem}ul{padding-left:1.2rem}"
)


class SignIn:
    def __init__(self, endpoints: OAuthEndpoints) -> None:
        self.endpoints = endpoints
        self.settings = endpoints.settings
        self.rate = Rate(self.settings.signin_rate_per_minute)
        self.secure = self.settings.token.issuer.startswith("https://")
        self.cookie = "__Host-jamsos_signin" if self.secure else "jamsos_signin"

    async def authorize(self, request: Request) -> Response:
        if request.method == "GET":
            return await self._handle(request, list(request.query_params.multi_items()), None)
        retry = await self.endpoints.buckets.take("signin", client_ip(request), 1, self.rate)
        if retry is not None:
            return _page_error(429, f"Too many sign-in attempts from your address. Wait {retry} seconds.")
        try:
            form = await read_form(request, self.settings.max_form_bytes)
        except BadForm as exc:
            return _page_error(exc.status, str(exc))
        fields = {k: v for k, v in form if k in PAGE_FIELDS}
        if not self._csrf_ok(request.cookies.get(self.cookie, ""), fields.get("csrf_token", "")):
            return _page_error(400, "This sign-in form has expired. Go back to the application and start again.")
        return await self._handle(request, [(k, v) for k, v in form if k not in PAGE_FIELDS], fields)

    async def _handle(self, request: Request, params: list[tuple[str, str]], fields: dict[str, str] | None) -> Response:
        if dup := repeated(params):
            return _page_error(400, f"The parameter {dup[:40]} is repeated in the authorization request.")
        try:
            oauth_request = OAuthRequest(request, params)
        except InsecureTransportError:
            return _page_error(400, "Sign-in must use https.")
        exchange = Exchange(stand_in_unknown_clients=False, requested_region=dict(params).get("region"))
        async with self.endpoints.sessions() as session:
            exchange.client = await self.endpoints.load_client(session, dict(params).get("client_id"))
        if exchange.client is not None and not exchange.client.active:
            exchange.client = None
        try:
            grant = run(exchange, self.endpoints.server.get_consent_grant, oauth_request)
        except OAuth2Error as error:
            return self._error(exchange, oauth_request, error)
        client = exchange.client
        assert client is not None
        if fields is None:
            return self._page(client, params, grant.redirect_uri, None, 200)
        if fields.get("action") == "cancel":
            return self._respond(
                run(exchange, self.endpoints.server.create_authorization_response, oauth_request, None, grant)
            )
        async with self.endpoints.sessions() as session:
            user = await authenticate_user(
                session,
                fields.get("username", "")[:200],
                fields.get("password", "")[:1024],
                request_meta(request),
                policy=self.settings.lockout,
            )
            exchange.user = UserView.from_row(user) if user else None
            await session.commit()
        if exchange.user is None:
            message = "The username or password is wrong, or the account is locked or disabled."
            return self._page(client, params, grant.redirect_uri, message, 401)
        status, _, headers = run(
            exchange, self.endpoints.server.create_authorization_response, oauth_request, exchange.user, grant
        )
        if exchange.new_code is not None and status == 302:
            await self._store_code(exchange)
        return self._respond((status, "", headers))

    async def _store_code(self, exchange: Exchange) -> None:
        code = exchange.new_code
        assert code is not None
        async with self.endpoints.sessions() as session, session.begin():
            await prune(session)
            session.add(
                AuthorizationCode(
                    code_hash=token_digest(code.value),
                    client_id=code.client_id,
                    user_id=code.user_id,
                    redirect_uri=code.redirect_uri,
                    scope=code.scope,
                    region_code=code.region,
                    code_challenge=code.code_challenge,
                    code_challenge_method=code.code_challenge_method,
                    expires_at=expiry(self.settings.code_seconds),
                )
            )

    def _error(self, exchange: Exchange, oauth_request: OAuthRequest, error: OAuth2Error) -> Response:
        if error.redirect_uri:  # authlib sets it only after matching the registered URIs
            return self._respond(run(exchange, self.endpoints.server.handle_error_response, oauth_request, error))
        return _page_error(400, f"This sign-in link is not valid: {error.description or error.error}.")

    @staticmethod
    def _respond(result: tuple[int, object, Sequence[tuple[str, str]]]) -> Response:
        status, _, headers = result
        return Response(status_code=status, headers={**dict(headers), "Cache-Control": "no-store"})

    # -- the page --------------------------------------------------------------------------------------
    def _page(
        self, client: ClientView, params: list[tuple[str, str]], redirect_uri: str, error: str | None, status: int
    ) -> Response:
        nonce, token = self._csrf_pair()
        style_nonce = secrets.token_urlsafe(16)
        requested = dict(params).get("scope") or " ".join(sorted(s.value for s in client.scopes))
        hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params)
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in requested.split())
        problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>Sign in - Jamsos Graph</title><style nonce="{style_nonce}">{_STYLE}</style></head>'
            f"<body><main><h1>Sign in to Jamsos Graph</h1>"
            f"<p><strong>{html.escape(client.name)}</strong> asks to act for you with:</p><ul>{scopes}</ul>"
            f'{problem}<form method="post" action="/oauth/authorize">{hidden}'
            f'<input type="hidden" name="csrf_token" value="{html.escape(token)}">'
            '<label for="username">Username</label>'
            '<input id="username" name="username" autocomplete="username" required autofocus>'
            '<label for="password">Password</label>'
            '<input id="password" name="password" type="password" autocomplete="current-password" required>'
            '<button type="submit" name="action" value="allow">Sign in and allow</button> '
            '<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>'
            "</form></main></body></html>"
        )
        target = urlsplit(redirect_uri)
        csp = (
            f"default-src 'none'; style-src 'nonce-{style_nonce}'; base-uri 'none'; frame-ancestors 'none'; "
            f"form-action 'self' {target.scheme}://{target.netloc}"
        )
        response = HTMLResponse(
            body, status_code=status, headers={"Cache-Control": "no-store", "Content-Security-Policy": csp}
        )
        response.set_cookie(
            self.cookie,
            nonce,
            max_age=CSRF_MAX_AGE,
            path="/" if self.secure else "/oauth/authorize",
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )
        return response

    # -- CSRF: a signed token in the form bound to a random value in a SameSite=Strict cookie ---------
    def _sign(self, nonce: str, issued: int) -> str:
        return hmac.new(self.settings.secret_key, f"signin|{nonce}|{issued}".encode(), hashlib.sha256).hexdigest()

    def _csrf_pair(self) -> tuple[str, str]:
        nonce, issued = secrets.token_urlsafe(24), int(time.time())
        return nonce, f"{nonce}.{issued}.{self._sign(nonce, issued)}"

    def _csrf_ok(self, cookie: str, token: str) -> bool:
        parts = token.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or not cookie:
            return False
        nonce, issued, signature = parts[0], int(parts[1]), parts[2]
        fresh = 0 <= time.time() - issued <= CSRF_MAX_AGE
        return (
            fresh
            and hmac.compare_digest(signature, self._sign(nonce, issued))
            and hmac.compare_digest(nonce.encode(), cookie.encode())
        )


def _page_error(status: int, message: str) -> Response:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in problem - Jamsos Graph</title>'
        f'</head><body><main><h1>Sign-in problem</h1><p role="alert">{html.escape(message)}</p></main></body></html>'
    )
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"}
    return HTMLResponse(body, status_code=status, headers=headers)
