"""Bad input gets a clear GraphQL error with the right code and no internals."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest


def _codes(body: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in body["errors"]}


@pytest.mark.parametrize(
    ("query", "variables", "code", "needle"),
    [
        ("{ participants(first: 101) { totalCount } }", None, "BAD_USER_INPUT", "between 0 and 100"),
        ("{ participants(first: -1) { totalCount } }", None, "BAD_USER_INPUT", "between 0 and 100"),
        ('{ participants(after: "garbage!") { totalCount } }', None, "BAD_USER_INPUT", "cursor is malformed"),
        ('{ participants(after: "WyJ4Il0") { totalCount } }', None, "BAD_USER_INPUT", "cursor is malformed"),
        ("{ participants(filter: {segment: NOPE}) { totalCount } }", None, "BAD_USER_INPUT", "NOPE"),
        ('{ participant(nik: "527101120390001") { id } }', None, "BAD_USER_INPUT", "has 15 digits"),
        ('{ participant(nik: "5271011213900001") { id } }', None, "BAD_USER_INPUT", "month 13"),
        (
            '{ participants(filter: {regionCode: "52.99"}) { totalCount } }',
            None,
            "BAD_USER_INPUT",
            "does not exist",
        ),
        (
            '{ participants(filter: {regionCode: "52-71"}) { totalCount } }',
            None,
            "BAD_USER_INPUT",
            "not a region",
        ),
        ('{ region(code: "fifty-two") { code } }', None, "BAD_USER_INPUT", "not a region"),
        (
            '{ participants(filter: {nameContains: "ab"}) { totalCount } }',
            None,
            "BAD_USER_INPUT",
            "at least 3",
        ),
        (
            "{ beneficiaries(filter: {decile: 11}) { totalCount } }",
            None,
            "BAD_USER_INPUT",
            "between 1 and 10",
        ),
        ('{ participant(id: "1", membershipNumber: "2") { id } }', None, "BAD_USER_INPUT", "exactly one"),
        ("{ participant { id } }", None, "BAD_USER_INPUT", "exactly one"),
        ("{ nosuchfield }", None, "BAD_USER_INPUT", "nosuchfield"),
        ("{ participants(first: $x) { totalCount } }", None, "BAD_USER_INPUT", "$x"),
        (
            "query($d: Date) { claims(filter: {submittedFrom: $d}) { totalCount } }",
            {"d": "2025-13-01"},
            "BAD_USER_INPUT",
            "",
        ),
        ('{ node(id: "not-base64!") { id } }', None, "BAD_USER_INPUT", ""),
        ("{ participants { edges { node { id ", None, "BAD_USER_INPUT", "Syntax Error"),
    ],
)
async def test_bad_input(
    gql: Any, callers: dict[str, Any], query: str, variables: dict[str, Any] | None, code: str, needle: str
) -> None:
    body = await gql(query, variables, callers["admin"])
    assert _codes(body) == {code}, body
    message = " ".join(e["message"] for e in body["errors"])
    assert needle in message
    assert "Traceback" not in message
    assert "sqlalchemy" not in message.lower()


async def test_cursor_from_other_ordering(gql: Any, callers: dict[str, Any]) -> None:
    first = await gql("{ participants(first: 1) { pageInfo { endCursor } } }", caller=callers["admin"])
    cursor = first["data"]["participants"]["pageInfo"]["endCursor"]
    body = await gql(
        "query($c: String) { participants(first: 1, after: $c, orderBy: {field: FULL_NAME}) { totalCount } }",
        {"c": cursor},
        callers["admin"],
    )
    assert _codes(body) == {"BAD_USER_INPUT"}
    assert "different orderBy" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ("Bearer garbage", "not a JWT"),
        ("Bearer a.b.c", "not a JWT"),
        ("Basic dXNlcjpwYXNz", "Bearer"),
        ("Bearer ", "Bearer"),
        (
            "Bearer "
            + base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').decode().rstrip("=")
            + "."
            + base64.urlsafe_b64encode(b'{"sub":"x"}').decode().rstrip("=")
            + ".",
            "algorithm",
        ),
    ],
)
async def test_bad_bearer_tokens(client: httpx.AsyncClient, header: str, needle: str) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ me: regions { totalCount } }"}, headers={"Authorization": header}
    )
    assert response.status_code == 401
    body = response.json()
    assert _codes(body) == {"UNAUTHENTICATED"}
    assert needle in body["errors"][0]["message"]
    assert response.headers["www-authenticate"].startswith("Bearer error=")


async def test_expired_and_foreign_tokens(client: httpx.AsyncClient, mint: Any, tmp_path: Any) -> None:
    from auth.scopes import ROLE_SCOPES, Role
    from auth.tokens import TokenConfig, issue_access_token, load_or_create_key

    expired = mint(Role.ADMIN, now=1_600_000_000, lifetime_seconds=60)
    other_key = load_or_create_key(tmp_path / "other.pem")
    foreign = issue_access_token(
        other_key,
        TokenConfig("http://jamsos.test", "jamsos-graph"),
        subject="x",
        client_id="x",
        scopes=ROLE_SCOPES[Role.ADMIN],
    )
    for token, needle in ((expired, "expired"), (foreign, "not signed by a key of this service")):
        response = await client.post(
            "/graphql",
            json={"query": "{ regions { totalCount } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401
        assert needle in response.json()["errors"][0]["message"]


async def test_mutation_over_get_refused(client: httpx.AsyncClient, callers: dict[str, Any]) -> None:
    response = await client.get(
        "/graphql", params={"query": "mutation { __typename }"}, headers=callers["admin"].headers
    )
    assert response.status_code in (400, 405)


async def test_query_over_get_works(client: httpx.AsyncClient, callers: dict[str, Any]) -> None:
    response = await client.get(
        "/graphql", params={"query": '{ region(code: "52") { name } }'}, headers=callers["admin"].headers
    )
    assert response.status_code == 200
    assert response.json()["data"]["region"]["name"]


def _cursor(*parts: Any) -> str:
    import json

    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("field", "order", "cursor"),
    [
        ("participants", "", _cursor("REGISTERED_AT", "A", {"t": "dt", "v": "2025-01-01T00:00:00"}, 1)),  # naive
        ("participants", "", _cursor("REGISTERED_AT", "A", "not a time", 1)),
        ("participants", "", _cursor("REGISTERED_AT", "A", {"t": "dt", "v": "2025-01-01T00:00:00+00:00"}, "x")),
        ("participants", "", _cursor("REGISTERED_AT", "A", {"t": "dt", "v": "2025-01-01T00:00:00+00:00"}, 10**30)),
        ("participants", "orderBy: {field: FULL_NAME}", _cursor("FULL_NAME", "A", 5, 1)),
        (
            "claims",
            "orderBy: {field: INCIDENT_DATE}",
            _cursor("INCIDENT_DATE", "A", {"t": "dt", "v": "2025-01-01T00:00:00+00:00"}, 1),
        ),
        ("regions", "", _cursor("code", "A", "52", 52)),
    ],
)
async def test_crafted_cursors_are_bad_input(
    gql: Any, callers: dict[str, Any], field: str, order: str, cursor: str
) -> None:
    body = await gql(
        f'{{ {field}({order}{", " if order else ""}after: "{cursor}") {{ totalCount }} }}', caller=callers["admin"]
    )
    assert _codes(body) == {"BAD_USER_INPUT"}, body


@pytest.mark.parametrize("raw", ["1" * 25, "\u00b2", "\u0661\u0662", "-1", "1e3"])
async def test_crafted_ids_are_not_found(gql: Any, callers: dict[str, Any], raw: str) -> None:
    from strawberry.relay import to_base64

    gid = to_base64("Participant", raw)
    body = await gql(
        "query($id: ID!) { node(id: $id) { id } participant(id: $id) { id } "
        '_entities(representations: [{__typename: "Participant", id: $id}]) { ... on Participant { id } } }',
        {"id": gid},
        callers["admin"],
    )
    assert "errors" not in body, body
    assert body["data"] == {"node": None, "participant": None, "_entities": [None]}
