"""The GraphQL HTTP endpoint: Strawberry's ASGI view with our context, budgets, statuses and error formatting."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from graphql import ExecutionResult as GraphQLExecutionResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from api.middleware import principal_of
from api.observe import note_graphql_operation, note_graphql_outcome
from auth.principal import Principal
from auth.ratelimit import Buckets, MemoryBuckets, Rate
from auth.server import client_ip
from domain.audit.access import AccessLogWriter
from schema.compiled.cache import BoundedCache
from schema.compiled.counters import ReadCounters
from schema.compiled.fast import Ready, ReadyKey, ready_cache
from schema.compiled.plan import plan_cache
from schema.context import Context, Reader
from schema.errors import UNAVAILABLE_RETRY_AFTER, ErrorCode, format_errors
from schema.limits import Limits

log = logging.getLogger("jamsos.graphql")

#: ``request.state`` key: the charge the fast lane (api.fast_reads) already made for a request it then handed
#: to this view, as (cost, its answer), so that the caller is charged once.
PREPAID = "jamsos_prepaid_cost"


def budget_key(principal: Principal) -> str:
    """One budget per client and user: a partner's machine client, or a person signed in through a client."""
    return f"{principal.client_id or '-'}|{principal.subject}"


class JamsosGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: Any,
        sessions: async_sessionmaker[AsyncSession],
        *,
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
        limits: Limits | None = None,
        buckets: Buckets | None = None,
        introspection: bool = False,
        compiled_reads: bool = True,
        json_statements: bool = True,
        fast_reads: bool = True,
        read_autocommit: bool = True,
        document_cache: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(schema, **kwargs)
        self.sessions = sessions
        #: Sessions on the read replica (JAMSOS_DATABASE_READ_URL), or None: queries read on the primary.
        self.read_sessions = read_sessions
        self.limits = limits or Limits()
        self.buckets = buckets or MemoryBuckets()
        self.introspection = introspection
        #: Settings' ``compiled_reads``; tests flip it (and the two below) to run the same cases on both read paths.
        self.compiled_reads = compiled_reads
        #: Settings' ``json_statements``: root fields as one JSON statement each on PostgreSQL (schema.compiled).
        self.json_statements = json_statements
        #: Settings' ``fast_reads``: a repeated compiled read answered before this view (api.fast_reads).
        self.fast_reads = fast_reads
        self.read_autocommit = read_autocommit
        self.document_cache = document_cache
        #: Operations the compiled path answered, for the fast lane (api.fast_reads); this application's own.
        self.ready: BoundedCache[ReadyKey, Ready] = ready_cache()
        #: This application's compiled plans and what its read path did (schema.compiled.counters).
        self.plans = plan_cache()
        self.counters = ReadCounters()
        #: The personal-data access log's group commit for this app's responses (closed at shutdown).
        self.access_log = AccessLogWriter(sessions)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        # orjson: bytes out directly, and much cheaper than json.dumps on a page (bench/README.md "Figures
        # behind the code").
        return orjson.dumps(data)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # One session per request, always closed, whatever the outcome.
        session = self.sessions()
        state = scope.setdefault("state", {})
        state["db"] = session
        try:
            await super().__call__(scope, receive, send)
        finally:
            reader = state.get("reader")
            try:
                if isinstance(reader, Reader):
                    await reader.close()
            finally:
                try:
                    await session.close()
                except Exception:
                    log.warning("closing a request's database session failed", exc_info=True)

    async def execute_operation(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        request_data = kwargs.get("request_data")
        context = kwargs.get("context")
        if isinstance(request_data, GraphQLRequestData) and isinstance(context, Context):
            context.request_operation = (request_data.operation_name,)
        note_graphql_operation(request, getattr(request_data, "operation_name", None))
        return await super().execute_operation(request, *args, **kwargs)

    async def run(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().run(request, *args, **kwargs)
        finally:
            if isinstance(request, Request):
                await request.close()  # uploaded files (multipart) are closed even when no resolver read them

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        principal = principal_of(request)
        reader = Reader(request.state.db, autocommit=self.read_autocommit, replica=self.read_sessions)
        request.state.reader = reader  # closed (after its statement in flight) before the session is
        request.state.sub_response = response
        return self.context(request, principal, reader, charge=self.charger(request, principal), ready=self.ready)

    def context(self, request: Request | WebSocket, principal: Principal, reader: Any, **extra: Any) -> Context:
        """A request's context with this server's settings (the pipeline's and the fast lane's alike)."""
        return Context(
            principal=principal,
            reader=reader,
            request=request,
            limits=self.limits,
            sessions=self.sessions,
            access_log=self.access_log,
            introspection=self.introspection,
            compiled_reads=self.compiled_reads,
            json_statements=self.json_statements,
            document_cache=self.document_cache,
            plans=self.plans,
            counters=self.counters,
            **extra,
        )

    def charger(self, request: Request | WebSocket, principal: Principal) -> Any:
        """Charges `principal`'s budget for a document's cost: None when allowed, else seconds to wait."""
        limits, buckets = self.limits, self.buckets

        async def charge(cost: int) -> int | None:
            prepaid = request.scope.get("state", {}).pop(PREPAID, None)
            if prepaid is not None and prepaid[0] == cost:
                return (
                    int(prepaid[1]) if prepaid[1] is not None else None
                )  # the fast lane charged this request already, then handed it on
            if principal.is_authenticated:
                rate = Rate(limits.cost_budget_per_minute)
                return await buckets.take("cost", budget_key(principal), max(1, cost), rate)
            rate = Rate(limits.anonymous_requests_per_minute)
            return await buckets.take("anonymous", client_ip(request), 1, rate)  # type: ignore[arg-type]

        return charge

    async def process_result(
        self, request: Request | WebSocket, result: ExecutionResult | GraphQLExecutionResult
    ) -> GraphQLHTTPResponse:
        data: GraphQLHTTPResponse = {"data": result.data}
        request_id = getattr(request.state, "request_id", None)
        codes: list[str] = []
        if result.errors:
            errors = format_errors(list(result.errors), request_id)
            data["errors"] = [e.formatted for e in errors]
            codes = [str((e.extensions or {}).get("code")) for e in errors]
            self._set_status(request, errors, codes)
        if result.extensions:
            data["extensions"] = result.extensions
        note_graphql_outcome(request, codes)
        return data

    @staticmethod
    def _set_status(request: Request | WebSocket, errors: list[Any], codes: list[str]) -> None:
        response = getattr(request.state, "sub_response", None)
        if not isinstance(response, Response):
            return
        if ErrorCode.SERVICE_UNAVAILABLE.value in codes:
            response.status_code = 503
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
        elif ErrorCode.RATE_LIMITED.value in codes:
            retry = next((e.extensions.get("retryAfter") for e in errors if (e.extensions or {}).get("retryAfter")), 60)
            response.status_code = 429
            response.headers["Retry-After"] = str(retry)
