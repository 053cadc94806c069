"""The cached path for ``POST /graphql``: a repeated compiled read answered before Strawberry's HTTP view.

The middleware stack still runs in full (request id, tracing, request log, the bearer-token check with its
verified-token cache and revocation list). Then, for a JSON body whose (document, operation, principal
shape, integer variables) the full pipeline has already parsed, validated, limited and answered from the
compiled path (its entry: ``schema.compiled.fast``), everything per document is skipped and everything per
request runs: the per-request steps of ``schema.core.pipeline`` (the same list, in the same order, as the
full pipeline's ``RequestSteps`` extension: the variables' control characters, the cost charge, the
personal-data access log) around the plan (``schema.compiled.run``, which coerces the variables with
graphql-core's own ``get_variable_values``), then the operation's metrics and the bytes out through the
view's own methods. A step's refusal is answered here, as the pipeline answers it (``BAD_USER_INPUT``,
``RATE_LIMITED``, the withheld response: same shapes, codes and statuses).

A document named by id (``documentId``) is looked up first, as the pipeline does (api.documents).

What this module decides is only whether the request is a repeated compiled read; any doubt means the
request goes to the full pipeline unchanged, with its body replayed: a body that is not a plain JSON object,
``extensions`` (Apollo's APQ among them), a document the rules refuse, an ``Accept`` asking for a stream or
satisfied by neither response media type (the pipeline answers 406), no entry. Once the steps passed, a plan
that meets something the resolvers would refuse (``Fallback``) or a database error before anything was sent
hands the request on as well, marked as charged (``api.graphql.prepaid``) so the budget is charged once.
What it answers is sent as the media type the ``Accept`` header chose (api.media).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from graphql import ExecutionResult
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.documents import DocumentRefused
from api.graphql import JamsosGraphQL, prepaid
from api.media import negotiate
from api.middleware import principal_of
from api.observe import note_graphql_operation
from schema.compiled.fast import Ready, ready_key
from schema.compiled.run import Fallback, run_operation
from schema.core.context import ConnectionReader
from schema.core.pipeline import Operation, after_execution, before_execution, refused

log = logging.getLogger("jamsos.graphql")


class FastReads:
    """ASGI app in front of the GraphQL app (`app`); answers what it can, hands on everything else."""

    def __init__(self, app: ASGIApp, graphql: JamsosGraphQL) -> None:
        self.app = app
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        graphql = self.graphql
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not graphql.compiled_reads
            or not graphql.fast_reads
            or graphql.ready.stats.size == 0
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        accept = headers.get("accept", "")
        if (
            not headers.get("content-type", "").startswith("application/json")
            or "stream" in accept
            or ("multipart" in accept)
            or negotiate(accept or None) is None  # the pipeline answers 406
        ):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        replayed = _replay(messages, receive)
        response = None if body is None else await self._answer(scope, body)
        if response is None:
            await self.app(scope, replayed, send)
        else:
            await response(scope, replayed, send)

    async def _answer(self, scope: Scope, body: bytes) -> Response | None:
        """The response, or None (nothing done that matters) to hand the request on."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or data.get("extensions") is not None:
            return None
        operation_name, variables = data.get("operationName"), data.get("variables")
        if not (operation_name is None or isinstance(operation_name, str)) or not (
            variables is None or isinstance(variables, dict)
        ):
            return None
        principal = principal_of(Request(scope))
        try:
            # The document's text by the same rules as the pipeline's (api.documents): a document id, or the
            # text itself where the client may send text.
            resolved = await self.graphql.documents.resolve(
                principal, requested_id=data.get("documentId"), query=data.get("query")
            )
        except DocumentRefused:
            return None  # the pipeline refuses it, in its shape
        query = resolved.query
        if not isinstance(query, str):
            return None
        entry = self.graphql.ready.get(ready_key(query, operation_name, principal, variables))
        if not isinstance(entry, Ready):
            return None
        return await self._run(scope, entry, operation_name, variables)

    async def _run(
        self, scope: Scope, entry: Ready, operation_name: str | None, variables: dict[str, Any] | None
    ) -> Response | None:
        graphql = self.graphql
        request = Request(scope)
        principal = principal_of(request)
        note_graphql_operation(request, operation_name)
        # A query: on the replica when there is one; Core rows only, so a connection without a session.
        engine = (graphql.read_sessions or graphql.sessions).kw["bind"]
        reader = ConnectionReader(engine, autocommit=graphql.read_autocommit, regions=graphql.known_regions)
        charge = graphql.charger(request, principal)
        context = graphql.context(request, principal, reader, charge=charge, cost=entry.cost)
        # The per-request steps, the very list the full pipeline runs (schema.core.pipeline), around the plan.
        operation = Operation(context, variables or {}, entry.cost)
        try:
            result = await refused(graphql.schema, before_execution(operation))
            if result is None:
                try:
                    data = await run_operation(entry.plan, graphql.schema, context, variables)
                except Exception as exc:
                    # Fallback: the resolvers answer it; any other failure: the pipeline meets it too and
                    # reports it in its own shape (SERVICE_UNAVAILABLE, …). Either way the steps passed and
                    # the budget was charged: the view's charger knows (api.graphql.prepaid).
                    if not isinstance(exc, Fallback):
                        log.debug("cached path: handing a failed read to the full pipeline", exc_info=True)
                    prepaid(request, entry.cost)
                    graphql.counters.fast_handed_on += 1
                    return None
        finally:
            await reader.close()
        if result is None:
            result = await refused(graphql.schema, after_execution(operation)) or ExecutionResult(data=data)
            graphql.counters.compiled += 1
            graphql.counters.fast_answered += 1
        sub_response = await graphql.get_sub_response(request)
        request.state.sub_response = sub_response
        processed = await graphql.process_result(request, result)
        return graphql.create_response(processed, sub_response)


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """Every message up to the end of the body, and the body (None if the client went away first)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` as if nothing had been read from it yet."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
