"""Users and partner (OAuth) clients, for admins: created, disabled and rotated through ``auth.accounts``.

Neither view ever shows a password hash or a client secret's hash: they are left out of every column list.
A new client secret is shown once, on the response to the request that made it, and never again.
"""

from __future__ import annotations

from typing import Any

from sqladmin import expose
from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from wtforms import Form

from admin.access import ADMIN_ONLY, Access
from admin.display import as_plain
from admin.filters import ValuesFilter, boolean_filter
from admin.forms import ClientCreateForm, UserCreateForm
from admin.views.base import ConsoleView, DetailAction
from admin.writes import Outcome, run_write
from auth.accounts import AccountError, create_client, create_user, disable_client, disable_user, rotate_client_secret
from auth.passwords import WeakPassword
from auth.principal import Principal
from auth.scopes import Role, Scope
from domain.identity.codes import IdentityCode
from domain.identity.models import InvalidUsername, OAuthClient, User
from domain.regions.rules import InvalidRegionCode
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.errors import Problem, invalid

U = User
K = OAuthClient


class UserView(ConsoleView, model=User):
    name = "User"
    name_plural = "Users"
    icon = "fa-solid fa-users"
    access = Access(read=None, roles=ADMIN_ONLY, write_roles=ADMIN_ONLY)
    audit_entity = "user"
    create_form_class = UserCreateForm
    can_edit = False

    column_list = [U.username, U.role, U.region_code, U.active, U.locked_until, U.last_sign_in_at]
    column_details_list = [
        U.id,
        U.username,
        U.role,
        U.region_code,
        U.active,
        U.failed_attempts,
        U.locked_until,
        U.last_sign_in_at,
        U.password_changed_at,
        U.created_at,
    ]
    column_labels = {U.region_code: "Region", U.locked_until: "Locked until", U.last_sign_in_at: "Last sign-in"}
    column_formatters = {U.locked_until: as_plain, U.last_sign_in_at: as_plain}
    column_formatters_detail = {
        U.locked_until: as_plain,
        U.last_sign_in_at: as_plain,
        U.password_changed_at: as_plain,
        U.created_at: as_plain,
    }
    column_sortable_list = [U.username, U.role, U.last_sign_in_at]
    column_default_sort = [("username", False)]
    column_searchable_list = [U.username]
    search_hint = "username"
    column_filters = [
        ValuesFilter.of_enum(U.role, Role, title="Role", parameter_name="role"),
        boolean_filter(U.active, title="Active", parameter_name="active"),
    ]

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        return U.username.icontains(term, autoescape=True)

    def audit_id(self, row: Any) -> object:
        return row.username

    async def save_create(self, request: Request, form: Form) -> Outcome[Any]:
        username, password = form.username.data, form.password.data
        role, region = Role(form.role.data), (form.region_code.data or "").strip() or None

        async def work(session: AsyncSession, caller: Caller) -> User:
            try:
                return await create_user(
                    session,
                    username=username,
                    password=password,
                    role=role,
                    region=region,
                    actor=caller.actor,
                    meta=caller.meta,
                )
            except WeakPassword as exc:
                raise invalid("password", IdentityCode.WEAK_PASSWORD, str(exc)) from None
            except InvalidUsername as exc:
                raise invalid("username", IdentityCode.INVALID_USERNAME, str(exc)) from None
            except (AccountError, InvalidRegionCode) as exc:
                raise invalid("regionCode" if "region" in str(exc) else None, WriteCode.REFUSED, str(exc)) from None

        return await self.correct(request, "user", work, done=lambda user: f"User {user.username} created.")

    async def detail_actions(self, request: Request, row: Any) -> list[DetailAction]:
        if not row.active or not self.may_write(request) or row.id == request.session.get("uid"):
            return []
        return [
            DetailAction("Disable user", self.route_url(request, "disable", row), style="btn-danger", slug="disable")
        ]

    @expose("/disable/{pk}", methods=["POST"])
    async def disable(self, request: Request) -> Response:
        row = await self.load_for_action(request)
        if row.id == request.session.get("uid"):
            return self.after_action(
                request,
                row,
                Outcome(
                    problems=[Problem(None, WriteCode.REFUSED, "you cannot disable the account you are signed in with")]
                ),
                "",
            )

        async def work(session: AsyncSession, caller: Caller) -> Any:
            await disable_user(session, username=row.username, actor=caller.actor, meta=caller.meta)
            return row

        outcome = await self.correct(request, "user", work, done=lambda user: f"User {user.username} is disabled.")
        return self.after_action(request, row, outcome, "")


class ClientView(ConsoleView, model=OAuthClient):
    name = "Partner client"
    name_plural = "Partner clients (OAuth)"
    icon = "fa-solid fa-key"
    access = Access(read=None, roles=ADMIN_ONLY, write_roles=ADMIN_ONLY)
    audit_entity = "oauth_client"
    create_form_class = ClientCreateForm
    can_edit = False

    column_list = [
        K.client_id,
        K.name,
        K.scopes,
        K.region_code,
        K.grant_types,
        K.active,
        K.trusted_documents_only,
        K.secret_rotated_at,
    ]
    column_details_list = [
        K.id,
        K.client_id,
        K.name,
        K.scopes,
        K.region_code,
        K.grant_types,
        K.redirect_uris,
        K.token_lifetime_seconds,
        K.active,
        K.trusted_documents_only,
        K.created_at,
        K.secret_rotated_at,
    ]
    column_labels = {
        K.client_id: "Client id",
        K.region_code: "Region",
        K.secret_rotated_at: "Secret rotated",
        K.trusted_documents_only: "Registered documents only",
    }
    column_formatters = {K.secret_rotated_at: as_plain, K.grant_types: as_plain}
    column_formatters_detail = {K.secret_rotated_at: as_plain, K.created_at: as_plain}
    column_sortable_list = [K.name, K.client_id]
    column_default_sort = [("name", False)]
    column_searchable_list = [K.name]
    search_hint = "client id or name"
    column_filters = [boolean_filter(K.active, title="Active", parameter_name="active")]

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        return or_(K.client_id == term, K.name.icontains(term, autoescape=True))

    def audit_id(self, row: Any) -> object:
        return row.client_id

    async def _secret_page(self, request: Request, client: OAuthClient, secret: str, what: str) -> Response:
        templates = self._admin_ref.templates
        context = {"model_view": self, "client": client, "secret": secret, "what": what}
        response: Response = await templates.TemplateResponse(request, "jamsos/secret.html", context)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response

    async def save_create(self, request: Request, form: Form) -> Outcome[Any]:
        name, region = form.name.data, (form.region_code.data or "").strip() or None
        scopes = frozenset(Scope(s) for s in form.scopes.data or [])

        async def work(session: AsyncSession, caller: Caller) -> tuple[OAuthClient, str | None]:
            try:
                made = await create_client(
                    session, name=name, scopes=scopes, region=region, actor=caller.actor, meta=caller.meta
                )
            except (AccountError, InvalidRegionCode) as exc:
                raise invalid("regionCode" if "region" in str(exc) else None, WriteCode.REFUSED, str(exc)) from None
            return made.client, made.secret

        outcome = await run_write(self.write_sessions, request, work)
        if not outcome.ok or outcome.value is None:
            return Outcome(problems=outcome.problems, conflict=outcome.conflict)
        client, secret = outcome.value
        return Outcome(value=await self._secret_page(request, client, secret or "", "created"))

    async def detail_actions(self, request: Request, row: Any) -> list[DetailAction]:
        if not row.active or not self.may_write(request):
            return []
        actions = [
            DetailAction("Disable client", self.route_url(request, "disable", row), style="btn-danger", slug="disable")
        ]
        if not row.is_public:
            actions.insert(
                0,
                DetailAction(
                    "Rotate secret", self.route_url(request, "rotate", row), style="btn-warning", slug="rotate"
                ),
            )
        return actions

    @expose("/rotate/{pk}", methods=["POST"])
    async def rotate(self, request: Request) -> Response:
        row = await self.load_for_action(request)

        async def work(session: AsyncSession, caller: Caller) -> str:
            try:
                return await rotate_client_secret(
                    session, client_id=row.client_id, actor=caller.actor, meta=caller.meta
                )
            except AccountError as exc:
                raise invalid(None, WriteCode.REFUSED, str(exc)) from None

        outcome = await run_write(self.write_sessions, request, work)
        if not outcome.ok or outcome.value is None:
            return self.after_action(request, row, Outcome(problems=outcome.problems, conflict=outcome.conflict), "")
        return await self._secret_page(request, row, outcome.value, "rotated")

    @expose("/disable/{pk}", methods=["POST"])
    async def disable(self, request: Request) -> Response:
        row = await self.load_for_action(request)

        async def work(session: AsyncSession, caller: Caller) -> Any:
            await disable_client(session, client_id=row.client_id, actor=caller.actor, meta=caller.meta)
            return row

        outcome = await self.correct(
            request, "oauth_client", work, done=lambda c: f"Client {c.client_id} is disabled; its tokens are revoked."
        )
        return self.after_action(request, row, outcome, "")
