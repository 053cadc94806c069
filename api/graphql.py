"""The GraphQL HTTP endpoint: Strawberry's ASGI view with our context, budgets, statuses and error formatting."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from api import http_cache
from api.documents import DocumentRefused, Documents, Resolved
from api.media import CONTENT_TYPES, GRAPHQL_RESPONSE_JSON, JSON, negotiate, unacceptable_message
from api.middleware import BEARER_FORMAT, bearer_token, principal_of
from api.observe import note_graphql_operation, note_graphql_outcome
from auth.policy import statistics_only
from auth.principal import Principal
from auth.ratelimit import Buckets, MemoryBuckets, Rate
from auth.server import client_ip
from auth.tokens import InvalidToken
from auth.verifier import TokenVerifier
from domain.audit.access import COMMITS_IN_FLIGHT, AccessLogWriter
from domain.codes import ErrorCode
from domain.documents.models import document_id
from domain.events import EventBus
from domain.jobs.queue import JobQueue
from schema.compiled.cache import BoundedCache
from schema.compiled.counters import ReadCounters
from schema.compiled.fast import Ready, ReadyKey, ready_cache
from schema.compiled.plan import plan_cache, statement_cache
from schema.core.bounds import Limits
from schema.core.context import Context, Reader, known_regions
from schema.core.errors import UNAVAILABLE_RETRY_AFTER, format_errors
from schema.core.subscriptions import Seats, SubscriberConnection

log = logging.getLogger("jamsos.graphql")

#: ``request.state`` key: the cost the cached path (api.fast_reads) already charged for a request it then
#: handed to this view (its plan fell back to the resolvers, or failed), so that the caller is charged once.
PREPAID = "jamsos_prepaid_cost"


def prepaid(request: Request, cost: int) -> None:
    """Record that `request` was charged `cost` already (the charger below then charges it nothing more)."""
    setattr(request.state, PREPAID, cost)


#: Subscriptions over graphql-transport-ws (WebSocket) and SSE (``Accept: text/event-stream``); not the
#: legacy ``graphql-ws`` protocol of subscriptions-transport-ws, unmaintained since 2018.
SUBSCRIPTION_PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL)
EVENT_STREAM = "text/event-stream"
#: What ``on_ws_connect`` returns for a plain ``connection_ack`` (no payload): Strawberry's UNSET.
ACK = UnsetType()


def accepts_event_stream(accept: str | None) -> bool:
    """An SSE subscription request (Strawberry streams it when ``graphql-sse`` is among the protocols)."""
    return EVENT_STREAM in (accept or "").lower()


def budget_key(principal: Principal) -> str:
    """One budget per client and user: a partner's machine client, or a person signed in through a client."""
    return f"{principal.client_id or '-'}|{principal.subject}"


class TextFrames(ASGIWebSocketAdapter):
    """graphql-transport-ws messages as text frames, as the protocol requires: our ``encode_json`` gives
    bytes (orjson), which Strawberry's adapter would send as binary frames that clients refuse."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class JamsosGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = TextFrames

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
        fast_reads: bool = True,
        read_autocommit: bool = True,
        document_cache: bool = True,
        jobs: JobQueue | None = None,
        job_files: Path | None = None,
        documents: Documents | None = None,
        http_cache_seconds: int = 60,
        events: EventBus | None = None,
        verifier: TokenVerifier | None = None,
        subscriptions_per_client: int = 50,
        subscription_token_check_seconds: float = 5.0,
        subscription_init_timeout_seconds: float = 10.0,
        access_log_commits: int = COMMITS_IN_FLIGHT,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("subscription_protocols", SUBSCRIPTION_PROTOCOLS)
        kwargs.setdefault("connection_init_wait_timeout", timedelta(seconds=subscription_init_timeout_seconds))
        super().__init__(schema, **kwargs)
        #: This process's event bus (domain.events) and the token verifier subscriptions re-check with;
        #: without both, subscriptions are refused (a context made for tests of queries only).
        self.events = events
        self.verifier = verifier
        self.seats = Seats(subscriptions_per_client)
        self.subscription_token_check_seconds = subscription_token_check_seconds
        self.sessions = sessions
        #: Where bulk writes hand their jobs (domain.jobs.queue): the worker's queue, or this process.
        self.jobs = jobs
        #: Where an import job's upload is staged for its chunks to read (domain.jobs.files).
        self.job_files = job_files
        #: Trusted documents and APQ: which text a request runs (api.documents).
        self.documents = documents or Documents(sessions)
        #: ``max-age`` of a cacheable GET by document id (api.http_cache); 0: nothing is cacheable.
        self.http_cache_seconds = http_cache_seconds
        #: Sessions on the read replica (JAMSOS_DATABASE_READ_URL), or None: queries read on the primary.
        self.read_sessions = read_sessions
        self.limits = limits or Limits()
        self.buckets = buckets or MemoryBuckets()
        self.introspection = introspection
        #: Settings' ``compiled_reads``; tests flip it (and the two below) to run the same cases on both read paths.
        self.compiled_reads = compiled_reads
        #: Settings' ``fast_reads``: a repeated compiled read answered before this view (api.fast_reads).
        self.fast_reads = fast_reads
        self.read_autocommit = read_autocommit
        self.document_cache = document_cache
        #: Operations the compiled path answered, for the fast lane (api.fast_reads); this application's own.
        self.ready: BoundedCache[ReadyKey, Ready] = ready_cache()
        #: This application's compiled plans and what its read path did (schema.compiled.counters).
        self.plans = plan_cache()
        self.statements = statement_cache()
        self.counters = ReadCounters()
        #: Region codes this application found in the Kemendagri register (Reader.region_in_register).
        self.known_regions = known_regions()
        #: The personal-data access log's group commit for this app's responses (closed at shutdown).
        self.access_log = AccessLogWriter(sessions, commits_in_flight=access_log_commits)

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
        note_graphql_operation(request, getattr(request_data, "operation_name", None))
        if isinstance(request_data, GraphQLRequestData) and isinstance(context, Context):
            # The one place the pipeline reads which document a request runs (api.documents): its text, or
            # the registered or APQ document its id names.
            try:
                resolved = await self.documents.resolve(
                    context.principal,
                    requested_id=await self.requested_document_id(request),
                    extensions=request_data.extensions,
                    query=request_data.query,
                )
            except DocumentRefused as exc:
                error = GraphQLError(str(exc), extensions={"code": exc.code.value})
                return ExecutionResult(data=None, errors=[error])
            if isinstance(request, Request):
                request.state.document = resolved  # api.http_cache reads how the document was named
            if resolved.query is not request_data.query:
                request_data = dataclasses.replace(request_data, query=resolved.query)
                kwargs["request_data"] = request_data
            context.request_operation = (request_data.operation_name,)
        return await super().execute_operation(request, *args, **kwargs)

    async def requested_document_id(self, request: Any) -> object:
        """The request's ``documentId`` (GET: the query parameter; POST: the JSON body's member), else None.

        Strawberry's request data has no place for it, so it is read here: the body Starlette already holds
        is decoded a second time, a small price beside executing the document (hot reads by id take the fast
        lane, which decodes the body once). A multipart request (an upload) names no document by id.
        """
        if not isinstance(request, Request):
            return None
        if request.method == "GET":
            return request.query_params.get("documentId")
        if not request.headers.get("content-type", "").startswith("application/json"):
            return None
        try:
            data = self.decode_json(await request.body())
        except orjson.JSONDecodeError:
            return None  # Strawberry refuses such a body before this runs
        return data.get("documentId") if isinstance(data, dict) else None

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A browser's GET by document id wants the document's result, not GraphiQL.
        params = request.query_params
        named = params.get("documentId") is not None or params.get("extensions") is not None
        return not named and super().should_render_graphql_ide(request)

    async def run(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            response = await super().run(request, *args, **kwargs)
        except HTTPException as exc:
            if not isinstance(request, Request):
                raise
            response = self.refusal(request, exc)
        finally:
            if isinstance(request, Request):
                await request.close()  # uploaded files (multipart) are closed even when no resolver read them
        if isinstance(request, Request) and request.method == "GET" and isinstance(response, Response):
            return http_cache.answer(request, response, self.cache_facts(request, response), self.http_cache_seconds)
        return response

    @staticmethod
    def cache_facts(request: Request, response: Response) -> http_cache.CacheFacts:
        """What api.http_cache decides a GET response's caching by, from what this request did."""
        document = getattr(request.state, "document", None)
        context = getattr(request.state, "context", None)
        by_id = isinstance(document, Resolved) and document.document_id is not None
        return http_cache.CacheFacts(
            by_id=by_id,
            clean=response.status_code == 200
            and not isinstance(response, StreamingResponse)  # a stream has no body to tag
            and getattr(request.state, "graphql_outcome", None) == "ok",
            # Unknown (no context: the request never ran) counts as personal, so as not cacheable.
            personal=not isinstance(context, Context) or bool(context.pii_reads),
            public=isinstance(document, Resolved)
            and document.public_cache
            and isinstance(context, Context)
            and statistics_only(context.principal),
        )

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        # After the GraphiQL check (a browser asking for the page gets it) and before anything is read: an
        # Accept that neither response media type satisfies is refused (api.media).
        accept = request.headers.get("accept")
        if negotiate(accept) is None and not accepts_event_stream(accept):
            raise HTTPException(406, unacceptable_message(accept or ""))
        return await super().parse_http_body(request)

    def refusal(self, request: Request, exc: HTTPException) -> Response:
        """The response to a request refused before GraphQL ran (Strawberry's HTTPException).

        A mutation over GET is 405 with ``Allow: POST`` (the GraphQL-over-HTTP spec's MUST). For a client
        that asked for ``application/graphql-response+json`` the body is a GraphQL response holding one
        error (``BAD_USER_INPUT``), as that media type promises; otherwise it is the plain text it always was.
        """
        status, headers = exc.status_code, {"Vary": "Accept"}
        if isinstance(exc.__cause__, InvalidOperationTypeError) and request.method == "GET":
            status, headers["Allow"] = 405, "POST"
        media_type = negotiate(request.headers.get("accept"))
        if status == 406 or media_type != GRAPHQL_RESPONSE_JSON:
            return PlainTextResponse(exc.reason, status_code=status, headers=headers)
        body = {"errors": [{"message": exc.reason, "extensions": {"code": ErrorCode.BAD_USER_INPUT.value}}]}
        return Response(self.encode_json(body), status, headers=headers, media_type=CONTENT_TYPES[media_type])

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # The negotiated media type rides on the sub-response: process_result sets the status by it and
        # create_response the Content-Type (the fast lane calls the same three methods).
        sub_response.media_type = negotiate(request.headers.get("accept")) or JSON
        return sub_response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = CONTENT_TYPES.get(sub_response.media_type or JSON, JSON)
        response.headers.add_vary_header("Accept")
        return response

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        principal = principal_of(request)
        reader = Reader(
            request.state.db, autocommit=self.read_autocommit, replica=self.read_sessions, regions=self.known_regions
        )
        request.state.reader = reader  # closed (after its statement in flight) before the session is
        request.state.sub_response = response
        context = self.context(request, principal, reader, charge=self.charger(request, principal), ready=self.ready)
        request.state.context = context  # api.http_cache asks whether the response held personal data
        if self.is_websocket_request(request) or accepts_event_stream(request.headers.get("accept")):
            context.connection = self.connection(request)
        return context

    def connection(self, request: Request | WebSocket) -> SubscriberConnection | None:
        """A subscriber connection's settings, with the bearer token of its handshake or request (if any)."""
        if self.events is None or self.verifier is None:
            return None
        header = request.headers.get("authorization")
        return SubscriberConnection(
            events=self.events,
            seats=self.seats,
            verify=self.verifier.verify,
            seat_key=budget_key,
            admit=self.admit_subscription,
            check_seconds=self.subscription_token_check_seconds,
            token=bearer_token(header) if header else None,
        )

    async def admit_subscription(self, principal: Principal, text: str) -> None:
        """The trusted-documents rule on a subscriber connection, where no ``documentId`` travels: a client
        marked ``trusted_documents_only`` subscribes only with the exact text of a document registered for it
        (identified by its SHA-256, as a request by id would be); any other client with any valid document."""
        if not await self.documents.trusted_only(principal.client_id):
            return
        if await self.documents.registered(principal.client_id, document_id(text)) is None:
            raise GraphQLError(
                "This client runs only its registered documents: subscribe with the exact text of one registered "
                "for it (an administrator registers them with jamsos documents push).",
                extensions={"code": ErrorCode.PERSISTED_QUERY_REQUIRED.value},
            )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """graphql-transport-ws ``connection_init``: its payload's ``{"Authorization": "Bearer …"}`` (a browser
        cannot set WebSocket headers), or a bearer token the handshake already carried. No token, a malformed
        one or one that does not verify: the socket closes with 4403."""
        connection = context.connection
        if connection is None:
            raise ConnectionRejectionError({"message": "subscriptions are not available on this server"})
        params = context.connection_params or {}
        header = params.get("Authorization", params.get("authorization"))
        if header is None and connection.token is not None:
            return ACK  # a plain connection_ack; authenticated by the handshake's header (api.middleware)
        token = bearer_token(header) if isinstance(header, str) else None
        if token is None:
            raise ConnectionRejectionError({"message": f"connection_init: {BEARER_FORMAT}"})
        try:
            principal = await connection.verify(token)
        except InvalidToken as exc:
            raise ConnectionRejectionError({"message": str(exc)}) from None
        connection.token = token
        context.principal = principal
        # The budget is charged to whom connection_init named, not to the anonymous handshake.
        context.charge = self.charger(context.request, principal)
        return ACK

    def context(self, request: Request | WebSocket, principal: Principal, reader: Any, **extra: Any) -> Context:
        """A request's context with this server's settings (the pipeline's and the fast lane's alike)."""
        return Context(
            principal=principal,
            reader=reader,
            request=request,
            limits=self.limits,
            sessions=self.sessions,
            jobs=self.jobs,
            job_files=self.job_files,
            access_log=self.access_log,
            introspection=self.introspection,
            compiled_reads=self.compiled_reads,
            document_cache=self.document_cache,
            plans=self.plans,
            statements=self.statements,
            counters=self.counters,
            **extra,
        )

    def charger(self, request: Request | WebSocket, principal: Principal) -> Any:
        """Charges `principal`'s budget for a document's cost: None when allowed, else seconds to wait."""
        limits, buckets = self.limits, self.buckets

        async def charge(cost: int) -> int | None:
            if request.scope.get("state", {}).pop(PREPAID, None) == cost:
                return None  # the cached path charged this request (allowed) already, then handed it on
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
        response = getattr(request.state, "sub_response", None)
        spec_media_type = isinstance(response, Response) and response.media_type == GRAPHQL_RESPONSE_JSON
        if result.errors:
            errors = format_errors(list(result.errors), request_id)
            data["errors"] = [e.formatted for e in errors]
            codes = [str((e.extensions or {}).get("code")) for e in errors]
            request_error = spec_media_type and is_request_error(result)
            if request_error:
                del data["data"]  # a request error: the document never ran, so there is no `data` at all
            self._set_status(request, errors, codes, spec_media_type=spec_media_type, request_error=request_error)
        if result.extensions:
            data["extensions"] = result.extensions
        note_graphql_outcome(request, codes)
        return data

    @staticmethod
    def _set_status(
        request: Request | WebSocket,
        errors: list[Any],
        codes: list[str],
        *,
        spec_media_type: bool = False,
        request_error: bool = False,
    ) -> None:
        """The HTTP status and ``Retry-After`` of a response with errors.

        ``application/json`` (legacy): 503 or 429 for those codes, 200 otherwise.
        ``application/graphql-response+json``: a document that ran stays 200 (a 503/429 code keeps its
        ``Retry-After``); a request error (it did not parse, validate or coerce its variables, or was over a
        limit) is 503/429 as on the legacy type, 500 for our own failure, 400 otherwise.
        """
        response = getattr(request.state, "sub_response", None)
        if not isinstance(response, Response):
            return
        status: int | None = None
        if ErrorCode.SERVICE_UNAVAILABLE.value in codes:
            status = 503
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
        elif ErrorCode.RATE_LIMITED.value in codes:
            retry = next((e.extensions.get("retryAfter") for e in errors if (e.extensions or {}).get("retryAfter")), 60)
            status = 429
            response.headers["Retry-After"] = str(retry)
        if spec_media_type and not request_error:
            return  # executed: 200, as the spec's media type requires
        if status is None and request_error:
            status = 500 if ErrorCode.INTERNAL_SERVER_ERROR.value in codes else 400
        if status is not None:
            response.status_code = status


def is_request_error(result: ExecutionResult | GraphQLExecutionResult) -> bool:
    """The document never executed: it did not parse or validate, a variable did not coerce, a limit or the
    budget refused it, or the access log could not be written for it. Then there is no ``data`` and every
    error is the request's, not a field's: graphql-core gives every error met while executing a ``path``.
    """
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)
