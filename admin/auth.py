"""Signing in to the console: the service's own users (roles ``admin`` and ``officer``; ``analyst`` for the
Monev dashboard only, read-only), a short session.

SQLAdmin's default session is a signed cookie that lasts 14 days and is sent over plain HTTP. Here the cookie
is HttpOnly, SameSite=Strict, Secure outside development and test, scoped to ``/admin``, and holds only the
user's id, two timestamps and the CSRF token. It ends after ``idle_seconds`` without a request or
``max_seconds`` after sign-in, whichever comes first. Every request re-reads the user, so disabling a user,
changing their role or setting a new password ends their console session at once; the principal (scopes,
region) is built from the row as it is now, never from the cookie.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqladmin.authentication import AuthenticationBackend
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import csrf
from auth.accounts import authenticate_user, principal_of_user
from auth.principal import ANONYMOUS, Principal
from auth.requests import request_meta
from auth.scopes import Role
from domain.identity.models import LockoutPolicy, User

#: Roles that may use the console's record views (docs/api.md). Auditors use the API.
CONSOLE_ROLES = frozenset({Role.ADMIN, Role.OFFICER})
#: Roles that may sign in at all: analysts too, who see only the Monev dashboard (admin.monev).
SIGN_IN_ROLES = CONSOLE_ROLES | {Role.ANALYST}
_PRINCIPAL_STATE = "console_principal"


@dataclass(frozen=True)
class ConsoleConfig:
    """What the console needs from the service's settings (built by the application factory)."""

    secret_key: bytes
    #: Secure cookie flag: on everywhere but development and test (which run on http://127.0.0.1).
    secure_cookie: bool
    idle_seconds: int = 900
    max_seconds: int = 8 * 3600
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    login_rate_per_minute: int = 10
    max_body_bytes: int = 2 * 1024 * 1024
    cookie_name: str = "jamsos_console"
    #: Monev counts below this are withheld from users who may not read the rows (schema.core.limits).
    suppression_threshold: int = 5


class SignInRefused(Exception):
    """Credentials were right but the account may not use the console."""


def principal_for(user: User) -> Principal:
    """The principal a console user acts as: the role's scopes, bound to the user's region (as a token would)."""
    return principal_of_user(user)


def console_principal(request: Request) -> Principal:
    """Who is signed in for this request (anonymous before authentication ran: deny by default)."""
    principal = getattr(request.state, _PRINCIPAL_STATE, None)
    return principal if isinstance(principal, Principal) else ANONYMOUS


class ConsoleAuth(AuthenticationBackend):
    """SQLAdmin's authentication hooks over ``auth.accounts`` (lockout and sign-in audit live there)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: ConsoleConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # The session middleware is installed by the console itself, outside the CSRF check (admin.console).
        self.middlewares = []
        self.sessions = sessions
        self.config = config
        self.clock = clock

    async def login(self, request: Request) -> Response | bool:
        """True when signed in; False for wrong credentials (or a locked/disabled account: same answer)."""
        form = await request.form()
        username = str(form.get("username", ""))[:200]
        password = str(form.get("password", ""))[:1024]
        async with self.sessions() as session:
            user = await authenticate_user(
                session, username, password, request_meta(request), policy=self.config.lockout
            )
            await session.commit()
        if user is None:
            return False
        if user.role not in SIGN_IN_ROLES:
            raise SignInRefused(
                f"The account {user.username} has the role {user.role}, which cannot use the console. "
                "Auditors read the data through the API."
            )
        now = int(self.clock())
        request.session.clear()  # no value from before sign-in survives it (session fixation)
        request.session.update({"uid": user.id, "iat": now, "seen": now})
        csrf.rotate(request.session)
        request.state.signed_in_role = Role(user.role)
        return True

    async def logout(self, request: Request) -> Response | bool:
        request.session.clear()
        return RedirectResponse(request.url_for("admin:login"), status_code=303)

    async def authenticate(self, request: Request) -> Response | bool:
        data = request.session
        uid, issued, seen = data.get("uid"), data.get("iat"), data.get("seen")
        if not isinstance(uid, int) or not isinstance(issued, int) or not isinstance(seen, int):
            return False
        now = int(self.clock())
        if now - seen > self.config.idle_seconds or now - issued > self.config.max_seconds:
            data.clear()
            return RedirectResponse(request.url_for("admin:login").include_query_params(expired="1"), status_code=303)
        async with self.sessions() as session:
            user = await session.get(User, uid)
        if (
            user is None
            or not user.active
            or user.role not in SIGN_IN_ROLES
            or user.password_changed_at.timestamp() > issued + 1
        ):
            data.clear()
            return False
        if now != seen:
            data["seen"] = now
        setattr(request.state, _PRINCIPAL_STATE, principal_for(user))
        return True

    async def get_user_id(self, request: Request) -> int | None:
        uid = request.session.get("uid")
        return uid if isinstance(uid, int) else None
