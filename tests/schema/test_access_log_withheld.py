"""When the personal-data access log cannot be written, no unmasked personal data leaves: on every read path.

The log is made to fail (its insert raises, as when the database goes away between the read and the log
write) and the same read is sent on each path the service has: the resolvers, the compiled path (row
statements and, on PostgreSQL, the JSON statement) inside Strawberry, and the fast lane in front of it;
by POST and by GET. The answer is a 503 with one SERVICE_UNAVAILABLE error and no data, and none of the
NIKs the read would have shown is anywhere in the body.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

import domain.audit.access
from api.settings import Settings
from tests.conftest import AppFactory

QUERY = """query Page($region: String, $first: Int) {
  participants(first: $first, filter: {regionCode: $region}) {
    edges { node { membershipNumber nik birthDate } }
  }
}"""
VARIABLES = {"region": "52.71", "first": 5}

#: Each read path as settings of its app.
PATHS: dict[str, dict[str, bool]] = {
    "resolvers": {"compiled_reads": False, "fast_reads": False},
    "compiled": {"compiled_reads": True, "fast_reads": False},
    "fast_lane": {"compiled_reads": True, "fast_reads": True},
}


async def _send(client: httpx.AsyncClient, method: str, headers: dict[str, str]) -> httpx.Response:
    if method == "GET":
        params = {"query": QUERY, "variables": json.dumps(VARIABLES)}
        return await client.get("/graphql", params=params, headers=headers)
    return await client.post("/graphql", json={"query": QUERY, "variables": VARIABLES}, headers=headers)


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("path", list(PATHS))
async def test_the_response_is_withheld_when_the_log_cannot_be_written(
    path: str,
    method: str,
    settings: Settings,
    app_factory: AppFactory,
    callers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = app_factory(settings.model_copy(update=PATHS[path]))
    app: Starlette = served.app
    headers = callers["admin"].headers
    # The log works: the read shows NIKs in full (and, twice over, readies the fast lane for it).
    for _ in range(2):
        shown = await _send(served.client, method, headers)
        assert shown.status_code == 200, shown.text
    niks = [edge["node"]["nik"] for edge in shown.json()["data"]["participants"]["edges"]]
    assert niks
    assert all(nik and "*" not in nik for nik in niks)
    counters = app.state.graphql.counters
    answered = (counters.compiled, counters.fast_answered)

    async def broken(*_: Any) -> None:
        raise OSError("the database went away")

    monkeypatch.setattr(domain.audit.access, "write_rows", broken)
    withheld = await _send(served.client, method, headers)

    assert withheld.status_code == 503, withheld.text
    assert withheld.headers["retry-after"]
    body = withheld.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "access log" in error["message"]
    assert not any(nik in withheld.text for nik in niks)
    # The path under test answered the read (it did not hand it to another path that happened to withhold it).
    if path == "resolvers":
        assert (counters.compiled, counters.fast_answered) == answered
    elif path == "fast_lane" and method == "POST":
        assert counters.fast_answered == answered[1] + 1
    else:
        assert counters.compiled == answered[0] + 1
