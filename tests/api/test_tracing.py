"""Optional tracing: with JAMSOS_TRACING on, one server span per request with the request id and operation."""

from __future__ import annotations

from pathlib import Path

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.app import create_app
from api.settings import Settings
from tests.conftest import AUDIENCE, ISSUER


async def test_a_span_per_request(seeded_url: str, key_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = Settings(
        env="test",
        database_url=seeded_url,
        signing_key_path=key_path,
        issuer=ISSUER,
        audience=AUDIENCE,
        tracing=True,
    )
    app = create_app(settings, tracer_provider=provider)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jamsos.test") as client:
        await client.post(
            "/graphql",
            json={"query": "query Ping { _service { sdl } }", "operationName": "Ping"},
            headers={"X-Request-ID": "trace-1"},
        )
        await client.get("/healthz")  # excluded
    await app.state.engine.dispose()
    server = [s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.SERVER]
    assert len(server) == 1
    (span,) = server
    assert span.attributes is not None
    assert span.attributes["jamsos.request_id"] == "trace-1"
    assert span.attributes["graphql.operation.name"] == "Ping"
    assert span.name == "POST /graphql"
    assert span.attributes.get("http.status_code", span.attributes.get("http.response.status_code")) == 200


def test_tracing_off_adds_nothing() -> None:
    from api.tracing import tracing_middleware

    assert tracing_middleware(False) == []
