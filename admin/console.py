"""The console itself: SQLAdmin at ``/admin``, hardened, with corrections routed through the domain.

What changes from SQLAdmin's defaults (and why):

* **Its own session factory** on the service's engine: SQLAdmin reconfigures the factory it is given
  (``autoflush=False``), which must not leak into the API's (docs/libraries.md, "SQLAdmin 0.32").
* **Session and CSRF**: the session middleware (short, HttpOnly, SameSite=Strict, Secure outside
  development/test) wraps :class:`admin.csrf.CSRFMiddleware`, which checks every state-changing request;
  sign-out is a POST.
* **Edit and create pages** use the console's forms and call the view's ``save_edit``/``save_create``, which
  run the domain's write functions; validation problems go back onto the fields, a stale version is a
  "changed by someone else" message with nothing written.
* **Export** streams the current filtered list through the list's formatters (:mod:`admin.export`).
* **Deletes and imports** are off: corrections are edits with a reason. SQLAdmin's file and lookup routes,
  which nothing here uses, answer 404.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from sqladmin import Admin
from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin import csrf
from admin.access_log import ConsoleAccessLog
from admin.auth import CONSOLE_ROLES, ConsoleAuth, ConsoleConfig, SignInRefused, console_principal
from admin.display import changes_shown, changes_table, plain
from admin.monev import MonevView
from admin.views import VIEWS
from admin.views.base import ConsoleView
from admin.writes import Gone
from auth.ratelimit import Buckets, MemoryBuckets, Rate
from domain.jobs.queue import JobQueue

TEMPLATES = Path(__file__).parent / "templates"
WRONG_CREDENTIALS = "The username or password is wrong, or the account is locked or disabled."
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)


class ConsoleHeaders:
    """Every console response: not cached (it shows personal data), no inline or foreign scripts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                headers.append((b"content-security-policy", _CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _session_secret(config: ConsoleConfig) -> str:
    # A key of its own, derived from the service's secret: a console cookie is no other cookie's signature.
    return hmac.new(config.secret_key, b"jamsos-console-session", hashlib.sha256).hexdigest()


@jinja2.pass_context
def _csrf_input(context: Any) -> Markup:
    return csrf.hidden_input(context["request"])


class ConsoleAdmin(Admin):
    def __init__(
        self,
        app: Starlette,
        *,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        config: ConsoleConfig,
        auth: ConsoleAuth | None = None,
        buckets: Buckets | None = None,
        jobs: JobQueue | None = None,
        job_files: Path | None = None,
    ) -> None:
        self.config = config
        self.backend = auth or ConsoleAuth(sessions, config)
        # The service's buckets (in Redis when configured), so N workers still allow one budget per address.
        self.buckets = buckets or MemoryBuckets()
        self.login_rate = Rate(config.login_rate_per_minute)
        middlewares = [
            Middleware(ConsoleHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=_session_secret(config),
                session_cookie=config.cookie_name,
                max_age=config.max_seconds,
                path="/admin",
                same_site="strict",
                https_only=config.secure_cookie,
            ),
            Middleware(csrf.CSRFMiddleware, max_body_bytes=config.max_body_bytes),
            Middleware(ConsoleAccessLog, sessions=sessions),  # personal data shown in full is logged first
        ]
        super().__init__(
            app,
            session_maker=async_sessionmaker(engine, expire_on_commit=False),
            base_url="/admin",
            title="Jamsos console",
            templates_dir=str(TEMPLATES),
            middlewares=middlewares,
            authentication_backend=self.backend,
        )
        self.templates.env.globals["csrf_input"] = _csrf_input
        self.templates.env.globals["console_principal"] = console_principal
        self.templates.env.globals["changes_table"] = changes_table
        self.templates.env.globals["changes_shown"] = changes_shown
        self.templates.env.globals["plain"] = plain
        self._logout_by_post_only()
        for view in VIEWS:
            # A subclass per console: SQLAdmin sets the session factory on the view class itself.
            attributes = {"write_sessions": sessions, "job_queue": jobs, "job_files": job_files}
            self.add_view(type(view.__name__, (view,), attributes))
        self.add_view(type("MonevView", (MonevView,), {"engine": engine, "threshold": config.suppression_threshold}))

    def _logout_by_post_only(self) -> None:
        routes = self.admin.router.routes
        for i, route in enumerate(routes):
            if isinstance(route, Route) and route.name == "logout":
                routes[i] = Route("/logout", endpoint=self.logout, name="logout", methods=["POST"])

    # -- signing in and out ---------------------------------------------------------------------------------
    async def _login_page(self, request: Request, status: int = 200, **context: Any) -> Response:
        if request.query_params.get("expired") and "error" not in context:
            context["notice"] = "Your session ended after a period without activity. Sign in again."
        return await self.templates.TemplateResponse(request, "sqladmin/login.html", context, status_code=status)

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return await self._login_page(request)
        address = request.client.host if request.client else "unknown"
        retry = await self.buckets.take("console_signin", address, 1, self.login_rate)
        if retry is not None:
            return await self._login_page(
                request, 429, error=f"Too many sign-in attempts from your address. Wait {retry} seconds."
            )
        try:
            signed_in = await self.backend.login(request)
        except SignInRefused as exc:
            return await self._login_page(request, 403, error=str(exc))
        if not signed_in:
            return await self._login_page(request, 401, error=WRONG_CREDENTIALS)
        if getattr(request.state, "signed_in_role", None) not in CONSOLE_ROLES:
            return RedirectResponse(request.url_for("admin:view-monev"), status_code=303)  # analysts: Monev only
        return RedirectResponse(request.url_for("admin:index"), status_code=303)

    async def logout(self, request: Request) -> Response:
        await self.backend.logout(request)
        return RedirectResponse(request.url_for("admin:login"), status_code=303)

    # -- corrections ----------------------------------------------------------------------------------------
    def _console_view(self, request: Request) -> ConsoleView:
        view = self._find_model_view(request.path_params["identity"])
        if not isinstance(view, ConsoleView):
            raise HTTPException(status_code=404)
        if not view.is_accessible(request):
            raise HTTPException(status_code=403)
        return view

    @login_required
    async def edit(self, request: Request) -> Response:
        view = self._console_view(request)
        row = await view.get_object_for_edit(request)
        if not await view.check_can_edit(request, row) or view.edit_form_class is None:
            raise HTTPException(status_code=403)
        context: dict[str, Any] = {"obj": row, "model_view": view}
        if request.method == "GET":
            context["form"] = view.new_form(view.edit_form_class, request, **await view.edit_values(request, row))
            return await self.templates.TemplateResponse(request, view.edit_template, context)
        form = view.new_form(view.edit_form_class, request, await request.form())
        context["form"] = form
        if not form.validate():
            context["error"] = "Nothing was saved: check the fields marked below."
            return await self.templates.TemplateResponse(request, view.edit_template, context, status_code=400)
        try:
            outcome = await view.save_edit(request, row, form)
        except Gone:
            raise HTTPException(status_code=404) from None
        if outcome.conflict:
            context["error"] = (
                f"Nothing was saved: this record was changed by someone else while you were editing it "
                f"({outcome.conflict}). Your entries are still in the form; reload the record to see its "
                "current values, then make your correction again."
            )
            context["conflict"] = True
            return await self.templates.TemplateResponse(request, view.edit_template, context, status_code=409)
        if outcome.problems:
            general = view.place_problems(form, outcome.problems)
            context["error"] = "Nothing was saved: " + (" ".join(general) or "check the fields marked below.")
            return await self.templates.TemplateResponse(request, view.edit_template, context, status_code=400)
        return RedirectResponse(view.after_save_url(request, outcome.value), status_code=303)

    @login_required
    async def create(self, request: Request) -> Response:
        view = self._console_view(request)
        if not await view.check_can_create(request) or view.create_form_class is None:
            raise HTTPException(status_code=403)
        context: dict[str, Any] = {"model_view": view}
        if request.method == "GET":
            context["form"] = view.new_form(view.create_form_class, request)
            return await self.templates.TemplateResponse(request, view.create_template, context)
        form = view.new_form(view.create_form_class, request, await request.form())
        context["form"] = form
        if not form.validate():
            context["error"] = "Nothing was saved: check the fields marked below."
            return await self.templates.TemplateResponse(request, view.create_template, context, status_code=400)
        try:
            outcome = await view.save_create(request, form)
        except Gone:
            raise HTTPException(status_code=404) from None
        if not outcome.ok:
            general = view.place_problems(form, outcome.problems)
            if outcome.conflict:
                general.append(outcome.conflict)
            context["error"] = "Nothing was saved: " + (" ".join(general) or "check the fields marked below.")
            return await self.templates.TemplateResponse(request, view.create_template, context, status_code=400)
        if isinstance(outcome.value, Response):
            return outcome.value  # e.g. a page showing a new secret once
        Flash.success(request, f"{view.name} created.")
        return RedirectResponse(view.after_save_url(request, outcome.value), status_code=303)

    # -- export ---------------------------------------------------------------------------------------------
    @login_required
    async def export(self, request: Request) -> Response:
        await self._export(request)
        view = self._console_view(request)
        response: Response = await view.export_csv(request)
        return response

    @login_required
    async def delete(self, request: Request) -> Response:
        raise HTTPException(status_code=405)

    @login_required
    async def import_endpoint(self, request: Request) -> Response:
        raise HTTPException(status_code=405)

    # No model has file columns or lookup fields: these SQLAdmin routes have nothing to serve.
    async def file_download(self, request: Request) -> Response:
        raise HTTPException(status_code=404)

    async def file_preview(self, request: Request) -> Response:
        raise HTTPException(status_code=404)

    async def ajax_lookup(self, request: Request) -> Response:
        raise HTTPException(status_code=404)


def mount_console(
    app: Starlette,
    *,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    config: ConsoleConfig,
    buckets: Buckets | None = None,
    jobs: JobQueue | None = None,
    job_files: Path | None = None,
) -> ConsoleAdmin:
    """Mount the console at ``/admin`` on `app` (the application factory calls this); bulk writes over a page
    hand their jobs to `jobs`, staging their files in `job_files`."""
    return ConsoleAdmin(
        app, engine=engine, sessions=sessions, config=config, buckets=buckets, jobs=jobs, job_files=job_files
    )
