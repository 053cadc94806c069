"""The fast lane for ``POST /graphql``: a repeated compiled read answered before Strawberry's HTTP view.

The middleware stack still runs in full (request id, tracing, request log, the bearer-token check with its
verified-token cache and revocation list). Then, for a JSON body whose (document, operation, principal
shape, integer variables) the full pipeline has already parsed, validated, limited and answered from the
compiled path (``schema.compiled.fast``), this module does only what is left: the control-character check
on the variables, variable coercion (graphql-core's own ``get_variable_values``), the cost charge, the
plan, the personal-data access log, the operation metrics, and the bytes out (orjson).

A document named by id (``documentId``) is looked up first, as the pipeline does (api.documents).

Any doubt means the request goes to the full pipeline unchanged, with its body replayed: a body that is not
a plain JSON object, ``extensions`` (Apollo's APQ among them), a document the rules refuse, an ``Accept``
asking for a stream or satisfied by neither response media type (the pipeline answers 406), no entry,
variables that do not coerce or hold a control character, a plan that meets something the resolvers would
refuse (``Fallback``), a refused charge (the pipeline gives the same ``RATE_LIMITED`` error without charging
again), or a database error before anything was sent. So errors keep the pipeline's shapes, codes and
statuses; what it answers is sent as the media type the ``Accept`` header chose (api.media), through the
same view methods as the pipeline's.
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
from api.graphql import PREPAID, JamsosGraphQL
from api.media import negotiate
from api.middleware import principal_of
from api.observe import note_graphql_operation
from schema.compiled.fast import Ready, ready_key
from schema.compiled.run import Fallback, run_operation
from schema.core.access_log import withheld, write_access_log
from schema.core.context import ConnectionReader
from schema.core.errors import BadInput
from schema.core.input_text import check_variables

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
        try:
            check_variables(variables or {})
        except BadInput:
            return None
        return await self._run(scope, entry, operation_name, variables)

    async def _run(
        self, scope: Scope, entry: Ready, operation_name: str | None, variables: dict[str, Any] | None
    ) -> Response | None:
        graphql = self.graphql
        request = Request(scope)
        principal = principal_of(request)
        retry_after = await graphql.charger(request, principal)(entry.cost)
        if retry_after is not None:
            setattr(request.state, PREPAID, (entry.cost, retry_after))
            graphql.counters.fast_handed_on += 1
            return None
        # A query: on the replica when there is one; Core rows only, so a connection without a session.
        engine = (graphql.read_sessions or graphql.sessions).kw["bind"]
        reader = ConnectionReader(engine, autocommit=graphql.read_autocommit)
        context = graphql.context(request, principal, reader, cost=entry.cost)  # charged above
        try:
            data = await run_operation(entry.plan, graphql.schema, context, variables)
        except Fallback:
            setattr(request.state, PREPAID, (entry.cost, None))
            graphql.counters.fast_handed_on += 1
            return None
        except Exception:
            # The pipeline meets the same failure and reports it in its own shape (SERVICE_UNAVAILABLE, …).
            log.debug("fast lane: handing a failed read to the full pipeline", exc_info=True)
            setattr(request.state, PREPAID, (entry.cost, None))
            graphql.counters.fast_handed_on += 1
            return None
        finally:
            await reader.close()
        note_graphql_operation(request, operation_name)
        result = ExecutionResult(data=data) if await write_access_log(context) else withheld()
        sub_response = await graphql.get_sub_response(request)
        request.state.sub_response = sub_response
        processed = await graphql.process_result(request, result)
        graphql.counters.compiled += 1
        graphql.counters.fast_answered += 1
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
