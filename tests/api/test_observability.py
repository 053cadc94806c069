"""What operators see: Prometheus text at /metrics and one JSON log line per request (no tokens, no NIKs)."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest

from api.logs import JsonFormatter
from tests.conftest import Caller

METRICS = [
    "jamsos_graphql_requests_total",
    "jamsos_http_request_duration_seconds",
    "jamsos_db_pool_checked_out",
    "jamsos_rate_limited_total",
    "jamsos_token_failures_total",
    "jamsos_query_too_complex_total",
]


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} ([0-9.e+]+)$", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for name in METRICS:
        assert f"# TYPE {name}" in response.text, name


async def test_requests_are_counted_by_operation_and_outcome(
    client: httpx.AsyncClient, callers: dict[str, Caller]
) -> None:
    before = (await client.get("/metrics")).text
    await client.post(
        "/graphql",
        json={"query": "query Who { me { subject } }", "operationName": "Who"},
        headers=callers["admin"].headers,
    )
    await client.post("/graphql", json={"query": "query Who { me { subject } }", "operationName": "Who"})
    await client.post("/graphql", json={"query": "{ me { subject } }"}, headers={"Authorization": "Bearer nope"})
    after = (await client.get("/metrics")).text
    assert _sample(after, "jamsos_graphql_requests_total", operation="Who", outcome="ok") == 1 + _sample(
        before, "jamsos_graphql_requests_total", operation="Who", outcome="ok"
    )
    assert _sample(after, "jamsos_graphql_requests_total", operation="Who", outcome="UNAUTHENTICATED") == 1 + _sample(
        before, "jamsos_graphql_requests_total", operation="Who", outcome="UNAUTHENTICATED"
    )
    token_failures = re.search(r"^jamsos_token_failures_total ([0-9.e+]+)$", after, re.M)
    assert token_failures
    assert float(token_failures.group(1)) >= 1


async def test_one_json_line_per_request_without_secrets(
    client: httpx.AsyncClient, callers: dict[str, Caller], caplog: pytest.LogCaptureFixture
) -> None:
    nik = "5271011705900001"
    with caplog.at_level(logging.INFO, logger="jamsos.request"):
        await client.post(
            "/graphql",
            json={
                "query": "query Find($nik: String!) { participant(nik: $nik) { id } }",
                "operationName": "Find",
                "variables": {"nik": nik},
            },
            headers={**callers["officer_5271"].headers, "X-Request-ID": "log-test-1"},
        )
    (record,) = [r for r in caplog.records if r.name == "jamsos.request"]
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["request_id"] == "log-test-1"
    assert entry["path"] == "/graphql"
    assert entry["status"] == 200
    assert entry["subject"] == "test-officer"
    assert entry["operation"] == "Find"
    assert entry["outcome"] == "ok"
    assert isinstance(entry["duration_ms"], float)
    assert "\n" not in line
    assert callers["officer_5271"].token not in line
    assert nik not in line
