"""Optional OpenTelemetry tracing: one server span per HTTP request, when ``JAMSOS_TRACING`` is on.

The packages are an extra (``pip install 'jamsos-graph[otel]'``); the spans go to the global tracer
provider, which the operator configures (``opentelemetry-instrument``, or an SDK provider with an
exporter, through the standard ``OTEL_*`` variables). The span carries the request id and, for GraphQL,
the operation name; never query text, variables or headers with credentials.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware


class TracingUnavailable(RuntimeError):
    """JAMSOS_TRACING is on but the OpenTelemetry packages are not installed."""


def _request_hook(span: Any, scope: dict[str, Any]) -> None:
    request_id = scope.get("state", {}).get("request_id")
    if span is not None and span.is_recording() and request_id:
        span.set_attribute("jamsos.request_id", request_id)


def tracing_middleware(enabled: bool, tracer_provider: Any = None) -> list[Middleware]:
    """The OpenTelemetry ASGI middleware when tracing is on; nothing when it is off."""
    if not enabled:
        return []
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError as exc:
        raise TracingUnavailable(
            "JAMSOS_TRACING=true needs the OpenTelemetry packages: pip install 'jamsos-graph[otel]'"
        ) from exc
    return [
        Middleware(
            OpenTelemetryMiddleware,
            excluded_urls="healthz,readyz,metrics",
            server_request_hook=_request_hook,
            tracer_provider=tracer_provider,
            exclude_spans=["receive", "send"],
        )
    ]


def name_graphql_span(operation_name: str | None) -> None:
    """Add the GraphQL operation name to the current span, if there is one."""
    try:
        from opentelemetry import trace
    except ImportError:
        return
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("graphql.operation.name", operation_name or "")


__all__ = ["TracingUnavailable", "name_graphql_span", "tracing_middleware"]
