"""The GraphQL-over-HTTP spec's media type: content negotiation, its status codes, 406, and both pipelines.

``application/graphql-response+json`` when the client's ``Accept`` prefers it: 400 without ``data`` when the
document does not parse, validate or coerce its variables (or is over a limit), 200 with ``data`` once it ran.
``application/json`` stays as it was for clients that ask for it or name nothing. The fast lane in front
of Strawberry (api.fast_reads) answers with the same media type, and hands on what it cannot answer.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.media import GRAPHQL_RESPONSE_JSON, JSON, negotiate
from api.settings import Settings
from auth.scopes import Role, Scope
from domain.participants.models import Participant
from tests.conftest import AppFactory, Caller

SPEC = GRAPHQL_RESPONSE_JSON
SPEC_CONTENT_TYPE = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
REGION = '{ region(code: "52") { code name } }'


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (JSON, JSON),
        (SPEC, SPEC),
        (f"{SPEC}, {JSON};q=0.9", SPEC),  # what the spec recommends a client send
        (f"{JSON};q=0.9, {SPEC}", SPEC),
        (f"{SPEC}, {JSON}", SPEC),  # a tie: the one named first
        (f"{JSON}, {SPEC}", JSON),
        (f"{SPEC}, */*;q=0.1", SPEC),
        (f"*/*, {SPEC}", SPEC),  # named outright beats a wildcard at the same quality
        (f"{SPEC};charset=utf-8", SPEC),
        (f"{SPEC};charset=iso-8859-1, {JSON};q=0.5", JSON),  # the spec's type is UTF-8 only
        ("text/html", None),
        ("text/html, application/xhtml+xml", None),
        (f"{JSON};q=0", None),
        (f"{SPEC};q=0, */*;q=0", None),
        (f"{SPEC};q=0, */*", JSON),
        ("application/xml, */*;q=0.8", JSON),  # a browser's navigation
        (f"{SPEC};q=bogus, {JSON};q=0.2", JSON),
        ("garbage", None),
    ],
)
def test_negotiation(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


async def _post(client: httpx.AsyncClient, body: Any, accept: str | None, caller: Caller | None) -> httpx.Response:
    headers = dict(caller.headers) if caller else {}
    if accept is not None:
        headers["Accept"] = accept
    return await client.post("/graphql", json=body, headers=headers)


REQUEST_ERRORS = {
    "parse": ({"query": "{ region(code: "}, "BAD_USER_INPUT"),
    "validation": ({"query": '{ region(code: "52") { noSuchField } }'}, "BAD_USER_INPUT"),
    "variable type": (
        {"query": "query($n: Int) { regions(first: $n) { totalCount } }", "variables": {"n": "ten"}},
        "BAD_USER_INPUT",
    ),
    "missing variable": ({"query": "query($c: String!) { region(code: $c) { code } }"}, "BAD_USER_INPUT"),
    "too complex": (
        {"query": "{ " + " ".join(f"a{i}: me {{ subject }}" for i in range(31)) + " }"},
        "QUERY_TOO_COMPLEX",
    ),
}


@pytest.mark.parametrize("case", list(REQUEST_ERRORS))
async def test_a_request_error_is_400_without_data(
    client: httpx.AsyncClient, callers: dict[str, Caller], case: str
) -> None:
    body, code = REQUEST_ERRORS[case]
    response = await _post(client, body, f"{SPEC}, {JSON};q=0.9", callers["admin"])
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == SPEC_CONTENT_TYPE
    assert "accept" in response.headers["vary"].lower()
    answer = response.json()
    assert "data" not in answer
    assert answer["errors"]
    assert answer["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize("case", list(REQUEST_ERRORS))
async def test_the_legacy_type_keeps_200_with_data_null(
    client: httpx.AsyncClient, callers: dict[str, Caller], case: str
) -> None:
    body, code = REQUEST_ERRORS[case]
    for accept in (None, "*/*", JSON):
        response = await _post(client, body, accept, callers["admin"])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == JSON
        answer = response.json()
        assert answer["data"] is None
        assert answer["errors"][0]["extensions"]["code"] == code


async def test_a_document_that_ran_is_200_with_data(client: httpx.AsyncClient, callers: dict[str, Caller]) -> None:
    response = await _post(client, {"query": REGION}, SPEC, callers["admin"])
    assert response.status_code == 200
    assert response.headers["content-type"] == SPEC_CONTENT_TYPE
    assert response.json() == {"data": {"region": {"code": "52", "name": response.json()["data"]["region"]["name"]}}}
    # Field errors (here: no token for a field that needs one) leave `data` in place, and the status 200.
    response = await _post(client, {"query": '{ me { subject } region(code: "52") { code } }'}, SPEC, None)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "data" in answer
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_get_follows_the_same_rules(client: httpx.AsyncClient, callers: dict[str, Caller]) -> None:
    headers = {**callers["admin"].headers, "Accept": SPEC}
    ok = await client.get("/graphql", params={"query": REGION}, headers=headers)
    assert (ok.status_code, ok.headers["content-type"]) == (200, SPEC_CONTENT_TYPE)
    bad = await client.get("/graphql", params={"query": '{ region(code: "52") { nope } }'}, headers=headers)
    assert bad.status_code == 400
    assert "data" not in bad.json()


async def test_a_mutation_over_get_is_405(client: httpx.AsyncClient, callers: dict[str, Caller]) -> None:
    params = {"query": "mutation { __typename }"}
    for accept, content_type in ((SPEC, SPEC_CONTENT_TYPE), (JSON, "text/plain; charset=utf-8")):
        response = await client.get("/graphql", params=params, headers={**callers["admin"].headers, "Accept": accept})
        assert response.status_code == 405, response.text
        assert response.headers["allow"] == "POST"
        assert response.headers["content-type"] == content_type
    spec = await client.get("/graphql", params=params, headers={**callers["admin"].headers, "Accept": SPEC})
    (error,) = spec.json()["errors"]
    assert "GET" in error["message"]
    assert "data" not in spec.json()


async def test_an_unsatisfiable_accept_is_406(client: httpx.AsyncClient, callers: dict[str, Caller]) -> None:
    for accept in ("text/html", "application/xml", f"{JSON};q=0, {SPEC};q=0"):
        response = await _post(client, {"query": REGION}, accept, callers["admin"])
        assert response.status_code == 406, accept
        assert SPEC in response.text
        assert JSON in response.text
    get = await client.get("/graphql", params={"query": REGION}, headers={"Accept": "image/png"})
    assert get.status_code == 406


async def test_a_malformed_request_under_the_spec_type_is_a_graphql_response(
    client: httpx.AsyncClient, callers: dict[str, Caller]
) -> None:
    headers = {**callers["admin"].headers, "Accept": SPEC, "Content-Type": "application/json"}
    response = await client.post("/graphql", content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == SPEC_CONTENT_TYPE
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    legacy = await client.post("/graphql", content=b"{not json", headers={**headers, "Accept": JSON})
    assert legacy.status_code == 400
    assert legacy.headers["content-type"].startswith("text/plain")


async def test_batching_is_off(client: httpx.AsyncClient, callers: dict[str, Caller]) -> None:
    for accept in (SPEC, JSON):
        response = await _post(client, [{"query": REGION}, {"query": REGION}], accept, callers["admin"])
        assert response.status_code == 400
        assert "Batching is not enabled" in response.text


async def test_a_spent_budget_is_429_without_data(settings: Settings, app_factory: AppFactory, mint: Any) -> None:
    served = app_factory(settings.model_copy(update={"cost_budget_per_minute": 5}))
    token = mint(Role.ADMIN, subject=f"budget-{secrets.token_hex(4)}")
    page = {"query": "{ regions { edges { node { code } } } }"}  # 41 units: over a budget of 5
    headers = {"Authorization": f"Bearer {token}", "Accept": SPEC}
    response = await served.client.post("/graphql", json=page, headers=headers)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


@pytest.mark.usefixtures("compiled_path_on")
async def test_the_fast_lane_answers_with_the_negotiated_type(
    client: httpx.AsyncClient, app: Any, engine: AsyncEngine, mint: Any
) -> None:
    counters = app.state.graphql.counters
    # A national reader without pii:read: the compiled path answers, so the repeat takes the fast lane.
    scopes = frozenset({Scope.PARTICIPANTS_READ, Scope.CLAIMS_READ, Scope.REGIONS_READ})
    reader = Caller("reader", mint(Role.ANALYST, None, scopes), None, scopes)
    async with engine.connect() as conn:
        number = await conn.scalar(select(Participant.membership_number).order_by(Participant.id).limit(1))
    query = "query P($m: String!, $n: Int!) { participant(membershipNumber: $m) { fullName nik region { name } "
    query += "claims(first: $n) { edges { node { claimNumber status } } } } }"
    body = {"query": query, "variables": {"m": number, "n": 3}, "operationName": "P"}
    first = await _post(client, body, JSON, reader)  # the full pipeline: now ready for the fast lane
    assert first.status_code == 200
    assert first.json()["data"]["participant"]["fullName"]
    answered = counters.fast_answered
    for accept, content_type in ((SPEC, SPEC_CONTENT_TYPE), (f"{JSON}, {SPEC};q=0.5", JSON), (None, JSON)):
        response = await _post(client, body, accept, reader)
        assert response.status_code == 200
        assert response.headers["content-type"] == content_type
        assert "accept" in response.headers["vary"].lower()
        assert response.json() == first.json()
    assert counters.fast_answered == answered + 3  # all three by the fast lane
    # What the fast lane cannot answer goes to the pipeline, which gives the spec's statuses.
    refused = await _post(client, body, "text/html", reader)
    assert refused.status_code == 406
    wrong = {**body, "variables": {"m": number, "n": "two"}}
    coerced = await _post(client, wrong, SPEC, reader)
    assert coerced.status_code == 400
    assert "data" not in coerced.json()
    legacy = await _post(client, wrong, JSON, reader)
    assert (legacy.status_code, legacy.json()["data"]) == (200, None)
    assert counters.fast_answered == answered + 3
