"""What the service tells its operators: one JSON log line per request and Prometheus metrics at /metrics.

The log line (logger ``jamsos.request``) carries the request id, method, path, status, duration, the
caller's subject and client, and for GraphQL the operation name and outcome (``ok`` or the first error
code). It never carries the query text, variables, tokens or NIKs.

Metrics come from the default Prometheus registry, where each layer registers its own counters
(``auth.ratelimit``: rate-limit rejections; ``schema.core.limits``: documents refused as too complex;
``api.middleware``: refused tokens). Each process exports its own numbers: scrape every worker, or run
one worker per container. Operation names are caller-chosen, so only well-formed ones are used as labels,
and at most :data:`MAX_OPERATION_LABELS` of them; the rest count as ``other``.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.tracing import name_graphql_span

log = logging.getLogger("jamsos.request")

REQUESTS = Counter(
    "jamsos_graphql_requests_total", "GraphQL requests by operation name and outcome", ["operation", "outcome"]
)
LATENCY = Histogram(
    "jamsos_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
POOL_CHECKED_OUT = Gauge("jamsos_db_pool_checked_out", "Database connections in use")
POOL_SIZE = Gauge("jamsos_db_pool_size", "Database connections held by the pool")
POOL_OVERFLOW = Gauge("jamsos_db_pool_overflow", "Connections open beyond the pool size")

MAX_OPERATION_LABELS = 200
_OPERATION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ROUTES = ("/graphql", "/oauth/", "/.well-known/", "/admin", "/healthz", "/readyz", "/metrics")
_seen_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not _OPERATION.match(name):
        return "other"
    if name not in _seen_operations:
        if len(_seen_operations) >= MAX_OPERATION_LABELS:
            return "other"
        _seen_operations.add(name)
    return name


def route_label(path: str) -> str:
    return next((r.rstrip("/") for r in _ROUTES if path == r.rstrip("/") or path.startswith(r)), "other")


def note_graphql_operation(request: Any, operation_name: str | None) -> None:
    request.state.graphql_operation = operation_name
    name_graphql_span(operation_name)


def note_graphql_outcome(request: Any, codes: list[str]) -> None:
    """Record the GraphQL outcome for the request log line and the request counter."""
    outcome = codes[0] if codes else "ok"
    request.state.graphql_outcome = outcome
    REQUESTS.labels(operation_label(getattr(request.state, "graphql_operation", None)), outcome).inc()


class RequestLog:
    """Pure ASGI middleware (inside RequestId, outside authentication): times the request, logs it once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            LATENCY.labels(route_label(scope["path"])).observe(elapsed)
            log.info("request", extra={"http": _entry(scope, status[0], elapsed)})


def _entry(scope: Scope, status: int, elapsed: float) -> dict[str, Any]:
    state = scope.get("state", {})
    user = scope.get("user")
    principal = getattr(user, "principal", None)
    entry: dict[str, Any] = {
        "request_id": state.get("request_id"),
        "method": scope.get("method"),
        "path": scope.get("path"),
        "status": status,
        "duration_ms": round(elapsed * 1000, 1),
    }
    if principal is not None and principal.is_authenticated:
        entry["subject"] = principal.subject
        entry["client_id"] = principal.client_id
    if "graphql_outcome" in state:
        entry["operation"] = state.get("graphql_operation") or None
        entry["outcome"] = state["graphql_outcome"]
    return entry


def metrics_endpoint(engine: AsyncEngine) -> Any:
    async def metrics(request: Request) -> Response:
        pool: Any = engine.sync_engine.pool
        for gauge, reader in ((POOL_CHECKED_OUT, "checkedout"), (POOL_SIZE, "size"), (POOL_OVERFLOW, "overflow")):
            if hasattr(pool, reader):
                gauge.set(getattr(pool, reader)())
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return metrics


__all__ = ["RequestLog", "metrics_endpoint", "note_graphql_operation", "note_graphql_outcome", "operation_label"]
